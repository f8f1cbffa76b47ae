"""`collect_stats` and `cleanup` on constructed histories with hand-counted answers."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from perps_tracker.errors import DatabaseError
from perps_tracker.exchanges import EXCHANGES
from perps_tracker.storage.db import open_for_reading
from perps_tracker.storage.models import (
    Alert,
    AlertDelivery,
    Liquidation,
    LiquidationCoverage,
)
from perps_tracker.storage.queries import HOUR, cleanup, collect_stats, hour_bucket
from tests.conftest import add_snapshot, ts, utc

NOW = utc(2026, 11, 22, 12, 30)  # current hour bucket 12:00


def counts(db) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in ("market_snapshots", "exchange_snapshots", "sentiment_factors", "liquidations", "liquidation_coverage", "alerts", "alert_deliveries", "backfill_downloads", "instruments", "instrument_rows",
                          "options_snapshots", "report_notices", "report_deliveries", "capture_gaps")}


def test_hour_bucket():
    assert hour_bucket(utc(2026, 11, 22, 11, 59, 59)) == ts(2026, 11, 22, 11)
    assert hour_bucket(utc(2026, 11, 22, 12)) == ts(2026, 11, 22, 12)


def test_stats_on_empty_database(database):
    s = collect_stats(database, NOW, list(EXCHANGES))
    assert s.empty and s.latest is None and s.first_snapshot is None
    assert s.gaps == [] and s.rows["market_snapshots"] == 0
    assert all(c.share == {"24h": 0.0, "7d": 0.0} for c in s.coverage)
    assert s.size_bytes and s.size_bytes > 0


def test_stats_coverage_gaps_latest_and_trend(database):
    now_bucket = ts(2026, 11, 22, 12)
    # 48 hourly snapshots ending at the current hour, minus 11:00 and 05:00-07:00 (4 missing).
    missing = {now_bucket - HOUR, *(ts(2026, 11, 22, h) for h in (5, 6, 7))}
    for i in range(48):
        bucket = now_bucket - i * HOUR
        if bucket in missing:
            continue
        # bybit fails in the last 6 hours; dydx only appears 30+ hours ago.
        venues = {"binance": "ok", "bybit": "error" if i < 6 else "ok"}
        if i >= 30:
            venues["dydx"] = "ok"
        add_snapshot(database, bucket, composite=0.5 if i == 0 else (0.2 if i == 24 else 0.0), venues=venues)

    s = collect_stats(database, NOW, list(EXCHANGES))
    assert s.rows["market_snapshots"] == 44
    assert s.first_snapshot == now_bucket - 47 * HOUR and s.last_snapshot == now_bucket
    assert s.latest.composite_score == 0.5 and s.latest.exchanges_failed == 1
    assert s.composite_24h_ago == 0.2
    assert s.composite_change_24h == pytest.approx(0.3)

    cov = {c.exchange: c for c in s.coverage}
    # last 24 buckets: 12:00 back to 13:00 yesterday; 4 of them missing -> 20 present.
    assert cov["binance"].hours_ok == {"24h": 20, "7d": 44}
    assert cov["binance"].share["24h"] == pytest.approx(20 / 24)
    assert cov["binance"].share["7d"] == pytest.approx(44 / 168)
    # bybit failed at i=0..5; of those, 11:00 (i=1) and 07:00 (i=5) have no snapshot at all,
    # so 4 present hours failed: 20 - 4.
    assert cov["bybit"].hours_ok["24h"] == 16
    assert cov["dydx"].hours_ok == {"24h": 0, "7d": 18}
    assert list(cov)[:9] == ["binance", "bybit", "okx", "bitget", "gateio", "hyperliquid", "asterdex", "dydx",
                             "deribit"]

    # Gaps are counted from the first snapshot up to the previous full hour.
    assert s.gap_window_start == s.first_snapshot
    assert [(g.start, g.hours) for g in s.gaps] == [(ts(2026, 11, 22, 5), 3), (ts(2026, 11, 22, 11), 1)]
    assert s.missing_hours == 4


def test_stats_read_only_match_the_engine_s(database):
    """The same SQL read through a read-only opening (on SQLite: the standard library's sqlite3, no
    SQLAlchemy) gives what it gives through the writable engine, on every backend."""
    now_bucket = ts(2026, 11, 22, 12)
    for i in (0, 1, 2, 5, 23, 24, 26, 30, 200):
        add_snapshot(database, now_bucket - i * HOUR, composite=None if i == 2 else i / 10,
                     venues={"binance": "ok", "okx": "error" if i % 2 else "ok", "dydx": "ok"},
                     source="backfill" if i >= 26 else "live")
    url = str(database.path) if database.path is not None else database.url
    with open_for_reading(url) as reader:
        assert reader._sqlite is not None or database.path is None  # SQLite is read through sqlite3
        read = collect_stats(reader, NOW, list(EXCHANGES))
    written = collect_stats(database, NOW, list(EXCHANGES))
    assert read == written
    assert read.backfill.snapshots == 3 and read.latest.composite_score == 0.0 and read.composite_24h_ago == 2.4
    assert [type(v) for v in (read.first_snapshot, read.latest.taken_at, read.rows["alerts"])] == [int] * 3


def test_gaps_are_limited_to_seven_days(database):
    now_bucket = ts(2026, 11, 22, 12)
    add_snapshot(database, now_bucket - 400 * HOUR)
    add_snapshot(database, now_bucket)
    s = collect_stats(database, NOW, list(EXCHANGES))
    assert s.gap_window_start == now_bucket - 167 * HOUR
    assert s.missing_hours == 167  # 7 days of buckets, minus the current one that is present


def test_current_hour_not_yet_taken_is_not_a_gap(database):
    add_snapshot(database, ts(2026, 11, 22, 11))
    assert collect_stats(database, NOW, list(EXCHANGES)).gaps == []


def _history(db, now_bucket: int) -> None:
    for days_ago in (100, 91, 90, 30, 0):
        add_snapshot(db, now_bucket - days_ago * 86400)
    with db.engine.begin() as conn:
        for days_ago in (91, 90, 1):
            t = now_bucket - days_ago * 86400
            conn.execute(Liquidation.__table__.insert().values(
                exchange="binance", symbol="BTCUSDT", side="long", price=1.0, quantity=1.0, value_usd=1.0,
                event_time_ms=t * 1000 - 1, source="ws"))
            alert_id = conn.execute(Alert.__table__.insert().values(
                timestamp=t, strategy="Scalping", tier=3, confidence=60, reasons="", status="sent",
                delivery_attempts=0)).inserted_primary_key[0]
            for webhook in ("discord", "json"):
                conn.execute(AlertDelivery.__table__.insert().values(
                    alert_id=alert_id, webhook=webhook, status="delivered", attempts=1))
            conn.execute(LiquidationCoverage.__table__.insert().values(
                exchange="binance", source="ws", start_ms=t * 1000 - 60_000, end_ms=t * 1000 - 1, detail=""))
        conn.execute(text("INSERT INTO instruments (exchange, symbol, coin, multiplier, quote) "
                          "VALUES ('binance', 'BTCUSDT', 'BTC', 1.0, 'USDT')"))
        for days_ago in (100, 91, 90, 30, 0):
            conn.execute(text("INSERT INTO instrument_rows (timestamp, instrument_id, price, backfill) "
                              "VALUES (:t, 1, 1.0, 0)"), {"t": now_bucket - days_ago * 86400})
            conn.execute(text("INSERT INTO options_snapshots (timestamp, currency, dvol, source) "
                              "VALUES (:t, 'BTC', 50.0, 'live')"), {"t": now_bucket - days_ago * 86400})
            conn.execute(text("INSERT INTO capture_gaps (exchange, symbol, channel, from_ms, to_ms, reason) "
                              "VALUES ('binance', 'BTCUSDT', 'trades', :t, :t, 'disconnect')"),
                         {"t": (now_bucket - days_ago * 86400) * 1000})
        for days_ago in (91, 90):
            t = now_bucket - days_ago * 86400
            notice = conn.execute(text("INSERT INTO report_notices (report_hour, hours, made_at, title, sections) "
                                       "VALUES (:t, 24, :t, 'r', '[]') RETURNING id"), {"t": t}).scalar_one()
            for webhook in ("discord", "slack", "json"):
                conn.execute(text("INSERT INTO report_deliveries (notice_id, webhook, status, attempts) "
                                  "VALUES (:n, :w, 'delivered', 1)"), {"n": notice, "w": webhook})


def test_cleanup_boundaries(database):
    now = utc(2026, 11, 22, 12)
    _history(database, ts(2026, 11, 22, 12))
    dry = cleanup(database, now, 90, dry_run=True)
    assert counts(database)["market_snapshots"] == 5  # a dry run deletes nothing
    # Strictly older than 90 days: the 100- and 91-day snapshots; exactly 90 days is kept.
    assert dry.removed == {"market_snapshots": 2, "exchange_snapshots": 4, "sentiment_factors": 2,
                           "liquidation_snapshots": 0, "liquidations": 2, "liquidation_coverage": 2, "alerts": 1,
                           "alert_deliveries": 2,
                           "backfill_downloads": 0, "instruments": 0, "instrument_rows": 2, "options_snapshots": 2,
                           "report_notices": 1, "report_deliveries": 3, "capture_gaps": 2}
    real = cleanup(database, now, 90)
    assert real.removed == dry.removed and real.total == 25
    assert counts(database) == {"market_snapshots": 3, "exchange_snapshots": 6, "sentiment_factors": 3,
                                "liquidations": 1, "liquidation_coverage": 1, "alerts": 2,
                                "alert_deliveries": 4, "backfill_downloads": 0, "instruments": 1,
                                "instrument_rows": 3, "options_snapshots": 3, "report_notices": 1,
                                "report_deliveries": 3, "capture_gaps": 3}


def test_cleanup_never_deletes_the_newest_snapshot(database):
    old = ts(2026, 1, 1)
    add_snapshot(database, old - HOUR)
    add_snapshot(database, old)
    result = cleanup(database, utc(2026, 11, 22), 1)
    assert result.removed["market_snapshots"] == 1
    assert result.kept_newest == old
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT timestamp FROM market_snapshots")).scalars().all() == [old]
        assert conn.execute(text("SELECT COUNT(*) FROM exchange_snapshots")).scalar_one() == 2


def test_cleanup_is_one_transaction(database, sqlite_only):
    _history(database, ts(2026, 11, 22, 12))
    before = counts(database)
    with database.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER no_alert_delete BEFORE DELETE ON alerts BEGIN SELECT RAISE(ABORT, 'alerts are locked'); END"
        )
    with pytest.raises(DatabaseError, match="^cleanup failed: alerts are locked$"):
        cleanup(database, utc(2026, 11, 22, 12), 90)
    assert counts(database) == before  # the snapshot deletes before it were rolled back


def test_cleanup_vacuum_reports_sizes(database):
    _history(database, ts(2026, 11, 22, 12))
    result = cleanup(database, utc(2026, 11, 22, 12), 1, vacuum=True)
    assert result.size_before and result.size_after
    if database.engine.dialect.name == "sqlite":  # PostgreSQL's plain VACUUM keeps the files' size
        assert result.size_after <= result.size_before


def test_cleanup_rejects_days_below_one(database):
    with pytest.raises(ValueError):
        cleanup(database, utc(2026, 11, 22), 0)
