"""`perps-tracker snapshot` end to end against the loopback fake of all nine venues."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pytest import approx
from sqlalchemy import text

from perps_tracker.cli import cli
from perps_tracker.exchanges import EXCHANGES
from perps_tracker.storage.db import open_database
from tests.fakes import Reply, closed_port_url, venue_module

NOW = datetime(2026, 11, 22, 11, 0, 42, tzinfo=timezone.utc)
VENUES = list(EXCHANGES)


@pytest.fixture
def env(fake, monkeypatch, db_path):
    """All nine venues on the fake, a temporary database, a fixed clock, fast HTTP settings."""
    fake.install()
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PERPS_TRACKER_DB", str(db_path))
    monkeypatch.setenv("PERPS_TRACKER_BACKOFF", "0")
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "1")
    monkeypatch.setenv("PERPS_TRACKER_READ_TIMEOUT", "1")
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    return monkeypatch


def snapshot(runner, *args):
    return runner.invoke(cli, ["snapshot", *args], catch_exceptions=False)


def rows(db_path, sql):
    db = open_database(str(db_path))
    try:
        with db.engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        db.dispose()


def test_complete_snapshot(runner, env, db_path):
    result = snapshot(runner, "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["timestamp"] == "2026-11-22T11:00:00Z" and data["taken_at"] == "2026-11-22T11:00:42Z"
    assert [e["exchange"] for e in data["exchanges"]] == VENUES
    assert all(e["status"] == "ok" and e["error"] is None for e in data["exchanges"])
    for e in data["exchanges"]:
        for key, value in venue_module(e["exchange"]).EXPECTED.items():
            assert e[key] == value, (e["exchange"], key)
    market = data["market"]
    assert market["exchanges_ok"] == 9 and market["exchanges_failed"] == 0
    assert market["total_volume_usd"] == approx(sum(e["volume_24h_usd"] for e in data["exchanges"]))
    assert market["cex_volume_usd"] + market["dex_volume_usd"] == approx(market["total_volume_usd"])
    assert set(data["factors"]) == {"funding", "price", "long_short", "conviction", "divergence", "oi_price"}
    assert market["composite_score"] is not None and market["sentiment"] in ("BULLISH", "NEUTRAL", "BEARISH")

    stored = rows(db_path, "SELECT timestamp, exchanges_ok, total_volume_usd, composite_score, source FROM market_snapshots")
    assert stored == [(1795345200, 9, approx(market["total_volume_usd"]), approx(market["composite_score"]), "live")]
    venues = rows(db_path, "SELECT exchange, status, volume_24h_usd FROM exchange_snapshots ORDER BY id")
    assert [(v[0], v[1]) for v in venues] == [(v, "ok") for v in VENUES]
    assert rows(db_path, "SELECT COUNT(*) FROM sentiment_factors") == [(1,)]


def test_table_output(runner, env):
    result = runner.invoke(cli, ["snapshot"], terminal_width=160)
    assert result.exit_code == 0
    for venue in VENUES:
        assert venue in result.stdout
    assert "total 9/9" in result.stdout and "Sentiment:" in result.stdout


def test_twice_in_one_hour_replaces(runner, env, db_path):
    assert snapshot(runner, "--quiet").exit_code == 0
    later = NOW.replace(minute=40)
    env.setattr("perps_tracker.cli.utc_now", lambda: later)
    assert snapshot(runner, "--quiet").exit_code == 0
    assert rows(db_path, "SELECT COUNT(*), MAX(taken_at) FROM market_snapshots") == [(1, int(later.timestamp()))]
    assert rows(db_path, "SELECT COUNT(*) FROM exchange_snapshots") == [(9,)]
    assert rows(db_path, "SELECT COUNT(*) FROM sentiment_factors") == [(1,)]


def test_quiet_is_silent_on_success(runner, env):
    result = snapshot(runner, "--quiet")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""


def _hyperliquid_with(fake, ctx_update: dict) -> Reply:
    meta = [{"name": "BTC", "szDecimals": 5, "maxLeverage": 40}]
    ctx = {"dayNtlVlm": "1000.0", "funding": "0.00001", "openInterest": "1.0", "prevDayPx": "1.0",
           "markPx": "1.0", "midPx": "1.0", "oraclePx": "1.0", "premium": "0.0"}
    ctx.update(ctx_update)
    return Reply([{"universe": meta}, [{k: v for k, v in ctx.items() if v is not ...}]])


# Each failure class of the issue, each on a different venue (they rotate through the registry).
FAILURES = {
    "timeout": lambda fake: Reply({}, delay=2.5),
    "refused": None,  # the venue's URL points at a closed port
    "429-always": lambda fake: Reply({"msg": "Too many requests"}, status=429, headers={"Retry-After": "0"}),
    "418": lambda fake: Reply({"code": -1003, "msg": "Way too many requests; IP banned until 1"}, status=418),
    "451": lambda fake: Reply({"code": 0, "msg": "Service unavailable from a restricted location"}, status=451),
    "500": lambda fake: Reply({"msg": "internal"}, status=500),
    "html": lambda fake: Reply("<html><body>502 Bad Gateway</body></html>", content_type="text/html"),
    "truncated": lambda fake: Reply('[{"symbol": "BTCUSDT", "quoteVol'),
    "empty-list": lambda fake: Reply([]),
}


@pytest.mark.parametrize("mode", list(FAILURES) + ["error-in-200", "missing-fields", "nan-strings"])
def test_one_broken_venue_still_stores_the_other_eight(runner, env, fake, db_path, mode):
    index = (list(FAILURES) + ["error-in-200", "missing-fields", "nan-strings"]).index(mode)
    broken = VENUES[index % len(VENUES)]
    if mode == "refused":
        env.setenv(f"PERPS_TRACKER_{broken.upper()}_URL", closed_port_url())
    elif mode == "error-in-200":
        broken = next(v for v in VENUES[index % len(VENUES):] + VENUES if venue_module(v).ERROR_IN_200)
        fake.override(broken, Reply(venue_module(broken).ERROR_IN_200[0]))
    elif mode == "missing-fields":
        broken = "hyperliquid"
        fake.override(broken, _hyperliquid_with(fake, {"dayNtlVlm": ..., "markPx": ...}))
    elif mode == "nan-strings":
        broken = "hyperliquid"
        fake.override(broken, _hyperliquid_with(fake, {"dayNtlVlm": "NaN", "markPx": "NaN"}))
    else:
        fake.override(broken, FAILURES[mode](fake))

    result = snapshot(runner, "--quiet")
    assert result.exit_code == 3, result.stderr
    assert result.stdout == ""
    warning = result.stderr.strip()
    assert warning.startswith(f"Warning: {broken} failed: ") and "\n" not in warning

    assert rows(db_path, "SELECT exchanges_ok, exchanges_failed FROM market_snapshots") == [(8, 1)]
    stored = dict(rows(db_path, "SELECT exchange, status FROM exchange_snapshots"))
    assert stored == {v: ("error" if v == broken else "ok") for v in VENUES}
    (error,) = rows(db_path, f"SELECT error FROM exchange_snapshots WHERE exchange = '{broken}'")[0]
    assert error and error == warning.split(" failed: ", 1)[1]
    # The failed venue leaves its numbers NULL, never zero.
    assert rows(db_path, f"SELECT volume_24h_usd, markets FROM exchange_snapshots WHERE exchange = '{broken}'") == [
        (None, None)]


def test_hanging_venue_is_cut_off_by_its_time_limit(runner, env, fake, db_path):
    env.setenv("PERPS_TRACKER_VENUE_TIMEOUT", "2")  # room for the other venues on a loaded machine
    env.setenv("PERPS_TRACKER_READ_TIMEOUT", "10")
    fake.override("okx", Reply({}, delay=5))
    result = snapshot(runner, "--json")
    assert result.exit_code == 3
    okx = next(e for e in json.loads(result.stdout)["exchanges"] if e["exchange"] == "okx")
    assert okx["status"] == "error" and okx["latency_ms"] < 4000  # cut off long before the 5 s answer
    assert rows(db_path, "SELECT exchanges_ok FROM market_snapshots") == [(8,)]


def test_no_venue_answered_stores_nothing(runner, env, fake, db_path):
    # Issue 12 item 6: one line per venue under a short header, and no empty database left behind.
    for venue in VENUES:
        fake.override(venue, Reply({"msg": "down"}, status=503))
    result = runner.invoke(cli, ["snapshot"])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: no venue answered, nothing stored:"
    assert [line.split(":")[0] for line in lines[1:]] == [f"  {v}" for v in VENUES]
    assert lines[1].startswith("  binance: HTTP 503 at /")
    assert not db_path.exists()


def test_no_venue_answered_keeps_an_existing_database_as_it_was(runner, env, fake, db_path):
    assert snapshot(runner, "--quiet").exit_code == 0
    before = rows(db_path, "SELECT exchange, status, volume_24h_usd, taken_at FROM exchange_snapshots ORDER BY id")
    for venue in VENUES:
        fake.override(venue, Reply({"msg": "down"}, status=503))
    env.setattr("perps_tracker.cli.utc_now", lambda: NOW.replace(minute=50))
    assert runner.invoke(cli, ["snapshot"]).exit_code == 1
    assert rows(db_path, "SELECT exchange, status, volume_24h_usd, taken_at FROM exchange_snapshots ORDER BY id") == before


def test_exchange_option_restricts(runner, env, fake, db_path):
    result = snapshot(runner, "--exchange", "okx", "--exchange", "dydx", "--json")
    assert result.exit_code == 0
    assert [e["exchange"] for e in json.loads(result.stdout)["exchanges"]] == ["okx", "dydx"]
    assert {r.venue for r in fake.requests} == {"okx", "dydx"}
    assert rows(db_path, "SELECT exchanges_ok FROM market_snapshots") == [(2,)]


def test_bad_exchange_is_usage_error(runner, env):
    result = runner.invoke(cli, ["snapshot", "--exchange", "kraken"])
    assert result.exit_code == 2 and "Invalid value for '--exchange': 'kraken' is not one of" in result.stderr


def test_oi_change_uses_the_snapshot_24h_earlier_over_common_venues(runner, env, db_path):
    day_before = NOW.replace(day=21, hour=10)  # 25 h earlier: inside 20–28 h
    env.setattr("perps_tracker.cli.utc_now", lambda: day_before)
    assert snapshot(runner, "--quiet", "--exchange", "binance", "--exchange", "okx").exit_code == 0
    env.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    data = json.loads(snapshot(runner, "--json").output)
    # Same fixtures both times, summed over binance and okx only: no change.
    assert data["market"]["oi_change_24h_pct"] == approx(0.0)
    assert data["factors"]["oi_price"] is not None


def test_no_oi_change_without_a_snapshot_20_to_28h_earlier(runner, env):
    env.setattr("perps_tracker.cli.utc_now", lambda: NOW.replace(day=21, hour=5))  # 30 h earlier
    snapshot(runner, "--quiet")
    env.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    assert json.loads(snapshot(runner, "--json").output)["market"]["oi_change_24h_pct"] is None


def test_bad_database_path_stores_nothing_and_fetches_nothing(runner, env, fake, tmp_path):
    result = runner.invoke(cli, ["snapshot", "--db", str(tmp_path)])
    assert result.exit_code == 1 and result.stderr == f"Error: database path {tmp_path} is a directory\n"
    assert fake.requests == []


# -- a second run in the same hour merges per venue (issue 12 item 1) --------------------------

LATER = NOW.replace(minute=40)
VENUE_SQL = "SELECT exchange, status, volume_24h_usd, btc_funding_rate_8h, taken_at FROM exchange_snapshots ORDER BY exchange"


def market_row(db_path):
    return rows(db_path, "SELECT exchanges_ok, exchanges_failed, total_volume_usd, composite_score, taken_at "
                         "FROM market_snapshots")


def test_restricted_rerun_keeps_the_other_venues(runner, env, db_path):
    assert snapshot(runner, "--quiet").exit_code == 0
    first = market_row(db_path)
    env.setattr("perps_tracker.cli.utc_now", lambda: LATER)
    result = snapshot(runner, "--exchange", "dydx", "--json")
    assert result.exit_code == 0, result.stderr
    ok, failed, volume, composite, taken_at = market_row(db_path)[0]
    assert (ok, failed) == (9, 0) and volume == approx(first[0][2]) and composite == approx(first[0][3])
    assert taken_at == int(LATER.timestamp())
    runs = {exchange: t for exchange, *_, t in rows(db_path, VENUE_SQL)}
    assert runs == {v: int((LATER if v == "dydx" else NOW).timestamp()) for v in VENUES}
    data = json.loads(result.stdout)
    assert [e["exchange"] for e in data["exchanges"] if not e["earlier_run"]] == ["dydx"]
    assert {e["taken_at"] for e in data["exchanges"] if e["earlier_run"]} == {"2026-11-22T11:00:42Z"}
    assert data["market"]["exchanges_ok"] == 9
    stats = json.loads(runner.invoke(cli, ["stats", "--json"]).stdout)["latest"]
    assert stats["taken_at"] == "2026-11-22T11:40:42Z"
    assert {e["exchange"]: e["taken_at"][11:16] for e in stats["exchanges"]} == {
        v: "11:40" if v == "dydx" else "11:00" for v in VENUES}
    text_out = " ".join(runner.invoke(cli, ["stats"], terminal_width=200).stdout.split())  # wrapped at 80
    assert "merged from 2 runs: 11:00 UTC binance, bybit, okx, bitget, gateio, hyperliquid, asterdex, deribit; 11:40 UTC dydx" \
        in text_out


def test_rerun_with_a_venue_down_keeps_its_earlier_row(runner, env, fake, db_path):
    assert snapshot(runner, "--quiet").exit_code == 0
    before = dict((r[0], r[1:]) for r in rows(db_path, VENUE_SQL))
    first = market_row(db_path)[0]
    fake.override("binance", Reply({"msg": "down"}, status=503))
    env.setattr("perps_tracker.cli.utc_now", lambda: LATER)
    result = snapshot(runner, "--quiet")
    assert result.exit_code == 3  # this run failed a venue ...
    assert result.stderr.startswith("Warning: binance failed: HTTP 503") 
    assert result.stderr.rstrip().endswith("; its row of 11:00 UTC is kept")
    after = dict((r[0], r[1:]) for r in rows(db_path, VENUE_SQL))
    assert after["binance"] == before["binance"]  # ... but the stored hour did not get worse
    assert market_row(db_path)[0][:4] == approx(first[:4])


def test_rerun_better_than_the_first_replaces_the_failed_row(runner, env, fake, db_path):
    fake.override("okx", Reply({"msg": "down"}, status=503))
    assert snapshot(runner, "--quiet").exit_code == 3
    assert market_row(db_path)[0][:2] == (8, 1)
    fake.override("okx", None)
    env.setattr("perps_tracker.cli.utc_now", lambda: LATER)
    assert snapshot(runner, "--quiet").exit_code == 0
    assert market_row(db_path)[0][:2] == (9, 0)
    assert dict((r[0], r[1]) for r in rows(db_path, VENUE_SQL))["okx"] == "ok"


def test_merged_hour_scores_like_one_run_over_the_same_venues(runner, env, db_path, tmp_path):
    assert snapshot(runner, "--quiet", "--exchange", "okx", "--exchange", "dydx").exit_code == 0
    env.setattr("perps_tracker.cli.utc_now", lambda: LATER)
    assert snapshot(runner, "--quiet", "--exchange", "binance").exit_code == 0
    merged = rows(db_path, "SELECT total_volume_usd, funding_rate_8h, funding_divergence, oi_vol_ratio, "
                           "composite_score FROM market_snapshots")
    once = tmp_path / "once.db"
    env.setenv("PERPS_TRACKER_DB", str(once))
    args = ("--exchange", "okx", "--exchange", "dydx", "--exchange", "binance")
    assert snapshot(runner, "--quiet", *args).exit_code == 0
    assert merged == [approx(r) for r in rows(once, "SELECT total_volume_usd, funding_rate_8h, funding_divergence, "
                                                    "oi_vol_ratio, composite_score FROM market_snapshots")]
    assert rows(db_path, "SELECT COUNT(*) FROM exchange_snapshots") == [(3,)]


def test_two_runs_at_once_in_one_hour_both_land(env, database):
    import threading

    from perps_tracker.config import load_settings
    from perps_tracker.services.runtime import Runtime
    from perps_tracker.services.snapshot import take_snapshot

    env.setenv("PERPS_TRACKER_DB", database.url)
    settings = load_settings()
    errors = []

    def run(venues):
        try:
            with Runtime(settings) as rt:
                take_snapshot(rt, venues, NOW)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(vs,)) for vs in (["binance", "okx"], ["bybit", "dydx"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with database.engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT exchange FROM exchange_snapshots")).scalars()) == [
            "binance", "bybit", "dydx", "okx"]
        assert conn.execute(text("SELECT exchanges_ok FROM market_snapshots")).all() == [(4,)]


# -- the first run on a machine without network (issue 12 item 6) ------------------------------


def test_offline_first_run_is_quick_clear_and_leaves_nothing_behind(runner, isolated, monkeypatch):
    import socket
    import time

    lookups = []

    def no_dns(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    monkeypatch.setenv("PERPS_TRACKER_BACKOFF", "10")  # a retry would sleep 10 s
    started = time.monotonic()
    result = runner.invoke(cli, ["snapshot"])
    assert result.exit_code == 1 and time.monotonic() - started < 5
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: no venue answered, nothing stored:"
    assert lines[1] == "  binance: cannot resolve host fapi.binance.com at /fapi/v1/exchangeInfo"
    assert len(lines) == 2 + len(VENUES) and lines[-1] == "No host name could be resolved: is this machine offline?"
    assert all(len(line) <= 80 for line in lines)
    assert {h for h in lookups} >= {"fapi.binance.com", "api.bybit.com", "indexer.dydx.trade"}
    assert list(isolated.iterdir()) == []  # no data/ directory, no empty database


def test_status_line_while_fetching_only_on_a_terminal(runner, env, monkeypatch):
    import io

    from rich.console import Console

    import perps_tracker.render.status as render

    screen = io.StringIO()
    monkeypatch.setattr(render, "error_console", Console(file=screen, force_terminal=True, width=80))
    assert snapshot(runner).exit_code == 0
    assert "Fetching 9 venues: " in screen.getvalue() and " answered, waiting for " in screen.getvalue()
    screen.seek(0), screen.truncate()
    assert snapshot(runner, "--quiet").exit_code == 0 and screen.getvalue() == ""
    monkeypatch.setattr(render, "error_console", Console(file=screen, force_terminal=False, width=80))
    result = snapshot(runner)
    assert result.exit_code == 0 and screen.getvalue() == "" and result.stderr == ""
