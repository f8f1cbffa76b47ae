"""What `report` reads, in plain SQL through `Database.reading()` (sqlite3 on a SQLite file opened
read-only: no SQLAlchemy import; SQLAlchemy `text()` on PostgreSQL).

Only the window and the hours before it that the anomaly ranges and the BTC regime need
(`model.report.LOOKBACK_HOURS`): every query is a range of `market_snapshots.timestamp` (unique,
indexed) joined to its children by their (snapshot_id, ...) keys, a range of the liquidation
events' time-led key, the alerts' (snapshot_timestamp, strategy) key, or one hour of
`instrument_rows` — never a scan of a whole table, so two years of history read as fast as a week.
"""

from __future__ import annotations

from perps_tracker.model.liquidation import LONG, VenueTotals, covered_fraction
from perps_tracker.model.report import (
    LOOKBACK_HOURS,
    NEAR_HOURS,
    AlertLine,
    LiquidationHour,
    MarketRow,
    ReportData,
    VenueRow,
    near,
)
from perps_tracker.model.times import HOUR
from perps_tracker.storage.db import Database, Reader, guard
from perps_tracker.storage.instruments import hour_rows
from perps_tracker.storage.options import dvol_series, latest

REASON_SEPARATOR = "\n"  # as storage/alerts.py stores an alert's reasons (tests/test_report.py checks)
OPTION_CURRENCIES = ("BTC", "ETH")

_MARKETS = """
SELECT timestamp, source, exchanges_ok, exchanges_failed, total_volume_usd, cex_volume_usd, dex_volume_usd,
       total_oi_usd, btc_price, funding_rate_8h, price_change_24h_pct, oi_vol_ratio, long_share, oi_change_24h_pct,
       composite_score, sentiment, strength
FROM market_snapshots WHERE timestamp > :lo AND timestamp <= :hi ORDER BY timestamp"""
_VENUES = """
SELECT m.timestamp, e.exchange, e.kind, e.volume_24h_usd, e.open_interest_usd, e.btc_funding_rate_8h, e.long_share
FROM market_snapshots m JOIN exchange_snapshots e ON e.snapshot_id = m.id
WHERE m.timestamp > :lo AND m.timestamp <= :hi AND e.status = 'ok' ORDER BY m.timestamp, e.exchange"""
_LIQUIDATION_HOURS = """
SELECT m.timestamp, l.count, l.long_usd, l.short_usd, l.total_usd, l.cascade_risk_score, l.level, l.coverage
FROM market_snapshots m JOIN liquidation_snapshots l ON l.snapshot_id = m.id
WHERE m.timestamp > :lo AND m.timestamp <= :hi AND l.exchange = 'all' ORDER BY m.timestamp"""
_LIQUIDATION_TOTALS = f"""
SELECT exchange, COUNT(*), COALESCE(SUM(CASE WHEN side = '{LONG}' THEN value_usd ELSE 0.0 END), 0.0),
       COALESCE(SUM(CASE WHEN side = '{LONG}' THEN 0.0 ELSE value_usd END), 0.0), MAX(value_usd)
FROM liquidations WHERE event_time_ms >= :a AND event_time_ms < :b GROUP BY exchange"""
_COVERAGE = "SELECT exchange, start_ms, end_ms FROM liquidation_coverage WHERE end_ms > :a AND start_ms < :b"
_ALERTS = """
SELECT snapshot_timestamp, strategy, tier, confidence, direction, status, reasons, why FROM alerts
WHERE snapshot_timestamp > :lo AND snapshot_timestamp <= :hi ORDER BY snapshot_timestamp, id"""


def _float(x) -> float | None:
    return None if x is None else float(x)


def read_report_data(db: Database, hours: int, newest: int | None = None) -> ReportData | None:
    """The report's rows for the `hours` up to the newest snapshot (or up to `newest`), with the
    LOOKBACK_HOURS before them; None when no snapshot is stored."""
    with guard("reading the snapshot history"), db.reading() as read:
        if newest is None:
            newest = read.scalar("SELECT MAX(timestamp) FROM market_snapshots")
            if newest is None:
                return None
        newest = int(newest)
        taken = read.scalar("SELECT taken_at FROM market_snapshots WHERE timestamp = :t", {"t": newest})
        if taken is None:
            return None
        window = {"lo": newest - hours * HOUR - LOOKBACK_HOURS * HOUR, "hi": newest}
        markets = tuple(MarketRow(int(r[0]), r[1], int(r[2]), int(r[3]), *(_float(x) for x in r[4:15]), r[15], r[16])
                        for r in read.rows(_MARKETS, window))
        venues = tuple(VenueRow(int(t), e, k, _float(v), _float(oi), _float(f), _float(ls))
                       for t, e, k, v, oi, f, ls in read.rows(_VENUES, window))
        in_window = {"lo": newest - hours * HOUR, "hi": newest}
        liquidation_hours = tuple(
            LiquidationHour(int(t), int(n), float(lo), float(sh), float(tot), _float(score), level, _float(cov))
            for t, n, lo, sh, tot, score, level, cov in read.rows(_LIQUIDATION_HOURS, in_window))
        end_ms = int(taken) * 1000
        start_ms = end_ms - hours * HOUR * 1000
        totals, coverage = _liquidation_window(read, start_ms, end_ms)
        alerts = tuple(AlertLine(int(t), s, int(tier), int(conf), d, status,
                                 tuple(x for x in (reasons or "").split(REASON_SEPARATOR) if x), why)
                       for t, s, tier, conf, d, status, reasons, why in read.rows(_ALERTS, in_window))
        hour = read.scalar("SELECT MAX(timestamp) FROM instrument_rows WHERE timestamp <= :t", {"t": newest})
        instruments = tuple(hour_rows(read, int(hour))) if hour is not None else ()
        options = _options(read, newest, newest - hours * HOUR)
    volumes = {v.exchange: v.volume_24h_usd for v in venues if v.timestamp == newest and v.volume_24h_usd is not None}
    return ReportData(
        newest=newest, newest_taken_at=int(taken), hours=hours, markets=markets, venues=venues,
        liquidation_hours=liquidation_hours, liq_start_ms=start_ms, liq_end_ms=end_ms, liq_totals=totals,
        liq_coverage=coverage, liq_volumes=volumes, alerts=alerts,
        instrument_hour=None if hour is None else int(hour), instruments=instruments, options=options)


def _liquidation_window(read: Reader, start_ms: int, end_ms: int
                        ) -> tuple[dict[str, VenueTotals], dict[str, float]]:
    """Per venue: the stored events' totals in [start_ms, end_ms), and the part of it that was read
    (as `liquidations` computes them)."""
    params = {"a": start_ms, "b": end_ms}
    totals = {ex: VenueTotals(ex, int(n), float(lo), float(sh), _float(big))
              for ex, n, lo, sh, big in read.rows(_LIQUIDATION_TOTALS, params)}
    spans: dict[str, list[tuple[int, int]]] = {}
    for ex, a, b in read.rows(_COVERAGE, params):
        spans.setdefault(ex, []).append((int(a), int(b)))
    return totals, {ex: covered_fraction(s, start_ms, end_ms) for ex, s in spans.items()}


def _options(read: Reader, newest: int, before: int):
    """The newest options row of each currency, and its DVOL at the window's start (or None)."""
    out = []
    for currency in OPTION_CURRENCIES:
        found = latest(read, currency)
        if found is None:
            continue
        dvol = dvol_series(read, currency, before - NEAR_HOURS * HOUR, before + NEAR_HOURS * HOUR)
        out.append((found[0], near(dvol, before)))
    return tuple(out)
