"""What the stored history says: score trend, BTC volatility regime, and a backtest of the
strategy rules and sentiment labels (docs/history.md has every definition).

The functions here are pure (no I/O, no clock); `load_trend` and `load_backtest` in
perps_tracker/services/history.py read the database for them. Times are Unix seconds of hour buckets.
Missing values are skipped, never read as 0.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from perps_tracker.errors import TrackerError
from perps_tracker.model.rules import LONG, NEUTRAL, SHORT, STRATEGIES
from perps_tracker.model.times import HOUR

# -- score trend ---------------------------------------------------------------------------

TREND_WINDOWS = (("24h", 24), ("7d", 168))
STABLE_SLOPE = 0.005  # |slope| below this (score per hour) is STABLE ...
MIN_R2 = 0.25  # ... and so is a fit that explains less than a quarter of the variance
MIN_POINTS = 3
STRENGTHENING, WEAKENING, STABLE = "STRENGTHENING", "WEAKENING", "STABLE"


def fit_line(points: Sequence[tuple[int, float]]) -> tuple[float | None, float | None]:
    """Least-squares (slope per hour, r²) of (Unix seconds, value) points.

    Slope None with fewer than 2 distinct times; r² None when the values do not vary (a flat
    line fits them exactly, but explains no variance)."""
    n = len(points)
    if n < 2:
        return None, None
    xs = [t / HOUR for t, _ in points]
    ys = [y for _, y in points]
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None, None
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    syy = sum((y - my) ** 2 for y in ys)
    slope = sxy / sxx
    r2 = None if max(ys) == min(ys) else min(1.0, sxy * sxy / (sxx * syy))
    return slope, r2


def trend_direction(slope: float, r2: float | None, latest: float) -> str:
    """STABLE for a flat or poor fit; else STRENGTHENING when the slope carries the score away
    from 0 on the latest score's side (a latest score of exactly 0: any slope), else WEAKENING."""
    if abs(slope) < STABLE_SLOPE or r2 is None or r2 < MIN_R2:
        return STABLE
    if latest == 0:
        return STRENGTHENING
    return STRENGTHENING if (slope > 0) == (latest > 0) else WEAKENING


@dataclass(frozen=True)
class TrendWindow:
    name: str  # "24h", "7d"
    hours: int
    points: int  # snapshots with a composite score in the window
    slope: float | None  # score per hour
    r2: float | None
    direction: str | None  # None: not enough snapshots
    first_score: float | None
    last_score: float | None

    @property
    def message(self) -> str | None:
        if self.points < MIN_POINTS:
            return f"not enough snapshots: {self.points} with a score in the last {self.name}, {MIN_POINTS} needed"
        return None


def score_trend(scores: Sequence[tuple[int, float]], end: int, name: str, hours: int) -> TrendWindow:
    """The trend of the (timestamp, score) points in (end − hours, end]."""
    pts = [(t, s) for t, s in scores if end - hours * HOUR < t <= end and s is not None]
    first = pts[0][1] if pts else None
    last = pts[-1][1] if pts else None
    if len(pts) < MIN_POINTS:
        return TrendWindow(name, hours, len(pts), None, None, None, first, last)
    slope, r2 = fit_line(pts)
    return TrendWindow(name, hours, len(pts), slope, r2, trend_direction(slope, r2, last), first, last)


# -- volatility regime ---------------------------------------------------------------------

VOL_HOURS = 24  # realised volatility over the last 24 hourly returns ...
MIN_RETURNS = 20  # ... of which at most 4 may be missing
REFERENCE_HOURS = 168  # compared with the rolling volatility at every hour of the 7 days before ...
MIN_REFERENCE = 126  # ... of which three quarters must have one, and so must the week's first day
COMPRESSED, NORMAL, ELEVATED = "COMPRESSED", "NORMAL", "ELEVATED"


def hourly_returns(prices: Mapping[int, float]) -> dict[int, float]:
    """Log returns keyed by the later hour, only between snapshots exactly one hour apart."""
    return {t: math.log(p / prices[t - HOUR]) for t, p in prices.items()
            if p and p > 0 and prices.get(t - HOUR) and prices[t - HOUR] > 0}


def realised_vol(returns: Mapping[int, float], at: int) -> float | None:
    """Sample standard deviation of the hourly returns ending in (at − 24 h, at]; None when
    fewer than MIN_RETURNS of the 24 are there."""
    window = [returns[t] for t in range(at - (VOL_HOURS - 1) * HOUR, at + HOUR, HOUR) if t in returns]
    return statistics.stdev(window) if len(window) >= MIN_RETURNS else None


