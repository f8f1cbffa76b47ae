"""Write a snapshot (one transaction) and read what scoring needs from history.

An hour's snapshot is rewritten under the database's write lock (`snapshot_hour`): the rows
already stored for the hour are read, merged with the new run by the caller, and the whole
hour written back at once, so two runs in one hour never lose each other's venues.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import fields
from typing import Iterator, Mapping, Sequence

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from perps_tracker.errors import DatabaseError
from perps_tracker.model import values
from perps_tracker.model.instruments import InstrumentRow, Opportunity
from perps_tracker.model.market import VenueSnapshot
from perps_tracker.model.scoring import FactorScores
from perps_tracker.model.snapshot import Snapshot
from perps_tracker.model.times import HOUR
from perps_tracker.storage.db import Database, one_line, write_lock
from perps_tracker.storage.instruments import replace_venue_rows
from perps_tracker.storage.liquidations import summary_rows
from perps_tracker.storage.models import (
    ExchangeSnapshot,
    LiquidationSnapshot,
    MarketSnapshot,
    SentimentFactors,
)

OI_LOOKBACK = (20 * HOUR, 28 * HOUR)  # "24 h earlier" means a snapshot in this range
_CHILDREN = (ExchangeSnapshot, SentimentFactors, LiquidationSnapshot)
# The stored columns of a venue row: VenueSnapshot's fields but its notes and markets (stored apart).
VENUE_COLUMNS = tuple(f.name for f in fields(VenueSnapshot) if f.name not in ("notes", "instruments"))


def previous_oi(db: Database | Connection, timestamp: int) -> dict[str, float] | None:
    """Venue → open interest (USD) of the snapshot nearest 24 h before `timestamp` (20–28 h), if any."""
    target = timestamp - 24 * HOUR
    try:
        with _connected(db) as conn:
            snapshot_id = conn.execute(
                select(MarketSnapshot.id)
                .where(MarketSnapshot.timestamp.between(timestamp - OI_LOOKBACK[1], timestamp - OI_LOOKBACK[0]))
                .order_by(func.abs(MarketSnapshot.timestamp - target), MarketSnapshot.timestamp.desc())
                .limit(1)
            ).scalar()
            if snapshot_id is None:
                return None
            rows = conn.execute(
                select(ExchangeSnapshot.exchange, ExchangeSnapshot.open_interest_usd).where(
                    ExchangeSnapshot.snapshot_id == snapshot_id, ExchangeSnapshot.status == "ok",
                    ExchangeSnapshot.open_interest_usd.is_not(None))
            ).all()
    except SQLAlchemyError as e:
        raise DatabaseError(f"reading the snapshot of 24 h before failed: {one_line(e)}") from e
    return {exchange: oi for exchange, oi in rows}


@contextmanager
def _connected(db: Database | Connection) -> Iterator[Connection]:
    if isinstance(db, Connection):
        yield db
    else:
        with db.engine.connect() as conn:
            yield conn


def _market_row(snap: Snapshot, source: str) -> dict:
    """The `market_snapshots` row: the aggregates' and the sentiment's fields are its columns."""
    return dict(timestamp=snap.timestamp, taken_at=int(snap.taken_at.timestamp()), source=source,
                **values(snap.market), **values(snap.sentiment))


def _venue_rows(snap: Snapshot, snapshot_id: int) -> list[dict]:
    return [dict(snapshot_id=snapshot_id, **{name: getattr(v, name) for name in VENUE_COLUMNS}) for v in snap.venues]


def _factor_row(factors: FactorScores, snapshot_id: int) -> dict:
    return dict(snapshot_id=snapshot_id, **factors.as_dict(), missing=",".join(factors.missing))


def _venue_row(row) -> VenueSnapshot:
    return VenueSnapshot(**{name: getattr(row, name) for name in VENUE_COLUMNS})


class HourWriter:
    """The hour's stored snapshot, read and rewritten under the database's write lock."""

    def __init__(self, conn: Connection, timestamp: int):
        self.conn, self.timestamp = conn, timestamp

    def _snapshot_id(self) -> int | None:
        return self.conn.execute(select(MarketSnapshot.id).where(MarketSnapshot.timestamp == self.timestamp)).scalar()

    def earlier_venues(self) -> list[VenueSnapshot]:
        """The venue rows already stored for this hour (none for a new hour)."""
        snapshot_id = self._snapshot_id()
        if snapshot_id is None:
            return []
        columns = [getattr(ExchangeSnapshot, name) for name in VENUE_COLUMNS]
        rows = self.conn.execute(select(*columns).where(ExchangeSnapshot.snapshot_id == snapshot_id)
                                 .order_by(ExchangeSnapshot.id)).all()
        return [_venue_row(row) for row in rows]

    def previous_oi(self) -> dict[str, float] | None:
        return previous_oi(self.conn, self.timestamp)

    def write(self, snap: Snapshot, source: str = "live",
              instruments: Mapping[str, Sequence[InstrumentRow]] | None = None) -> int:
        """Replace the hour's rows with `snap` (whose venues include the kept earlier rows); each venue
        in `instruments` (those that answered in this run) replaces its markets' rows of the hour."""
        snapshot_id = self._snapshot_id()
        market = _market_row(snap, source)
        if snapshot_id is None:
            snapshot_id = self.conn.execute(MarketSnapshot.__table__.insert().values(**market)).inserted_primary_key[0]
        else:
            self.conn.execute(update(MarketSnapshot).where(MarketSnapshot.id == snapshot_id).values(**market))
            for child in _CHILDREN:
                self.conn.execute(delete(child).where(child.snapshot_id == snapshot_id))
        self.conn.execute(ExchangeSnapshot.__table__.insert(), _venue_rows(snap, snapshot_id))
        self.conn.execute(SentimentFactors.__table__.insert().values(**_factor_row(snap.factors, snapshot_id)))
        if snap.liquidations:
            self.conn.execute(LiquidationSnapshot.__table__.insert(), summary_rows(snap.liquidations, snapshot_id))
        if instruments:
            replace_venue_rows(self.conn, self.timestamp, instruments)
        return snapshot_id

    def instrument_rows(self) -> list[InstrumentRow]:
        """The hour's stored markets as they are now in this transaction (every venue's, merged)."""
        from sqlalchemy import text

        from perps_tracker.storage.instruments import HOUR_ROWS_SQL, row_of

        return [row_of(r) for r in self.conn.execute(text(HOUR_ROWS_SQL), {"t": self.timestamp})]

    def write_options(self, metrics) -> None:
        """The hour's options figures per currency (model.options.OptionsMetrics), replacing the hour's."""
        from perps_tracker.storage.options import replace_options

        replace_options(self.conn, self.timestamp, metrics)

    def record_funding_arb(self, best: Opportunity | None) -> None:
        """The hour's widest cross-venue funding spread (None: no coin has two legs)."""
        values_ = dict(funding_arb_coin=None, funding_arb_short=None, funding_arb_short_8h=None,
                       funding_arb_long=None, funding_arb_long_8h=None)
        if best is not None:
            values_ = dict(funding_arb_coin=best.coin, funding_arb_short=best.short.exchange,
                           funding_arb_short_8h=best.short.funding_rate_8h, funding_arb_long=best.long.exchange,
                           funding_arb_long_8h=best.long.funding_rate_8h)
        self.conn.execute(update(MarketSnapshot).where(MarketSnapshot.timestamp == self.timestamp).values(**values_))


@contextmanager
def snapshot_hour(db: Database, timestamp: int) -> Iterator[HourWriter]:
    """Read and rewrite the snapshot of the hour `timestamp` in one transaction that holds the write
    lock throughout, so two runs in the same hour merge one after the other; all of it or none."""
    try:
        with write_lock(db.engine) as conn:
            yield HourWriter(conn, timestamp)
    except SQLAlchemyError as e:
        raise DatabaseError(f"storing the snapshot failed, nothing was written: {one_line(e)}") from e


def store_snapshot(db: Database, snap: Snapshot, source: str = "live", *, keep_existing: bool = False) -> int | None:
    """Write the snapshot's rows in one transaction, replacing the hour's stored rows (with
    `keep_existing`, as `backfill` does: leaving an existing snapshot alone and writing nothing).

    Returns the `market_snapshots.id`, or None when an existing snapshot was kept.
    """
    with snapshot_hour(db, snap.timestamp) as hour:
        if keep_existing and hour._snapshot_id() is not None:
            return None
        return hour.write(snap, source)
