"""The anomaly detectors of `report` (perps_tracker/model/anomalies.py) on constructed histories: a clean
history gives nothing; the same history with one planted anomaly gives exactly that one."""

from __future__ import annotations

import math
import random

import pytest

from perps_tracker.model.anomalies import (
    DISLOCATION_BPS,
    EXTREME_FUNDING,
    EXTREME_FUNDING_APR,
    MIN_VOLUME_USD,
    OI_JUMP,
    OI_JUMP_PCT,
    PRICE_DISLOCATION,
    VENUE_OI_VOLUME,
    VENUE_VOLUME,
    VOLUME_SPIKE,
    extreme_funding,
    oi_jumps,
    price_dislocations,
    robust_range,
    venue_oi_volume_anomalies,
    venue_volume_anomalies,
    volume_spikes,
)
from perps_tracker.model.instruments import APR_PER_8H, InstrumentRow

H = 3600
T0 = 1_790_000_000 // H * H
HOURS = 8 * 24  # 7 days of reference and a day of window
SINCE = T0 + (HOURS - 25) * H  # the window: the last 24 hours


def noisy(level: float, seed: int, sd: float = 0.03, n: int = HOURS) -> list[tuple[int, float]]:
    """An hourly series around `level` with ~3 % Gaussian noise in log space: clean."""
    rng = random.Random(seed)
    return [(T0 + k * H, level * math.exp(rng.gauss(0, sd))) for k in range(n)]


def planted(series, hour_index: int, factor: float):
    return [(t, v * factor if k == hour_index else v) for k, (t, v) in enumerate(series)]


def venues(level: float, seed: int) -> dict[str, list[tuple[int, float]]]:
    return {name: noisy(level * (k + 1), seed + k) for k, name in enumerate(("binance", "bybit", "okx"))}


# -- venue volume / OI-volume outside the 7-day range ---------------------------------------------------------


def test_clean_volumes_have_no_anomaly():
    assert venue_volume_anomalies(venues(1e10, 1), SINCE) == []


def test_a_planted_volume_far_above_its_range_is_the_one_found():
    clean = venues(1e10, 1)
    clean["bybit"] = planted(clean["bybit"], HOURS - 3, 3.0)  # ×3, two hours before the newest
    (a,) = venue_volume_anomalies(clean, SINCE)
    assert (a.kind, a.subject, a.timestamp, a.hours) == (VENUE_VOLUME, "bybit", T0 + (HOURS - 3) * H, 1)
    assert a.value > a.high and a.value == pytest.approx(clean["bybit"][HOURS - 3][1])
    assert "bybit" in a.reason and "above its 7-day range" in a.reason and "×3.0" in a.reason


def test_a_volume_collapse_is_found_and_the_hours_counted():
    clean = venues(1e10, 2)
    series = clean["okx"]
    clean["okx"] = [(t, v / 4 if k >= HOURS - 5 else v) for k, (t, v) in enumerate(series)]  # the last 5 hours ÷4
    (a,) = venue_volume_anomalies(clean, SINCE)
    assert (a.subject, a.hours) == ("okx", 5) and a.value < a.low and "below" in a.reason


def test_an_anomaly_before_the_window_is_not_reported():
    clean = venues(1e10, 3)
    clean["binance"] = planted(clean["binance"], 10, 5.0)  # in the reference days, not the window
    assert venue_volume_anomalies(clean, SINCE) == []


def test_too_short_a_reference_checks_nothing():
    short = {"binance": planted(noisy(1e10, 4, n=40), 39, 10.0)}
    assert venue_volume_anomalies(short, T0 + 30 * H) == []
    assert robust_range([1.0] * 47) is None and robust_range([1.0] * 48) == pytest.approx((0.5, 2.0))


def test_a_steady_venue_is_not_flagged_for_a_small_move():
    # almost no noise: 5 MADs would be a hair, the ×2 floor keeps a 40 % move normal
    steady = {"dydx": planted(noisy(1e9, 5, sd=0.001), HOURS - 1, 1.4)}
    assert venue_volume_anomalies(steady, SINCE) == []


def test_oi_volume_ratio_outside_its_range():
    ratios = {name: noisy(0.5, 10 + k) for k, name in enumerate(("binance", "hyperliquid"))}
    assert venue_oi_volume_anomalies(ratios, SINCE) == []
    ratios["hyperliquid"] = planted(ratios["hyperliquid"], HOURS - 1, 0.1)  # volume ×10 with the same OI
    (a,) = venue_oi_volume_anomalies(ratios, SINCE)
    assert (a.kind, a.subject, a.unit) == (VENUE_OI_VOLUME, "hyperliquid", "ratio")
    assert a.value == pytest.approx(ratios["hyperliquid"][-1][1]) and "OI/volume" in a.reason


def test_missing_values_are_skipped_not_zero():
    series = noisy(1e10, 6)
    with_gaps = {"bybit": [(t, None if k % 7 == 0 else v) for k, (t, v) in enumerate(series)]}
    assert venue_volume_anomalies(with_gaps, SINCE) == []


