"""`export`: any table (or the `instrument_snapshots` view) over a time range, read in batches.

Columns are the database's, in its order; rows come in key order (time first), `size` at a time
through `Reader.batches`, so memory stays flat however many rows there are. Each column also has
a kind (`int`, `float`, `str`, `bool`) for typed formats (Parquet).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from perps_tracker.errors import TrackerError
from perps_tracker.storage import TABLES
from perps_tracker.storage.db import Database, guard

VIEW = "instrument_snapshots"
_IN_SNAPSHOTS = "snapshot_id IN (SELECT id FROM market_snapshots WHERE timestamp >= :lo AND timestamp < :hi)"
# table → (WHERE over [lo, hi) in Unix seconds, ORDER BY); None: every row (no time of its own)
_RANGE = {
    "market_snapshots": ("timestamp >= :lo AND timestamp < :hi", "timestamp"),
    "exchange_snapshots": (_IN_SNAPSHOTS, "snapshot_id, id"),
    "sentiment_factors": (_IN_SNAPSHOTS, "snapshot_id"),
    "liquidation_snapshots": (_IN_SNAPSHOTS, "snapshot_id, id"),
    "liquidations": ("event_time_ms >= :lo * 1000 AND event_time_ms < :hi * 1000", "event_time_ms"),
    "liquidation_coverage": ("end_ms >= :lo * 1000 AND start_ms < :hi * 1000", "start_ms, id"),
    "alerts": ("timestamp >= :lo AND timestamp < :hi", "timestamp, id"),
    "alert_deliveries": ("alert_id IN (SELECT id FROM alerts WHERE timestamp >= :lo AND timestamp < :hi)",
                         "alert_id, id"),
    "backfill_downloads": ("fetched_at >= :lo AND fetched_at < :hi", "id"),
    "instruments": (None, "id"),
    "instrument_rows": ("timestamp >= :lo AND timestamp < :hi", "timestamp, instrument_id"),
    VIEW: ("timestamp >= :lo AND timestamp < :hi", "timestamp"),
}
EXPORTABLE = (*TABLES, VIEW)


@dataclass(frozen=True)
class Export:
    columns: list[str]
    kinds: list[str]  # int, float, str or bool per column
    batches: Iterator[list[tuple]]


def _kind(column) -> str:
    from sqlalchemy import Boolean, Float, Integer

    if isinstance(column.type, Boolean):
        return "bool"
    if isinstance(column.type, Integer):
        return "int"
    if isinstance(column.type, Float):
        return "float"
    return "str"


def _kinds(table: str) -> dict[str, str]:
    from perps_tracker.storage.tables import instrument_rows, instruments, metadata

    if table == VIEW:
        kinds = {c.name: _kind(c) for c in (*instrument_rows.columns, *instruments.columns)}
        return {**kinds, "source": "str"}
    return {c.name: _kind(c) for c in metadata.tables[table].columns}


@contextmanager
def exported(db: Database, table: str, lo: int, hi: int, size: int = 20_000) -> Iterator[Export]:
    """The rows of `table` in [lo, hi) (Unix seconds), read while the `Export` is consumed inside the
    `with` block (the connection stays open until it ends)."""
    if table not in _RANGE:
        raise TrackerError(f"cannot export {table!r}: choose one of {', '.join(EXPORTABLE)}")
    where, order = _RANGE[table]
    sql = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "") + f" ORDER BY {order}"
    kinds = _kinds(table)
    with guard(f"exporting {table}"), db.reading() as read:
        columns, batches = read.batches(sql, {"lo": lo, "hi": hi}, size)
        yield Export(columns, [kinds.get(c, "str") for c in columns], batches)
