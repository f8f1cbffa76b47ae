"""The twelve strategy rules of DESIGN §6 as pure functions of one snapshot's inputs.

A rule *fires* when its conditions hold (all of them, or at least k of n); its
confidence is the points of the conditions that hold plus bonuses, capped at 100, and an
alert is raised when it fired with confidence ≥ 50. A condition whose input is missing
(None) does not hold. Units as in §3/§4: P and F% and σ% in percent, X a ratio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

ALERT_MIN_CONFIDENCE = 50
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
    liq_volume_usd: float | None = None  # the same venues' volume over that hour (V of §5)
    cascade_score: float | None = None
    btc_funding_8h: Mapping[str, float] = field(default_factory=dict)  # venue → BTC funding, fraction per 8 h
    basis: Mapping[str, float] = field(default_factory=dict)  # venue → mark / index − 1
    slope: float | None = None  # least-squares slope of S over the last 6 snapshots, per hour


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
    holds: Callable[[RuleInputs], bool]
    shown: Callable[[RuleInputs], str]  # the numbers: "P = +6.20%"


def _f(x: float | None, fmt: str) -> str:
    return "n/a" if x is None else format(x, fmt)


def _safe(check: Callable[[RuleInputs], bool]) -> Callable[[RuleInputs], bool]:
    """A condition on a missing input does not hold."""
    def holds(i: RuleInputs) -> bool:
        try:
            return bool(check(i))
        except TypeError:  # None in a comparison
            return False
    return holds


def cond(text: str, points: int, check: Callable[[RuleInputs], bool], shown: Callable[[RuleInputs], str]) -> Condition:
    return Condition(text, points, _safe(check), shown)


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


def _liq_ratio(i: RuleInputs) -> float | None:
    if i.liq_total_usd is None or not i.liq_volume_usd:
        return None
    return i.liq_total_usd / i.liq_volume_usd


@dataclass(frozen=True)
class Rule:
    strategy: str
    tier: int
    conditions: tuple[Condition, ...]
    need: int | None  # None: all conditions; k: at least k of them
    direction: Callable[[RuleInputs], str | None]
    bonuses: tuple[tuple[str, int, Callable[[RuleInputs], bool]], ...] = ()

    def evaluate(self, i: RuleInputs) -> Evaluation:
        held = [c for c in self.conditions if c.holds(i)]
        need = len(self.conditions) if self.need is None else self.need
        if len(held) < need:
            failed = [f"{c.text} ({c.shown(i)})" for c in self.conditions if c not in held]
            n = len(self.conditions)
            needed = "all needed" if need == n else f"{need} needed"
            return Evaluation(self.strategy, self.tier, False, 0, None, tuple(f"{c.text}: {c.shown(i)}" for c in held),
                              why_not=f"{len(held)} of {n} conditions hold, {needed}; not: " + "; ".join(failed))
        points = sum(c.points for c in held)
        reasons = [f"{c.text}: {c.shown(i)}" for c in held]
        for text, bonus, applies in self.bonuses:
            if _safe(applies)(i):
                points += bonus
                reasons.append(f"{text} ({bonus:+d})")
        return Evaluation(self.strategy, self.tier, True, max(0, min(100, points)), self.direction(i), tuple(reasons))


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


def _slope_confirms(i: RuleInputs) -> bool:
    return i.slope is not None and i.S is not None and sign(i.slope) == sign(i.S) and abs(i.slope) > 0.01


def _slope_text(i: RuleInputs) -> str:
    return f"trend not confirmed: slope of S over the last 6 snapshots {_f(i.slope, '+.4f')}/h"


LIQ_RATIO = cond("liquidated USD / 1 h volume > 2%", 17, lambda i: _liq_ratio(i) > 0.02,
                 lambda i: "n/a" if _liq_ratio(i) is None else f"{100 * _liq_ratio(i):.2f}% of volume")
CASCADE = cond("cascade score > 0.6", 17, lambda i: i.cascade_score > 0.6,
               lambda i: f"cascade {_f(i.cascade_score, '.2f')}")

RULES: tuple[Rule, ...] = (
    Rule("Liquidation Cascade Risk", 1, (
        cond("X > 0.6", 17, lambda i: i.X > 0.6, X_),
        cond("|F%| > 0.015", 17, lambda i: abs(i.F_pct) > 0.015, F_),
        cond("|S| > 0.4", 17, lambda i: abs(i.S) > 0.4, S_),
        cond("|P| > 5", 17, lambda i: abs(i.P) > 5, P_),
        LIQ_RATIO, CASCADE,
    ), 4, _cascade_direction,
        (("both liquidation conditions hold", 20, lambda i: LIQ_RATIO.holds(i) and CASCADE.holds(i)),)),
    Rule("Momentum Breakout", 1, (
        cond("|P| > 5", 30, lambda i: abs(i.P) > 5, P_),
        cond("X > 0.45", 30, lambda i: i.X > 0.45, X_),
        cond("fs and ps beyond ±0.5, same sign", 25,
             lambda i: abs(i.fs) > 0.5 and abs(i.ps) > 0.5 and sign(i.fs) == sign(i.ps), FSPS_),
        cond("σ% < 0.003", 15, lambda i: i.sigma_pct < 0.003, SIG_),
    ), None, lambda i: _dir(i.P)),
    Rule("Trend Following", 2, (
        cond("|S| > 0.5", 30, lambda i: abs(i.S) > 0.5, S_),
        cond("fs and ps same sign", 30, lambda i: sign(i.fs) == sign(i.ps) != 0, FSPS_),
        cond("X > 0.4", 20, lambda i: i.X > 0.4, X_),
        cond("σ% < 0.003", 20, lambda i: i.sigma_pct < 0.003, SIG_),
    ), None, lambda i: _dir(i.S), (("trend not confirmed", -25, lambda i: not _slope_confirms(i)),)),
    Rule("Contrarian Play", 2, (
        cond("|S| > 0.7", 20, lambda i: abs(i.S) > 0.7, S_),
        cond("fs and ps opposite, both beyond ±0.3", 20,
             lambda i: sign(i.fs) == -sign(i.ps) != 0 and abs(i.fs) > 0.3 and abs(i.ps) > 0.3, FSPS_),
        cond("σ% > 0.008", 20, lambda i: i.sigma_pct > 0.008, SIG_),
        cond("X > 0.6 or X < 0.2", 20, lambda i: i.X > 0.6 or i.X < 0.2, X_),
        cond("long share > 70% or < 30%", 20, lambda i: i.long_share > 0.7 or i.long_share < 0.3,
             lambda i: f"long share {_f(None if i.long_share is None else 100 * i.long_share, '.1f')}%"),
    ), 2, _contrarian_direction),
    Rule("Breakout Trading", 2, (
        cond("|P| < 4", 25, lambda i: abs(i.P) < 4, P_),
        cond("X > 0.4", 30, lambda i: i.X > 0.4, X_),
        cond("|S| < 0.3", 25, lambda i: abs(i.S) < 0.3, S_),
        cond("σ% < 0.004", 20, lambda i: i.sigma_pct < 0.004, SIG_),
    ), None, lambda i: NEUTRAL),
    Rule("Volatility Expansion", 2, (
        cond("|P| < 3", 30, lambda i: abs(i.P) < 3, P_),
        cond("σ% > 0.006", 30, lambda i: i.sigma_pct > 0.006, SIG_),
        cond("|fs − ps| > 0.5", 25, lambda i: abs(i.fs - i.ps) > 0.5, FSPS_),
    ), None, lambda i: NEUTRAL, (("0.35 < X < 0.6", 15, lambda i: 0.35 < i.X < 0.6),)),
    Rule("Range Trading", 3, (
        cond("−0.2 ≤ S ≤ 0.2", 25, lambda i: -0.2 <= i.S <= 0.2, S_),
        cond("3 ≤ |P| ≤ 6", 25, lambda i: 3 <= abs(i.P) <= 6, P_),
        cond("0.3 ≤ X ≤ 0.5", 25, lambda i: 0.3 <= i.X <= 0.5, X_),
        cond("σ% < 0.005", 25, lambda i: i.sigma_pct < 0.005, SIG_),
    ), None, lambda i: NEUTRAL),
    Rule("Mean Reversion", 3, (
        cond("0.3 < |S| < 0.6", 30, lambda i: 0.3 < abs(i.S) < 0.6, S_),
        cond("fs · ps < 0", 40, lambda i: i.fs * i.ps < 0, FSPS_),
        cond("|P| > 3", 20, lambda i: abs(i.P) > 3, P_),
    ), None, lambda i: _dir(i.P, against=True), (("0.3 ≤ X ≤ 0.5", 10, lambda i: 0.3 <= i.X <= 0.5),)),
    Rule("Delta Neutral / Market Making", 3, (
        cond("|P| < 2", 25, lambda i: abs(i.P) < 2, P_),
        cond("|S| < 0.15", 25, lambda i: abs(i.S) < 0.15, S_),
        cond("|F%| < 0.01", 25, lambda i: abs(i.F_pct) < 0.01, F_),
        cond("0.3 < X < 0.5", 15, lambda i: 0.3 < i.X < 0.5, X_),
    ), None, lambda i: NEUTRAL, (("σ% < 0.003", 10, lambda i: i.sigma_pct < 0.003),)),
    Rule("Scalping", 3, (
        cond("|S| ≤ 0.15", 20, lambda i: abs(i.S) <= 0.15, S_),
        cond("|P| < 3", 25, lambda i: abs(i.P) < 3, P_),
        cond("0.2 ≤ X ≤ 0.35", 25, lambda i: 0.2 <= i.X <= 0.35, X_),
        cond("σ% < 0.003", 20, lambda i: i.sigma_pct < 0.003, SIG_),
        cond("total volume > $200B", 10, lambda i: i.total_volume_usd > 200e9,
             lambda i: f"volume ${_f(None if i.total_volume_usd is None else i.total_volume_usd / 1e9, ',.1f')}B"),
    ), None, lambda i: NEUTRAL),
)


def funding_arbitrage(i: RuleInputs) -> Evaluation:
    """Best annualised BTC funding spread between two venues, (max − min) × 3 × 365 × 100 > 8 %."""
    name, tier = "Funding Rate Arbitrage", 3
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
    """Every strategy, in DESIGN §6 order."""
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