# -- hour-on-hour jumps ---------------------------------------------------------------------------------------


def test_oi_jump_clean_and_planted():
    clean = {name: noisy(5e9, 20 + k, sd=0.01) for k, name in enumerate(("binance", "okx"))}
    assert oi_jumps(clean, SINCE) == []
    # OKX's OI steps up 15 % and stays there: one jump (the hour after is flat again)
    clean["okx"] = [(t, v * 1.15 if k >= HOURS - 4 else v) for k, (t, v) in enumerate(clean["okx"])]
    (a,) = oi_jumps(clean, SINCE)
    assert (a.kind, a.subject, a.timestamp, a.hours) == (OI_JUMP, "okx", T0 + (HOURS - 4) * H, 1)
    assert a.value == pytest.approx(15, abs=3) and (a.low, a.high) == (-OI_JUMP_PCT, OI_JUMP_PCT)
    assert "+1" in a.reason and "open interest" in a.reason


def test_oi_jump_needs_the_hour_before():
    series = noisy(5e9, 22, sd=0.01)
    gap = [(t, v * (1.3 if k == HOURS - 2 else 1)) for k, (t, v) in enumerate(series) if k != HOURS - 3]
    assert oi_jumps({"okx": gap}, SINCE)[0].timestamp == T0 + (HOURS - 1) * H  # the way back down is seen
    assert all(a.timestamp != T0 + (HOURS - 2) * H for a in oi_jumps({"okx": gap}, SINCE))


def test_volume_spike_clean_and_planted():
    clean = {name: noisy(1e10, 30 + k, sd=0.01) for k, name in enumerate(("bybit", "gateio"))}
    assert volume_spikes(clean, SINCE) == []
    clean["gateio"] = [(t, v * 1.6 if k >= HOURS - 2 else v) for k, (t, v) in enumerate(clean["gateio"])]
    (a,) = volume_spikes(clean, SINCE)
    assert (a.kind, a.subject, a.timestamp) == (VOLUME_SPIKE, "gateio", T0 + (HOURS - 2) * H)
    assert a.value == pytest.approx(60, abs=4)


def test_a_volume_drop_is_no_spike():
    series = noisy(1e10, 33, sd=0.01)
    assert volume_spikes({"bybit": planted(series, HOURS - 1, 0.5)}, SINCE) == []


# -- per-coin rules on one hour's markets ---------------------------------------------------------------------


def row(exchange, coin, price, volume=5e7, f8=0.0001, symbol=None) -> InstrumentRow:
    return InstrumentRow(T0, exchange, symbol or f"{coin}USDT", coin, 1.0, "USDT", price, price, price, volume,
                         volume / 2, f8, 8.0, f8, None, 0.0)


def hour() -> list[InstrumentRow]:
    """Three coins on three venues, prices 2 bps apart, funding 11-15 % APR: clean."""
    return [row(venue, coin, price * (1 + 0.0002 * k), f8=0.0001 + 0.00002 * k)
            for coin, price in (("BTC", 90_000.0), ("ETH", 3_000.0), ("SOL", 150.0))
            for k, venue in enumerate(("binance", "bybit", "okx"))]


def test_funding_clean_and_one_extreme_coin():
    assert extreme_funding(hour()) == []
    rate = 150 / APR_PER_8H  # +150 % APR
    (a,) = extreme_funding(hour() + [row("bitget", "SOL", 150.0, f8=rate, symbol="SOLUSDT")])
    assert (a.kind, a.subject, a.unit) == (EXTREME_FUNDING, "SOL", "apr_pct")
    assert a.value == pytest.approx(150) and (a.low, a.high) == (-EXTREME_FUNDING_APR, EXTREME_FUNDING_APR)
    assert "bitget" in a.reason and "longs pay shorts" in a.reason


def test_extreme_funding_on_a_thin_market_is_ignored():
    thin = row("bitget", "SOL", 150.0, volume=MIN_VOLUME_USD / 2, f8=-300 / APR_PER_8H)
    assert extreme_funding(hour() + [thin]) == []


def test_price_dislocation_clean_and_one_coin():
    assert price_dislocations(hour()) == []
    off = row("gateio", "ETH", 3_000.0 * (1 + 2 * DISLOCATION_BPS / 1e4))  # 100 bps above binance
    (a,) = price_dislocations(hour() + [off])
    assert (a.kind, a.subject, a.unit) == (PRICE_DISLOCATION, "ETH", "bps")
    assert a.value == pytest.approx(100, abs=0.5) and a.high == DISLOCATION_BPS
    assert "gateio" in a.reason and "binance" in a.reason


def test_price_dislocation_skips_thin_markets_and_one_venue_coins():
    thin = row("gateio", "ETH", 3_300.0, volume=MIN_VOLUME_USD / 10)
    alone = [row("binance", "NEW", 1.0), row("binance", "NEW", 1.5, symbol="NEWUSDC")]  # same venue twice
    assert price_dislocations(hour() + [thin] + alone) == []
