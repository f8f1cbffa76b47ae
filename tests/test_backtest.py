"""`perps-tracker backtest`: hand-checked numbers on a tiny history, a planted relation the
backtest must find, pure noise in which it must find nothing (docs/history.md)."""

from __future__ import annotations

import json
import math
import random
import statistics

import pytest

from perps_tracker.cli import cli
from perps_tracker.errors import TrackerError
from perps_tracker.model.analysis import (
    alerts,
    binomial_test,
    forward_returns,
    independent,
    parse_horizons,
)
from perps_tracker.model.rules import RuleInputs, evaluate
from perps_tracker.services.history import load_backtest
from perps_tracker.storage.db import open_database
from tests.conftest import ts
from tests.synthetic_history import hours, market_history, random_walk, store_history

H = 3600
T0 = ts(2026, 1, 1)
# A market on which exactly Momentum Breakout (100) and Trend Following (75) fire, both long
# (worked out in test_alerts.py: P = +6.2 %, X = 0.5, fs = 0.55, ps = 1.0, σ% = 0.002, S = 0.62).
BREAKOUT = dict(price_change_24h_pct=6.2, funding_rate_8h=0.0002, funding_divergence=0.00002, oi_vol_ratio=0.5,
                composite_score=0.62, factors={"funding": 0.55, "price": 1.0})


def by_row(doc, name, direction=None):
    rows = [r for r in doc["rows"] if r["name"] == name and (direction is None or r["direction"] == direction)]
    assert len(rows) == 1, (name, [(r["name"], r["direction"]) for r in doc["rows"]])
    return rows[0]


# -- a tiny history, checked by hand ---------------------------------------------------------
#
# 60 hourly snapshots k = 0..59 with BTC at 100, 102, 101, 100, 102, 101, ... (period 3), so the
# 1 h return from k is +2 % when k % 3 == 0, 101/102 − 1 = −0.980392 % when k % 3 == 1 and
# 100/101 − 1 = −0.990099 % when k % 3 == 2; 4 h ahead is 1 h ahead plus a full period: the same.
#   1 h baseline: k = 0..58 → 20 up (+2), 20 at −0.980392, 19 at −0.990099; up 20/59, down 39/59;
#       median = the 30th of 59 sorted = −0.980392; mean = (40 − 19.60784 − 18.81188) / 59.
#   4 h baseline: k = 0..55 → 19 up, 19 at −0.980392, 18 at −0.990099.
#   BULLISH at k = 0, 3, 6, 9 (+2 each) and 1 (−0.980392): 5 signals, 4 hits, median +2.
#       4 h: signals 4 h apart at least: 0, 6 → 2 independent (both hits).
#   BEARISH at k = 2, 5 (−0.990099: hits for a short) and 30 (+2: a miss): 3 signals, 2 hits.
#   Momentum Breakout and Trend Following at k = 12, 15 (no label there): 2 long signals, +2 each.

PERIOD = (100.0, 102.0, 101.0)
UP, DOWN1, DOWN2 = 2.0, 100 * (101 / 102 - 1), 100 * (100 / 101 - 1)


def tiny_history(n=60):
    labels = {0: "BULLISH", 1: "BULLISH", 3: "BULLISH", 6: "BULLISH", 9: "BULLISH",
              2: "BEARISH", 5: "BEARISH", 30: "BEARISH"}
    snaps = []
    for k, t in enumerate(hours(T0, n)):
        snap = dict(timestamp=t, btc_price=PERIOD[k % 3], sentiment=labels.get(k), composite_score=None)
        if k in (12, 15):
            snap.update(BREAKOUT, sentiment=None)
        snaps.append(snap)
    return snaps


