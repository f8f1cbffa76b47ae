"""The database schema (DESIGN §7) as SQLAlchemy 2 typed models.

The schema is a public interface: users write SQL against these tables and columns.
Change it only through a new Alembic revision in `storage/migrations/versions/`;
`tests/storage/test_migrations.py` checks that the models and the migrations agree.

Times are INTEGER Unix seconds, UTC (`timestamp` is the hour bucket of a snapshot), so
`datetime(timestamp, 'unixepoch')` works in SQLite; raw liquidation events keep
millisecond precision in `event_time_ms`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # The migrations create DOUBLE columns. SQLAlchemy 2.0 maps a bare `float` to Float and
    # 2.1 to Double: say Double so the models match the migrations under both.
    type_annotation_map = {float: Double}


def _snapshot_fk() -> Mapped[int]:
    # Not indexed on its own: the table's unique (snapshot_id, exchange) key leads with it.
    return mapped_column(ForeignKey("market_snapshots.id", ondelete="CASCADE"))


class MarketSnapshot(Base):
    """One row per hour bucket: market aggregates (§3), composite score and labels (§4)."""

    __tablename__ = "market_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger, unique=True)
    taken_at: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16), default="live")
    exchanges_ok: Mapped[int] = mapped_column(Integer)
    exchanges_failed: Mapped[int] = mapped_column(Integer)
    total_volume_usd: Mapped[float | None]
    cex_volume_usd: Mapped[float | None]
    dex_volume_usd: Mapped[float | None]
    total_oi_usd: Mapped[float | None]
    btc_price: Mapped[float | None]
    funding_rate_8h: Mapped[float | None]
    price_change_24h_pct: Mapped[float | None]
    funding_divergence: Mapped[float | None]
    oi_vol_ratio: Mapped[float | None]
    long_share: Mapped[float | None]
    long_short_ratio: Mapped[float | None]
    oi_change_24h_pct: Mapped[float | None]
    composite_score: Mapped[float | None]
    sentiment: Mapped[str | None] = mapped_column(String(16))
    strength: Mapped[str | None] = mapped_column(String(16))
    divergence_label: Mapped[str | None] = mapped_column(String(16))


class ExchangeSnapshot(Base):
    """One row per venue per snapshot (§2), failed venues included with status and error."""

    __tablename__ = "exchange_snapshots"
    __table_args__ = (UniqueConstraint("snapshot_id", "exchange"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = _snapshot_fk()
    exchange: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    volume_24h_usd: Mapped[float | None]
    open_interest_usd: Mapped[float | None]
    markets: Mapped[int | None] = mapped_column(Integer)
    num_trades_24h: Mapped[int | None] = mapped_column(BigInteger)
    btc_price: Mapped[float | None]
    btc_mark_price: Mapped[float | None]
    btc_index_price: Mapped[float | None]
    btc_funding_rate_8h: Mapped[float | None]
    btc_price_change_24h_pct: Mapped[float | None]
    long_short_ratio: Mapped[float | None]
    long_share: Mapped[float | None]
    records_skipped: Mapped[int] = mapped_column(Integer, default=0)
    # Unix seconds of the run that fetched this row: a re-run in the same hour keeps the rows
    # of venues it did not read (or that failed) from an earlier run.
    taken_at: Mapped[int | None] = mapped_column(BigInteger)


class SentimentFactors(Base):
    """The six factor scores of a snapshot (§4); a NULL score was missing and left out."""

    __tablename__ = "sentiment_factors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("market_snapshots.id", ondelete="CASCADE"), unique=True
    )
    funding: Mapped[float | None]
    price: Mapped[float | None]
    long_short: Mapped[float | None]
    conviction: Mapped[float | None]
    divergence: Mapped[float | None]
    oi_price: Mapped[float | None]
    missing: Mapped[str] = mapped_column(Text, default="")  # comma-separated factor names


class LiquidationSnapshot(Base):
    """Liquidations of a snapshot's window per venue (`exchange='all'` is the market line, §5)."""

    __tablename__ = "liquidation_snapshots"
    __table_args__ = (UniqueConstraint("snapshot_id", "exchange"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = _snapshot_fk()
    exchange: Mapped[str] = mapped_column(String(32))
    window_hours: Mapped[float]
    count: Mapped[int] = mapped_column(Integer)
    long_usd: Mapped[float]
    short_usd: Mapped[float]
    total_usd: Mapped[float]
    long_liq_share: Mapped[float | None]
    largest_usd: Mapped[float | None]
    volume_usd: Mapped[float | None]
    cascade_risk_score: Mapped[float | None]
    level: Mapped[str | None] = mapped_column(String(16))
    sampled: Mapped[bool] = mapped_column(Boolean, default=False)
    coverage: Mapped[float | None]  # fraction of the window a collector or poller read this venue


class Liquidation(Base):
    """A raw liquidation event, deduplicated; `side` is the position liquidated (long/short)."""

    __tablename__ = "liquidations"
    __table_args__ = (
        # The only index besides the primary key: led by time, it serves the duplicate check on
        # insert, the window sums (time range, then venue) and cleanup (time below a cutoff).
        UniqueConstraint("event_time_ms", "exchange", "symbol", "side", "price", "quantity",
                         name="uq_liquidations_event"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32))
    symbol: Mapped[str] = mapped_column(String(64))
    side: Mapped[str] = mapped_column(String(8))
    price: Mapped[float]
    quantity: Mapped[float]
    value_usd: Mapped[float]
    event_time_ms: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(8))  # "ws" or "rest"


class LiquidationCoverage(Base):
    """A stretch of time during which a venue's liquidations were being read.

    `liquidations watch` writes one row per connection and extends `end_ms` as it goes; a
    REST poll writes the window it fetched. Without coverage a venue's liquidations are
    unknown, not zero.
    """

    __tablename__ = "liquidation_coverage"
    __table_args__ = (Index("ix_liquidation_coverage_exchange_end", "exchange", "end_ms"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(8))  # "ws" or "rest"
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text, default="")  # what was read: "all symbols", "top 50 ..."


class Alert(Base):
    """An evaluated strategy alert and its delivery state (§6)."""

    __tablename__ = "alerts"
    __table_args__ = (
        # A strategy is decided once per snapshot hour: running `alerts` again re-reads this row.
        Index("uq_alerts_snapshot_strategy", "snapshot_timestamp", "strategy", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timestamp: Mapped[int] = mapped_column(BigInteger, index=True)
    snapshot_timestamp: Mapped[int | None] = mapped_column(BigInteger)
    strategy: Mapped[str] = mapped_column(String(64))
    tier: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str | None] = mapped_column(String(8))
    reasons: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    why: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivery_error: Mapped[str | None] = mapped_column(Text)


class AlertDelivery(Base):
    """One alert's delivery to one configured webhook (`discord`, `slack`, `json`); never the URL."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "webhook"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))  # led the unique key
    webhook: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12))  # pending, delivered or expired
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[int | None] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)


class BackfillDownload(Base):
    """A venue's downloaded history (`VenueHistory` as JSON), kept so an interrupted `backfill`
    resumes without downloading it again; deleted once the run completes."""

    __tablename__ = "backfill_downloads"
    __table_args__ = (Index("ix_backfill_downloads_exchange", "exchange", "start", "end"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exchange: Mapped[str] = mapped_column(String(32))
    start: Mapped[int] = mapped_column(BigInteger)
    end: Mapped[int] = mapped_column(BigInteger)
    fetched_at: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[str] = mapped_column(Text)


# Display order for `stats` and `cleanup`: snapshots and their children, then raw events.
TABLES = [
    "market_snapshots",
    "exchange_snapshots",
    "sentiment_factors",
    "liquidation_snapshots",
    "liquidations",
    "liquidation_coverage",
    "alerts",
    "alert_deliveries",
    "backfill_downloads",
]
