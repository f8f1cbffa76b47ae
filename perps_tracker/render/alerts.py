"""`alerts`: what fired and why, deliveries, the alert history."""

from __future__ import annotations

from typing import Any

from perps_tracker.model.times import iso
from perps_tracker.render.format import fmt_time, warn
from perps_tracker.render.output import Col, Grid, listed, say

# -- alerts --------------------------------------------------------------------------------

ARROWS = {"long": "▲ LONG", "short": "▼ SHORT", "neutral": "● NEUTRAL"}
SHOWN_STATUS = ("sent", "fired", "suppressed")


def _alert_entry_json(e) -> dict[str, Any]:
    return {
        "strategy": e.strategy, "tier": e.tier, "confidence": e.confidence, "direction": e.direction,
        "reasons": list(e.reasons), "status": e.status, "why": e.why,
        "alert_time": iso(e.alert_time), "deliveries": dict(e.deliveries),
    }


def alerts_json(run, show_all: bool) -> dict[str, Any]:
    return {
        "evaluated_at": iso(run.evaluated_at),
        "snapshot": iso(run.snapshot),
        "snapshot_source": run.snapshot_source,
        "alerts": [_alert_entry_json(e) for e in run.entries if show_all or e.status in SHOWN_STATUS],
        "notified": list(run.webhooks),
        "delivered": run.delivered,
        "delivered_to": dict(run.delivered_to),
        "delivery_failures": [{"webhook": f.webhook, "strategy": f.strategy, "snapshot": iso(f.snapshot_timestamp),
                               "reason": f.reason, "expired": f.expired} for f in run.failures],
    }


def _delivery_text(deliveries) -> list[str]:
    return [", ".join(f"{w} {s}" for w, s in deliveries)] if deliveries else []


def alert_block(e, when: str = "") -> None:
    head = ARROWS.get(e.direction or "", "-")
    say(*listed([f"{e.status.upper():<10} {e.strategy}", f"tier {e.tier}", head, f"confidence {e.confidence}{when}",
                 *_delivery_text(e.deliveries)], " · "), hang=11)
    for reason in e.reasons:
        say(f"           • {reason}", hang=2)
    if e.why and e.status != "not_fired":
        say(f"           {e.why}", hang=2)


def render_alerts(run, show_all: bool) -> None:
    from perps_tracker.model.alerts import STALE_AFTER

    backfilled = " (backfilled)" if run.snapshot_source != "live" else ""
    say(f"Alerts on the snapshot of {fmt_time(run.snapshot)}{backfilled}, evaluated {fmt_time(run.evaluated_at)}",
        hang=2)
    if run.stale_seconds > STALE_AFTER:
        say(f"Note: that snapshot is {run.stale_seconds / 3600:.0f} h old; take a new one with "
            "`perps-tracker snapshot`.", hang=2)
    shown = [e for e in run.entries if e.status in SHOWN_STATUS]
    for e in shown:
        alert_block(e, " (decided earlier on this snapshot)" if e.earlier else "")
    if not shown:
        say("No strategy fires on this snapshot." + ("" if show_all else " `--all` shows why."))
    rest = [e for e in run.entries if e.status == "not_fired"] if show_all else []
    if rest:
        say("")
        say("Not fired:")
        for e in rest:
            say(f"  {e.strategy} (tier {e.tier}): ", *listed(e.why.split("; "), "; "), hang=2)
    if run.webhooks:
        say(delivery_summary(run), hang=2)


def delivery_summary(run) -> str:
    """What this run delivered, naming only the webhooks that took a notification."""
    done = ", ".join(f"{webhook} {n}" for webhook, n in run.delivered_to)
    failed = sorted({f.webhook for f in run.failures if not f.expired})
    text = f"Delivered {run.delivered} notification(s)" + (f": {done}." if done else ".")
    if failed:
        text += f" Not delivered to {', '.join(failed)} (retried on the next run; see the warnings)."
    return text


def render_delivery_warnings(run) -> None:
    for f in run.failures:
        what = "given up" if f.expired else "will retry on the next run"
        warn(f"{f.webhook} webhook: {f.strategy} ({fmt_time(f.snapshot_timestamp)}) not delivered, {what}: "
             f"{f.reason}")


def alert_history_json(alerts, since: int, show_all: bool = True) -> dict[str, Any]:
    """`alerts --since --json`: suppressed alerts only with --all."""
    alerts = [a for a in alerts if show_all or a.status != "suppressed"]
    return {
        "since": iso(since),
        "alerts": [{
            "evaluated_at": iso(a.timestamp), "snapshot": iso(a.snapshot_timestamp), "strategy": a.strategy,
            "tier": a.tier, "confidence": a.confidence, "direction": a.direction, "reasons": list(a.reasons),
            "status": a.status, "why": a.why, "deliveries": dict(a.deliveries),
            "delivered_at": iso(a.delivered_at), "delivery_attempts": a.delivery_attempts,
            "delivery_error": a.delivery_error,
        } for a in alerts],
    }


def render_alert_history(alerts, since: int, show_all: bool) -> None:
    shown = [a for a in alerts if show_all or a.status != "suppressed"]
    hidden = len(alerts) - len(shown)
    say(f"Alerts since {fmt_time(since)}: {len(shown)}"
        + (f" ({hidden} suppressed not shown; `--all` shows them)" if hidden else ""), hang=2)
    if not shown:
        return
    grid = Grid(Col("snapshot", "left"), Col("strategy", "left", wrap=True, min_width=12), Col("t", drop=1),
                Col("conf", drop=2), Col("dir", "left"), Col("status", "left", wrap=True, min_width=9))
    for a in shown:
        pending = [f"{w} {s}" for w, s in a.deliveries if s != "delivered"]
        status = a.status + (f" ({', '.join(pending)})" if pending else "")
        grid.add(fmt_time(a.snapshot_timestamp)[:16], a.strategy, a.tier, a.confidence,
                 ARROWS.get(a.direction or "", "-"), status)
    grid.print()


def render_new_alerts(run) -> None:
    """For `snapshot --alerts --quiet` without webhooks: only the alerts raised now (cron mails them)."""
    fresh = [e for e in run.entries if e.status in ("fired", "sent") and not e.earlier]
    for e in fresh:
        alert_block(e, f" ({fmt_time(run.snapshot)[:16]} snapshot)")


