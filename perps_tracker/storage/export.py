"""`export`: any table (or the `instrument_snapshots` view) over a time range, read in batches.

Columns are the database's, in its order; rows come in key order (time first), `size` at a time
through `Reader.batches`, so memory stays flat however many rows there are. Each column also has
a kind (`int`, `float`, `str`, `bool`) for typed formats (Parquet).

On SQLite the view is also read the fast way (`Keyed`): its fact table alone, by key range, each
row carrying a key for its instrument's columns (a few thousand, read once) instead of the join,
which costs as much again as the reading.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from pathlib import Path

from perps_tracker.errors import DatabaseError, TrackerError
from perps_tracker.storage import TABLES
from perps_tracker.storage.db import Database, Reader, guard, one_line

VIEW = "instrument_snapshots"
_IN_SNAPSHOTS = "snapshot_id IN (SELECT id FROM market_snapshots WHERE timestamp >= :lo AND timestamp < :hi)"
# table → (WHERE over [lo, hi) in Unix seconds, ORDER BY); None: every row (no time of its own)
_RANGE = {
    "market_snapshots": ("timestamp >= :lo AND timestamp < :hi", "timestamp"),
    "exchange_snapshots": (_IN_SNAPSHOTS, "snapshot_id, id"),
    "sentiment_factors": (_IN_SNAPSHOTS, "snapshot_id"),
    "liquidation_snapshots": (_IN_SNAPSHOTS, "snapshot_id, id"),
    "liquidations": ("event_time_ms >= CAST(:lo AS BIGINT) * 1000 AND event_time_ms < CAST(:hi AS BIGINT) * 1000", "event_time_ms"),
    "liquidation_coverage": ("end_ms >= CAST(:lo AS BIGINT) * 1000 AND start_ms < CAST(:hi AS BIGINT) * 1000", "start_ms, id"),
    "alerts": ("timestamp >= :lo AND timestamp < :hi", "timestamp, id"),
    "alert_deliveries": ("alert_id IN (SELECT id FROM alerts WHERE timestamp >= :lo AND timestamp < :hi)",
                         "alert_id, id"),
    "backfill_downloads": ("fetched_at >= :lo AND fetched_at < :hi", "id"),
    "instruments": (None, "id"),
    "instrument_rows": ("timestamp >= :lo AND timestamp < :hi", "timestamp, instrument_id"),
    "options_snapshots": ("timestamp >= :lo AND timestamp < :hi", "timestamp, currency"),
    "report_notices": ("report_hour >= :lo AND report_hour < :hi", "report_hour, id"),
    "report_deliveries": ("notice_id IN (SELECT id FROM report_notices WHERE report_hour >= :lo AND "
                          "report_hour < :hi)", "notice_id, id"),
    "capture_gaps": ("to_ms >= CAST(:lo AS BIGINT) * 1000 AND from_ms < CAST(:hi AS BIGINT) * 1000", "from_ms, id"),
    VIEW: ("timestamp >= :lo AND timestamp < :hi", "timestamp"),
}
EXPORTABLE = (*TABLES, VIEW)


@dataclass(frozen=True)
class Keyed:
    """The rows of an export read without the join that gives them some of their columns: each row is
    `(key, *own)` and stands for the full row with `shared[key]` at `positions` and its own values,
    in order, at the other positions."""

    shared: Mapping[int, tuple]
    positions: tuple[int, ...]
    read: Callable[[Any], Iterator[list[tuple]]]  # read(null): the rows in batches, a NULL own value as `null`
    # The same rows as Arrow record batches (key, own columns...), read by SQLite's ADBC driver straight
    # into columns (no Python object per value); None where that driver is not installed.
    arrow: Callable[[], Iterator[Any]] | None = None

    def known(self, rows: list[tuple]) -> list[tuple]:
        """`rows` without those whose key has no shared columns (a fact row without its instrument,
        which the join leaves out)."""
        return [row for row in rows if row[0] in self.shared]

    def full(self, rows: list[tuple], width: int) -> list[tuple]:
        """`rows` as the full rows they stand for (`width` columns)."""
        own_at = [i for i in range(width) if i not in self.positions]
        out = []
        for key, *own in self.known(rows):
            row: list[Any] = [None] * width
            for i, value in zip(self.positions, self.shared[key]):
                row[i] = value
            for i, value in zip(own_at, own):
                row[i] = value
            out.append(tuple(row))
        return out


@dataclass(frozen=True)
class Export:
    columns: list[str]
    kinds: list[str]  # int, float, str or bool per column
    batches: Iterator[list[tuple]]  # the full rows (for a keyed export, made from `keyed` as they are read)
    keyed: Keyed | None = None  # the same rows, read faster (SQLite's view), for writers that use it


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
    if table == VIEW:  # the layer's dataclass declares the view's columns: no SQLAlchemy to import
        from perps_tracker.model import kinds
        from perps_tracker.model.instruments import InstrumentRow

        return dict(kinds(InstrumentRow))
    from perps_tracker.storage.tables import metadata

    return {c.name: _kind(c) for c in metadata.tables[table].columns}


@contextmanager
def exported(db: Database, table: str, lo: int, hi: int, size: int = 20_000, *, keyed: bool = True
             ) -> Iterator[Export]:
    """The rows of `table` in [lo, hi) (Unix seconds), read while the `Export` is consumed inside the
    `with` block (the connection stays open until it ends). `keyed`: the view on SQLite also as `Keyed`
    rows (off: only the view's own rows, as on other backends)."""
    if table not in _RANGE:
        raise TrackerError(f"cannot export {table!r}: choose one of {', '.join(EXPORTABLE)}")
    where, order = _RANGE[table]
    sql = f"SELECT * FROM {table}" + (f" WHERE {where}" if where else "") + f" ORDER BY {order}"
    kinds = _kinds(table)
    with guard(f"exporting {table}"), db.reading() as read:
        if table == VIEW and keyed and read.dialect == "sqlite":
            yield _keyed_view(read, lo, hi, size, kinds, db.path)
            return
        columns, batches = read.batches(sql, {"lo": lo, "hi": hi}, size)
        yield Export(columns, [kinds.get(c, "str") for c in columns], batches)


KEYED_BATCH = 5_000
# The view's columns that come from `instruments` (and `source`, from the row's `backfill`).
_SHARED = ("exchange", "symbol", "coin", "multiplier", "quote", "source")


def _keyed_view(read: Reader, lo: int, hi: int, size: int, kinds: dict[str, str], path=None) -> Export:
    """The view's rows in [lo, hi) from `instrument_rows` alone, in its key order (the view's order:
    time, then instrument), key = instrument id × 2 + 1 for a backfilled row; what the join gives,
    from `instruments` read once. A row without its instrument is left out, as the join does."""
    from perps_tracker.storage.instruments import COLUMNS

    shared: dict[int, tuple] = {}
    for ident, *columns in read.rows("SELECT id, exchange, symbol, coin, multiplier, quote FROM instruments"):
        shared[2 * ident], shared[2 * ident + 1] = (*columns, "live"), (*columns, "backfill")
    own = [c for c in COLUMNS if c not in _SHARED]
    # Instruments are never deleted: one listed after they were read has a larger id, and is left out.
    sql = ("SELECT r.instrument_id * 2 + (r.backfill = 1), "
           + ", ".join(f"r.{c}" if c == "timestamp" else f"IFNULL(r.{c}, :null)" for c in own)
           + " FROM instrument_rows r WHERE r.timestamp >= :lo AND r.timestamp < :hi AND r.instrument_id <= :top"
             " ORDER BY r.timestamp, r.instrument_id")
    top = max(shared, default=0) // 2

    def rows(null: Any = None) -> Iterator[list[tuple]]:
        # Smaller batches than a table's: Python's rows weigh ten times their values in Arrow.
        return read.batches(sql, {"lo": lo, "hi": hi, "top": top, "null": null}, min(size, KEYED_BATCH))[1]

    arrow = None
    if path is not None and _adbc() is not None:
        def arrow() -> Iterator[Any]:
            return _arrow_batches(path, own, kinds, lo, hi, top)

    keyed = Keyed(shared, tuple(COLUMNS.index(c) for c in _SHARED), rows, arrow)
    return Export(list(COLUMNS), [kinds[c] for c in COLUMNS], _full(keyed, len(COLUMNS)), keyed)


ARROW_BATCH = 32_768  # rows a record batch from the ADBC driver


def _adbc():
    """SQLite's ADBC driver (the `parquet` extra), or None when it is not installed (pyarrow loaded first
    without pandas: `perps_tracker.import_pyarrow`)."""
    from perps_tracker import import_pyarrow

    try:
        import_pyarrow()
        import adbc_driver_sqlite.dbapi as adbc
    except ImportError:
        return None
    return adbc


def _arrow_batches(path, own: list[str], kinds: dict[str, str], lo: int, hi: int, top: int) -> Iterator[Any]:
    """The keyed rows of `_keyed_view` as Arrow record batches (key, *own), from a read-only connection of
    SQLite's ADBC driver. The driver takes each column's type from the values of its first batch (a column
    NULL throughout it would be read as integers, then refused at its first REAL): a first row of typed
    values, dropped here, makes every column's type the declared one."""
    adbc = _adbc()
    typed = ", ".join("0" if kinds.get(c, "int") == "int" else "0.5" for c in ["key", *own])
    sql = (f"SELECT {typed} UNION ALL SELECT * FROM (SELECT instrument_id * 2 + (backfill = 1), "
           + ", ".join(own) + " FROM instrument_rows WHERE timestamp >= ? AND timestamp < ? AND instrument_id <= ?"
           " ORDER BY timestamp, instrument_id)")
    try:
        with adbc.connect(f"{Path(path).resolve().as_uri()}?mode=ro") as conn, conn.cursor() as cur:
            cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(ARROW_BATCH)})
            cur.execute(sql, (lo, hi, top))
            first = True
            for batch in cur.fetch_record_batch():
                yield batch.slice(1) if first else batch
                first = False
    except adbc.Error as e:
        raise DatabaseError(f"exporting {VIEW} failed: {one_line(e)}") from e


def _full(keyed: Keyed, width: int) -> Iterator[list[tuple]]:
    for batch in keyed.read(None):  # read only if the full rows are asked for
        yield keyed.full(batch, width)
