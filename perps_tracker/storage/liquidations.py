"""Liquidation events and coverage in the database: store deduplicated, sum over a window.

Every distinct event is stored once: the table's unique key (exchange, symbol, time, side,
price, quantity) rejects repeats with `ON CONFLICT DO NOTHING`, so a replay after a
reconnect, a REST poll overlapping the live stream, or two collectors at once cannot
double-count. Coverage rows say when a venue was being read; a window without coverage
is unknown, not zero. A venue read over several websocket connections (Bybit) has a row only
while all of them are up (perps_tracker.services.watch), so every row means the whole venue was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from sqlalchemy import Connection, and_, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from perps_tracker.errors import DatabaseError
from perps_tracker.model.liquidation import (
    LONG,
    LiquidationEvent,
    LiquidationSummary,
    VenueTotals,
    covered_fraction,
)
from perps_tracker.model.times import DAY
from perps_tracker.storage.db import Database, guard, one_line
from perps_tracker.storage.models import (
    ExchangeSnapshot,
    Liquidation,
    LiquidationCoverage,
    MarketSnapshot,
)


def _insert_ignoring_duplicates(conn: Connection, rows: list[dict]) -> int:
    """Insert `rows` into `liquidations`, skipping those already stored; returns how many were new."""
    dialect = conn.dialect.name
    if dialect == "sqlite":  # sqlite3's executemany reports the rows it inserted
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return max(conn.execute(sqlite_insert(Liquidation.__table__).on_conflict_do_nothing(), rows).rowcount, 0)
    if dialect == "postgresql":  # psycopg's does not: count the ids returned
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(Liquidation.__table__).on_conflict_do_nothing().returning(Liquidation.id)
        return len(conn.execute(statement, rows).all())
    new = 0  # any other backend: one savepoint per row
    for row in rows:
        try:
            with conn.begin_nested():
                conn.execute(insert(Liquidation.__table__), row)
            new += 1
        except IntegrityError:
            pass
    return new


def insert_events(conn: Connection, events: Sequence[LiquidationEvent]) -> dict[str, int]:
    """Store `events` (deduplicated against the table); new rows per venue."""
    by_venue: dict[str, list[dict]] = {}
    for event in events:
        by_venue.setdefault(event.exchange, []).append(event.row())
    return {venue: _insert_ignoring_duplicates(conn, rows) for venue, rows in by_venue.items()}


def open_coverage(conn: Connection, exchange: str, source: str, start_ms: int, end_ms: int, detail: str) -> int:
    return conn.execute(insert(LiquidationCoverage).values(
        exchange=exchange, source=source, start_ms=start_ms, end_ms=end_ms, detail=detail)).inserted_primary_key[0]


def extend_coverage(conn: Connection, coverage_id: int, end_ms: int) -> None:
    conn.execute(update(LiquidationCoverage).where(LiquidationCoverage.id == coverage_id).values(end_ms=end_ms))


def store_polled(db: Database, exchange: str, events: Sequence[LiquidationEvent], start_ms: int, end_ms: int,
                 detail: str) -> int:
    """Store a REST poll's events and the window it covered, in one transaction; new rows."""
    try:
        with db.engine.begin() as conn:
            new = insert_events(conn, events).get(exchange, 0)
            open_coverage(conn, exchange, "rest", start_ms, end_ms, detail)
    except SQLAlchemyError as e:
        raise DatabaseError(f"storing {exchange} liquidations failed, nothing was written: {one_line(e)}") from e
    return new


# -- reading a window ---------------------------------------------------------------------


def window_totals(conn: Connection, start_ms: int, end_ms: int, venues: Iterable[str]) -> dict[str, VenueTotals]:
    """Count, long/short USD and the largest event per venue with event time in [start_ms, end_ms)."""
    is_long = Liquidation.side == LONG
    rows = conn.execute(
        select(Liquidation.exchange, func.count(),
               func.coalesce(func.sum(case((is_long, Liquidation.value_usd), else_=0.0)), 0.0),
               func.coalesce(func.sum(case((is_long, 0.0), else_=Liquidation.value_usd)), 0.0),
               func.max(Liquidation.value_usd))
        .where(Liquidation.event_time_ms >= start_ms, Liquidation.event_time_ms < end_ms,
               Liquidation.exchange.in_(list(venues)))
        .group_by(Liquidation.exchange)
    ).all()
    return {ex: VenueTotals(ex, int(n), float(long_usd), float(short_usd), largest)
            for ex, n, long_usd, short_usd, largest in rows}


def window_coverage(conn: Connection, start_ms: int, end_ms: int, venues: Iterable[str]) -> dict[str, float]:
    rows = conn.execute(
        select(LiquidationCoverage.exchange, LiquidationCoverage.start_ms, LiquidationCoverage.end_ms)
        .where(LiquidationCoverage.end_ms > start_ms, LiquidationCoverage.start_ms < end_ms,
               LiquidationCoverage.exchange.in_(list(venues)))
    ).all()
    spans: dict[str, list[tuple[int, int]]] = {}
    for ex, a, b in rows:
        spans.setdefault(ex, []).append((a, b))
    return {ex: covered_fraction(s, start_ms, end_ms) for ex, s in spans.items()}


