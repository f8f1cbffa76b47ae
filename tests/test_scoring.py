"""Aggregates, factors, composite and labels, checked by hand (docs/design.md#market-aggregates, #sentiment)."""

from __future__ import annotations

import math

import pytest
from pytest import approx

from perps_tracker.model.market import VenueSnapshot
from perps_tracker.model.scoring import (
    FactorScores,
    MarketAggregates,
    aggregate,
    composite,
    conviction_score,
    divergence_label,
    divergence_score,
    factor_scores,
    funding_score,
    long_short_score,
    oi_price_score,
    price_score,
    score,
    sentiment_label,
    strength_label,
)


def venue(name, kind="CEX", **kw) -> VenueSnapshot:
    return VenueSnapshot(exchange=name, kind=kind, **kw)


A = venue("a", volume_24h_usd=60e9, open_interest_usd=30e9, btc_funding_rate_8h=0.0001,
          btc_price_change_24h_pct=2.0, long_share=0.6, btc_price=100_000.0, markets=300)
B = venue("b", volume_24h_usd=30e9, open_interest_usd=15e9, btc_funding_rate_8h=0.0004,
          btc_price_change_24h_pct=-1.0, long_share=0.5, btc_price=100_300.0, markets=200)
C = venue("c", kind="DEX", volume_24h_usd=10e9, open_interest_usd=None, btc_funding_rate_8h=None,
          btc_price_change_24h_pct=4.0, long_share=None, btc_price=99_000.0, markets=100)
DOWN = VenueSnapshot.failed("d", "CEX", "timed out at /x")


class TestAggregate:
    def test_totals_and_weights(self):
        m = aggregate([A, B, C, DOWN])
        assert (m.exchanges_ok, m.exchanges_failed) == (3, 1)
        assert m.total_volume_usd == approx(100e9)
        assert m.cex_volume_usd == approx(90e9) and m.dex_volume_usd == approx(10e9)
        assert m.total_oi_usd == approx(45e9)
        # funding: only a and b report it -> weights 60/90 and 30/90
        F = (60 * 0.0001 + 30 * 0.0004) / 90
        assert m.funding_rate_8h == approx(F)
        assert F == approx(0.0002)
        assert m.funding_divergence == approx(math.sqrt((60 / 90) * (0.0001 - F) ** 2 + (30 / 90) * (0.0004 - F) ** 2))
        # price: all three -> weights .6 .3 .1
        assert m.price_change_24h_pct == approx(0.6 * 2.0 + 0.3 * -1.0 + 0.1 * 4.0)
        assert m.btc_price == approx(0.6 * 100_000 + 0.3 * 100_300 + 0.1 * 99_000)
        # X over venues with both OI and volume: (30 + 15) / (60 + 30)
        assert m.oi_vol_ratio == approx(0.5)
        assert m.long_share == approx(0.55) and m.long_short_ratio == approx(0.55 / 0.45)
        assert m.oi_change_24h_pct is None

    def test_failed_venues_and_missing_metrics_are_not_zeros(self):
        m = aggregate([C, DOWN])
        assert m.total_oi_usd is None and m.funding_rate_8h is None and m.funding_divergence is None
        assert m.oi_vol_ratio is None and m.long_share is None and m.long_short_ratio is None
        assert m.total_volume_usd == approx(10e9) and m.cex_volume_usd is None

    def test_nothing_answered(self):
        m = aggregate([DOWN])
        assert m.exchanges_ok == 0 and m.total_volume_usd is None and m.price_change_24h_pct is None

    def test_divergence_needs_two_venues(self):
        assert aggregate([A]).funding_divergence is None
        assert aggregate([A, A]).funding_divergence == approx(0.0)

    def test_oi_change_over_venues_present_in_both(self):
        # b had no OI row 24 h ago and e only existed then: only a counts.
        m = aggregate([A, B], previous_oi={"a": 25e9, "e": 1e9})
        assert m.oi_change_24h_pct == approx((30e9 / 25e9 - 1) * 100)
        assert aggregate([A, B], previous_oi={}).oi_change_24h_pct is None
        assert aggregate([A], previous_oi={"b": 1e9}).oi_change_24h_pct is None


