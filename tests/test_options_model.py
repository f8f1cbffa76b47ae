"""model/options.py: Black-76 delta, the interpolation in delta, the expiry nearest 30 days and the
chain's figures, against values computed by hand (deltas below from d1 = (ln(F/K) + σ²T/2)/(σ√T),
N(x) = (1 + erf(x/√2))/2, F = 100,000, T = 30/365)."""

from __future__ import annotations

import pytest
from pytest import approx

from perps_tracker.model.options import (
    OptionQuote,
    black76_delta,
    interpolate,
    nearest_expiry,
    options_metrics,
)

NOW = 1_795_000_000
DAY = 86400
T30 = NOW + 30 * DAY

# (strike, kind, IV %): delta by hand
CHAIN = [
    (100_000, "call", 50.0),  # d1 = 0.071673, N = 0.528569
    (110_000, "call", 50.0),  # d1 = -0.593225, N = 0.276515
    (120_000, "call", 55.0),  # d1 = -1.077435, N = 0.140643
    (100_000, "put", 52.0),  # d1 = 0.074540, N − 1 = -0.470290
    (90_000, "put", 60.0),  # d1 = 0.698516, N − 1 = -0.242427
    (80_000, "put", 70.0),  # d1 = 1.212258, N − 1 = -0.112707
]


def quote(strike, kind, iv, expiry=T30, oi=10.0, volume=2.0, forward=100_000.0):
    name = f"BTC-X-{strike}-{kind[0].upper()}"
    return OptionQuote(name, float(strike), kind, expiry, oi, volume, iv, forward)


def test_black76_delta_by_hand():
    years = 30 / 365
    assert black76_delta(100_000, 110_000, years, 0.5, "call") == approx(0.276515, abs=1e-6)
    assert black76_delta(100_000, 90_000, years, 0.6, "put") == approx(-0.242427, abs=1e-6)
    # put-call parity of deltas with r = 0: call − put = 1
    assert (black76_delta(100_000, 95_000, years, 0.4, "call")
            - black76_delta(100_000, 95_000, years, 0.4, "put")) == approx(1.0)


def test_interpolate_between_the_nearest_bracketing_points_only():
    assert interpolate([(0.1, 60.0), (0.3, 50.0), (0.5, 45.0)], 0.25) == approx(52.5)
    assert interpolate([(0.3, 50.0), (0.5, 45.0)], 0.25) is None  # nothing below 0.25
    assert interpolate([], 0.25) is None
    assert interpolate([(0.25, 48.0)], 0.25) == 48.0


def test_the_expiry_nearest_30_days_the_earlier_on_a_tie():
    assert nearest_expiry([NOW + 7 * DAY, NOW + 28 * DAY, NOW + 60 * DAY], NOW) == NOW + 28 * DAY
    assert nearest_expiry([NOW + 20 * DAY, NOW + 40 * DAY], NOW) == NOW + 20 * DAY
    assert nearest_expiry([NOW - DAY, NOW], NOW) is None  # expired or expiring now


def test_skew_atm_and_ratios_of_a_small_chain_by_hand():
    quotes = [quote(*row) for row in CHAIN]
    quotes += [quote(100_000, "call", 40.0, expiry=NOW + 7 * DAY, oi=5.0, volume=1.0),  # another expiry
               quote(100_000, "put", 80.0, expiry=NOW + 7 * DAY, oi=1.0, volume=0.0, forward=99_000.0)]
    m = options_metrics("BTC", quotes, dvol=55.5, now=NOW)
    call_25 = 55 + (50 - 55) * (0.25 - 0.140643) / (0.276515 - 0.140643)  # between 120k and 110k
    put_25 = 52 + (60 - 52) * (-0.25 - -0.470290) / (-0.242427 - -0.470290)  # between 100k and 90k
    assert m.skew_25d == approx(call_25 - put_25, abs=1e-4)  # ≈ -8.76 vol points: puts dearer
    assert m.atm_iv_30d == approx(50.0)  # between the 110k call (0.2765) and the 100k call (0.5286), both 50
    assert m.expiry == T30 and m.dvol == 55.5 and m.options == 8
    assert m.put_call_oi_ratio == approx((3 * 10 + 1) / (3 * 10 + 5))
    assert m.put_call_volume_ratio == approx((3 * 2 + 0) / (3 * 2 + 1))
    assert m.options_oi_usd == approx(6 * 10 * 100_000 + 5 * 100_000 + 1 * 99_000)
    assert [round(d, 4) for d, _ in m.smile] == [0.1406, 0.2765, 0.5286, 0.5297, 0.7576, 0.8873]


def test_a_side_that_cannot_be_bracketed_gives_no_skew():
    quotes = [quote(*row) for row in CHAIN if row[0] >= 100_000]  # the only OTM put is at −0.47: none below −0.25
    m = options_metrics("BTC", quotes, None, NOW)
    assert m.skew_25d is None and m.atm_iv_30d == approx(50.0) and m.dvol is None


@pytest.mark.parametrize("broken", [
    dict(iv=None), dict(iv=0.0), dict(forward=None), dict(forward=0.0),
])
def test_options_without_iv_or_forward_are_left_out_of_the_smile(broken):
    iv = broken.get("iv", 45.0)
    forward = broken.get("forward", 100_000.0)
    quotes = [quote(*row) for row in CHAIN] + [quote(105_000, "call", iv, forward=forward)]
    assert options_metrics("BTC", quotes, None, NOW).skew_25d == approx(
        options_metrics("BTC", [quote(*row) for row in CHAIN], None, NOW).skew_25d)


def test_an_empty_chain_has_no_figures_never_zeros():
    m = options_metrics("ETH", [], None, NOW)
    assert (m.put_call_oi_ratio, m.put_call_volume_ratio, m.options_oi_usd, m.skew_25d, m.atm_iv_30d,
            m.expiry) == (None,) * 6
