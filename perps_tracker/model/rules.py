"""The twelve strategy rules of docs/design.md#strategy-alerts as pure functions of one snapshot's inputs.

A rule *fires* when its conditions hold (all of them, or at least k of n); its
confidence is the points of the conditions that hold plus bonuses, capped at 100, and an
alert is raised when it fired with confidence ≥ 50. A condition whose input is missing
(None) does not hold. Units as in docs/design.md#market-aggregates: P and F% and σ% in percent, X a ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from perps_tracker.model.liquidation import MIN_COVERAGE
from perps_tracker.model.times import HOUR

ALERT_MIN_CONFIDENCE = 50
TREND_POINTS = 6  # the slope of S over the last 6 snapshots ...
TREND_SPAN = 12 * HOUR  # ... that lie within 12 h of the newest (older ones say nothing of now)


def covered(coverage: float | None) -> bool:
    """Enough of the hour read for a liquidation figure to count (an unrecorded coverage counts)."""
    return coverage is None or coverage >= MIN_COVERAGE
LONG, SHORT, NEUTRAL = "long", "short", "neutral"


@dataclass(frozen=True)
class RuleInputs:
    S: float | None = None  # composite score
    fs: float | None = None  # funding factor score
    ps: float | None = None  # price factor score
    P: float | None = None  # BTC 24 h change, percent
    F_pct: float | None = None  # market funding, percent per 8 h (100 · F)
    sigma_pct: float | None = None  # funding divergence, percent (100 · σ)
    X: float | None = None  # OI / volume
    long_share: float | None = None
    total_volume_usd: float | None = None
    liq_total_usd: float | None = None  # liquidated USD of the last hour (market line)
    liq_long_share: float | None = None  # longs' share of it
    liq_volume_usd: float | None = None  # the same venues' volume over that hour (V of docs/design.md#cascade-risk)
    cascade_score: float | None = None
    liq_coverage: float | None = None  # share of that hour the market line read (None: not recorded)
    btc_funding_8h: Mapping[str, float] = field(default_factory=dict)  # venue → BTC funding, fraction per 8 h
    # the hour's widest cross-venue funding spread over every coin (None: no per-market rows that hour)
    funding_arb: "FundingArb | None" = None
    basis: Mapping[str, float] = field(default_factory=dict)  # venue → mark / index − 1
    slope: float | None = None  # least-squares slope of S over the last 6 snapshots, per hour

    @property
    def liq_ratio(self) -> float | None:
        """Liquidated USD / the same venues' volume in that hour (None without a volume, or when less
        than MIN_COVERAGE of the hour was read: the volume is scaled to the part read, and a few
        seconds of a watch would make any liquidation a large share of it)."""
        if self.liq_total_usd is None or not self.liq_volume_usd or not covered(self.liq_coverage):
            return None
        return self.liq_total_usd / self.liq_volume_usd


@dataclass(frozen=True)
class FundingArb:
    """One coin's widest funding spread between two venues (legs of at least $1M 24 h volume each)."""

    coin: str
    short: str  # the venue paying the most funding
    short_8h: float
    long: str  # the venue paying the least
    long_8h: float


@dataclass(frozen=True)
class Evaluation:
    strategy: str
    tier: int
    fired: bool
    confidence: int
    direction: str | None
    reasons: tuple[str, ...]  # the conditions that held (and bonuses), with their numbers
    why_not: str | None = None  # for a rule that did not fire: what was missing or failed

    @property
    def alert(self) -> bool:
        return self.fired and self.confidence >= ALERT_MIN_CONFIDENCE


@dataclass(frozen=True)
class Condition:
    text: str  # "|P| > 5"
    points: int
    test: Callable[[Any], Any]  # on `Values`: a bool for one snapshot, a bool array for columns
    shown: Callable[[RuleInputs], str]  # the numbers: "P = +6.20%"

    def holds(self, i: RuleInputs) -> bool:
        return bool(self.test(Values(i)))


class Values:
    """What a condition reads: the inputs as numbers, a missing one (None) as NaN, so that every
    comparison with it is false and a condition on a missing input does not hold. The conditions
    are written with `&`, `|`, `abs`, `sgn` and `negate` so that the same expression works on one
    snapshot (floats) and on the columns of many (numpy arrays, `InputColumns`)."""

    def __init__(self, source: Any):
        self._source = source

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._source, name)
        return math.nan if value is None else value