def test_tiny_history_by_hand(runner, database):
    store_history(database, tiny_history())
    result = runner.invoke(cli, ["backtest", "--db", database.url, "--horizon", "1h,4h", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["from"], doc["to"], doc["snapshots"], doc["horizons_hours"]) == (
        "2026-01-01T00:00:00Z", "2026-01-03T11:00:00Z", 60, [1, 4])

    base = doc["baseline"]["1h"]
    assert (base["n"], base["up_rate"], base["down_rate"]) == (59, pytest.approx(20 / 59), pytest.approx(39 / 59))
    assert base["mean_return_pct"] == pytest.approx((20 * UP + 20 * DOWN1 + 19 * DOWN2) / 59)
    assert base["median_return_pct"] == pytest.approx(DOWN1)
    assert base["mean_abs_return_pct"] == pytest.approx((20 * UP - 20 * DOWN1 - 19 * DOWN2) / 59)
    assert doc["baseline"]["4h"]["n"] == 56 and doc["baseline"]["4h"]["up_rate"] == pytest.approx(19 / 56)

    bull = by_row(doc, "BULLISH")
    assert (bull["kind"], bull["direction"], bull["signals"]) == ("label", "long", 5)
    one = bull["horizons"]["1h"]
    assert (one["n"], one["n_independent"], one["hit_rate"], one["baseline_rate"]) == (
        5, 5, pytest.approx(0.8), pytest.approx(20 / 59))
    assert one["mean_return_pct"] == pytest.approx((4 * UP + DOWN1) / 5) and one["median_return_pct"] == pytest.approx(UP)
    z = (4 - 5 * 20 / 59) / math.sqrt(5 * 20 / 59 * 39 / 59)
    assert one["z"] == pytest.approx(z) and one["p_value"] == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    assert one["edge"] is False  # 5 signals are too few, whatever the p-value
    four = bull["horizons"]["4h"]
    assert (four["n"], four["n_independent"], four["hit_rate"]) == (5, 2, pytest.approx(0.8))

    bear = by_row(doc, "BEARISH")["horizons"]["1h"]
    assert (bear["n"], bear["hit_rate"], bear["baseline_rate"]) == (3, pytest.approx(2 / 3), pytest.approx(39 / 59))
    assert bear["mean_return_pct"] == pytest.approx((2 * DOWN2 + UP) / 3) and bear["median_return_pct"] == pytest.approx(DOWN2)

    for name in ("Momentum Breakout", "Trend Following"):
        row = by_row(doc, name)
        assert (row["kind"], row["direction"], row["signals"]) == ("strategy", "long", 2)
        assert (row["horizons"]["1h"]["n"], row["horizons"]["1h"]["hit_rate"]) == (2, 1.0)
        assert row["horizons"]["1h"]["mean_return_pct"] == pytest.approx(UP)
    assert len(doc["rows"]) == 4  # no NEUTRAL label, nothing else fired
    assert "Momentum Breakout" not in doc["never_fired"] and "Scalping" in doc["never_fired"]


def test_tiny_history_as_a_table(runner, database):
    store_history(database, tiny_history())
    result = runner.invoke(cli, ["backtest", "--db", database.url, "--horizon", "1h"])
    assert result.exit_code == 0
    out = result.stdout
    assert "without cooldown or caps" in out and "1 h forward (all snapshots: up 34%, down 66%)" in out
    row = next(line for line in out.splitlines() if line.lstrip().startswith("bullish label"))
    assert row.split()[2:7] == ["▲", "5", "80%", "34%", "+1.40"]
    assert all(len(line) <= 80 for line in out.splitlines())


def test_days_restricts_the_period(database):
    store_history(database, tiny_history(120))
    b = load_backtest(database, 3, [1])  # the last 72 snapshots: k = 48..119
    assert (b.snapshots, b.first, b.last, b.days) == (72, T0 + 48 * H, T0 + 119 * H, 3)
    assert b.baselines[1].n == 71 and b.rows == ()  # the labels and breakouts were all before k = 48
    with pytest.raises(TrackerError, match="23 snapshots have a BTC price 1 h later, 48 needed"):
        load_backtest(database, 1, [1])


def test_too_short_history_is_a_one_line_error(runner, database):
    store_history(database, tiny_history(40))
    result = runner.invoke(cli, ["backtest", "--db", database.url])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: history too short for a backtest: 39 snapshots have a BTC price 1 h later, 48 needed; "
        "run `perps-tracker backfill --days 7` or wait for more hourly snapshots\n")
    empty = runner.invoke(cli, ["backtest", "--db", str(database.path or "x") + ".none"])
    assert empty.exit_code == 1 and empty.stderr.count("\n") == 1