def coverage_details(conn: Connection, start_ms: int, end_ms: int, venues: Iterable[str]) -> dict[str, list[str]]:
    """Per venue, the distinct sources and details read in the window: ["ws: 50 symbols", ...]."""
    rows = conn.execute(
        select(LiquidationCoverage.exchange, LiquidationCoverage.source, LiquidationCoverage.detail).distinct()
        .where(LiquidationCoverage.end_ms > start_ms, LiquidationCoverage.start_ms < end_ms,
               LiquidationCoverage.exchange.in_(list(venues)))
        .order_by(LiquidationCoverage.exchange, LiquidationCoverage.source, LiquidationCoverage.detail)
    ).all()
    out: dict[str, list[str]] = {}
    for ex, source, detail in rows:
        out.setdefault(ex, []).append(f"{source}: {detail}" if detail else source)
    return out


def latest_volumes(conn: Connection, at: int, max_age: int = DAY) -> tuple[int | None, dict[str, float]]:
    """The newest snapshot at or before `at` (Unix seconds, at most `max_age` old) and its venues' 24 h volume."""
    snapshot = conn.execute(
        select(MarketSnapshot.id, MarketSnapshot.timestamp)
        .where(MarketSnapshot.timestamp <= at, MarketSnapshot.timestamp > at - max_age)
        .order_by(MarketSnapshot.timestamp.desc()).limit(1)
    ).first()
    if snapshot is None:
        return None, {}
    rows = conn.execute(
        select(ExchangeSnapshot.exchange, ExchangeSnapshot.volume_24h_usd)
        .where(and_(ExchangeSnapshot.snapshot_id == snapshot.id, ExchangeSnapshot.status == "ok",
                    ExchangeSnapshot.volume_24h_usd.is_not(None)))
    ).all()
    return snapshot.timestamp, {ex: vol for ex, vol in rows}


@dataclass(frozen=True)
class WindowData:
    totals: dict[str, VenueTotals]
    coverage: dict[str, float]
    details: dict[str, list[str]]


def read_window(conn: Connection, start_ms: int, end_ms: int, venues: Sequence[str]) -> WindowData:
    return WindowData(window_totals(conn, start_ms, end_ms, venues), window_coverage(conn, start_ms, end_ms, venues),
                      coverage_details(conn, start_ms, end_ms, venues))


def summary_rows(lines: Iterable[LiquidationSummary], snapshot_id: int) -> list[dict]:
    """`liquidation_snapshots` rows of the observed lines (a venue nobody read has no row)."""
    return [dict(
        snapshot_id=snapshot_id, exchange=s.exchange, window_hours=s.window_hours, count=s.count,
        long_usd=s.long_usd, short_usd=s.short_usd, total_usd=s.total_usd, long_liq_share=s.long_liq_share,
        largest_usd=s.largest_usd, volume_usd=s.volume_usd, cascade_risk_score=s.cascade_risk_score,
        level=s.level, sampled=s.sampled, coverage=s.coverage,
    ) for s in lines if s.observed]


def read_window_of(db: Database, start_ms: int, end_ms: int, venues: Sequence[str]) -> WindowData:
    """`read_window` on its own connection."""
    with guard("reading liquidations"), db.engine.connect() as conn:
        return read_window(conn, start_ms, end_ms, venues)


def read_report_window(db: Database, start_ms: int, end_ms: int, venues: Sequence[str]
                       ) -> tuple[int | None, dict[str, float], WindowData]:
    """A report's data in one read: the newest snapshot of the 24 h before `end_ms` and its venues'
    volumes (`latest_volumes`), and the window's totals, coverage and sources."""
    with guard("reading liquidations"), db.engine.connect() as conn:
        volumes_at, volumes = latest_volumes(conn, end_ms // 1000)
        return volumes_at, volumes, read_window(conn, start_ms, end_ms, venues)


def store_stream_batch(db: Database, events: Sequence[LiquidationEvent],
                       spans: Sequence[tuple[int | None, str, int, int, str]]) -> tuple[dict[str, int], list[int]]:
    """A collector's flush in one transaction: the events (deduplicated) and its connections' coverage,
    each span (id or None, exchange, start_ms, end_ms, detail) opened or extended. Returns the new rows
    per venue and each span's id. Raises DatabaseError, nothing stored."""
    try:
        with db.engine.begin() as conn:
            new = insert_events(conn, events)
            ids = []
            for span_id, exchange, start, end, detail in spans:
                if span_id is None:
                    span_id = open_coverage(conn, exchange, "ws", start, end, detail)
                else:
                    extend_coverage(conn, span_id, end)
                ids.append(span_id)
    except SQLAlchemyError as e:
        raise DatabaseError(f"storing liquidations failed: {one_line(e)}") from e
    return new, ids
