"""The database schema as SQLAlchemy 2 ORM classes, mapped onto the Core tables of
`storage/tables.py` (which defines the schema: change it there, through a new Alembic
revision). Code that only reads through Core (`stats`) imports `tables` and never pays for
`sqlalchemy.orm`; the rest may use these classes: `Liquidation.event_time_ms`,
`insert(Liquidation)`, `Session(...).add(MarketSnapshot(...))`.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from perps_tracker.storage import tables
from perps_tracker.storage.tables import NAMING_CONVENTION, TABLES  # noqa: F401 - re-exported


class Base(DeclarativeBase):
    metadata = tables.metadata


class MarketSnapshot(Base):
    """One row per hour bucket: market aggregates (docs/design.md#market-aggregates), composite score and labels (#sentiment)."""

    __table__ = tables.market_snapshots


class ExchangeSnapshot(Base):
    """One row per venue per snapshot (docs/design.md#venues-and-units), failed venues included with status and error."""

    __table__ = tables.exchange_snapshots


class SentimentFactors(Base):
    """The six factor scores of a snapshot (docs/design.md#sentiment); a NULL score was missing and left out."""

    __table__ = tables.sentiment_factors


class LiquidationSnapshot(Base):
    """Liquidations of a snapshot's window per venue (`exchange='all'` is the market line, docs/design.md#cascade-risk)."""

    __table__ = tables.liquidation_snapshots


class Liquidation(Base):
    """A raw liquidation event, deduplicated; `side` is the position liquidated (long/short)."""

    __table__ = tables.liquidations


class LiquidationCoverage(Base):
    """A stretch of time during which a venue's liquidations were being read (see `tables`)."""

    __table__ = tables.liquidation_coverage


class Alert(Base):
    """An evaluated strategy alert and its delivery state (docs/design.md#strategy-alerts)."""

    __table__ = tables.alerts


class AlertDelivery(Base):
    """One alert's delivery to one configured webhook (`discord`, `slack`, `json`); never the URL."""

    __table__ = tables.alert_deliveries


class BackfillDownload(Base):
    """A venue's downloaded history, kept so an interrupted `backfill` resumes without downloading it again."""

    __table__ = tables.backfill_downloads


class CaptureGap(Base):
    """An interruption of real-time capture: a venue's channel of a symbol not read from `from_ms` to `to_ms`."""

    __table__ = tables.capture_gaps