def test_a_forward_return_needs_a_price_exactly_h_later():
    prices = {T0: 100.0, T0 + H: 101.0, T0 + 3 * H: 99.0, T0 + 4 * H: 110.0}
    assert forward_returns(prices, 1) == {T0: pytest.approx(1.0), T0 + 3 * H: pytest.approx(100 * (110 / 99 - 1))}
    assert forward_returns(prices, 3) == {T0: pytest.approx(-1.0), T0 + H: pytest.approx(100 * (110 / 101 - 1))}


def test_independent_signals_do_not_overlap():
    times = [T0 + k * H for k in (0, 1, 3, 4, 8, 9, 20)]
    assert independent(times, 4) == [T0, T0 + 4 * H, T0 + 8 * H, T0 + 20 * H]
    assert independent(times, 1) == times


def test_binomial_test_by_hand():
    z, p = binomial_test(60, 100, 0.5)  # (60 − 50) / 5 = 2; P(Z > 2) = 0.02275
    assert z == pytest.approx(2.0) and p == pytest.approx(0.0227501, abs=1e-6)
    assert binomial_test(3, 3, 1.0) == (None, None)


def test_horizons_option():
    assert parse_horizons("4h,1h,24h,1d") == [1, 4, 24]
    for bad in ("0h", "1x", "", "h"):
        with pytest.raises(ValueError):
            parse_horizons(bad)


def test_bad_horizon_is_a_usage_error(runner, database):
    result = runner.invoke(cli, ["backtest", "--db", database.url, "--horizon", "1h,soon"])
    assert result.exit_code == 2 and "'soon' is not a horizon like 1h, 4h or 1d" in result.stderr


def test_fast_alert_filter_matches_the_rules():
    rng = random.Random(11)
    for _ in range(3000):
        i = RuleInputs(S=rng.uniform(-1, 1), fs=rng.uniform(-1, 1), ps=rng.uniform(-1, 1), P=rng.gauss(0, 4),
                       F_pct=rng.gauss(0.01, 0.02), sigma_pct=abs(rng.gauss(0, 0.005)), X=rng.uniform(0.1, 0.8),
                       long_share=rng.choice([None, rng.uniform(0.2, 0.8)]), total_volume_usd=rng.uniform(1e11, 3e11),
                       liq_total_usd=rng.uniform(0, 5e8), liq_long_share=rng.random(), liq_volume_usd=1e10,
                       cascade_score=rng.random(), btc_funding_8h={"a": 0.0001, "b": rng.gauss(0.0001, 0.0001)},
                       basis={"a": rng.gauss(0, 0.002)}, slope=rng.gauss(0, 0.02))
        assert alerts(i) == [e for e in evaluate(i) if e.alert]


# -- a planted relation ------------------------------------------------------------------------


def planted_history(seed: int, n: int = 1500):
    """A random walk in which every BULLISH hour (one in twelve, on a breakout market) is followed,
    with probability 0.9, by four hours of +0.25 % each (+1.004 % over 4 h) and then four of
    −0.25 % each, which give it back: the walk as a whole does not drift."""
    rng = random.Random(seed)
    returns = [rng.gauss(0, 0.004) for _ in range(n)]
    bullish = set(range(30, n - 30, 12))
    for k in bullish:
        if rng.random() < 0.9:
            for j in range(1, 5):
                returns[k + j] = math.log(1.0025)
                returns[k + 4 + j] = -math.log(1.0025)
    prices, p = [], 50_000.0
    for r in returns:
        p *= math.exp(r)
        prices.append(p)
    snaps = []
    for k, t in enumerate(hours(T0, n)):
        snap = dict(timestamp=t, btc_price=prices[k], composite_score=None, sentiment="NEUTRAL")
        if k in bullish:
            snap.update(BREAKOUT, sentiment="BULLISH")
        snaps.append(snap)
    return snaps, prices, sorted(bullish)


