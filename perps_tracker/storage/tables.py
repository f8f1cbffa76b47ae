"""The database schema (docs/design.md#database) as SQLAlchemy Core tables.

The schema is a public interface: users write SQL against these tables and columns.
Change it only through a new Alembic revision in `storage/migrations/versions/`;
`tests/storage/test_migrations.py` checks that these tables and the migrations agree.

Core only, no ORM: a read command (`stats`) imports this and not `sqlalchemy.orm`, which
costs more to import than the command takes to run. `storage/models.py` maps ORM classes
onto these tables for the code that wants them.

Times are INTEGER Unix seconds, UTC (`timestamp` is the hour bucket of a snapshot), so
`datetime(timestamp, 'unixepoch')` works in SQLite; raw liquidation events keep
millisecond precision in `event_time_ms`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from perps_tracker.storage import TABLES  # noqa: F401 - their names, in display order

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _id() -> Column:
    return Column("id", Integer, primary_key=True)


def _opt(name: str, type_=Double) -> Column:
    """A nullable column: a value that may be missing."""
    return Column(name, type_, nullable=True)


def _req(name: str, type_=Double, **kw) -> Column:
    return Column(name, type_, nullable=False, **kw)


def _snapshot_fk() -> Column:
    # Not indexed on its own: each table's unique (snapshot_id, ...) key leads with it.
    return Column("snapshot_id", Integer, ForeignKey("market_snapshots.id", ondelete="CASCADE"), nullable=False)


# One row per hour bucket: market aggregates (docs/design.md#market-aggregates), composite score and labels (#sentiment).
market_snapshots = Table(
    "market_snapshots", metadata,
    _id(),
    _req("timestamp", BigInteger, unique=True),
    _req("taken_at", BigInteger),
    _req("source", String(16), default="live"),
    _req("exchanges_ok", Integer),
    _req("exchanges_failed", Integer),
    *(_opt(name) for name in ("total_volume_usd", "cex_volume_usd", "dex_volume_usd", "total_oi_usd", "btc_price",
                              "funding_rate_8h", "price_change_24h_pct", "funding_divergence", "oi_vol_ratio",
                              "long_share", "long_short_ratio", "oi_change_24h_pct", "composite_score")),
    _opt("sentiment", String(16)),
    _opt("strength", String(16)),
    _opt("divergence_label", String(16)),
    # The hour's widest cross-venue funding spread over every coin (docs/markets.md#funding), for the
    # Funding Rate Arbitrage rule: coin, the venue to short and its rate, the venue to long and its rate.
    _opt("funding_arb_coin", String(32)),
    _opt("funding_arb_short", String(32)),
    _opt("funding_arb_short_8h"),
    _opt("funding_arb_long", String(32)),
    _opt("funding_arb_long_8h"),
)

# One row per venue per snapshot (docs/design.md#venues-and-units), failed venues included with status and error.
exchange_snapshots = Table(
    "exchange_snapshots", metadata,
    _id(),
    _snapshot_fk(),
    _req("exchange", String(32)),
    _req("kind", String(8)),
    _req("status", String(8)),
    _opt("error", Text),
    _opt("latency_ms", Integer),
    _opt("volume_24h_usd"),
    _opt("open_interest_usd"),
    _opt("markets", Integer),
    _opt("num_trades_24h", BigInteger),
    *(_opt(name) for name in ("btc_price", "btc_mark_price", "btc_index_price", "btc_funding_rate_8h",
                              "btc_price_change_24h_pct", "long_short_ratio", "long_share")),
    _req("records_skipped", Integer, default=0),
    # Unix seconds of the run that fetched this row: a re-run in the same hour keeps the rows
    # of venues it did not read (or that failed) from an earlier run.
    _opt("taken_at", BigInteger),
    UniqueConstraint("snapshot_id", "exchange"),
)

# The six factor scores of a snapshot (docs/design.md#sentiment); a NULL score was missing and left out.
sentiment_factors = Table(
    "sentiment_factors", metadata,
    _id(),
    Column("snapshot_id", Integer, ForeignKey("market_snapshots.id", ondelete="CASCADE"), nullable=False,
           unique=True),
    *(_opt(name) for name in ("funding", "price", "long_short", "conviction", "divergence", "oi_price")),
    _req("missing", Text, default=""),  # comma-separated factor names
)

# Liquidations of a snapshot's window per venue (`exchange='all'` is the market line, docs/design.md#cascade-risk).
liquidation_snapshots = Table(
    "liquidation_snapshots", metadata,
    _id(),
    _snapshot_fk(),
    _req("exchange", String(32)),
    _req("window_hours"),
    _req("count", Integer),
    _req("long_usd"),
    _req("short_usd"),
    _req("total_usd"),
    _opt("long_liq_share"),
    _opt("largest_usd"),
    _opt("volume_usd"),
    _opt("cascade_risk_score"),
    _opt("level", String(16)),
    _req("sampled", Boolean, default=False),
    _opt("coverage"),  # fraction of the window a collector or poller read this venue
    UniqueConstraint("snapshot_id", "exchange"),
)

# A raw liquidation event, deduplicated; `side` is the position liquidated (long/short).
liquidations = Table(
    "liquidations", metadata,
    _id(),
    _req("exchange", String(32)),
    _req("symbol", String(64)),
    _req("side", String(8)),
    _req("price"),
    _req("quantity"),
    _req("value_usd"),
    _req("event_time_ms", BigInteger),
    _req("source", String(8)),  # "ws" or "rest"
    # The only index besides the primary key: led by time, it serves the duplicate check on
    # insert, the window sums (time range, then venue) and cleanup (time below a cutoff).
    UniqueConstraint("event_time_ms", "exchange", "symbol", "side", "price", "quantity", name="uq_liquidations_event"),
)

# A stretch of time during which a venue's liquidations were being read. `liquidations watch`
# writes one row per stretch in which all of a venue's connections are up and extends `end_ms` as
# it goes; a REST poll writes the window it fetched. Without coverage a venue's liquidations are unknown, not zero.
liquidation_coverage = Table(
    "liquidation_coverage", metadata,
    _id(),
    _req("exchange", String(32)),
    _req("source", String(8)),  # "ws" or "rest"
    _req("start_ms", BigInteger),
    _req("end_ms", BigInteger),
    _req("detail", Text, default=""),  # what was read: "all symbols", "top 50 ..."
    Index("ix_liquidation_coverage_exchange_end", "exchange", "end_ms"),
)

# An evaluated strategy alert and its delivery state (docs/design.md#strategy-alerts).
alerts = Table(
    "alerts", metadata,
    _id(),
    _req("timestamp", BigInteger, index=True),
    _opt("snapshot_timestamp", BigInteger),
    _req("strategy", String(64)),
    _req("tier", Integer),
    _req("confidence", Integer),
    _opt("direction", String(8)),
    _req("reasons", Text, default=""),
    _req("status", String(16)),
    _opt("why", Text),
    _opt("delivered_at", BigInteger),
    _req("delivery_attempts", Integer, default=0),
    _opt("delivery_error", Text),
    # A strategy is decided once per snapshot hour: running `alerts` again re-reads this row.
    Index("uq_alerts_snapshot_strategy", "snapshot_timestamp", "strategy", unique=True),
)

# One alert's delivery to one configured webhook (`discord`, `slack`, `json`); never the URL.
alert_deliveries = Table(
    "alert_deliveries", metadata,
    _id(),
    Column("alert_id", Integer, ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False),  # leads the unique key
    _req("webhook", String(16)),
    _req("status", String(12)),  # pending, delivered or expired
    _req("attempts", Integer, default=0),
    _opt("last_attempt_at", BigInteger),
    _opt("delivered_at", BigInteger),
    _opt("error", Text),
    UniqueConstraint("alert_id", "webhook"),
)

# The per-instrument layer (docs/markets.md): one row per market per hour, ~3,000 an hour, ~26 M a year.
# A symbol dimension and a compact fact table; `instrument_snapshots` is the view users query,
# with every column of the layer (INSTRUMENT_VIEW).
instruments = Table(
    "instruments", metadata,
    _id(),
    _req("exchange", String(32)),
    _req("symbol", String(64)),  # the venue's own
    _req("coin", String(32), index=True),  # normalised base (model/coins.py)
    _req("multiplier", Double, default=1.0),  # coins per contract unit: 1000 for 1000PEPEUSDT
    _req("quote", String(8)),
    UniqueConstraint("exchange", "symbol"),
)

# The facts, keyed by (hour, instrument): an hour's rows are appended together at the end of the key
# order, and a time range is one range of the key. On SQLite a WITHOUT ROWID table: the key is the
# table, no second copy. Prices are per one coin; USD amounts are stored in whole dollars (SQLite
# then keeps them as 2-6 byte integers); `backfill` 1 marks rows from `backfill`, 0 a snapshot's.
instrument_rows = Table(
    "instrument_rows", metadata,
    Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
    Column("instrument_id", Integer, ForeignKey("instruments.id", ondelete="CASCADE"), primary_key=True,
           autoincrement=False),
    *(_opt(name) for name in ("price", "mark_price", "index_price", "volume_24h_usd", "open_interest_usd",
                              "funding_rate", "funding_interval_h", "funding_rate_8h")),
    _opt("next_funding_time", BigInteger),
    _opt("price_change_24h_pct"),
    _req("backfill", Integer, default=0),
    sqlite_with_rowid=False,
)

# The view of the layer, one row per (timestamp, exchange, symbol), created by migration 0008.
INSTRUMENT_VIEW = """
CREATE VIEW instrument_snapshots AS
SELECT r.timestamp, i.exchange, i.symbol, i.coin, i.multiplier, i.quote, r.price, r.mark_price,
       r.index_price, r.volume_24h_usd, r.open_interest_usd, r.funding_rate, r.funding_interval_h,
       r.funding_rate_8h, r.next_funding_time, r.price_change_24h_pct,
       CASE WHEN r.backfill = 1 THEN 'backfill' ELSE 'live' END AS source
