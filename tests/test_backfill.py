"""`backfill`: which hours are filled, live rows untouched, resume after an interruption.

Venue downloads are replaced by synthetic histories here (each venue's own download is tested
against its fake in tests/exchanges/test_<venue>_history.py); the end-to-end run through the
fakes is in test_backfill_cli.py.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from perps_tracker.config import load_settings
from perps_tracker.errors import ExchangeError, TrackerError
from perps_tracker.exchanges import EXCHANGES
from perps_tracker.model.history import DAY, HOUR, VenueHistory, venue_at
from perps_tracker.services.backfill import Reporter, backfill, window
from perps_tracker.services.runtime import Runtime
from perps_tracker.storage.models import (
    BackfillDownload,
    ExchangeSnapshot,
    MarketSnapshot,
)
from tests.conftest import add_snapshot, ts

NOW = datetime(2026, 11, 22, 10, 30, tzinfo=timezone.utc)
CURRENT = ts(2026, 11, 22, 10)
VENUES = ["binance", "bybit", "hyperliquid"]


def synthetic(exchange: str, start: int, end: int, scale: float = 1.0) -> VenueHistory:
    hours = range(start, end, HOUR)
    return VenueHistory(
        exchange=exchange, kind=EXCHANGES[exchange].kind, start=start, end=end,
        volume_usd={h: scale * 1e8 for h in hours}, markets={h: 3 for h in hours},
        open_interest_usd={h + HOUR: scale * 5e9 for h in hours},
        btc_symbol="BTC", btc_open={h: 80000.0 + (h - start) / HOUR for h in hours},
        btc_close={h: 80001.0 + (h - start) / HOUR for h in hours},
        btc_funding={h: 0.0001 for h in hours if h % (8 * HOUR) == 0},
        long_share={h + HOUR: 0.6 for h in hours}, symbols=3, notes=(f"{exchange} note",),
    )


@pytest.fixture
def downloads(monkeypatch):
    """Replace each venue's download with a synthetic history; records the calls."""
    calls: list[tuple[str, int, int]] = []
    failing: set[str] = set()

    def make(venue):
        def history(self, start, end, progress=None):
            calls.append((venue, start, end))
            if venue in failing:
                raise ExchangeError(venue, "HTTP 451 at /history")
            if progress:
                progress(1, 1)
            return synthetic(venue, start, end)
        return history

    for venue in VENUES:
        monkeypatch.setattr(EXCHANGES[venue], "history", make(venue))
    return calls, failing


@pytest.fixture
def settings(database):
    return load_settings(flags={"db": database.url}, env={})


def rows(db, *columns, where=None):
    with db.engine.connect() as conn:
        q = select(*columns)
        if where is not None:
            q = q.where(where)
        return conn.execute(q).all()


def test_window_ends_with_the_hour_before_the_current_one():
    assert window(NOW, 2) == (CURRENT - 2 * DAY, CURRENT - HOUR)


def test_fills_every_missing_hour_scored_like_a_snapshot(database, settings, downloads):
    result = backfill(Runtime(settings, db=database), 2, NOW, VENUES)
    assert (result.planned, result.stored, result.without_data) == (48, 48, 0)
    stored = rows(database, MarketSnapshot.timestamp, MarketSnapshot.source, MarketSnapshot.total_volume_usd,
                  MarketSnapshot.btc_price, MarketSnapshot.composite_score, MarketSnapshot.oi_change_24h_pct)
    assert [r.timestamp for r in sorted(stored)] == list(range(CURRENT - 2 * DAY, CURRENT, HOUR))
    assert {r.source for r in stored} == {"backfill"}
    assert all(r.total_volume_usd == pytest.approx(3 * 24 * 1e8) for r in stored)
    assert all(r.composite_score is not None for r in stored)
    # The open-interest change needs a stored snapshot 20-28 h before (stored oldest first).
    with_change = sorted(r.timestamp for r in stored if r.oi_change_24h_pct is not None)
    assert with_change == list(range(CURRENT - 2 * DAY + 20 * HOUR, CURRENT, HOUR))
    # One download per venue, covering the window plus the 24 h warm-up.
    calls, _ = downloads
    assert sorted(calls) == sorted((v, CURRENT - 3 * DAY, CURRENT) for v in VENUES)
    assert [o.status for o in result.venues] == ["downloaded"] * 3
    assert rows(database, BackfillDownload.id) == []  # completed: nothing kept