@dataclass(frozen=True)
class Regime:
    at: int
    regime: str | None  # None: not enough prices (see `message`)
    vol_pct_hour: float | None  # realised volatility now, percent per hour
    reference_mean_pct_hour: float | None  # mean of the rolling 24 h volatility over the 7 days before
    reference_std_pct_hour: float | None
    z: float | None
    returns: int  # hourly returns in the last 24 h
    reference_hours: int  # hours of the 7 days before with a rolling volatility
    message: str | None = None

    @property
    def vol_pct_day(self) -> float | None:
        return None if self.vol_pct_hour is None else self.vol_pct_hour * math.sqrt(24)


def volatility_regime(prices: Mapping[int, float], at: int) -> Regime:
    """BTC's realised volatility at hour `at` against its rolling 24 h volatility at every hour
    of the preceding 7 days: z = (now − mean) / std; z < −1 COMPRESSED, z > 1 ELEVATED."""
    returns = hourly_returns(prices)
    now = realised_vol(returns, at)
    reference = [v for v in (realised_vol(returns, at - k * HOUR) for k in range(1, REFERENCE_HOURS + 1))
                 if v is not None]
    n_now = sum(1 for t in range(at - (VOL_HOURS - 1) * HOUR, at + HOUR, HOUR) if t in returns)
    first_day = any(realised_vol(returns, at - k * HOUR) is not None
                    for k in range(REFERENCE_HOURS - 23, REFERENCE_HOURS + 1))
    if now is None or len(reference) < MIN_REFERENCE or not first_day:
        have = sum(1 for t in range(at - 192 * HOUR, at + HOUR, HOUR) if prices.get(t))
        return Regime(at, None, None if now is None else 100 * now, None, None, None, n_now, len(reference),
                      message=f"not enough hourly BTC prices: the regime needs 7 d + 24 h of them with few gaps; "
                              f"{have} of the last 193 hours have one")
    mean = statistics.fmean(reference)
    std = statistics.stdev(reference)
    if std > 0:
        z = (now - mean) / std
        regime = COMPRESSED if z < -1 else ELEVATED if z > 1 else NORMAL
    else:  # a perfectly constant reference: only equality is normal
        z = None
        regime = NORMAL if now == mean else ELEVATED if now > mean else COMPRESSED
    return Regime(at, regime, 100 * now, 100 * mean, 100 * std, z, n_now, len(reference))


# -- trend report --------------------------------------------------------------------------

REGIME_LOOKBACK_HOURS = 193  # prices the regime reads: 7 d of reference + 24 h + the hour before


@dataclass(frozen=True)
class TrendReport:
    newest: int  # the newest snapshot: every window ends there
    age_seconds: int  # how old it is
    latest_score: float | None
    latest_sentiment: str | None
    windows: tuple[TrendWindow, ...]
    regime: Regime
    chart_hours: int
    chart: tuple[tuple[int, float | None, float | None], ...]  # (hour, score, BTC price) over chart_hours
    dvol: tuple[tuple[int, float], ...] = ()  # (hour, BTC DVOL) over the week up to `newest` (options_snapshots)

    def dvol_at(self, hour: int) -> float | None:
        return dict(self.dvol).get(hour)


def trend_report(rows: Sequence, now: int, chart_hours: int = 168) -> TrendReport | None:
    """Trend windows, regime and chart series from history rows (oldest first); None when empty."""
    if not rows:
        return None
    newest = rows[-1]
    scores = [(r.timestamp, r.composite_score) for r in rows if r.composite_score is not None]
    windows = tuple(score_trend(scores, newest.timestamp, name, hours) for name, hours in TREND_WINDOWS)
    prices = {r.timestamp: r.btc_price for r in rows if r.btc_price is not None}
    start = newest.timestamp - chart_hours * HOUR
    chart = tuple((r.timestamp, r.composite_score, r.btc_price) for r in rows if r.timestamp > start)
    return TrendReport(newest.timestamp, now - newest.timestamp, newest.composite_score, newest.sentiment,
                       windows, volatility_regime(prices, newest.timestamp), chart_hours, chart)


# -- backtest ------------------------------------------------------------------------------

MIN_FORWARD = 48  # snapshots with a forward return at the shortest horizon
MIN_SIGNALS = 20  # an edge needs at least this many independent signals ...
EDGE_P = 0.01  # ... and a p-value below this
LABEL_DIRECTION = {"BULLISH": LONG, "NEUTRAL": NEUTRAL, "BEARISH": SHORT}


@dataclass(frozen=True)
class Signal:
    timestamp: int
    kind: str  # "strategy" or "label"
    name: str  # strategy name or sentiment label
    direction: str  # long, short or neutral