FROM instrument_rows r JOIN instruments i ON i.id = r.instrument_id"""

# The options market per currency and hour (docs/options.md), from Deribit's chain: `snapshot` writes
# the hour's row (`source` live), `backfill` DVOL alone for hours without one (`source` backfill).
options_snapshots = Table(
    "options_snapshots", metadata,
    Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
    Column("currency", String(8), primary_key=True),
    *(_opt(name) for name in ("dvol", "put_call_oi_ratio", "put_call_volume_ratio", "options_oi_usd", "skew_25d",
                              "atm_iv_30d")),
    _opt("expiry", BigInteger),
    _opt("options", Integer),
    _opt("smile", Text),  # JSON [[call-equivalent delta, IV %], ...] of that expiry
    _req("source", String(16)),
)

# `report --notify` (docs/report.md): one report's headline sections, recorded before anything is sent,
# once per (newest snapshot hour, window); its deliveries to the configured webhooks (never the URL).
report_notices = Table(
    "report_notices", metadata,
    _id(),
    _req("report_hour", BigInteger),  # the newest snapshot hour the report covers
    _req("hours", Integer),  # its window
    _req("made_at", BigInteger),
    _req("title", Text),
    _req("sections", Text),  # JSON [[heading, [line, ...]], ...]: the message, as sent
    UniqueConstraint("report_hour", "hours"),
)

report_deliveries = Table(
    "report_deliveries", metadata,
    _id(),
    Column("notice_id", Integer, ForeignKey("report_notices.id", ondelete="CASCADE"), nullable=False),
    _req("webhook", String(16)),
    _req("status", String(12)),  # pending, delivered or expired
    _req("attempts", Integer, default=0),
    _opt("last_attempt_at", BigInteger),
    _opt("delivered_at", BigInteger),
    _opt("error", Text),
    UniqueConstraint("notice_id", "webhook"),
)

# A venue's downloaded history (`VenueHistory` as JSON), kept so an interrupted `backfill`
# resumes without downloading it again; deleted once the run completes.
backfill_downloads = Table(
    "backfill_downloads", metadata,
    _id(),
    _req("exchange", String(32)),
    _req("start", BigInteger),
    _req("end", BigInteger),
    _req("fetched_at", BigInteger),
    _req("data", Text),
    Index("ix_backfill_downloads_exchange", "exchange", "start", "end"),
)

# Every interruption of real-time capture (docs/capture.md): from `from_ms` to `to_ms` (Unix ms) the
# venue's `channel` (trades, bbo, book) of `symbol` was not being read (`symbol` '*' when every symbol
# of the venue's connection was), and why (`reason`: a disconnect, a sequence gap, a restart...).
capture_gaps = Table(
    "capture_gaps", metadata,
    _id(),
    _req("exchange", String(32)),
    _req("symbol", String(64)),
    _req("channel", String(16)),
    _req("from_ms", BigInteger),
    _req("to_ms", BigInteger),
    _req("reason", Text),
    Index("ix_capture_gaps_exchange_channel_from", "exchange", "channel", "from_ms"),
)
