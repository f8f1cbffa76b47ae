"""The rules of docs/design.md#strategy-alerts: each threshold just inside and just outside, and the confidence sums."""

from __future__ import annotations

import pytest

from perps_tracker.model.rules import (
    LIQ_RATIO,
    RULES,
    STRATEGIES,
    RuleInputs,
    basis_arbitrage,
    evaluate,
    funding_arbitrage,
    trend_slope,
)

E = 1e-6


def rule(name: str):
    return next(r for r in RULES if r.strategy == name)


def run(name: str, **values):
    return next(e for e in evaluate(RuleInputs(**values)) if e.strategy == name)


# Inputs where every condition of the rule holds (no bonus unless said), and one edit per
# condition that takes it just outside its threshold.
CASES = {
    "Momentum Breakout": (dict(P=5 + E, X=0.45 + E, fs=0.5 + E, ps=0.5 + E, sigma_pct=0.003 - E), 100, [
        dict(P=5.0), dict(X=0.45), dict(fs=0.5), dict(ps=-0.6), dict(sigma_pct=0.003), dict(P=None)]),
    "Trend Following": (dict(S=0.5 + E, fs=0.1, ps=0.2, X=0.4 + E, sigma_pct=0.003 - E, slope=0.01 + E), 100, [
        dict(S=0.5), dict(ps=-0.2), dict(fs=0.0), dict(X=0.4), dict(sigma_pct=0.003)]),
    "Breakout Trading": (dict(P=4 - E, X=0.4 + E, S=0.3 - E, sigma_pct=0.004 - E), 100, [
        dict(P=4.0), dict(X=0.4), dict(S=-0.3), dict(sigma_pct=0.004)]),
    "Volatility Expansion": (dict(P=-3 + E, sigma_pct=0.006 + E, fs=0.5 + E, ps=0.0, X=0.35), 85, [
        dict(P=-3.0), dict(sigma_pct=0.006), dict(fs=0.5)]),
    "Range Trading": (dict(S=0.2, P=-3.0, X=0.3, sigma_pct=0.005 - E), 100, [
        dict(S=0.2 + E), dict(P=3 - E), dict(P=6 + E), dict(X=0.3 - E), dict(X=0.5 + E), dict(sigma_pct=0.005)]),
    "Mean Reversion": (dict(S=0.3 + E, fs=0.2, ps=-0.2, P=3 + E, X=0.29), 90, [
        dict(S=0.3), dict(S=-0.6), dict(fs=0.0), dict(P=3.0)]),
    "Delta Neutral / Market Making": (dict(P=2 - E, S=0.15 - E, F_pct=0.01 - E, X=0.3 + E, sigma_pct=0.003),
                                      90, [dict(P=2.0), dict(S=0.15), dict(F_pct=-0.01), dict(X=0.5)]),
    "Scalping": (dict(S=0.15, P=3 - E, X=0.2, sigma_pct=0.003 - E, total_volume_usd=200e9 + 1), 100, [
        dict(S=0.15 + E), dict(P=-3.0), dict(X=0.2 - E), dict(X=0.35 + E), dict(sigma_pct=0.003),
        dict(total_volume_usd=200e9)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_fires_just_inside_every_threshold(name):
    values, confidence, _ = CASES[name]
    e = run(name, **values)
    assert e.fired and e.confidence == confidence, e
    assert len(e.reasons) >= len(rule(name).conditions)


@pytest.mark.parametrize("name, edit", [(n, edit) for n, (_, _, edits) in sorted(CASES.items()) for edit in edits],
                         ids=lambda x: x if isinstance(x, str) else ",".join(f"{k}={v}" for k, v in x.items()))
def test_rule_does_not_fire_just_outside_a_threshold(name, edit):
    values, _, _ = CASES[name]
    e = run(name, **{**values, **edit})
    assert not e.fired and not e.alert and e.confidence == 0
    assert e.why_not and "conditions hold" in e.why_not and "needed; not:" in e.why_not


def test_bonuses_and_directions():
    # Volatility Expansion: +15 when 0.35 < X < 0.6 (30 + 30 + 25 + 15 = 100).
    values = CASES["Volatility Expansion"][0]
    assert run("Volatility Expansion", **{**values, "X": 0.35 + E}).confidence == 100
    assert run("Volatility Expansion", **{**values, "X": 0.6}).confidence == 85
    # Mean Reversion: +10 when 0.3 ≤ X ≤ 0.5; direction against P.
    mr = CASES["Mean Reversion"][0]
    assert run("Mean Reversion", **{**mr, "X": 0.3}).confidence == 100
    assert run("Mean Reversion", **mr).direction == "short"
    assert run("Mean Reversion", **{**mr, "P": -4}).direction == "long"
    # Delta Neutral: +10 when σ% < 0.003.
    dn = CASES["Delta Neutral / Market Making"][0]
    assert run("Delta Neutral / Market Making", **{**dn, "sigma_pct": 0.003 - E}).confidence == 100
    # Momentum follows P.
    mb = CASES["Momentum Breakout"][0]
    assert run("Momentum Breakout", **{**mb, "P": -6, "fs": -0.6, "ps": -0.6}).direction == "short"
    assert run("Momentum Breakout", **mb).direction == "long"


@pytest.mark.parametrize("slope, confidence", [
    (0.01 + E, 100), (0.01, 75), (-0.02, 75), (None, 75),  # −25 unless S's sign and |slope| > 0.01/h
])
def test_trend_following_needs_the_slope_to_confirm(slope, confidence):
    values = {**CASES["Trend Following"][0], "slope": slope}
    e = run("Trend Following", **values)
    assert e.fired and e.confidence == confidence and e.direction == "long"
    assert e.alert  # 75 ≥ 50
    assert run("Trend Following", **{**values, "S": -0.6, "fs": -0.1, "ps": -0.2}).direction == "short"


LIQ = dict(X=0.6 + E, F_pct=0.015 + E, S=0.4 + E, P=5 + E)


@pytest.mark.parametrize("values, fired, confidence", [
    (LIQ, True, 68),  # 4 of 6 at 17 each
    ({**LIQ, "X": 0.6}, False, 0),  # only 3
    ({**LIQ, "F_pct": -0.015}, False, 0),
    ({**LIQ, "S": -0.4}, False, 0),
    ({**LIQ, "P": -5.0}, False, 0),
    ({**LIQ, "P": None, "liq_total_usd": 2e6 + 1, "liq_volume_usd": 1e8}, True, 68),  # 2% of volume: just over
    ({**LIQ, "P": None, "liq_total_usd": 2e6, "liq_volume_usd": 1e8}, False, 0),  # exactly 2%: not over
    ({**LIQ, "P": None, "cascade_score": 0.6 + E}, True, 68),
    ({**LIQ, "P": None, "cascade_score": 0.6}, False, 0),
    ({**LIQ, "liq_total_usd": 3e6, "liq_volume_usd": 1e8, "cascade_score": 0.7}, True, 100),  # 6×17 + 20, capped
    ({**LIQ, "X": None, "liq_total_usd": 3e6, "liq_volume_usd": 1e8, "cascade_score": 0.7}, True, 100),  # 85 + 20
    ({**LIQ, "liq_total_usd": 3e6, "liq_volume_usd": 1e8}, True, 85),  # one liquidation condition: no bonus
])
def test_liquidation_cascade_four_of_six(values, fired, confidence):
    e = run("Liquidation Cascade Risk", **values)
    assert (e.fired, e.confidence) == (fired, confidence), e


def test_liquidation_cascade_direction_follows_which_side_was_liquidated():
    base = {**LIQ}
    assert run("Liquidation Cascade Risk", **base, liq_long_share=0.5).direction == "short"
    assert run("Liquidation Cascade Risk", **base, liq_long_share=0.49).direction == "long"
    assert run("Liquidation Cascade Risk", **base).direction == "neutral"  # no liquidation data


@pytest.mark.parametrize("values, fired, confidence, direction", [
    (dict(S=0.7 + E, sigma_pct=0.008 + E), True, 40, "short"),  # 2 of 5 → fired, under 50: no alert
    (dict(S=0.7, sigma_pct=0.008 + E), False, 0, None),
    (dict(S=-0.7 - E, fs=0.31, ps=-0.31, X=0.2 - E), True, 60, "long"),
    (dict(S=0.0, fs=0.3, ps=-0.31, X=0.6 + E, long_share=0.7 + E), True, 40, "short"),  # fs not beyond 0.3
    (dict(S=0.0, X=0.6, long_share=0.3 - E, sigma_pct=0.0081), True, 40, "long"),  # against the short side
    (dict(S=0.1, X=0.6, long_share=0.3), False, 0, None),
])
def test_contrarian_two_of_five(values, fired, confidence, direction):
    e = run("Contrarian Play", **values)
    assert (e.fired, e.confidence, e.direction) == (fired, confidence, direction), e
    assert e.alert == (fired and confidence >= 50)


@pytest.mark.parametrize("rates, fired, confidence", [
    ({"binance": 0.0001, "okx": 0.0001 + 8 / (3 * 365 * 100) + 1e-9}, True, 40),  # just over 8 %: fires, no alert
    ({"binance": 0.0001, "okx": 0.0001 + 8 / (3 * 365 * 100)}, False, 0),
    ({"binance": -0.0001, "bybit": 0.0002, "okx": 0.0000}, True, 100),  # 0.03 % × 1095 = 32.85 % → capped
    ({"binance": 0.0001, "okx": 0.0001 + 12 / (3 * 365 * 100)}, True, 60),
    ({"binance": 0.0003}, False, 0),
])
def test_funding_arbitrage(rates, fired, confidence):
    e = funding_arbitrage(RuleInputs(btc_funding_8h=rates))
    assert (e.fired, e.confidence) == (fired, confidence), e
    if fired:
        high, low = max(rates, key=rates.get), min(rates, key=rates.get)
        assert f"short {high}, long {low}" in e.reasons[0]


@pytest.mark.parametrize("basis, confidence, direction", [
    ({"binance": 0.0015 - 1e-9}, 0, None), ({"binance": 0.0015}, 70, "short"), ({"okx": -0.002}, 85, "long"),
    ({"bybit": 0.0029, "okx": -0.003}, 100, "long"), ({"a": 0.001, "b": 0.0021}, 85, "short"), ({}, 0, None),
])
def test_basis_arbitrage(basis, confidence, direction):
    e = basis_arbitrage(RuleInputs(basis=basis))
    assert (e.confidence, e.direction, e.fired) == (confidence, direction, confidence > 0)


def test_missing_inputs_never_hold_and_every_strategy_is_evaluated():
    results = evaluate(RuleInputs())
    assert [e.strategy for e in results] == STRATEGIES and len(STRATEGIES) == 12
    assert not any(e.fired for e in results)


def test_reasons_carry_the_numbers():
    e = run("Momentum Breakout", P=6.2, X=0.5, fs=0.6, ps=0.7, sigma_pct=0.001)
    assert "|P| > 5: P = +6.20%" in e.reasons and "X > 0.45: X = 0.500" in e.reasons


def test_trend_slope_is_least_squares_per_hour():
    h = 3600
    assert trend_slope([(0, 0.1), (h, 0.2), (2 * h, 0.3)]) == pytest.approx(0.1)
    assert trend_slope([(0, 0.0), (h, 1.0), (2 * h, 0.0), (3 * h, 1.0)]) == pytest.approx(0.2)  # hand: Σ(t−1.5)(s−.5)/5
    assert trend_slope([(0, 0.5)]) is None and trend_slope([(0, 0.5), (0, 0.6)]) is None


def test_cases_cover_every_all_of_rule():
    assert {r.strategy for r in RULES if r.need is None} == set(CASES)


def test_liquidation_ratio_needs_half_the_hour_read():
    # A few seconds of a watch scale the hour's volume down to almost nothing: 1 % of the hour read
    # made $1M of liquidations 230 % of "volume". Below MIN_COVERAGE the condition does not hold.
    thin = RuleInputs(liq_total_usd=1e6, liq_volume_usd=4.4e5, liq_coverage=0.01)
    assert thin.liq_ratio is None and not LIQ_RATIO.holds(thin)
    half = RuleInputs(liq_total_usd=1e6, liq_volume_usd=4.4e5, liq_coverage=0.5)
    assert half.liq_ratio == pytest.approx(1e6 / 4.4e5) and LIQ_RATIO.holds(half)
    unrecorded = RuleInputs(liq_total_usd=1e6, liq_volume_usd=4.4e5)
    assert LIQ_RATIO.holds(unrecorded)