@dataclass(frozen=True)
class Baseline:
    hours: int
    n: int  # snapshots of the period with a forward return
    up_rate: float | None  # share of forward returns > 0
    down_rate: float | None  # share < 0
    mean_pct: float | None
    median_pct: float | None
    mean_abs_pct: float | None
    std_abs_pct: float | None  # sample standard deviation of |return| (for the neutral test)


@dataclass(frozen=True)
class Cell:
    """One signal row at one horizon."""

    n: int  # signals with a forward return
    n_independent: int  # of them, non-overlapping: each at least the horizon after the one before
    hit_rate: float | None  # share of signed returns > 0; None for neutral rows
    baseline_rate: float | None  # the baseline's up rate (long) or down rate (short)
    mean_pct: float | None  # forward BTC return, percent
    median_pct: float | None
    mean_abs_pct: float | None
    z: float | None
    p_value: float | None
    edge: bool


@dataclass(frozen=True)
class Row:
    kind: str  # "strategy" or "label"
    name: str
    direction: str
    signals: int  # firings (or labelled snapshots) in the period, with or without a forward return
    cells: Mapping[int, Cell]  # horizon hours → statistics


@dataclass(frozen=True)
class Backtest:
    first: int
    last: int
    days: int | None  # None: the whole history
    snapshots: int
    horizons: tuple[int, ...]
    baselines: Mapping[int, Baseline]
    rows: tuple[Row, ...]
    never_fired: tuple[str, ...]  # strategies without a single firing in the period


def forward_returns(prices: Mapping[int, float], hours: int) -> dict[int, float]:
    """Percent BTC return from each hour to the snapshot exactly `hours` later (both with a price)."""
    step = hours * HOUR
    return {t: 100 * (prices[t + step] / p - 1) for t, p in prices.items() if p and prices.get(t + step)}


def independent(times: Sequence[int], hours: int) -> list[int]:
    """Thin sorted times so that each kept one is at least `hours` after the one kept before:
    forward windows that overlap share their returns and are not independent trials."""
    kept: list[int] = []
    for t in times:
        if not kept or t >= kept[-1] + hours * HOUR:
            kept.append(t)
    return kept


def binomial_test(hits: int, n: int, p0: float | None) -> tuple[float | None, float | None]:
    """One-sided z-test (normal approximation) that the hit rate exceeds p0: (z, p-value)."""
    if n == 0 or p0 is None or not 0 < p0 < 1:
        return None, None
    z = (hits - n * p0) / math.sqrt(n * p0 * (1 - p0))
    return z, 0.5 * math.erfc(z / math.sqrt(2))


def mean_test(values: Sequence[float], mu0: float | None, sd0: float | None) -> tuple[float | None, float | None]:
    """Two-sided z-test of the mean of `values` against the baseline's mean and spread: (z, p)."""
    if not values or mu0 is None or not sd0:
        return None, None
    z = (statistics.fmean(values) - mu0) / (sd0 / math.sqrt(len(values)))
    return z, math.erfc(abs(z) / math.sqrt(2))


def baseline(returns: Mapping[int, float], hours: int) -> Baseline:
    r = list(returns.values())
    n = len(r)
    if not n:
        return Baseline(hours, 0, None, None, None, None, None, None)
    absr = [abs(x) for x in r]
    return Baseline(hours, n, sum(x > 0 for x in r) / n, sum(x < 0 for x in r) / n, statistics.fmean(r),
                    statistics.median(r), statistics.fmean(absr), statistics.stdev(absr) if n > 1 else None)


def cell(times: Sequence[int], direction: str, returns: Mapping[int, float], base: Baseline) -> Cell:
    """Statistics of the signals at `times` (sorted) at one horizon against the baseline."""
    with_return = [t for t in times if t in returns]
    n = len(with_return)
    if not n:
        return Cell(0, 0, None, None, None, None, None, None, None, False)
    r = [returns[t] for t in with_return]
    indep = [returns[t] for t in independent(with_return, base.hours)]
    mean, median, mean_abs = statistics.fmean(r), statistics.median(r), statistics.fmean(abs(x) for x in r)
    if direction == NEUTRAL:
        hit, rate = None, None
        z, p = mean_test([abs(x) for x in indep], base.mean_abs_pct, base.std_abs_pct)
    else:
        sign = 1 if direction == LONG else -1
        hit = sum(sign * x > 0 for x in r) / n
        rate = base.up_rate if direction == LONG else base.down_rate
        z, p = binomial_test(sum(sign * x > 0 for x in indep), len(indep), rate)
    edge = len(indep) >= MIN_SIGNALS and p is not None and p < EDGE_P
    return Cell(n, len(indep), hit, rate, mean, median, mean_abs, z, p, edge)