class TestFactors:
    @pytest.mark.parametrize(("F_pct", "expected"), [
        (0.01, 0.0), (0.05, 1.0), (0.0500001, 1.0), (0.049, 0.975), (0.2, 1.0),
        (-0.03, -1.0), (-0.029, -0.975), (-1.0, -1.0), (0.03, 0.5), (0.0, -0.25)])
    def test_funding(self, F_pct, expected):
        assert funding_score(F_pct / 100) == approx(expected)

    @pytest.mark.parametrize(("P", "expected"), [(0, 0), (2.5, 0.5), (5, 1), (5.01, 1), (4.99, 0.998), (-5, -1), (-7, -1)])
    def test_price(self, P, expected):
        assert price_score(P) == approx(expected)

    @pytest.mark.parametrize(("R", "expected"), [
        (1.0, 0.0), (2.5, -1.0), (3.0, -1.0), (1 / 2.5, 1.0), (0.2, 1.0), (math.sqrt(2.5), -0.5)])
    def test_long_short_is_contrarian(self, R, expected):
        assert long_short_score(R / (1 + R)) == approx(expected)

    def test_long_short_extremes(self):
        assert long_short_score(0.0) == 1.0 and long_short_score(1.0) == -1.0

    @pytest.mark.parametrize(("X", "expected"), [(0.35, 0), (0.6, 1), (0.7, 1), (0.1, -1), (0.0, -1), (0.475, 0.5), (0.225, -0.5)])
    def test_conviction(self, X, expected):
        assert conviction_score(X) == approx(expected)

    @pytest.mark.parametrize(("sigma_pct", "expected"), [(0, 0), (0.005, -0.5), (0.01, -1), (0.02, -1), (0.0099, -0.99)])
    def test_divergence(self, sigma_pct, expected):
        assert divergence_score(sigma_pct / 100) == approx(expected)

    def test_oi_price_with_oi_change(self):
        assert oi_price_score(1.0, 2.5, None) == approx(0.5 * 0.5)
        assert oi_price_score(-3.0, 10.0, 0.5) == approx(1.0 * -1.0)  # both clipped
        assert oi_price_score(2.0, -5.0, 0.5) == approx(-1.0)

    def test_oi_price_without_oi_change(self):
        assert oi_price_score(4.0, None, 0.40) == approx(0.5 * 1.0 * 0.5)
        assert oi_price_score(4.0, None, 0.45) == approx(0.5)
        assert oi_price_score(4.0, None, 0.35) == approx(0.0)
        assert oi_price_score(-1.0, None, 0.60) == approx(0.5 * -0.5 * 1.0)
        assert oi_price_score(4.0, None, None) is None

    @pytest.mark.parametrize("func,lo,hi,lipschitz", [
        (lambda x: funding_score(x / 100), -0.1, 0.1, 25.0),  # slope 1/0.04 per F%
        (price_score, -10, 10, 0.2),
        (long_short_score, 0.05, 0.95, 25.0),
        (conviction_score, -0.5, 1.5, 4.0),
        (lambda x: divergence_score(x / 100), 0, 0.03, 100.0),
        (lambda p: oi_price_score(p, None, 0.42), -6, 6, 0.5),
        (lambda x: oi_price_score(1.5, None, x), 0.2, 0.6, 10.0),
        (lambda d: oi_price_score(1.0, d, None), -10, 10, 0.2),
    ])
    def test_scores_are_bounded_and_continuous(self, func, lo, hi, lipschitz):
        n = 4000
        xs = [lo + (hi - lo) * i / n for i in range(n + 1)]
        ys = [func(x) for x in xs]
        assert all(-1.0 <= y <= 1.0 for y in ys)
        step = (hi - lo) / n
        assert max(abs(b - a) for a, b in zip(ys, ys[1:])) <= lipschitz * step * 1.0001


class TestComposite:
    def test_all_present(self):
        f = FactorScores(funding=1.0, price=0.5, long_short=-0.2, conviction=0.4, divergence=-0.5, oi_price=0.1)
        assert composite(f) == approx(0.35 * 1 + 0.2 * 0.5 + 0.15 * -0.2 + 0.15 * 0.4 + 0.08 * -0.5 + 0.07 * 0.1)

    def test_missing_factors_rescale_the_rest(self):
        f = FactorScores(funding=1.0, price=0.5)
        assert composite(f) == approx((0.35 * 1.0 + 0.20 * 0.5) / 0.55)
        assert f.missing == ("long_short", "conviction", "divergence", "oi_price")

    def test_nothing_present(self):
        assert composite(FactorScores()) is None

    def test_score_from_aggregates(self):
        m = MarketAggregates(exchanges_ok=2, exchanges_failed=0, funding_rate_8h=0.0003,
                             price_change_24h_pct=2.5, oi_vol_ratio=0.475, long_share=0.5,
                             funding_divergence=0.00005, oi_change_24h_pct=None)
        factors, s = score(m)
        # oi_price without ΔOI: 0.5 · clip(2.5 / 2) · clip((0.475 − 0.35) / 0.1, 0, 1) = 0.5
        assert factors.as_dict() == approx({"funding": 0.5, "price": 0.5, "long_short": 0.0, "conviction": 0.5,
                                            "divergence": -0.5, "oi_price": 0.5})
        expected = 0.35 * 0.5 + 0.2 * 0.5 + 0 + 0.15 * 0.5 + 0.08 * -0.5 + 0.07 * 0.5
        assert s.composite_score == approx(expected)
        assert (s.sentiment, s.strength, s.divergence_label) == ("BULLISH", "WEAK", "DIVERGENT")

    def test_factor_scores_with_nothing(self):
        assert factor_scores(MarketAggregates(exchanges_ok=0, exchanges_failed=8)) == FactorScores()