def test_a_rebuilt_row_matches_venue_at(database, settings, downloads):
    backfill(Runtime(settings, db=database), 1, NOW, VENUES)
    hour = CURRENT - 5 * HOUR
    expected = venue_at(synthetic("bybit", CURRENT - 2 * DAY, CURRENT), hour)
    (row,) = rows(database, ExchangeSnapshot.__table__, where=(ExchangeSnapshot.exchange == "bybit")
                  & ExchangeSnapshot.snapshot_id.in_(select(MarketSnapshot.id).where(MarketSnapshot.timestamp == hour)))
    assert (row.volume_24h_usd, row.btc_price, row.btc_funding_rate_8h, row.long_share) == (
        expected.volume_24h_usd, expected.btc_price, expected.btc_funding_rate_8h, expected.long_share)
    assert row.btc_price_change_24h_pct == pytest.approx(expected.btc_price_change_24h_pct)


def test_live_rows_are_never_touched_and_filled_hours_not_redone(database, settings, downloads):
    live = CURRENT - 3 * HOUR
    add_snapshot(database, live, composite=0.42)
    first = backfill(Runtime(settings, db=database), 1, NOW, VENUES)
    assert (first.planned, first.stored, first.existing) == (23, 23, {"live": 1})
    (row,) = rows(database, MarketSnapshot.source, MarketSnapshot.composite_score,
                  where=MarketSnapshot.timestamp == live)
    assert tuple(row) == ("live", 0.42)
    again = backfill(Runtime(settings, db=database), 1, NOW, VENUES)
    assert (again.planned, again.stored, again.existing) == (0, 0, {"live": 1, "backfill": 23})
    calls, _ = downloads
    assert len(calls) == 3  # nothing downloaded the second time


def test_a_failed_venue_is_a_failed_row_and_named(database, settings, downloads):
    _, failing = downloads
    failing.add("bybit")
    result = backfill(Runtime(settings, db=database), 1, NOW, VENUES)
    assert result.stored == 24
    assert [(o.exchange, o.status, o.error) for o in result.failed_venues] == [("bybit", "failed",
                                                                               "HTTP 451 at /history")]
    statuses = rows(database, ExchangeSnapshot.exchange, ExchangeSnapshot.status, ExchangeSnapshot.error)
    assert {(e, s) for e, s, _ in statuses} == {("binance", "ok"), ("hyperliquid", "ok"), ("bybit", "error")}
    (exchanges_ok,) = {r.exchanges_ok for r in rows(database, MarketSnapshot.exchanges_ok)}
    assert exchanges_ok == 2


def test_no_venue_readable_stores_nothing(database, settings, downloads):
    _, failing = downloads
    failing.update(VENUES)
    with pytest.raises(TrackerError, match="no venue's history could be read, nothing stored"):
        backfill(Runtime(settings, db=database), 1, NOW, VENUES)
    assert rows(database, MarketSnapshot.id) == []


def test_interrupted_run_resumes_without_downloading_again(database, settings, downloads):
    calls, _ = downloads

    class Stop(BaseException):
        pass

    def interrupt(done, total):
        if done == 5:
            raise Stop()

    with pytest.raises(Stop):
        backfill(Runtime(settings, db=database), 1, NOW, VENUES, reporter=Reporter(store_progress=interrupt))
    assert len(rows(database, MarketSnapshot.id)) == 5
    assert len(rows(database, BackfillDownload.id)) == 3  # every download kept
    result = backfill(Runtime(settings, db=database), 1, NOW, VENUES)
    assert (result.planned, result.stored, result.existing) == (19, 19, {"backfill": 5})
    assert [o.status for o in result.venues] == ["kept"] * 3
    assert len(calls) == 3  # no venue downloaded twice
    assert rows(database, BackfillDownload.id) == []


def test_days_are_bounded(database, settings):
    with pytest.raises(TrackerError, match="between 1 and 30"):
        backfill(Runtime(settings, db=database), 31, NOW, VENUES)


def test_stats_show_backfill_coverage_per_venue(database, settings, downloads):
    from perps_tracker.storage.queries import collect_stats

    _, failing = downloads
    failing.add("hyperliquid")
    backfill(Runtime(settings, db=database), 1, NOW, VENUES)
    stats = collect_stats(database, NOW, list(EXCHANGES))
    assert (stats.backfill.snapshots, stats.backfill.first, stats.backfill.last) == (24, CURRENT - DAY, CURRENT - HOUR)
    by_venue = {c.exchange: c.backfill_hours for c in stats.coverage}
    assert (by_venue["binance"], by_venue["bybit"], by_venue["hyperliquid"], by_venue["okx"]) == (24, 24, 0, 0)


def test_only_the_missing_stretch_is_downloaded(database, settings, downloads):
    calls, _ = downloads
    backfill(Runtime(settings, db=database), 1, NOW, VENUES)
    result = backfill(Runtime(settings, db=database), 2, NOW, VENUES)
    assert (result.planned, result.stored) == (24, 24)
    # The second run needs hours CURRENT − 2 d … CURRENT − 1 d − 1 h, plus the 24 h warm-up before.
    assert sorted(calls[3:]) == sorted((v, CURRENT - 3 * DAY, CURRENT - DAY) for v in VENUES)
