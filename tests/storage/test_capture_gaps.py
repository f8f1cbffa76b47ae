"""capture_gaps: recorded, read back, summed per venue and channel for stats, exported and cleaned up."""

from __future__ import annotations

import json

import pytest

from perps_tracker.cli import cli
from perps_tracker.storage.capture import CaptureGap, gap_lines, gaps, record_gap
from perps_tracker.storage.queries import collect_stats
from tests.conftest import utc

NOW = utc(2026, 12, 4, 12, 0)
NOW_MS = int(NOW.timestamp() * 1000)
H = 3_600_000


def test_gaps_round_trip_and_sum_per_venue_and_channel(database):
    record_gap(database, "binance", "BTCUSDT", "trades", NOW_MS - 30 * H, NOW_MS - 29 * H, "restart")
    record_gap(database, "binance", "*", "trades", NOW_MS - 25 * H, NOW_MS - 23 * H, "disconnect")  # half inside 24 h
    record_gap(database, "binance", "BTCUSDT", "trades", NOW_MS - 2 * H, NOW_MS - 2 * H + 5_000, "sequence gap")
    record_gap(database, "okx", "BTC-USDT-SWAP", "book", NOW_MS - H, NOW_MS - H + 60_000, "disconnect")
    assert gaps(database, NOW_MS - 24 * H) == [
        CaptureGap("binance", "*", "trades", NOW_MS - 25 * H, NOW_MS - 23 * H, "disconnect"),
        CaptureGap("binance", "BTCUSDT", "trades", NOW_MS - 2 * H, NOW_MS - 2 * H + 5_000, "sequence gap"),
        CaptureGap("okx", "BTC-USDT-SWAP", "book", NOW_MS - H, NOW_MS - H + 60_000, "disconnect"),
    ]
    assert len(gaps(database)) == 4
    with database.reading() as r:
        lines = gap_lines(r, NOW_MS)
    assert [(g.exchange, g.channel, g.count_24h, g.ms_24h, g.count, g.ms, g.first_ms) for g in lines] == [
        ("binance", "trades", 2, H + 5_000, 3, 3 * H + 5_000, NOW_MS - 30 * H),
        ("okx", "book", 1, 60_000, 1, 60_000, NOW_MS - H),
    ]
    stats = collect_stats(database, NOW)
    assert stats.capture_gaps == lines and stats.rows["capture_gaps"] == 4


def test_bad_gaps_are_refused(database):
    with pytest.raises(ValueError, match="channel"):
        record_gap(database, "binance", "BTCUSDT", "candles", 1, 2, "x")
    with pytest.raises(ValueError, match="before it starts"):
        record_gap(database, "binance", "BTCUSDT", "trades", 2, 1, "x")
    assert gaps(database) == []


def test_stats_shows_capture_gaps(runner, database, monkeypatch):
    import perps_tracker.cli as cli_module

    monkeypatch.setattr(cli_module, "utc_now", lambda: NOW)
    record_gap(database, "bybit", "*", "bbo", NOW_MS - 3 * H, NOW_MS - 3 * H + 90_000, "disconnect")
    out = runner.invoke(cli, ["stats", "--db", database.url, "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["capture"]["gaps"] == [
        {"exchange": "bybit", "channel": "bbo", "gaps_24h": 1, "missing_seconds_24h": 90.0, "gaps": 1,
         "missing_seconds": 90.0, "first_gap": "2026-12-04T09:00:00Z"}]
    out = runner.invoke(cli, ["stats", "--db", database.url], env={"COLUMNS": "120"})
    assert "Capture gaps" in out.stdout and "1 (90 s)" in out.stdout


def test_capture_gaps_export_as_csv(runner, database, monkeypatch):
    import perps_tracker.cli as cli_module

    monkeypatch.setattr(cli_module, "utc_now", lambda: NOW)
    record_gap(database, "bybit", "*", "bbo", NOW_MS - 3 * H, NOW_MS - 3 * H + 90_000, "disconnect")
    out = runner.invoke(cli, ["export", "capture_gaps", "--db", database.url, "--since", "1d"])
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == ["id,exchange,symbol,channel,from_ms,to_ms,reason",
                                       f"1,bybit,*,bbo,{NOW_MS - 3 * H},{NOW_MS - 3 * H + 90_000},disconnect"]
