"""`report`: the market over a window, from the stored history alone (no venue is called).

`build_report` reads what the window needs (storage/report.py) and assembles the `Report`
(model/report.py); `save_path` names the file `report --save` writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from perps_tracker.errors import TrackerError
from perps_tracker.exchanges.venues import VENUES
from perps_tracker.model.report import Report, assemble
from perps_tracker.model.times import utc

NO_SNAPSHOTS = ("no snapshots yet: take one with `perps-tracker snapshot` "
                "or run `perps-tracker backfill --days 8`")
# Venues with a liquidation source, in registry order, and those whose feed is a sample (their totals
# are lower bounds): as services/liquidations.py has them, without importing a venue module.
LIQUIDATION_VENUES = tuple(v for v, info in VENUES.items() if info.liquidation_sources)
SAMPLED_VENUES = ("binance", "okx")
REPORTS_DIR = "reports"


def build_report(rt, now: datetime, hours: int = 24) -> Report:
    """The report of the `hours` up to the newest stored snapshot, made at `now`."""
    from perps_tracker.storage.report import read_report_data

    data = read_report_data(rt.reader(), hours)
    if data is None:
        raise TrackerError(NO_SNAPSHOTS)
    return assemble(data, int(now.timestamp()), watchlist=rt.watchlist(), liquidation_venues=LIQUIDATION_VENUES,
                    sampled=SAMPLED_VENUES)


def reports_dir(rt) -> Path:
    """Where `--save` writes: `reports/` beside a SQLite database file (`data/reports/` by default), or
    `data/reports/` under the working directory for a database server."""
    from perps_tracker.storage.db import locate

    location = locate(rt.settings.db)
    base = location.path.parent if location.path is not None else Path("data")
    return base / REPORTS_DIR


def save_path(rt, now: datetime, extension: str) -> Path:
    """`report-YYYYmmdd-HHMM.<extension>` (UTC) in `reports_dir`; `-2`, `-3`, ... when taken."""
    directory = reports_dir(rt)
    stem = f"report-{utc(now.timestamp()).strftime('%Y%m%d-%H%M')}"
    path = directory / f"{stem}.{extension}"
    n = 2
    while path.exists():
        path = directory / f"{stem}-{n}.{extension}"
        n += 1
    return path


# -- report --notify ---------------------------------------------------------------------------------------

REPORT_EXPIRY = 7 * 24 * 3600  # a report not delivered within a week is given up (and says so)


@dataclass(frozen=True)
class ReportFailure:
    webhook: str
    report_hour: int
    reason: str
    expired: bool = False


@dataclass(frozen=True)
class ReportDelivery:
    recorded: bool  # this report's message was recorded now (False: the same hour and window was already)
    delivered: tuple[tuple[str, int], ...]  # (webhook, reports delivered on this run), this one and earlier ones
    failures: tuple[ReportFailure, ...]


def notify_report(rt, digest, now: int, post: Callable | None = None) -> ReportDelivery:
    """Record `digest` with a pending delivery for each configured webhook, then make every pending
    report delivery, oldest first: this report's and earlier ones that failed. Recorded before sent, so
    a failure is retried by the next run and nothing is sent twice for one hour and window; a webhook
    that fails on this run is not tried again until the next. `post(webhook, digest)` sends (default:
    services/notify.py `send`)."""
    from perps_tracker.exchanges.http import HttpSettings
    from perps_tracker.services.notify import DeliveryError, Digest, Webhook, send
    from perps_tracker.storage import notices as store

    webhooks = rt.settings.webhook_urls()
    if not webhooks:
        raise TrackerError("no webhook configured for --notify: set webhooks.discord, webhooks.slack or "
                           "webhooks.json in the config file (docs/alerts.md)")
    rt.reopen_for_writing()
    db = rt.db()
    _, recorded = store.record_notice(db, digest.report_hour, digest.hours, digest.made_at, digest.title,
                                      digest.sections, sorted(webhooks))
    if post is None:
        http = HttpSettings.from_settings(rt.settings)

        def post(webhook, message):
            send(webhook, message, http)
    delivered: dict[str, int] = {}
    failures: list[ReportFailure] = []
    broken: set[str] = set()
    for d in store.pending_reports(db):
        n = d.notice
        if now - n.made_at > REPORT_EXPIRY:
            reason = "not delivered within 7 days, given up"
            store.finish_report_delivery(db, d.id, now, delivered=None, error=reason)
            failures.append(ReportFailure(d.webhook, n.report_hour, reason, expired=True))
            continue
        if d.webhook not in webhooks or d.webhook in broken:
            continue  # a webhook removed from the config waits until it expires; a failing one for the next run
        message = Digest(n.title, n.sections, n.report_hour, n.hours, n.made_at,
                         delayed=d.attempts > 0 or n.made_at < now - 3600)
        try:
            post(Webhook(d.webhook, webhooks[d.webhook]), message)
        except DeliveryError as e:
            store.finish_report_delivery(db, d.id, now, delivered=False, error=e.reason)
            broken.add(d.webhook)
            failures.append(ReportFailure(d.webhook, n.report_hour, e.reason))
            continue
        store.finish_report_delivery(db, d.id, now, delivered=True)
        delivered[d.webhook] = delivered.get(d.webhook, 0) + 1
    return ReportDelivery(recorded, tuple(sorted(delivered.items())), tuple(failures))
