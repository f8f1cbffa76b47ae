"""`alerts`: evaluate the newest stored snapshot, store the decisions, deliver them to webhooks."""

from __future__ import annotations

from typing import Callable

from perps_tracker.model.alerts import (
    DELIVERY_EXPIRY,
    HOUR,
    AlertRun,
    DeliveryFailure,
    Entry,
    Raised,
    decide,
    hours_text,
)
from perps_tracker.model.rules import evaluate


def _entry(stored, earlier: bool) -> Entry:
    return Entry(stored.strategy, stored.tier, stored.confidence, stored.direction, stored.reasons, stored.status,
                 stored.why, stored.id, stored.timestamp, stored.deliveries, earlier)


def run_alerts(rt, now: int, *, notify: bool, post: Callable | None = None) -> AlertRun:
    """Evaluate the newest snapshot, store the decisions and, with `notify`, deliver (`rt`: the
    command's Runtime). `post(webhook, notice)` sends one notice (tests may pass their own); the
    default posts with `perps_tracker.services.notify.send`."""
    from perps_tracker.errors import ConfigError, TrackerError
    from perps_tracker.storage import alerts as store

    webhooks = rt.settings.webhook_urls() if notify else {}
    if notify and not webhooks:
        raise ConfigError("--notify needs a webhook: set webhooks.discord, webhooks.slack or webhooks.json "
                          "in the config file (see docs/alerts.md)")
    db = rt.db(create=False)
    found = store.latest_inputs(db)
    if found is None:
        raise TrackerError("no snapshot to evaluate yet: take one with `perps-tracker snapshot`")
    ref, inputs = found
    evaluations = evaluate(inputs)
    before = store.alerts_between(db, ref.timestamp - 24 * HOUR, ref.timestamp)
    done = {a.strategy: a for a in before if a.snapshot_timestamp == ref.timestamp}
    raised = [Raised(a.strategy, a.snapshot_timestamp, a.confidence) for a in before if a.raised]
    decisions = decide([e for e in evaluations if e.strategy not in done], ref.timestamp, raised)
    new = [store.NewAlert(d.evaluation.strategy, d.evaluation.tier, d.evaluation.confidence,
                          d.evaluation.direction, d.evaluation.reasons, d.status, d.why)
           for d in decisions if d.status != "not_fired"]
    stored = {a.strategy: a for a in store.record_alerts(db, ref.timestamp, now, new)} if new else {}
    delivered, failures = {}, []
    if notify:
        current = [a.id for a in list(done.values()) + list(stored.values()) if a.raised]
        store.queue_deliveries(db, current, sorted(webhooks))
        delivered, failures = deliver(db, rt.settings, webhooks, now, post)
        stored = {a.strategy: a for a in store.alerts_between(db, ref.timestamp - 1, ref.timestamp)}
        done = {s: stored[s] for s in done}
    entries = _entries(evaluations, decisions, done, stored)
    return AlertRun(now, ref.timestamp, ref.source, entries, tuple(sorted(webhooks)),
                    tuple(sorted(delivered.items())), tuple(failures))


def _entries(evaluations, decisions, done, stored) -> tuple[Entry, ...]:
    """Every strategy's outcome, in docs/design.md#strategy-alerts order: decided earlier, stored now, or not raised."""
    by_decision = {d.evaluation.strategy: d for d in decisions}
    entries = []
    for e in evaluations:
        if e.strategy in done:
            entries.append(_entry(done[e.strategy], earlier=True))
        elif e.strategy in stored:
            entries.append(_entry(stored[e.strategy], earlier=False))
        else:
            d = by_decision[e.strategy]
            entries.append(Entry(e.strategy, e.tier, e.confidence, e.direction, e.reasons, d.status, d.why))
    return tuple(entries)


def deliver(db, settings, webhooks: dict[str, str], now: int, post: Callable | None = None
            ) -> tuple[dict[str, int], list[DeliveryFailure]]:
    """Make every pending delivery to the configured webhooks, oldest first; expire stale ones.

    A webhook that fails on this run is not tried again until the next run (its remaining
    deliveries stay pending), so one dead endpoint cannot hold up a cron run for long.
    """
    from perps_tracker.exchanges.http import HttpSettings
    from perps_tracker.services.notify import DeliveryError, Notice, Webhook, send
    from perps_tracker.storage import alerts as store

    http = HttpSettings.from_settings(settings)
    if post is None:
        def post(webhook, notice):
            send(webhook, notice, http)
    delivered: dict[str, int] = {}
    failures: list[DeliveryFailure] = []
    broken: dict[str, str] = {}
    for d in store.pending_deliveries(db):
        a = d.alert
        if now - a.timestamp > DELIVERY_EXPIRY:
            last = f": last error {a.delivery_error}" if a.delivery_error else ""
            reason = f"not delivered within {hours_text(DELIVERY_EXPIRY)}, given up{last}"
            store.finish_delivery(db, d.id, now, delivered=None, error=reason)
            failures.append(DeliveryFailure(d.webhook, a.strategy, a.snapshot_timestamp, reason, expired=True))
            continue
        if d.webhook not in webhooks:
            continue  # that webhook was removed from the config: left pending until it expires
        if d.webhook in broken:
            continue
        notice = Notice(a.strategy, a.tier, a.confidence, a.direction, a.reasons, a.snapshot_timestamp,
                        a.timestamp, delayed=d.attempts > 0 or a.timestamp < now - HOUR)
        try:
            post(Webhook(d.webhook, webhooks[d.webhook]), notice)
        except DeliveryError as e:
            store.finish_delivery(db, d.id, now, delivered=False, error=e.reason)
            broken[d.webhook] = e.reason
            failures.append(DeliveryFailure(d.webhook, a.strategy, a.snapshot_timestamp, e.reason))
            continue
        store.finish_delivery(db, d.id, now, delivered=True)
        delivered[d.webhook] = delivered.get(d.webhook, 0) + 1
    return delivered, failures