def test_the_backtest_finds_a_planted_relation(runner, database):
    snaps, prices, bullish = planted_history(seed=1)
    store_history(database, snaps)
    doc = json.loads(runner.invoke(cli, ["backtest", "--db", database.url, "--json"]).stdout)
    up4 = [100 * (prices[k + 4] / prices[k] - 1) for k in bullish]
    for name in ("BULLISH", "Momentum Breakout"):
        cell = by_row(doc, name)["horizons"]["4h"]
        assert cell["n"] == len(bullish) == 120
        assert cell["hit_rate"] == pytest.approx(sum(r > 0 for r in up4) / len(up4)) and cell["hit_rate"] > 0.9
        assert cell["median_return_pct"] == pytest.approx(statistics.median(up4))
        assert 0.4 < cell["baseline_rate"] < 0.6
        assert cell["edge"] is True and cell["p_value"] < 1e-9
        assert cell["mean_return_pct"] > 0.8 > doc["baseline"]["4h"]["mean_return_pct"]
    neutral = by_row(doc, "NEUTRAL")["horizons"]
    assert not any(neutral[h]["edge"] and neutral[h]["z"] > 0 for h in neutral)  # the rest is not more volatile


# -- pure noise --------------------------------------------------------------------------------
#
# A seeded random walk (i.i.d. hourly returns: nothing in the past predicts the future) with a
# plausible market built from it (so rule signals cluster in time, as real ones do) and random
# sentiment labels. Every (row, horizon) is a test at p < 0.01, so across the m tests of a seed
# about m / 100 false edges are expected by chance alone. We check both: no test survives a
# Bonferroni correction (p < 0.01 / m: the chance that any does is below 1 % per seed, so about
# 5 % over the five seeds were the method sound), and at most 3 % of the m · 5 tests are flagged
# (3 × the expected 1 %: overlapping or clustered signals counted as independent would blow past it).


def test_pure_noise_claims_no_edge(tmp_path):
    flagged, tests = 0, 0
    for seed in range(5):
        rng = random.Random(100 + seed)
        snaps = market_history(T0, 2000, seed=100 + seed, venues=("binance", "okx"))
        for s in snaps:
            s["sentiment"] = rng.choice(["BULLISH", "NEUTRAL", "BEARISH"])
        db = open_database(str(tmp_path / f"noise{seed}.db"))
        store_history(db, snaps)
        b = load_backtest(db, None, [1, 4, 24])
        db.dispose()
        cells = [c for r in b.rows for c in r.cells.values() if c.p_value is not None]
        tests += len(cells)
        flagged += sum(c.edge for c in cells)
        assert not [c for c in cells if c.p_value < 0.01 / len(cells)], f"seed {seed}"
    assert tests > 100
    assert flagged <= 0.03 * tests, (flagged, tests)


def test_random_walk_helper_is_seeded():
    assert random_walk(5, 1) == random_walk(5, 1) != random_walk(5, 2)


def test_rules_over_columns_give_the_same_signals_as_one_snapshot_at_a_time(database):
    # The backtest evaluates the rules over columns (issue 13: 2 years in under a second); the alerts
    # command one snapshot at a time. Both must raise exactly the same signals, directions included.
    from perps_tracker.model.analysis import column_signals, signals_from
    from perps_tracker.storage.alerts import inputs_between
    from perps_tracker.storage.backtest import input_columns

    snaps = market_history(T0, 500, seed=11)
    for k, s in enumerate(snaps):  # some hours without a score, a liquidation line or a venue's basis
        if k % 37 == 0:
            s["composite_score"] = None
        if k % 29 == 0:
            s["liq"] = None
        elif s.get("liq") is not None and k % 3:  # a third unrecorded, the others read for 20 % or 90 % of the hour
            s["liq"] = {**s["liq"], "coverage": 0.2 if k % 3 == 1 else 0.9, "total_usd": 2e8}  # 4 % of volume
        if k % 13 == 0:
            s["venues"]["okx"]["btc_mark_price"] *= 1.004 if k % 2 else 0.996
    store_history(database, snaps)
    scalar = sorted((s.timestamp, s.kind, s.name, s.direction) for s in signals_from(inputs_between(database)))
    columns = sorted((s.timestamp, s.kind, s.name, s.direction) for s in column_signals(input_columns(database)))
    assert columns == scalar
    assert {name for _, kind, name, _ in scalar if kind == "strategy"} >= {"Basis Arbitrage", "Breakout Trading"}
    last_day = sorted(s for s in scalar if s[0] >= T0 + 476 * H)  # the 24 hours up to the newest
    assert sorted((s.timestamp, s.kind, s.name, s.direction)
                  for s in column_signals(input_columns(database, 24))) == last_day