class TestLabels:
    @pytest.mark.parametrize(("s", "label"), [
        (0.3, "NEUTRAL"), (0.3000001, "BULLISH"), (-0.3, "NEUTRAL"), (-0.3000001, "BEARISH"), (0.0, "NEUTRAL")])
    def test_sentiment(self, s, label):
        assert sentiment_label(s) == label

    @pytest.mark.parametrize(("s", "label"), [
        (0.7, "MODERATE"), (0.7000001, "STRONG"), (-0.71, "STRONG"), (0.5, "WEAK"), (0.5000001, "MODERATE"),
        (0.3, "NEUTRAL"), (-0.3000001, "WEAK"), (0.0, "NEUTRAL")])
    def test_strength(self, s, label):
        assert strength_label(s) == label

    @pytest.mark.parametrize(("sigma_pct", "label"), [
        (0.0, "CONSENSUS"), (0.0019999, "CONSENSUS"), (0.002, "MIXED"), (0.0049999, "MIXED"), (0.005, "DIVERGENT")])
    def test_divergence(self, sigma_pct, label):
        assert divergence_label(sigma_pct / 100) == label


# -- cascade risk (docs/design.md#cascade-risk), hand-computed around every breakpoint ------------------------------

from perps_tracker.model.scoring import cascade_level, cascade_risk  # noqa: E402


@pytest.mark.parametrize("L, long_usd, V, expected", [
    # F1 = 0.4·clip((L/V)/0.05): L/V = 0.05 is the cap. Shares 0.5 (F2 = 0) and L < $1M (F3 = 0).
    (500_000, 250_000, 10_000_000, 0.4),  # L/V = 0.05
    (250_000, 125_000, 10_000_000, 0.2),  # L/V = 0.025
    (500_000, 250_000, 5_000_000, 0.4),  # L/V = 0.1: capped
    (999_999, 499_999.5, 1e12, 0.4 * (999_999 / 1e12) / 0.05),  # tiny ratio, just under $1M: F3 = 0
    # F2 = 0.3·clip(|share − 0.5| / 0.4): share 0.9 (or 0.1) is the cap.
    (100, 90, 1e12, 0.3 + 0.4 * 100 / 1e12 / 0.05),
    (100, 10, 1e12, 0.3 + 0.4 * 100 / 1e12 / 0.05),
    (100, 70, 1e12, 0.15 + 0.4 * 100 / 1e12 / 0.05),  # |0.7 − 0.5| / 0.4 = 0.5
    (100, 100, 1e12, 0.3 + 0.4 * 100 / 1e12 / 0.05),  # all longs: capped at 0.3
    # F3 = 0.3·clip(log10(L / 1e6) / 3): 0 at $1M, 0.15 at $31.6M, 0.3 at $1B and beyond.
    (1e6, 0.5e6, 1e20, 0.4 * 1e6 / 1e20 / 0.05),
    (10 ** 7.5, 10 ** 7.5 / 2, 1e20, 0.15 + 0.4 * 10 ** 7.5 / 1e20 / 0.05),
    (1e9, 0.5e9, 1e20, 0.3 + 0.4 * 1e9 / 1e20 / 0.05),
    (1e10, 0.5e10, 1e20, 0.3 + 0.4 * 1e10 / 1e20 / 0.05),
    # Everything at once: L/V = 0.05, share 0.9, L = $1B → 0.4 + 0.3 + 0.3 = 1.
    (1e9, 0.9e9, 2e10, 1.0),
    # A mid case: L = $10M, V = $400M (L/V = 0.025 → 0.2), share 0.6 (→ 0.075), log10(10)/3 → 0.1.
    (1e7, 6e6, 4e8, 0.2 + 0.075 + 0.1),
])
def test_cascade_risk(L, long_usd, V, expected):
    assert cascade_risk(L, long_usd, V) == pytest.approx(expected, abs=1e-12)


def test_cascade_risk_nothing_liquidated_is_zero_and_unknown_volume_is_none():
    assert cascade_risk(0, 0, None) == 0.0
    assert cascade_risk(0, 0, 1e9) == 0.0
    assert cascade_risk(1e6, 5e5, None) is None
    assert cascade_risk(1e6, 5e5, 0) is None


@pytest.mark.parametrize("score, level", [
    (0.0, "LOW"), (0.3, "LOW"), (0.30001, "MODERATE"), (0.5, "MODERATE"), (0.50001, "HIGH"),
    (0.7, "HIGH"), (0.70001, "CRITICAL"), (1.0, "CRITICAL"),
])
def test_cascade_level_boundaries(score, level):
    assert cascade_level(score) == level
