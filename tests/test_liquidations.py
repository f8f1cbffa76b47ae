"""Liquidation windows: coverage, totals, cascade risk per venue and market-wide; the
`liquidations` report; `snapshot` filling `liquidation_snapshots`."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

import pytest
from pytest import approx
from sqlalchemy import select

from perps_tracker.cli import cli
from perps_tracker.model.liquidation import (
    LiquidationEvent,
    VenueTotals,
    summarize_window,
)
from perps_tracker.storage.liquidations import (
    covered_fraction,
    insert_events,
    open_coverage,
)
from perps_tracker.storage.models import LiquidationSnapshot
from tests.fakes import venue_module

NOW = datetime(2026, 11, 22, 11, 0, 42, tzinfo=timezone.utc)
NOW_MS = int(NOW.timestamp() * 1000)
HOUR_MS = 3_600_000


# -- pure ---------------------------------------------------------------------------------


def test_covered_fraction_merges_overlaps_and_clips_to_the_window():
    assert covered_fraction([], 0, 100) == 0
    assert covered_fraction([(0, 100)], 0, 100) == 1
    assert covered_fraction([(-50, 20), (10, 30), (25, 40), (90, 500)], 0, 100) == approx(0.5)
    assert covered_fraction([(100, 200), (-10, 0)], 0, 100) == 0  # touching the edges covers nothing


def test_summarize_window_lines_and_market():
    totals = {"binance": VenueTotals("binance", 10, 6e6, 2e6, 3e6), "okx": VenueTotals("okx", 2, 0.0, 5e5, 4e5)}
    coverage = {"binance": 1.0, "okx": 0.5, "gateio": 0.0}
    volumes = {"binance": 24e9, "okx": 4.8e9, "gateio": 1e9}
    lines, market = summarize_window(["binance", "bybit", "okx", "gateio"], totals, coverage, volumes, 1.0,
                                     sampled=["binance", "okx"])
    binance, bybit, okx, gateio = lines
    # binance: L = $8M, V = 24e9 / 24 = $1B: L/V = 0.008 → F1 = 0.4 × 0.16 = 0.064;
    # share 0.75 → F2 = 0.3 × 0.625 = 0.1875; F3 = 0.3 × log10(8) / 3.
    assert (binance.count, binance.total_usd, binance.long_liq_share, binance.volume_usd) == (10, 8e6, 0.75, 1e9)
    f3 = 0.3 * math.log10(8) / 3
    assert binance.cascade_risk_score == approx(0.064 + 0.1875 + f3)
    assert binance.level == "MODERATE" and binance.sampled  # 0.342 > 0.3
    # okx was read half of the hour: V = 4.8e9 / 24 × 0.5 = $100M; L = $0.5M, all shorts.
    assert okx.volume_usd == approx(1e8) and okx.long_liq_share == 0.0
    assert okx.cascade_risk_score == approx(0.4 * (5e5 / 1e8) / 0.05 + 0.3)
    # Venues nobody read are unknown, not zero.
    for line in (bybit, gateio):
        assert not line.observed and line.count is None and line.total_usd is None and line.cascade_risk_score is None
    # The market line sums the observed venues only, against their volume.
    assert (market.exchange, market.count, market.total_usd, market.largest_usd) == ("all", 12, 8.5e6, 3e6)
    assert market.volume_usd == approx(1.1e9) and market.sampled
    assert market.cascade_risk_score == approx(
        0.4 * (8.5e6 / 1.1e9) / 0.05 + 0.3 * abs(6e6 / 8.5e6 - 0.5) / 0.4 + 0.3 * math.log10(8.5) / 3)


def test_summarize_window_without_volume_or_coverage():
    totals = {"bybit": VenueTotals("bybit", 1, 2e6, 0.0, 2e6)}
    lines, market = summarize_window(["bybit", "okx"], totals, {"bybit": 1.0, "okx": 1.0}, {"okx": 1e9}, 1.0)
    assert lines[0].cascade_risk_score is None and lines[0].level is None  # bybit: no volume known
    assert lines[1].count == 0 and lines[1].cascade_risk_score == 0.0 and lines[1].level == "LOW"  # read, quiet
    assert market.volume_usd is None and market.cascade_risk_score is None
    assert summarize_window(["okx"], {}, {}, {}, 1.0) == ([summarize_window(["okx"], {}, {}, {}, 1.0)[0][0]], None)


def test_no_cascade_risk_below_half_of_the_window_read():
    # Issue 12 item 4: 20 s of a stream gave binance 0.69 HIGH on 1 % coverage.
    totals = {"binance": VenueTotals("binance", 40, 9e7, 1e7, 5e6), "okx": VenueTotals("okx", 1, 1e5, 0.0, 1e5)}
    volumes = {"binance": 24e9, "okx": 4.8e9}
    lines, market = summarize_window(["binance", "okx"], totals, {"binance": 20 / 3600, "okx": 0.5}, volumes, 1.0)
    binance, okx = lines
    assert binance.insufficient and (binance.cascade_risk_score, binance.level) == (None, None)
    assert (binance.count, binance.total_usd, binance.long_liq_share) == (40, 1e8, 0.9)  # sums still shown
    assert not okx.insufficient and okx.level is not None  # exactly half: enough
    # The market's coverage is the venues' coverage weighted by volume: (24 × 20/3600 + 4.8 × 0.5) / 28.8.
    assert market.coverage == approx((24 * 20 / 3600 + 4.8 * 0.5) / 28.8)
    assert market.insufficient and market.level is None and market.total_usd == approx(1.001e8)
    _, well_read = summarize_window(["binance", "okx"], totals, {"binance": 1.0, "okx": 0.1}, volumes, 1.0)
    assert well_read.coverage == approx((24 + 0.48) / 28.8) and well_read.level is not None


# -- stored windows and the report --------------------------------------------------------------


def event(exchange: str, side: str, usd: float, t_ms: int, symbol: str = "BTCUSDT") -> LiquidationEvent:
    return LiquidationEvent(exchange, symbol, side, usd, 1.0, usd, t_ms, "ws")


def store(db, events, spans) -> None:
    with db.engine.begin() as conn:
        insert_events(conn, events)
        for exchange, start, end in spans:
            open_coverage(conn, exchange, "ws", start, end, "all symbols")


@pytest.fixture
def report_env(monkeypatch, database):
    monkeypatch.setenv("PERPS_TRACKER_DB", database.url)
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)


def liquidations(runner, *args):
    return runner.invoke(cli, ["liquidations", "--no-fetch", *args], catch_exceptions=False)


def test_report_totals_window_edges_and_json_shape(runner, report_env, database):
    start = NOW_MS - HOUR_MS
    store(database, [
        event("binance", "long", 3e6, start),  # on the window's first millisecond: in
        event("binance", "long", 1e6, NOW_MS - 1),
        event("binance", "short", 1e6, NOW_MS - 2),
        event("binance", "short", 9e6, start - 1),  # a millisecond early: out
        event("binance", "long", 9e6, NOW_MS),  # the window ends at now, exclusive
        event("bybit", "short", 2e5, NOW_MS - 10),
    ], [("binance", start - HOUR_MS, NOW_MS), ("bybit", NOW_MS - HOUR_MS // 4, NOW_MS)])
    result = liquidations(runner, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["window_hours"], data["from"], data["to"]) == (1.0, "2026-11-22T10:00:42Z", "2026-11-22T11:00:42Z")
    venues = {v["exchange"]: v for v in data["venues"]}
    assert list(venues) == ["binance", "bybit", "okx", "gateio"]
    b = venues["binance"]
    assert (b["count"], b["long_usd"], b["short_usd"], b["total_usd"], b["largest_usd"]) == (3, 4e6, 1e6, 5e6, 3e6)
    assert b["long_liq_share"] == approx(0.8) and b["sampled"] is True and b["coverage"] == 1.0
    assert b["cascade_risk_score"] is None and b["level"] is None  # no snapshot: no volume to compare with
    assert venues["bybit"]["coverage"] == approx(0.25) and venues["bybit"]["count"] == 1
    assert venues["okx"]["count"] is None and venues["okx"]["coverage"] == 0  # not read: unknown
    m = data["market"]
    assert "exchange" not in m and (m["count"], m["total_usd"], m["long_usd"]) == (4, 5.2e6, 4e6)
    assert set(m) >= {"count", "long_usd", "short_usd", "total_usd", "long_liq_share", "largest_usd",
                      "cascade_risk_score", "level", "sampled"}


def test_report_cascade_against_the_latest_snapshot_volume(runner, report_env, database):
    from tests.conftest import add_snapshot

    add_snapshot(database, int(NOW.timestamp()) // 3600 * 3600)
    with database.engine.connect() as conn:
        from perps_tracker.storage.liquidations import latest_volumes
        _, volumes = latest_volumes(conn, int(NOW.timestamp()))
    V = volumes["binance"] / 24
    store(database, [event("binance", "long", 9e6, NOW_MS - 5), event("binance", "short", 1e6, NOW_MS - 6)],
          [("binance", NOW_MS - 2 * HOUR_MS, NOW_MS)])
    data = json.loads(liquidations(runner, "--json", "--exchange", "binance").stdout)
    b = data["venues"][0]
    expected = 0.4 * min(1, (1e7 / V) / 0.05) + 0.3 * min(1, 0.4 / 0.4) + 0.3 * math.log10(10) / 3
    assert b["volume_usd"] == approx(V) and b["cascade_risk_score"] == approx(expected)
    assert data["market"]["cascade_risk_score"] == approx(expected)
    assert [v["exchange"] for v in data["venues"]] == ["binance"]

    table = liquidations(runner, "--exchange", "binance").stdout
    assert "binance*" in table and "$10.0M" in table and "90%" in table
    assert "Sampled: binance sends at most one liquidation per symbol per second" in table


def test_report_table_says_when_nothing_was_read(runner, report_env):
    result = liquidations(runner)
    assert result.exit_code == 0
    assert "not read" in result.stdout and "liquidations watch" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--hours", "0"], "0<x<=168"), (["--hours", "abc"], "not a valid float"),
    (["--exchange", "dydx"], "'dydx' is not one of"), (["--symbols", "0"], "1<=x<=500"),
])
def test_report_bad_options_are_usage_errors(runner, report_env, args, message):
    result = runner.invoke(cli, ["liquidations", *args])
    assert result.exit_code == 2 and message in result.stderr


# -- snapshot ----------------------------------------------------------------------------------


@pytest.fixture
def snapshot_env(fake, monkeypatch, database):
    fake.install()
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PERPS_TRACKER_DB", database.url)
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)


def test_snapshot_fills_liquidation_snapshots_for_its_hour(runner, snapshot_env, database):
    store(database, [event("binance", "long", 2e6, NOW_MS - 1000), event("binance", "short", 5e5, NOW_MS - 2000),
                     event("binance", "long", 7e6, NOW_MS - HOUR_MS - 1),  # before the hour: not counted
                     event("okx", "short", 1e6, NOW_MS - 3000, "BTC-USDT-SWAP")],
          [("binance", NOW_MS - 3 * HOUR_MS, NOW_MS), ("okx", NOW_MS - HOUR_MS // 2, NOW_MS)])
    result = runner.invoke(cli, ["snapshot", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    volume = {e["exchange"]: e["volume_24h_usd"] for e in data["exchanges"]}
    assert volume["binance"] == venue_module("binance").EXPECTED["volume_24h_usd"]

    with database.engine.connect() as conn:
        got = {r.exchange: r for r in conn.execute(select(LiquidationSnapshot.__table__)).all()}
    assert set(got) == {"binance", "okx", "all"}  # bybit and gateio were not read: no rows
    b, o, m = got["binance"], got["okx"], got["all"]
    assert (b.count, b.long_usd, b.short_usd, b.total_usd, b.largest_usd) == (2, 2e6, 5e5, 2.5e6, 2e6)
    assert b.window_hours == 1.0 and b.coverage == 1.0 and b.sampled
    assert b.volume_usd == approx(volume["binance"] / 24)
    from perps_tracker.model.scoring import cascade_risk
    assert b.cascade_risk_score == approx(cascade_risk(2.5e6, 2e6, volume["binance"] / 24))
    assert o.coverage == approx(0.5) and o.volume_usd == approx(volume["okx"] / 24 * 0.5)
    assert (m.count, m.total_usd, m.volume_usd) == (3, 3.5e6, approx(b.volume_usd + o.volume_usd))
    assert m.cascade_risk_score == approx(cascade_risk(3.5e6, 2e6, b.volume_usd + o.volume_usd))
    assert data["liquidations"]["market"]["total_usd"] == 3.5e6

    table = runner.invoke(cli, ["snapshot"], catch_exceptions=False).stdout
    assert "Liquidations, last hour (binance, okx; sampled): $3.50M in 3 events" in table


def test_snapshot_without_liquidation_coverage_stores_no_liquidation_rows(runner, snapshot_env, database):
    result = runner.invoke(cli, ["snapshot", "--json"], catch_exceptions=False)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["liquidations"] == {"window_hours": 1.0, "venues": [], "market": None}
    with database.engine.connect() as conn:
        assert conn.execute(select(LiquidationSnapshot.__table__)).all() == []


def test_report_after_a_short_watch_shows_insufficient_coverage(runner, report_env, database):
    from tests.conftest import add_snapshot

    add_snapshot(database, int(NOW.timestamp()) // 3600 * 3600)
    store(database, [event("binance", "long", 3e7, NOW_MS - 5_000), event("binance", "long", 2e7, NOW_MS - 6_000)],
          [("binance", NOW_MS - 20_000, NOW_MS)])
    data = json.loads(liquidations(runner, "--json").stdout)
    b = next(v for v in data["venues"] if v["exchange"] == "binance")
    assert b["coverage"] == approx(20 / 3600) and b["level"] is None and b["cascade_risk_score"] is None
    assert b["total_usd"] == 5e7 and data["market"]["level"] is None
    text_out = liquidations(runner).stdout
    assert "insufficient (1%)" in text_out and "HIGH" not in text_out
    assert "binance insufficient coverage (1 %)" in " ".join(text_out.split())
