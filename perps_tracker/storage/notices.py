"""`report --notify`: the report's message and its deliveries (tables `report_notices`,
`report_deliveries`). The message is recorded with a pending delivery per configured webhook
before anything is sent, once per (newest snapshot hour, window): running the command again for
the same hour sends nothing twice, and a delivery that failed stays pending for the next run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import insert, select, update

from perps_tracker.storage.db import Database, guard
from perps_tracker.storage.tables import report_deliveries as Delivery
from perps_tracker.storage.tables import report_notices as Notice


@dataclass(frozen=True)
class StoredNotice:
    id: int
    report_hour: int
    hours: int
    made_at: int
    title: str
    sections: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class PendingReport:
    id: int  # the delivery's
    webhook: str
    attempts: int
    notice: StoredNotice


def _notice(row) -> StoredNotice:
    sections = tuple((heading, tuple(lines)) for heading, lines in json.loads(row.sections))
    return StoredNotice(row.id, row.report_hour, row.hours, row.made_at, row.title, sections)


def record_notice(db: Database, report_hour: int, hours: int, made_at: int, title: str,
                  sections: Sequence[tuple[str, Sequence[str]]], webhooks: Sequence[str]) -> tuple[int, bool]:
    """(id, new): the notice of the report of `hours` up to `report_hour` (the one recorded earlier for
    that hour and window, if any: its message is kept as it was) with a pending delivery for each of
    `webhooks` that has none yet; one transaction."""
    body = json.dumps([[heading, list(lines)] for heading, lines in sections], ensure_ascii=False)
    with guard("recording the report's notice"), db.engine.begin() as conn:
        found = conn.execute(select(Notice.c.id).where(Notice.c.report_hour == report_hour,
                                                       Notice.c.hours == hours)).scalar_one_or_none()
        new = found is None
        if new:
            found = conn.execute(insert(Notice).values(report_hour=report_hour, hours=hours, made_at=made_at,
                                                       title=title, sections=body)).inserted_primary_key[0]
        have = set(conn.execute(select(Delivery.c.webhook).where(Delivery.c.notice_id == found)).scalars())
        rows = [dict(notice_id=found, webhook=w, status="pending", attempts=0) for w in webhooks if w not in have]
        if rows:
            conn.execute(insert(Delivery), rows)
    return int(found), new


def pending_reports(db: Database) -> list[PendingReport]:
    """Every report delivery not yet made, oldest report first."""
    with guard("reading pending report deliveries"), db.engine.connect() as conn:
        pending = conn.execute(select(Delivery.c.id, Delivery.c.notice_id, Delivery.c.webhook, Delivery.c.attempts)
                               .where(Delivery.c.status == "pending")).all()
        ids = sorted({p.notice_id for p in pending})
        notices = {r.id: _notice(r) for r in conn.execute(select(Notice).where(Notice.c.id.in_(ids)))}
    out = [PendingReport(p.id, p.webhook, p.attempts, notices[p.notice_id]) for p in pending]
    return sorted(out, key=lambda d: (d.notice.report_hour, d.notice.id, d.webhook))


def finish_report_delivery(db: Database, delivery_id: int, now: int, *, delivered: bool | None,
                           error: str | None = None) -> None:
    """Record one attempt: delivered, failed (`delivered=False`: stays pending) or expired (`None`)."""
    status = "delivered" if delivered else "pending" if delivered is False else "expired"
    values: dict = dict(status=status, error=None if delivered else error)
    if delivered is not None:
        values.update(attempts=Delivery.c.attempts + 1, last_attempt_at=now)
    if delivered:
        values["delivered_at"] = now
    with guard("recording a report delivery"), db.engine.begin() as conn:
        conn.execute(update(Delivery).where(Delivery.c.id == delivery_id).values(**values))


def report_deliveries(db: Database, notice_id: int) -> dict[str, tuple[str, int, str | None]]:
    """webhook → (status, attempts, error) of one notice's deliveries."""
    with guard("reading report deliveries"), db.engine.connect() as conn:
        rows = conn.execute(select(Delivery.c.webhook, Delivery.c.status, Delivery.c.attempts, Delivery.c.error)
                            .where(Delivery.c.notice_id == notice_id)).all()
    return {r.webhook: (r.status, r.attempts, r.error) for r in rows}
