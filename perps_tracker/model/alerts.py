"""Strategy alerts: what to raise, and what a run returns (services/alerts.py runs it).

Deciding (docs/design.md#raising-an-alert) is a pure function of the evaluations and the alerts already raised:

- a fired rule with confidence ≥ 50 is an alert candidate;
- **cooldown**: 1 h / 2 h / 4 h for tiers 1 / 2 / 3 since the strategy's last raised alert;
  inside it the alert repeats only when the confidence moved ≥ 20 points from that alert;
- **caps**: at most 3 raised alerts per strategy in any 24 h and 10 in any hour.

Times are snapshot hour buckets, so an hourly cron that runs a few seconds later or earlier
each hour sees whole hours. Candidates are decided in order of tier, then confidence, so the
caps keep the most important ones. A strategy is decided once per snapshot: running `alerts`
again on the same snapshot shows the stored decision instead of raising it twice.

Delivery: each raised alert gets one delivery per configured webhook, recorded before any
request is made. A failed delivery stays pending and is retried on the next run; one that
has not gone through within `DELIVERY_EXPIRY` is marked expired (a day-old signal is noise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from perps_tracker.model.rules import ALERT_MIN_CONFIDENCE, STRATEGIES, Evaluation
from perps_tracker.model.times import HOUR, utc_minute

COOLDOWN = {1: HOUR, 2: 2 * HOUR, 3: 4 * HOUR}
PER_STRATEGY_PER_DAY = 3
PER_HOUR = 10
REPEAT_MOVE = 20  # confidence points that justify a repeat inside the cooldown
DELIVERY_EXPIRY = 24 * HOUR
STALE_AFTER = 2 * HOUR  # a newest snapshot older than this is reported as stale


@dataclass(frozen=True)
class Raised:
    """An alert raised earlier (status fired or sent), as the policy needs it."""

    strategy: str
    snapshot_timestamp: int
    confidence: int


@dataclass(frozen=True)
class Decision:
    evaluation: Evaluation
    status: str  # fired, suppressed or not_fired
    why: str | None


_hhmm = utc_minute


def hours_text(seconds: int) -> str:
    return f"{seconds / HOUR:g} h"


def not_fired_reason(e: Evaluation) -> str:
    if not e.fired:
        return e.why_not or "its conditions do not hold"
    return f"confidence {e.confidence} is below {ALERT_MIN_CONFIDENCE}"


def decide(evaluations: Sequence[Evaluation], snapshot_timestamp: int, raised: Iterable[Raised]) -> list[Decision]:
    """Decide each evaluation against the alerts raised before (on earlier snapshots, or
    already on this one); returns decisions in the order of `evaluations`."""
    history = sorted(raised, key=lambda r: r.snapshot_timestamp)
    t = snapshot_timestamp
    decided: dict[str, Decision] = {}
    candidates = [e for e in evaluations if e.alert]
    order = {name: i for i, name in enumerate(STRATEGIES)}
    candidates.sort(key=lambda e: (e.tier, -e.confidence, order.get(e.strategy, len(order))))
    for e in candidates:
        mine = [r for r in history if r.strategy == e.strategy and r.snapshot_timestamp <= t]
        why = None
        if mine:
            last = mine[-1]
            since = t - last.snapshot_timestamp
            moved = abs(e.confidence - last.confidence)
            if since < COOLDOWN[e.tier] and moved < REPEAT_MOVE:
                why = (f"cooldown: raised on the {_hhmm(last.snapshot_timestamp)} snapshot with confidence "
                       f"{last.confidence}; tier {e.tier} waits {hours_text(COOLDOWN[e.tier])} unless confidence "
                       f"moves ≥ {REPEAT_MOVE} points (moved {moved})")
        if why is None:
            today = [r for r in mine if r.snapshot_timestamp > t - 24 * HOUR]
            if len(today) >= PER_STRATEGY_PER_DAY:
                why = (f"daily cap: {len(today)} alerts of this strategy in the last 24 h "
                       f"(at most {PER_STRATEGY_PER_DAY})")
        if why is None:
            this_hour = [r for r in history if t - HOUR < r.snapshot_timestamp <= t]
            if len(this_hour) >= PER_HOUR:
                why = f"hourly cap: {len(this_hour)} alerts in the last hour (at most {PER_HOUR})"
        if why is None:
            history.append(Raised(e.strategy, t, e.confidence))
            decided[e.strategy] = Decision(e, "fired", None)
        else:
            decided[e.strategy] = Decision(e, "suppressed", why)
    return [decided.get(e.strategy) or Decision(e, "not_fired", not_fired_reason(e)) for e in evaluations]


# -- what a run returns -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One strategy's outcome on this run, as shown and as `--json` prints it."""

    strategy: str
    tier: int
    confidence: int
    direction: str | None
    reasons: tuple[str, ...]
    status: str  # sent, fired, suppressed or not_fired
    why: str | None
    alert_id: int | None = None
    alert_time: int | None = None
    deliveries: tuple[tuple[str, str], ...] = ()  # (webhook, status)
    earlier: bool = False  # decided by an earlier run on the same snapshot


@dataclass(frozen=True)
class DeliveryFailure:
    webhook: str
    strategy: str
    snapshot_timestamp: int
    reason: str  # never holds the URL
    expired: bool = False


@dataclass(frozen=True)
class AlertRun:
    evaluated_at: int
    snapshot: int
    snapshot_source: str
    entries: tuple[Entry, ...]  # every strategy, in docs/design.md#strategy-alerts order
    webhooks: tuple[str, ...]  # kinds notified (empty without --notify)
    delivered_to: tuple[tuple[str, int], ...]  # (webhook, deliveries made on this run, retries included)
    failures: tuple[DeliveryFailure, ...]

    @property
    def delivered(self) -> int:
        """Deliveries made on this run, to every webhook."""
        return sum(n for _, n in self.delivered_to)

    @property
    def stale_seconds(self) -> int:
        return self.evaluated_at - self.snapshot

    @property
    def raised(self) -> list[Entry]:
        return [e for e in self.entries if e.status in ("fired", "sent", "suppressed")]
