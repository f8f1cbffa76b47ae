"""Market aggregates (docs/design.md#market-aggregates) and the six-factor sentiment score (docs/design.md#sentiment).

Pure functions of dataclasses: no I/O, no clock. Every score is continuous in its inputs
and lies in [-1, 1]; a factor whose input is missing is left out and the weights of the
others are rescaled to sum to 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Callable, Iterable, Mapping

from perps_tracker.model.market import VenueSnapshot

FACTOR_WEIGHTS: dict[str, float] = {
    "funding": 0.35,
    "price": 0.20,
    "long_short": 0.15,
    "conviction": 0.15,
    "divergence": 0.08,
    "oi_price": 0.07,
}
FACTOR_COLUMNS = tuple(FACTOR_WEIGHTS)  # the six factors, in the order they are stored and shown
FUNDING_BASELINE_PCT = 0.01  # %/8 h: the neutral funding rate


def clip(x: float, lo: float, hi: float) -> float:
    return float(lo if x < lo else hi if x > hi else x)


@dataclass(frozen=True)
class MarketAggregates:
    """One number per market-wide metric over the venues whose fetch succeeded; None = no input."""

    exchanges_ok: int
    exchanges_failed: int
    total_volume_usd: float | None = None
    cex_volume_usd: float | None = None
    dex_volume_usd: float | None = None
    total_oi_usd: float | None = None
    btc_price: float | None = None
    funding_rate_8h: float | None = None  # F, fraction per 8 h
    price_change_24h_pct: float | None = None  # P, percent
    funding_divergence: float | None = None  # σ, fraction per 8 h
    oi_vol_ratio: float | None = None  # X
    long_share: float | None = None
    long_short_ratio: float | None = None  # R
    oi_change_24h_pct: float | None = None


@dataclass(frozen=True)
class FactorScores:
    funding: float | None = None
    price: float | None = None
    long_short: float | None = None
    conviction: float | None = None
    divergence: float | None = None
    oi_price: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name, score in self.as_dict().items() if score is None)


@dataclass(frozen=True)
class Sentiment:
    composite_score: float | None
    sentiment: str | None  # BULLISH / NEUTRAL / BEARISH
    strength: str | None  # STRONG / MODERATE / WEAK / NEUTRAL
    divergence_label: str | None  # CONSENSUS / MIXED / DIVERGENT


# -- aggregates ------------------------------------------------------------------------------


def _weighted(venues: list[VenueSnapshot], value: Callable[[VenueSnapshot], float | None]) -> list[tuple[float, float]]:
    """(weight, value) over venues reporting the value and a volume; weights sum to 1."""
    pairs = [(v.volume_24h_usd, value(v)) for v in venues
             if value(v) is not None and v.volume_24h_usd is not None and v.volume_24h_usd > 0]
    total = sum(vol for vol, _ in pairs)
    return [(vol / total, x) for vol, x in pairs] if total > 0 else []


def _weighted_mean(pairs: list[tuple[float, float]]) -> float | None:
    return sum(w * x for w, x in pairs) if pairs else None


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def oi_change_pct(venues: list[VenueSnapshot], previous_oi: Mapping[str, float] | None) -> float | None:
    """% change of Σ OI against an earlier snapshot, over the venues with OI in both."""
    if not previous_oi:
        return None
    common = [v for v in venues if v.open_interest_usd is not None and previous_oi.get(v.exchange)]
    before = sum(previous_oi[v.exchange] for v in common)
    if not common or before <= 0:
        return None
    return (sum(v.open_interest_usd for v in common) / before - 1.0) * 100.0


def aggregate(venues: Iterable[VenueSnapshot], previous_oi: Mapping[str, float] | None = None) -> MarketAggregates:
    """Market aggregates over the venues that answered (docs/design.md#market-aggregates).

    `previous_oi`: venue → open interest (USD) of the snapshot about 24 h earlier, if any.
    """
    venues = list(venues)
    ok = [v for v in venues if v.ok]
    funding = _weighted(ok, lambda v: v.btc_funding_rate_8h)
    F = _weighted_mean(funding)
    sigma = math.sqrt(sum(w * (f - F) ** 2 for w, f in funding)) if len(funding) >= 2 else None
    both = [v for v in ok if v.open_interest_usd is not None and v.volume_24h_usd]
    shares = [v.long_share for v in ok if v.long_share is not None]
    long_share = sum(shares) / len(shares) if shares else None
    return MarketAggregates(
        exchanges_ok=len(ok),
        exchanges_failed=len(venues) - len(ok),
        total_volume_usd=_sum(v.volume_24h_usd for v in ok),
        cex_volume_usd=_sum(v.volume_24h_usd for v in ok if v.kind == "CEX"),
        dex_volume_usd=_sum(v.volume_24h_usd for v in ok if v.kind == "DEX"),
        total_oi_usd=_sum(v.open_interest_usd for v in ok),
        btc_price=_weighted_mean(_weighted(ok, lambda v: v.btc_price)),
        funding_rate_8h=F,
        price_change_24h_pct=_weighted_mean(_weighted(ok, lambda v: v.btc_price_change_24h_pct)),
        funding_divergence=sigma,
        oi_vol_ratio=sum(v.open_interest_usd for v in both) / sum(v.volume_24h_usd for v in both) if both else None,
        long_share=long_share,
        long_short_ratio=long_share / (1 - long_share) if long_share is not None and long_share < 1 else None,
        oi_change_24h_pct=oi_change_pct(ok, previous_oi),
    )


# -- factors ------------------------------------------------------------------------------


def funding_score(F: float) -> float:
    return clip((100 * F - FUNDING_BASELINE_PCT) / 0.04, -1, 1)


def price_score(P: float) -> float:
    return clip(P / 5, -1, 1)


def long_short_score(long_share: float) -> float:
    """Contrarian: a crowded long side scores bearish. clip(−ln(R) / ln(2.5)), R = share / (1 − share)."""
    if long_share <= 0:
        return 1.0
    if long_share >= 1:
        return -1.0
    R = long_share / (1 - long_share)
    return clip(-math.log(R) / math.log(2.5), -1, 1)


def conviction_score(X: float) -> float:
    return clip((X - 0.35) / 0.25, -1, 1)


def divergence_score(sigma: float) -> float:
    return -clip(100 * sigma / 0.01, 0, 1)


def oi_price_score(P: float, oi_change_pct: float | None, X: float | None) -> float | None:
    if oi_change_pct is not None:
        return clip(oi_change_pct / 5, -1, 1) * clip(P / 2, -1, 1)
    if X is None:
        return None
    return 0.5 * clip(P / 2, -1, 1) * clip((X - 0.35) / 0.1, 0, 1)


def _maybe(func, x):
    return None if x is None else func(x)


def factor_scores(m: MarketAggregates) -> FactorScores:
    P = m.price_change_24h_pct
    return FactorScores(
        funding=_maybe(funding_score, m.funding_rate_8h),
        price=_maybe(price_score, P),
        long_short=_maybe(long_short_score, m.long_share),
        conviction=_maybe(conviction_score, m.oi_vol_ratio),
        divergence=_maybe(divergence_score, m.funding_divergence),
        oi_price=None if P is None else oi_price_score(P, m.oi_change_24h_pct, m.oi_vol_ratio),
    )


def composite(factors: FactorScores) -> float | None:
    """Σ w·s over the factors present, weights rescaled to sum to 1; None if none is present."""
    present = {k: s for k, s in factors.as_dict().items() if s is not None}
    total = sum(FACTOR_WEIGHTS[k] for k in present)
    if not present or total == 0:
        return None
    return sum(FACTOR_WEIGHTS[k] * s for k, s in present.items()) / total


def sentiment_label(score: float) -> str:
    return "BULLISH" if score > 0.3 else "BEARISH" if score < -0.3 else "NEUTRAL"


def strength_label(score: float) -> str:
    a = abs(score)
    return "STRONG" if a > 0.7 else "MODERATE" if a > 0.5 else "WEAK" if a > 0.3 else "NEUTRAL"


def divergence_label(sigma: float) -> str:
    pct = 100 * sigma
    return "CONSENSUS" if pct < 0.002 else "MIXED" if pct < 0.005 else "DIVERGENT"


def score(m: MarketAggregates) -> tuple[FactorScores, Sentiment]:
    """The six factors and the composite with its labels."""
    factors = factor_scores(m)
    s = composite(factors)
    return factors, Sentiment(
        composite_score=s,
        sentiment=_maybe(sentiment_label, s),
        strength=_maybe(strength_label, s),
        divergence_label=_maybe(divergence_label, m.funding_divergence),
    )


# -- cascade risk (docs/design.md#cascade-risk) ----------------------------------------------


def cascade_risk(L: float, long_usd: float, V: float | None) -> float | None:
    """F1 + F2 + F3 (docs/design.md#cascade-risk) for L liquidated USD (`long_usd` of it longs), window volume V.

    Nothing liquidated scores 0 whatever the volume; otherwise an unknown or zero V gives None.
    """
    if L <= 0:
        return 0.0
    if V is None or V <= 0:
        return None
    f1 = 0.4 * clip((L / V) / 0.05, 0, 1)
    f2 = 0.3 * clip(abs(long_usd / L - 0.5) / 0.4, 0, 1)
    f3 = 0.3 * clip(math.log10(L / 1e6) / 3, 0, 1) if L >= 1e6 else 0.0
    return f1 + f2 + f3


def cascade_level(score: float) -> str:
    return "CRITICAL" if score > 0.7 else "HIGH" if score > 0.5 else "MODERATE" if score > 0.3 else "LOW"