def _f(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def cond(text: str, points: int, test: Callable[[Any], Any], shown: Callable[[RuleInputs], str]) -> Condition:
    return Condition(text, points, test, shown)


def sgn(x: Any) -> Any:
    """−1, 0 or +1 (0 for NaN), for a number or an array."""
    return (x > 0) * 1 - (x < 0) * 1


def negate(held: Any) -> Any:
    """Not `held`, for a bool or a bool array (`not` does not work on arrays, `~` not on bools)."""
    return held == 0


def sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _dir(x: float | None, against: bool = False) -> str | None:
    if x is None or x == 0:
        return NEUTRAL
    up = x > 0
    return (SHORT if up else LONG) if against else (LONG if up else SHORT)


# -- shared conditions' displays ------------------------------------------------------------

P_ = lambda i: f"P = {_f(i.P, '+.2f')}%"  # noqa: E731
S_ = lambda i: f"S = {_f(i.S, '+.3f')}"  # noqa: E731
X_ = lambda i: f"X = {_f(i.X, '.3f')}"  # noqa: E731
SIG_ = lambda i: f"σ% = {_f(i.sigma_pct, '.4f')}"  # noqa: E731
F_ = lambda i: f"F% = {_f(i.F_pct, '+.4f')}"  # noqa: E731
FSPS_ = lambda i: f"fs = {_f(i.fs, '+.2f')}, ps = {_f(i.ps, '+.2f')}"  # noqa: E731


@dataclass(frozen=True)
class Rule:
    strategy: str
    tier: int
    conditions: tuple[Condition, ...]
    need: int | None  # None: all conditions; k: at least k of them
    direction: Callable[[RuleInputs], str | None]
    bonuses: tuple[tuple[str, int, Callable[[Any], Any]], ...] = ()  # (text, points, test on Values)

    @property
    def needed(self) -> int:
        return len(self.conditions) if self.need is None else self.need

    def evaluate(self, i: RuleInputs) -> Evaluation:
        v = Values(i)
        held = [c for c in self.conditions if c.test(v)]
        if len(held) < self.needed:
            failed = [f"{c.text} ({c.shown(i)})" for c in self.conditions if c not in held]
            n = len(self.conditions)
            needed = "all needed" if self.needed == n else f"{self.needed} needed"
            return Evaluation(self.strategy, self.tier, False, 0, None, tuple(f"{c.text}: {c.shown(i)}" for c in held),
                              why_not=f"{len(held)} of {n} conditions hold, {needed}; not: " + "; ".join(failed))
        points = sum(c.points for c in held)
        reasons = [f"{c.text}: {c.shown(i)}" for c in held]
        for text, bonus, applies in self.bonuses:
            if applies(v):
                points += bonus
                reasons.append(f"{text} ({bonus:+d})")
        return Evaluation(self.strategy, self.tier, True, max(0, min(100, points)), self.direction(i), tuple(reasons))

    def confidence(self, v: Values) -> tuple[Any, Any]:
        """(fired, confidence) on columns: two arrays, the confidence capped to 0..100."""
        import numpy as np

        held = [np.asarray(c.test(v), dtype=bool) for c in self.conditions]
        fired = np.sum(held, axis=0) >= self.needed
        points = sum(c.points * h for c, h in zip(self.conditions, held))
        for _, bonus, applies in self.bonuses:
            points = points + bonus * np.asarray(applies(v), dtype=bool)
        return fired, np.clip(points, 0, 100)


def neutral(i: RuleInputs) -> str:
    """The direction of the rules that take no side."""
    return NEUTRAL


def _cascade_direction(i: RuleInputs) -> str:
    if i.liq_long_share is None:
        return NEUTRAL
    return SHORT if i.liq_long_share >= 0.5 else LONG


def _contrarian_direction(i: RuleInputs) -> str | None:
    if i.S is not None and i.S != 0:
        return _dir(i.S, against=True)
    if i.long_share is not None and i.long_share != 0.5:
        return SHORT if i.long_share > 0.5 else LONG
    return NEUTRAL


def _slope_confirms(v: Values) -> Any:
    return (sgn(v.slope) == sgn(v.S)) & (sgn(v.slope) != 0) & (abs(v.slope) > 0.01)


LIQ_RATIO = cond("liquidated USD / 1 h volume > 2%", 17, lambda v: v.liq_ratio > 0.02,
                 lambda i: "n/a" if i.liq_ratio is None else f"{100 * i.liq_ratio:.2f}% of volume")
CASCADE = cond("cascade score > 0.6", 17, lambda v: v.cascade_score > 0.6,
               lambda i: f"cascade {_f(i.cascade_score, '.2f')}")

RULES: tuple[Rule, ...] = (
    Rule("Liquidation Cascade Risk", 1, (
        cond("X > 0.6", 17, lambda v: v.X > 0.6, X_),
        cond("|F%| > 0.015", 17, lambda v: abs(v.F_pct) > 0.015, F_),
        cond("|S| > 0.4", 17, lambda v: abs(v.S) > 0.4, S_),
        cond("|P| > 5", 17, lambda v: abs(v.P) > 5, P_),
        LIQ_RATIO, CASCADE,
    ), 4, _cascade_direction,
        (("both liquidation conditions hold", 20, lambda v: LIQ_RATIO.test(v) & CASCADE.test(v)),)),
    Rule("Momentum Breakout", 1, (
        cond("|P| > 5", 30, lambda v: abs(v.P) > 5, P_),
        cond("X > 0.45", 30, lambda v: v.X > 0.45, X_),
        cond("fs and ps beyond ±0.5, same sign", 25,
             lambda v: (abs(v.fs) > 0.5) & (abs(v.ps) > 0.5) & (sgn(v.fs) == sgn(v.ps)), FSPS_),
        cond("σ% < 0.003", 15, lambda v: v.sigma_pct < 0.003, SIG_),
    ), None, lambda i: _dir(i.P)),
    Rule("Trend Following", 2, (
        cond("|S| > 0.5", 30, lambda v: abs(v.S) > 0.5, S_),
        cond("fs and ps same sign", 30, lambda v: (sgn(v.fs) == sgn(v.ps)) & (sgn(v.fs) != 0), FSPS_),
        cond("X > 0.4", 20, lambda v: v.X > 0.4, X_),
        cond("σ% < 0.003", 20, lambda v: v.sigma_pct < 0.003, SIG_),
    ), None, lambda i: _dir(i.S), (("trend not confirmed", -25, lambda v: negate(_slope_confirms(v))),)),
    Rule("Contrarian Play", 2, (
        cond("|S| > 0.7", 20, lambda v: abs(v.S) > 0.7, S_),
        cond("fs and ps opposite, both beyond ±0.3", 20,
             lambda v: (sgn(v.fs) == -sgn(v.ps)) & (sgn(v.fs) != 0) & (abs(v.fs) > 0.3) & (abs(v.ps) > 0.3), FSPS_),
        cond("σ% > 0.008", 20, lambda v: v.sigma_pct > 0.008, SIG_),
        cond("X > 0.6 or X < 0.2", 20, lambda v: (v.X > 0.6) | (v.X < 0.2), X_),
        cond("long share > 70% or < 30%", 20, lambda v: (v.long_share > 0.7) | (v.long_share < 0.3),
             lambda i: f"long share {_f(None if i.long_share is None else 100 * i.long_share, '.1f')}%"),
    ), 2, _contrarian_direction),
    Rule("Breakout Trading", 2, (
        cond("|P| < 4", 25, lambda v: abs(v.P) < 4, P_),
        cond("X > 0.4", 30, lambda v: v.X > 0.4, X_),
        cond("|S| < 0.3", 25, lambda v: abs(v.S) < 0.3, S_),
        cond("σ% < 0.004", 20, lambda v: v.sigma_pct < 0.004, SIG_),
    ), None, neutral),
    Rule("Volatility Expansion", 2, (
        cond("|P| < 3", 30, lambda v: abs(v.P) < 3, P_),
        cond("σ% > 0.006", 30, lambda v: v.sigma_pct > 0.006, SIG_),
        cond("|fs − ps| > 0.5", 25, lambda v: abs(v.fs - v.ps) > 0.5, FSPS_),
    ), None, neutral, (("0.35 < X < 0.6", 15, lambda v: (0.35 < v.X) & (v.X < 0.6)),)),
    Rule("Range Trading", 3, (
        cond("−0.2 ≤ S ≤ 0.2", 25, lambda v: (-0.2 <= v.S) & (v.S <= 0.2), S_),
        cond("3 ≤ |P| ≤ 6", 25, lambda v: (3 <= abs(v.P)) & (abs(v.P) <= 6), P_),
        cond("0.3 ≤ X ≤ 0.5", 25, lambda v: (0.3 <= v.X) & (v.X <= 0.5), X_),
        cond("σ% < 0.005", 25, lambda v: v.sigma_pct < 0.005, SIG_),
    ), None, neutral),
    Rule("Mean Reversion", 3, (
        cond("0.3 < |S| < 0.6", 30, lambda v: (0.3 < abs(v.S)) & (abs(v.S) < 0.6), S_),
        cond("fs · ps < 0", 40, lambda v: v.fs * v.ps < 0, FSPS_),
        cond("|P| > 3", 20, lambda v: abs(v.P) > 3, P_),
    ), None, lambda i: _dir(i.P, against=True), (("0.3 ≤ X ≤ 0.5", 10, lambda v: (0.3 <= v.X) & (v.X <= 0.5)),)),
    Rule("Delta Neutral / Market Making", 3, (
        cond("|P| < 2", 25, lambda v: abs(v.P) < 2, P_),
        cond("|S| < 0.15", 25, lambda v: abs(v.S) < 0.15, S_),
        cond("|F%| < 0.01", 25, lambda v: abs(v.F_pct) < 0.01, F_),
        cond("0.3 < X < 0.5", 15, lambda v: (0.3 < v.X) & (v.X < 0.5), X_),
    ), None, neutral, (("σ% < 0.003", 10, lambda v: v.sigma_pct < 0.003),)),
    Rule("Scalping", 3, (
        cond("|S| ≤ 0.15", 20, lambda v: abs(v.S) <= 0.15, S_),
        cond("|P| < 3", 25, lambda v: abs(v.P) < 3, P_),
        cond("0.2 ≤ X ≤ 0.35", 25, lambda v: (0.2 <= v.X) & (v.X <= 0.35), X_),
        cond("σ% < 0.003", 20, lambda v: v.sigma_pct < 0.003, SIG_),
        cond("total volume > $200B", 10, lambda v: v.total_volume_usd > 200e9,
             lambda i: f"volume ${_f(None if i.total_volume_usd is None else i.total_volume_usd / 1e9, ',.1f')}B"),
    ), None, neutral),
)


def funding_arbitrage(i: RuleInputs) -> Evaluation:
    """Best annualised funding spread between two venues, (max − min) × 3 × 365 × 100 > 8 %: over every
    coin (legs of $1M+ volume, docs/markets.md) when the hour has per-market rows, else over the venues'
    BTC lines."""
    name, tier = "Funding Rate Arbitrage", 3
    if (arb := i.funding_arb) is not None:
        spread = (arb.short_8h - arb.long_8h) * 3 * 365 * 100
        if not spread > 8:
            return Evaluation(name, tier, False, 0, None, (),
                              why_not=f"widest spread {spread:.2f}% ({arb.coin}) is not above 8%")
        text = (f"annualised {arb.coin} funding spread {spread:.2f}%: {arb.short} {100 * arb.short_8h:+.4f}% vs "
                f"{arb.long} {100 * arb.long_8h:+.4f}% per 8 h — short {arb.coin} on {arb.short}, long on {arb.long}")
        return Evaluation(name, tier, True, round(min(5 * spread, 100)), NEUTRAL, (text,))
    rates = {v: r for v, r in i.btc_funding_8h.items() if r is not None}
    if len(rates) < 2:
        return Evaluation(name, tier, False, 0, None, (), why_not="fewer than two venues report BTC funding")
    high = max(rates, key=rates.get)
    low = min(rates, key=rates.get)
    spread = (rates[high] - rates[low]) * 3 * 365 * 100
    text = (f"annualised BTC funding spread {spread:.2f}%: {high} {100 * rates[high]:+.4f}% vs "
            f"{low} {100 * rates[low]:+.4f}% per 8 h — short {high}, long {low}")
    if not spread > 8:
        return Evaluation(name, tier, False, 0, None, (), why_not=f"spread {spread:.2f}% is not above 8%")
    return Evaluation(name, tier, True, round(min(5 * spread, 100)), NEUTRAL, (text,))


def basis_arbitrage(i: RuleInputs) -> Evaluation:
    """The venue with the widest |mark / index − 1|: ≥ 0.15 % → 70, ≥ 0.2 % → 85, ≥ 0.3 % → 100."""
    name, tier = "Basis Arbitrage", 3
    basis = {v: b for v, b in i.basis.items() if b is not None}
    if not basis:
        return Evaluation(name, tier, False, 0, None, (), why_not="no venue reports both mark and index price")
    venue = max(basis, key=lambda v: abs(basis[v]))
    pct = 100 * basis[venue]
    confidence = 100 if abs(pct) >= 0.3 else 85 if abs(pct) >= 0.2 else 70 if abs(pct) >= 0.15 else 0
    if not confidence:
        return Evaluation(name, tier, False, 0, None, (), why_not=f"widest basis {venue} {pct:+.3f}% is under 0.15%")
    side = "perp above index: short the perp" if pct > 0 else "perp below index: long the perp"
    return Evaluation(name, tier, True, confidence, SHORT if pct > 0 else LONG,
                      (f"{venue} basis {pct:+.3f}% ({side})",))


def evaluate(i: RuleInputs) -> list[Evaluation]:
    """Every strategy, in the order of docs/design.md#strategy-alerts."""
    results = [rule.evaluate(i) for rule in RULES]
    by_name = {e.strategy: e for e in results}
    by_name["Funding Rate Arbitrage"] = funding_arbitrage(i)
    by_name["Basis Arbitrage"] = basis_arbitrage(i)
    return [by_name[name] for name in STRATEGIES]


STRATEGIES = [
    "Liquidation Cascade Risk", "Momentum Breakout", "Trend Following", "Contrarian Play", "Breakout Trading",
    "Volatility Expansion", "Range Trading", "Mean Reversion", "Funding Rate Arbitrage", "Basis Arbitrage",
    "Delta Neutral / Market Making", "Scalping",
]


def trend_slope(points: Sequence[tuple[int, float]]) -> float | None:
    """Least-squares slope (per hour) of (unix seconds, S) points; None with fewer than 2 distinct times."""
    pts = [(t / 3600.0, s) for t, s in points if s is not None]
    if len(pts) < 2:
        return None
    n = len(pts)
    mt = sum(t for t, _ in pts) / n
    ms = sum(s for _, s in pts) / n
    var = sum((t - mt) ** 2 for t, _ in pts)
    if var == 0:
        return None
    return sum((t - mt) * (s - ms) for t, s in pts) / var


# -- many snapshots at once (backtest) ------------------------------------------------------------


@dataclass(frozen=True)
class InputColumns:
    """The rules' inputs of many snapshots, oldest first: one numpy array per input (NaN: missing),
    of the venues' BTC funding and basis only what the arbitrage rules read (how many venues give
    funding, its highest and lowest; the highest and lowest basis), and what a backtest reads beside
    them (`btc_price`, `sentiment`)."""

    timestamp: Any
    btc_price: Any
    sentiment: tuple[str | None, ...]
    S: Any
    fs: Any
    ps: Any
    P: Any
    F_pct: Any
    sigma_pct: Any
    X: Any
    long_share: Any
    total_volume_usd: Any
    liq_ratio: Any
    liq_long_share: Any
    cascade_score: Any
    slope: Any
    funding_count: Any  # venues with a BTC funding rate
    funding_max: Any  # per 8 h
    funding_min: Any
    arb_spread: Any  # the widest funding spread over every coin, per 8 h (NaN: no per-market rows)
    basis_max: Any  # mark / index − 1
    basis_min: Any

    def __len__(self) -> int:
        return len(self.timestamp)

    def row(self, k: int) -> RuleInputs:
        """Snapshot `k`'s inputs as the scalar rules read them (without the per-venue maps: enough for
        the directions of the rules in RULES)."""
        def at(column: Any) -> float | None:
            value = float(column[k])
            return None if math.isnan(value) else value

        return RuleInputs(S=at(self.S), fs=at(self.fs), ps=at(self.ps), P=at(self.P), F_pct=at(self.F_pct),
                          sigma_pct=at(self.sigma_pct), X=at(self.X), long_share=at(self.long_share),
                          total_volume_usd=at(self.total_volume_usd), liq_long_share=at(self.liq_long_share),
                          cascade_score=at(self.cascade_score), slope=at(self.slope))


def slopes(times: Any, scores: Any, at: Any, span: int = TREND_SPAN, points: int = TREND_POINTS) -> Any:
    """`trend_slope` at each time of `at` over the (time, score) points `times`/`scores` (sorted, no
    missing score) in (t − span, t], at most the last `points` of them; NaN below two. Prefix sums: one
    pass whatever the history's length."""
    import numpy as np

    x = (np.asarray(times, dtype=float) - (times[0] if len(times) else 0)) / 3600.0
    y = np.asarray(scores, dtype=float)
    upto = np.searchsorted(times, at, side="right")
    lo = np.maximum(np.searchsorted(times, np.asarray(at) - span, side="right"), upto - points)
    n = (upto - lo).astype(float)

    def window(values):
        prefix = np.concatenate(([0.0], np.cumsum(values)))
        return prefix[upto] - prefix[lo]

    sx, sy, sxx, sxy = window(x), window(y), window(x * x), window(x * y)
    den = n * sxx - sx * sx
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n * sxy - sx * sy) / den
    return np.where((n >= 2) & (den > 1e-12), slope, np.nan)


