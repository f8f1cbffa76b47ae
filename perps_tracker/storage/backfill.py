"""What `backfill` reads and keeps: the hours that already have a snapshot, and the venues'
downloaded histories (so an interrupted run resumes without downloading them again)."""

from __future__ import annotations

import json

from sqlalchemy import delete, insert, select

from perps_tracker.model.history import VenueHistory
from perps_tracker.storage.db import Database, guard
from perps_tracker.storage.models import BackfillDownload, MarketSnapshot


def stored_hours(db: Database, first: int, last: int) -> dict[int, str]:
    """Hour → source of the snapshots stored in [first, last]."""
    with guard("reading stored hours"), db.engine.connect() as conn:
        rows = conn.execute(select(MarketSnapshot.timestamp, MarketSnapshot.source)
                            .where(MarketSnapshot.timestamp.between(first, last))).all()
    return {t: source for t, source in rows}


def cached_history(db: Database, exchange: str, start: int, end: int) -> VenueHistory | None:
    """A kept download of `exchange` that covers [start, end), newest first."""
    with guard("reading kept downloads"), db.engine.connect() as conn:
        row = conn.execute(select(BackfillDownload.data)
                           .where(BackfillDownload.exchange == exchange, BackfillDownload.start <= start,
                                  BackfillDownload.end >= end)
                           .order_by(BackfillDownload.fetched_at.desc()).limit(1)).first()
    if row is None:
        return None
    try:
        return VenueHistory.from_json(json.loads(row.data))
    except (ValueError, TypeError, KeyError):
        return None  # an unreadable download is fetched again


def keep_history(db: Database, history: VenueHistory, now: int) -> None:
    with guard("keeping a download"), db.engine.begin() as conn:
        conn.execute(insert(BackfillDownload).values(
            exchange=history.exchange, start=history.start, end=history.end, fetched_at=now,
            data=json.dumps(history.to_json(), separators=(",", ":"))))


def forget_histories(db: Database) -> int:
    """Drop every kept download (a run completed); how many."""
    with guard("dropping kept downloads"), db.engine.begin() as conn:
        return conn.execute(delete(BackfillDownload)).rowcount
