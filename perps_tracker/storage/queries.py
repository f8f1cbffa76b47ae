"""Read-side summaries and retention: `collect_stats` and `cleanup`.

Both take `now` (a timezone-aware UTC datetime) rather than reading the clock, and return
frozen dataclasses that the CLI renders as tables or JSON.

`collect_stats` reads with plain SQL through `Database.reading()`, one text for SQLite and
PostgreSQL alike: on a SQLite file opened read-only it runs on the standard library's sqlite3 and
SQLAlchemy is never imported. `cleanup` writes through SQLAlchemy Core, imported when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Sequence

from perps_tracker.model.times import DAY, HOUR, hour_bucket, iso  # noqa: F401 - iso is re-exported for render
from perps_tracker.storage import TABLES
from perps_tracker.storage.capture import GapLine, gap_lines
from perps_tracker.storage.db import Database, Reader, guard

if TYPE_CHECKING:
    from sqlalchemy import Connection

COVERAGE_WINDOWS = {"24h": 24, "7d": 168}
GAP_WINDOW_HOURS = 168
TREND_LOOKBACK = (20 * HOUR, 28 * HOUR)  # the snapshot "24 h earlier" lies in this range


@dataclass(frozen=True)
class Coverage:
    exchange: str
    hours_ok: dict[str, int]  # window name -> hours with an ok row
    share: dict[str, float]  # window name -> hours_ok / hours in window
    backfill_hours: int = 0  # backfilled snapshots (any time) with an ok row of this venue


@dataclass(frozen=True)
class BackfillSpan:
    snapshots: int
    first: int
    last: int


@dataclass(frozen=True)
class Gap:
    start: int  # first missing hour bucket
    hours: int

    @property
    def end(self) -> int:
        return self.start + (self.hours - 1) * HOUR


@dataclass(frozen=True)
class LatestSnapshot:
    timestamp: int
    source: str
    composite_score: float | None
    sentiment: str | None
    strength: str | None
    exchanges_ok: int
    exchanges_failed: int
    taken_at: int | None = None  # the newest run that went into it
    venues: tuple[tuple[str, str, int | None], ...] = ()  # (exchange, status, taken_at) per venue row

    @property
    def runs(self) -> dict[int | None, list[str]]:
        """When each run that went into this snapshot was taken → the venues whose rows it wrote."""
        out: dict[int | None, list[str]] = {}
        for exchange, _, taken_at in self.venues:
            out.setdefault(taken_at, []).append(exchange)
        return dict(sorted(out.items(), key=lambda kv: kv[0] or 0))


@dataclass(frozen=True)
class Stats:
    database: str
    revision: str
    size_bytes: int | None
    rows: dict[str, int]
    first_snapshot: int | None
    last_snapshot: int | None
    latest: LatestSnapshot | None
    composite_24h_ago: float | None
    coverage: list[Coverage]
    gaps: list[Gap]
    gap_window_start: int | None
    backfill: BackfillSpan | None = None
    capture_gaps: list[GapLine] = field(default_factory=list)  # per venue and channel
    # Per channel and venue, the capture dataset's files (dataset.inventory.FileLine), when its root
    # is a local directory that exists (the command fills it in: storage does not read the dataset).
    capture_files: list | None = None

    @property
    def empty(self) -> bool:
        return self.latest is None

    @property
    def missing_hours(self) -> int:
        return sum(g.hours for g in self.gaps)

    @property
    def composite_change_24h(self) -> float | None:
        if self.latest is None or self.latest.composite_score is None or self.composite_24h_ago is None:
            return None
        return self.latest.composite_score - self.composite_24h_ago


def _row_counts(r: Reader) -> dict[str, int]:
    return {name: r.scalar(f"SELECT count(*) FROM {name}") for name in TABLES}


def _ok_rows(r: Reader, snapshots: str, params: dict[str, object] | None = None) -> dict[str, int]:
    """Venue → ok rows among the market snapshots that the condition `snapshots` (with `params`) selects.
    Driven by those ids (the (snapshot, exchange) key's index), not by a scan of every venue row;
    a venue has one row per snapshot, so rows are hours."""
    return dict(r.rows(
        "SELECT exchange, count(*) FROM exchange_snapshots "
        f"WHERE snapshot_id IN (SELECT id FROM market_snapshots WHERE {snapshots}) AND status = 'ok' "
        "GROUP BY exchange", params))


def _coverage(r: Reader, now_bucket: int, order: Sequence[str]) -> list[Coverage]:
    """Per venue: ok hours of the last 24 h and 7 d, and of the backfilled snapshots. Venues are `order`,
    then any other venue with a row in the last 7 d."""
    windows = {window: _ok_rows(r, "timestamp BETWEEN :lo AND :hi",
                                {"lo": now_bucket - (hours - 1) * HOUR, "hi": now_bucket})
               for window, hours in COVERAGE_WINDOWS.items()}
    backfilled = _ok_rows(r, "source = 'backfill'")
    seen = set().union(*windows.values(), backfilled)
    venues = list(order) + sorted(seen - set(order))
    return [Coverage(v, {w: windows[w].get(v, 0) for w in COVERAGE_WINDOWS},
                     {w: windows[w].get(v, 0) / h for w, h in COVERAGE_WINDOWS.items()}, backfilled.get(v, 0))
            for v in venues]


def _backfill_span(r: Reader) -> BackfillSpan | None:
    n, first, last = r.row(
        "SELECT count(*), min(timestamp), max(timestamp) FROM market_snapshots WHERE source = 'backfill'")
    return BackfillSpan(n, first, last) if n else None


def _gaps(r: Reader, first: int, now_bucket: int) -> tuple[list[Gap], int]:
    """Hours without a snapshot from max(first snapshot, 7 d ago) to the previous full hour."""
    start = max(first, now_bucket - (GAP_WINDOW_HOURS - 1) * HOUR)
    end = now_bucket - HOUR  # the current hour's snapshot may not be due yet
    present = {t for (t,) in r.rows("SELECT timestamp FROM market_snapshots WHERE timestamp >= :start",
                                    {"start": start})}
    missing = (bucket for bucket in range(start, end + 1, HOUR) if bucket not in present)
    from perps_tracker.model.history import hour_runs  # with model.market: only when there are snapshots

    return [Gap(first_hour, n) for first_hour, n in hour_runs(missing)], start


def _composite_near(r: Reader, target: int, lo: int, hi: int) -> float | None:
    """Composite score of the snapshot closest to `target` with timestamp in [lo, hi]."""
    return r.scalar("SELECT composite_score FROM market_snapshots WHERE timestamp BETWEEN :lo AND :hi "
                    "ORDER BY abs(timestamp - :target) LIMIT 1", {"lo": lo, "hi": hi, "target": target})


def _latest(r: Reader, last: int) -> LatestSnapshot:
    """The snapshot of hour `last`, with its venue rows."""
    (id_, *fields) = r.row(
        "SELECT id, timestamp, source, composite_score, sentiment, strength, exchanges_ok, exchanges_failed, "
        "taken_at FROM market_snapshots WHERE timestamp = :last", {"last": last})
    venues = r.rows("SELECT exchange, status, taken_at FROM exchange_snapshots WHERE snapshot_id = :id "
                    "ORDER BY id", {"id": id_})
    return LatestSnapshot(*fields, venues=tuple(map(tuple, venues)))


def collect_stats(db: Database, now: datetime, order: Sequence[str] = ()) -> Stats:
    """What the database holds, as of `now`; coverage lists the venues of `order` first, in that order."""
    now_bucket = hour_bucket(now)
    with guard("reading statistics"), db.reading() as r:
        rows = _row_counts(r)
        first, last = r.row("SELECT min(timestamp), max(timestamp) FROM market_snapshots")
        latest = None
        gaps: list[Gap] = []
        gap_start = None
        before = None
        if last is not None:
            latest = _latest(r, last)
            before = _composite_near(r, last - DAY, last - TREND_LOOKBACK[1], last - TREND_LOOKBACK[0])
            gaps, gap_start = _gaps(r, first, now_bucket)
        coverage = _coverage(r, now_bucket, order)
        backfill = _backfill_span(r)
        capture = gap_lines(r, int(now.timestamp() * 1000))
    return Stats(
        database=db.display_url,
        revision=db.revision,
        size_bytes=db.size_bytes(),
        rows=rows,
        first_snapshot=first,
        last_snapshot=last,
        latest=latest,
        composite_24h_ago=before,
        coverage=coverage,
        gaps=gaps,
        gap_window_start=gap_start,
        backfill=backfill,
        capture_gaps=capture,
    )


@dataclass(frozen=True)
class CleanupResult:
    cutoff: int
    days: int
    dry_run: bool
    removed: dict[str, int]  # table -> rows removed (or that would be)
    kept_newest: int | None  # timestamp of the newest snapshot, always kept
    size_before: int | None = None
    size_after: int | None = None

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def _cleanup_plan(conn: "Connection", cutoff: int) -> tuple[dict[str, object], int | None]:
    """Per table, the WHERE clause selecting rows older than `cutoff` (newest snapshot excluded)."""
    from sqlalchemy import func, select

    from perps_tracker.storage.tables import alert_deliveries as AlertDelivery
    from perps_tracker.storage.tables import alerts as Alert
    from perps_tracker.storage.tables import backfill_downloads as BackfillDownload
    from perps_tracker.storage.tables import capture_gaps as CaptureGaps
    from perps_tracker.storage.tables import exchange_snapshots as ExchangeSnapshot
    from perps_tracker.storage.tables import instrument_rows as InstrumentRows
    from perps_tracker.storage.tables import options_snapshots as OptionsSnapshots
    from perps_tracker.storage.tables import report_deliveries as ReportDelivery
    from perps_tracker.storage.tables import report_notices as ReportNotice
    from perps_tracker.storage.tables import liquidation_coverage as LiquidationCoverage
    from perps_tracker.storage.tables import liquidation_snapshots as LiquidationSnapshot
    from perps_tracker.storage.tables import liquidations as Liquidation
    from perps_tracker.storage.tables import market_snapshots as MarketSnapshot
    from perps_tracker.storage.tables import sentiment_factors as SentimentFactors

    newest = conn.execute(select(func.max(MarketSnapshot.c.timestamp))).scalar_one()
    old_snapshots = select(MarketSnapshot.c.id).where(MarketSnapshot.c.timestamp < cutoff)
    if newest is not None:
        old_snapshots = old_snapshots.where(MarketSnapshot.c.timestamp != newest)
    plan = {
        ExchangeSnapshot.name: ExchangeSnapshot.c.snapshot_id.in_(old_snapshots),
        SentimentFactors.name: SentimentFactors.c.snapshot_id.in_(old_snapshots),
        LiquidationSnapshot.name: LiquidationSnapshot.c.snapshot_id.in_(old_snapshots),
        MarketSnapshot.name: MarketSnapshot.c.id.in_(old_snapshots),
        Liquidation.name: Liquidation.c.event_time_ms < cutoff * 1000,
        LiquidationCoverage.name: LiquidationCoverage.c.end_ms < cutoff * 1000,
        AlertDelivery.name: AlertDelivery.c.alert_id.in_(select(Alert.c.id).where(Alert.c.timestamp < cutoff)),
        Alert.name: Alert.c.timestamp < cutoff,
        BackfillDownload.name: BackfillDownload.c.fetched_at < cutoff,
        # by the key's leading column; the newest hour stays, as the newest snapshot does
        InstrumentRows.name: InstrumentRows.c.timestamp < min(
            cutoff, conn.execute(select(func.max(InstrumentRows.c.timestamp))).scalar_one() or cutoff),
        # `instruments` (one row per venue symbol ever seen, a few thousand) is kept: rows that are
        # gone would have to be looked for in every hour left
        OptionsSnapshots.name: OptionsSnapshots.c.timestamp < min(
            cutoff, conn.execute(select(func.max(OptionsSnapshots.c.timestamp))).scalar_one() or cutoff),
        ReportDelivery.name: ReportDelivery.c.notice_id.in_(
            select(ReportNotice.c.id).where(ReportNotice.c.report_hour < cutoff)),
        ReportNotice.name: ReportNotice.c.report_hour < cutoff,
        CaptureGaps.name: CaptureGaps.c.to_ms < cutoff * 1000,
    }
    return plan, newest


def cleanup(db: Database, now: datetime, days: int, *, dry_run: bool = False, vacuum: bool = False) -> CleanupResult:
    """Delete rows older than `days` days from every table in one transaction.

    The newest snapshot is never deleted, however old. `dry_run` only counts.
    `vacuum` compacts the database afterwards (SQLite VACUUM / PostgreSQL VACUUM).
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    from sqlalchemy import delete, func, select

    from perps_tracker.storage.tables import metadata

    cutoff = int(now.timestamp()) - days * DAY
    tables = metadata.tables
    removed: dict[str, int] = {}
    size_before = db.size_bytes() if vacuum and not dry_run else None
    # A dry run reads on a connection that is never committed.
    with guard("cleanup"), (db.engine.connect() if dry_run else db.engine.begin()) as conn:
        plan, newest = _cleanup_plan(conn, cutoff)
        # Children first, so the snapshot ids they refer to are still there to match.
        for name, where in plan.items():
            table = tables[name]
            if dry_run:
                removed[name] = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
            else:
                removed[name] = conn.execute(delete(table).where(where)).rowcount
    size_after = None
    if vacuum and not dry_run:
        with guard("vacuum"):
            _vacuum(db)
        size_after = db.size_bytes()
    ordered = {name: removed.get(name, 0) for name in TABLES}
    return CleanupResult(cutoff, days, dry_run, ordered, newest, size_before, size_after)


def _vacuum(db: Database) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM")
        if db.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