def column_alerts(cols: InputColumns) -> list[tuple[int, str, str]]:
    """Every raw alert (fired, confidence ≥ 50; no cooldown, no caps) of every snapshot as
    (timestamp, strategy, direction): the same as `evaluate` per snapshot, over columns."""
    import numpy as np

    v, out = Values(cols), []
    for rule in RULES:
        fired, confidence = rule.confidence(v)
        for k in np.flatnonzero(fired & (confidence >= ALERT_MIN_CONFIDENCE)):
            direction = NEUTRAL if rule.direction is neutral else rule.direction(cols.row(k)) or NEUTRAL
            out.append((int(cols.timestamp[k]), rule.strategy, direction))
    return out + _funding_arbitrage_alerts(cols) + _basis_arbitrage_alerts(cols)


def _funding_arbitrage_alerts(cols: InputColumns) -> list[tuple[int, str, str]]:
    """`funding_arbitrage` over columns: the hour's widest spread over every coin, else the spread of the
    highest and lowest venue's BTC funding."""
    import numpy as np

    every_coin = ~np.isnan(cols.arb_spread)
    spread = np.where(every_coin, cols.arb_spread, cols.funding_max - cols.funding_min) * 3 * 365 * 100
    with np.errstate(invalid="ignore"):
        confidence = np.round(np.minimum(5 * spread, 100))
        alert = (every_coin | (cols.funding_count >= 2)) & (spread > 8) & (confidence >= ALERT_MIN_CONFIDENCE)
    return [(int(cols.timestamp[k]), "Funding Rate Arbitrage", NEUTRAL) for k in np.flatnonzero(alert)]


def _basis_arbitrage_alerts(cols: InputColumns) -> list[tuple[int, str, str]]:
    """`basis_arbitrage` over columns: the widest basis is the highest or, below zero, the lowest (a tie
    of +b and −b exactly, which the scalar rule breaks by venue name, counts as +b)."""
    import numpy as np

    with np.errstate(invalid="ignore"):
        widest = np.where(cols.basis_max >= -cols.basis_min, cols.basis_max, cols.basis_min)
        alert = np.abs(100 * widest) >= 0.15
    return [(int(cols.timestamp[k]), "Basis Arbitrage", SHORT if widest[k] > 0 else LONG)
            for k in np.flatnonzero(alert)]
