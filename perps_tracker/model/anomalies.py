"""Anomaly detectors for `report` (docs/report.md#anomalies). Pure: no I/O, no clock.

Each detector is a small function over plain series — (hour, value) pairs of one venue, or one
hour's `InstrumentRow`s — and returns frozen `Anomaly` records: what was odd (`kind`), about what
(`subject`: a venue, a coin, or "market"), the value, the reference range or threshold it broke,
the hour, and a reason in plain words with the numbers.

A venue series is checked hour by hour over the report's window (`since` < hour ≤ its last hour);
the detectors keep one record per subject, the most extreme hour, and count the window's hours
that broke the rule (`hours`): a 24 h volume that jumped stays high for a day, which is one
anomaly, not 24. Missing values (None) are skipped, never read as 0.

Thresholds (named constants below, documented in docs/report.md):

- **range rules** (`venue_volume_anomalies`, `venue_oi_volume_anomalies`): a value against its own
  trailing 7 days (the 168 hours before it, at least `MIN_REFERENCE` of them with a value), in log
  space so a doubling and a halving weigh the same: centre = median of ln(x), spread = 1.4826 × MAD
  (the median absolute deviation, scaled to a standard deviation for normal data). Outside when
  |ln(x / median)| > max(`RANGE_K` × spread, ln(`RANGE_MIN_RATIO`)): at least 5 robust standard
  deviations *and* at least ×2 or ÷2, so a very steady venue is not flagged for a 10 % move.
  Median and MAD ignore up to half the reference being odd, so a spike does not widen its own range.
- **jumps** (`oi_jumps`, `volume_spikes`): the hour-on-hour change of a venue's (or the market's)
  open interest beyond ±`OI_JUMP_PCT` %, or its 24 h volume rising by `VOLUME_SPIKE_PCT` % or more,
  between snapshots exactly one hour apart. A 24 h volume up 25 % in an hour means the last hour
  traded about seven normal hours' volume.
- **extreme funding** (`extreme_funding`): a market's funding APR (f8 × 3 × 365 × 100) beyond
  ±`EXTREME_FUNDING_APR` %, markets with at least `MIN_VOLUME_USD` of 24 h volume; one record per
  coin, its most extreme market.
- **price dislocation** (`price_dislocations`): per coin, the gap between the highest and lowest
  price (per one coin) of its markets on different venues, (max − min) / min × 10⁴ bps, beyond
  `DISLOCATION_BPS`; markets under `MIN_VOLUME_USD` are left out so thin markets do not spam.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from perps_tracker.model.instruments import APR_PER_8H, InstrumentRow
from perps_tracker.model.times import HOUR, utc_minute

REFERENCE_HOURS = 168  # a value is compared with its own trailing 7 days ...
MIN_REFERENCE = 48  # ... of which at least two days must have a value
RANGE_K = 5.0  # robust standard deviations (1.4826 × MAD of ln x) from the median ...
RANGE_MIN_RATIO = 2.0  # ... and at least this factor away from it
OI_JUMP_PCT = 10.0  # |hour-on-hour change of open interest| beyond this, percent
VOLUME_SPIKE_PCT = 25.0  # hour-on-hour rise of the 24 h volume at least this, percent
EXTREME_FUNDING_APR = 100.0  # |funding APR| beyond this, percent a year
DISLOCATION_BPS = 50.0  # cross-venue price gap of a coin beyond this, basis points
MIN_VOLUME_USD = 1_000_000.0  # markets with less 24 h volume are left out of the per-coin rules
MAD_SCALE = 1.4826  # MAD × this estimates the standard deviation of normal data

VENUE_VOLUME = "venue_volume"
VENUE_OI_VOLUME = "venue_oi_volume"
OI_JUMP = "oi_jump"
VOLUME_SPIKE = "volume_spike"
EXTREME_FUNDING = "extreme_funding"
PRICE_DISLOCATION = "price_dislocation"
KINDS = (VENUE_VOLUME, VENUE_OI_VOLUME, OI_JUMP, VOLUME_SPIKE, EXTREME_FUNDING, PRICE_DISLOCATION)

Series = Sequence[tuple[int, float | None]]  # (hour, value), any order


@dataclass(frozen=True)
class Anomaly:
    kind: str  # one of KINDS
    subject: str  # a venue, a coin, or "market"
    timestamp: int  # the hour (the most extreme one when `hours` > 1)
    value: float  # the value that broke the rule, in `unit`
    low: float | None  # the reference range or threshold it broke (None: unbounded on that side)
    high: float | None
    unit: str  # "usd", "ratio", "pct", "apr_pct", "bps"
    reason: str  # plain words, with the numbers
    hours: int = 1  # hours of the window that broke the rule


def _fmt_usd(x: float) -> str:
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= size:
            return f"${x / size:,.2f}{unit}"
    return f"${x:,.0f}"


def _present(series: Series) -> dict[int, float]:
    return {int(t): float(v) for t, v in series if v is not None}


def robust_range(reference: Iterable[float]) -> tuple[float, float] | None:
    """(low, high) of the rule over positive `reference` values: exp(median(ln x) ∓ the allowed
    distance); None with fewer than MIN_REFERENCE positive values."""
    logs = [math.log(v) for v in reference if v > 0]
    if len(logs) < MIN_REFERENCE:
        return None
    centre = statistics.median(logs)
    spread = MAD_SCALE * statistics.median(abs(x - centre) for x in logs)
    allowed = max(RANGE_K * spread, math.log(RANGE_MIN_RATIO))
    return math.exp(centre - allowed), math.exp(centre + allowed)


def _outside_range(kind: str, subject: str, series: Series, since: int, unit: str, what: str,
                   show) -> Anomaly | None:
    """The most extreme hour after `since` whose value lies outside the robust range of the 168 hours
    before it, with the count of such hours; None when there is none."""
    values = _present(series)
    hours = sorted(values)
    worst, count = None, 0
    for t in hours:
        if t <= since:
            continue
        x = values[t]
        window = [values[h] for h in range(t - REFERENCE_HOURS * HOUR, t, HOUR) if h in values]
        bounds = robust_range(window)
        if bounds is None or x <= 0:
            continue
        low, high = bounds
        if low <= x <= high:
            continue
        count += 1
        centre = math.sqrt(low * high)  # the median: the range is symmetric around it in log space
        distance = abs(math.log(x / centre))
        if worst is None or distance > worst[0]:
            worst = (distance, t, x, low, high, centre)
    if worst is None:
        return None
    _, t, x, low, high, centre = worst
    side = "above" if x > high else "below"
    ratio = x / centre if x > centre else centre / x
    times = f" (and {count - 1} more hour{'s' if count > 2 else ''} of the window)" if count > 1 else ""
    reason = (f"{subject} {what} {show(x)} at {utc_minute(t)}{times} is {side} its 7-day range "
              f"{show(low)}–{show(high)} ({'×' if x > centre else '÷'}{ratio:.1f} its median {show(centre)})")
    return Anomaly(kind, subject, t, x, low, high, unit, reason, count)


def venue_volume_anomalies(volumes: Mapping[str, Series], since: int) -> list[Anomaly]:
    """Per venue, its 24 h volume outside its own trailing 7-day range (wash trading or a data fault)."""
    found = (_outside_range(VENUE_VOLUME, venue, series, since, "usd", "24 h volume", _fmt_usd)
             for venue, series in volumes.items())
    return sorted((a for a in found if a is not None), key=lambda a: a.subject)


def venue_oi_volume_anomalies(ratios: Mapping[str, Series], since: int) -> list[Anomaly]:
    """Per venue, its OI / 24 h volume outside its own trailing 7-day range (volume without positions
    behind it — wash trading — or a data fault in either)."""
    found = (_outside_range(VENUE_OI_VOLUME, venue, series, since, "ratio", "OI/volume", lambda x: f"{x:.2f}")
             for venue, series in ratios.items())
    return sorted((a for a in found if a is not None), key=lambda a: a.subject)


def _jumps(kind: str, subject: str, series: Series, since: int, breaks, low: float | None, high: float | None,
           what: str) -> Anomaly | None:
    values = _present(series)
    worst, count = None, 0
    for t in sorted(values):
        before = values.get(t - HOUR)
        if t <= since or before is None or before <= 0:
            continue
        change = (values[t] / before - 1) * 100
        if not breaks(change):
            continue
        count += 1
        if worst is None or abs(change) > abs(worst[1]):
            worst = (t, change, before, values[t])
    if worst is None:
        return None
    t, change, before, after = worst
    times = f" (and {count - 1} more hour{'s' if count > 2 else ''} of the window)" if count > 1 else ""
    limit = f"±{high:g}" if low is not None else f"+{high:g}"
    reason = (f"{subject} {what} moved {change:+.1f}% in the hour to {utc_minute(t)}, {_fmt_usd(before)} → "
              f"{_fmt_usd(after)}{times}; threshold {limit}%")
    return Anomaly(kind, subject, t, change, low, high, "pct", reason, count)


def oi_jumps(open_interest: Mapping[str, Series], since: int) -> list[Anomaly]:
    """Per subject (a venue, or "market"), the largest hour-on-hour change of open interest beyond
    ±OI_JUMP_PCT % after `since`."""
    found = (_jumps(OI_JUMP, subject, series, since, lambda c: abs(c) > OI_JUMP_PCT, -OI_JUMP_PCT, OI_JUMP_PCT,
                    "open interest") for subject, series in open_interest.items())
    return sorted((a for a in found if a is not None), key=lambda a: a.subject)


def volume_spikes(volumes: Mapping[str, Series], since: int) -> list[Anomaly]:
    """Per subject (a venue, or "market"), the largest hour-on-hour rise of the 24 h volume of at
    least VOLUME_SPIKE_PCT % after `since`."""
    found = (_jumps(VOLUME_SPIKE, subject, series, since, lambda c: c >= VOLUME_SPIKE_PCT, None, VOLUME_SPIKE_PCT,
                    "24 h volume") for subject, series in volumes.items())
    return sorted((a for a in found if a is not None), key=lambda a: a.subject)


def _liquid(rows: Iterable[InstrumentRow], min_volume: float) -> list[InstrumentRow]:
    return [r for r in rows if r.volume_24h_usd is not None and r.volume_24h_usd >= min_volume]


def extreme_funding(rows: Iterable[InstrumentRow], min_volume: float = MIN_VOLUME_USD,
                    threshold_apr: float = EXTREME_FUNDING_APR) -> list[Anomaly]:
    """Per coin, its market with the most extreme funding APR when beyond ±`threshold_apr` %, among
    markets with at least `min_volume` of 24 h volume; most extreme first."""
    beyond: dict[str, list[tuple[float, InstrumentRow]]] = {}
    for r in _liquid(rows, min_volume):
        if r.funding_rate_8h is not None and abs(r.funding_rate_8h * APR_PER_8H) > threshold_apr:
            beyond.setdefault(r.coin, []).append((r.funding_rate_8h * APR_PER_8H, r))
    worst = {coin: (*max(found, key=lambda f: (abs(f[0]), f[1].exchange, f[1].symbol)), len(found))
             for coin, found in beyond.items()}
    out = []
    for coin, (apr, r, n) in worst.items():
        others = f"; {n - 1} more of its markets beyond the threshold" if n > 1 else ""
        who = "longs pay shorts" if apr > 0 else "shorts pay longs"
        reason = (f"{coin} funding on {r.exchange} ({r.symbol}) is {apr:+.1f}% APR ({who}), beyond "
                  f"±{threshold_apr:g}%, on {_fmt_usd(r.volume_24h_usd)} of 24 h volume{others}")
        out.append(Anomaly(EXTREME_FUNDING, coin, r.timestamp, apr, -threshold_apr, threshold_apr, "apr_pct",
                           reason))
    out.sort(key=lambda a: (-abs(a.value), a.subject))
    return out


def price_dislocations(rows: Iterable[InstrumentRow], min_volume: float = MIN_VOLUME_USD,
                      threshold_bps: float = DISLOCATION_BPS) -> list[Anomaly]:
    """Per coin listed on two or more venues (each market with at least `min_volume` of 24 h volume),
    the gap between its highest and lowest price per coin, (max − min) / min × 10⁴ bps, when beyond
    `threshold_bps`; widest first."""
    by_coin: dict[str, list[InstrumentRow]] = {}
    for r in _liquid(rows, min_volume):
        if r.price is not None and r.price > 0:
            by_coin.setdefault(r.coin, []).append(r)
    out = []
    for coin, markets in by_coin.items():
        if len({r.exchange for r in markets}) < 2:
            continue
        pairs = [((h.price / lo.price - 1) * 1e4, h, lo) for h in markets for lo in markets
                 if h.exchange != lo.exchange and h.price >= lo.price]
        gap, high, low = max(pairs, key=lambda g: g[0])
        if gap <= threshold_bps:
            continue
        reason = (f"{coin} trades at {high.price:,.6g} on {high.exchange} ({high.symbol}) and {low.price:,.6g} on "
                  f"{low.exchange} ({low.symbol}): {gap:,.0f} bps apart, beyond {threshold_bps:g} bps "
                  f"(markets with {_fmt_usd(min_volume)}+ of 24 h volume)")
        out.append(Anomaly(PRICE_DISLOCATION, coin, high.timestamp, gap, None, threshold_bps, "bps", reason))
    out.sort(key=lambda a: (-a.value, a.subject))
    return out