def alerts(i) -> list:
    """`[e for e in rules.evaluate(i) if e.alert]`, in the same order, without building the
    why-not texts of rules whose conditions do not hold (most of them, most hours)."""
    from perps_tracker.model.rules import RULES, basis_arbitrage, funding_arbitrage

    out = []
    by_name = {}
    for rule in RULES:
        need = len(rule.conditions) if rule.need is None else rule.need
        if sum(c.holds(i) for c in rule.conditions) >= need:
            by_name[rule.strategy] = rule.evaluate(i)
    by_name["Funding Rate Arbitrage"] = funding_arbitrage(i)
    by_name["Basis Arbitrage"] = basis_arbitrage(i)
    for name in STRATEGIES:
        e = by_name.get(name)
        if e is not None and e.alert:
            out.append(e)
    return out


def signals_from(inputs: Iterable[tuple]) -> list[Signal]:
    """Raw rule firings (alert: fired with confidence ≥ 50; no cooldown, no caps) and the
    sentiment label of every (SnapshotRef, RuleInputs), in time order."""
    out = []
    for ref, i in inputs:
        for e in alerts(i):
            out.append(Signal(ref.timestamp, "strategy", e.strategy, e.direction or NEUTRAL))
        if ref.sentiment in LABEL_DIRECTION:
            out.append(Signal(ref.timestamp, "label", ref.sentiment, LABEL_DIRECTION[ref.sentiment]))
    return out


def column_signals(cols) -> list[Signal]:
    """`signals_from` over columns (`rules.InputColumns`): the same signals, evaluated per rule on every
    snapshot at once."""
    from perps_tracker.model.rules import column_alerts

    out = [Signal(t, "strategy", name, direction) for t, name, direction in column_alerts(cols)]
    out += [Signal(int(t), "label", s, LABEL_DIRECTION[s]) for t, s in zip(cols.timestamp, cols.sentiment)
            if s in LABEL_DIRECTION]
    return out


def run_backtest(signals: Iterable[Signal], prices: Mapping[int, float], period: Sequence[int],
                 horizons: Sequence[int], days: int | None = None) -> Backtest:
    """Each (kind, name, direction) group of signals at each horizon, against the baseline of
    every snapshot of the period (sorted hour buckets `period`) with a forward return."""
    horizons = tuple(sorted(set(horizons)))
    first, last = period[0], period[-1]
    inside = set(period)
    fwd = {h: {t: r for t, r in forward_returns(prices, h).items() if t in inside} for h in horizons}
    bases = {h: baseline(fwd[h], h) for h in horizons}
    shortest = bases[horizons[0]].n
    if shortest < MIN_FORWARD:
        raise TrackerError(
            f"history too short for a backtest: {shortest} snapshots have a BTC price {horizons[0]} h later, "
            f"{MIN_FORWARD} needed; run `perps-tracker backfill --days 7` or wait for more hourly snapshots")
    groups: dict[tuple[str, str, str], list[int]] = {}
    for s in signals:
        if s.timestamp in inside:
            groups.setdefault((s.kind, s.name, s.direction), []).append(s.timestamp)
    order = {name: k for k, name in enumerate([*STRATEGIES, *LABEL_DIRECTION])}
    direction_order = {LONG: 0, SHORT: 1, NEUTRAL: 2}
    rows = tuple(
        Row(kind, name, direction, len(times),
            {h: cell(sorted(times), direction, fwd[h], bases[h]) for h in horizons})
        for (kind, name, direction), times in sorted(
            groups.items(), key=lambda g: (g[0][0] != "strategy", order.get(g[0][1], 99), direction_order[g[0][2]])))
    fired = {name for kind, name, _ in groups if kind == "strategy"}
    return Backtest(first, last, days, len(period), horizons, bases, rows,
                    tuple(s for s in STRATEGIES if s not in fired))


# -- database readers ----------------------------------------------------------------------


def parse_horizons(text: str) -> list[int]:
    """`1h,4h,24h` (or `1d`) → sorted whole hours; ValueError on anything else."""
    out = set()
    for part in text.split(","):
        part = part.strip().lower()
        unit = part[-1:] if part[-1:] in ("h", "d") else "h"
        number = part[:-1] if part[-1:] in ("h", "d") else part
        if not number.isdigit() or int(number) == 0:
            raise ValueError(f"{part!r} is not a horizon like 1h, 4h or 1d")
        out.add(int(number) * (24 if unit == "d" else 1))
    return sorted(out)
