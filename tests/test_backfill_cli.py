"""`perps-tracker backfill` end to end against the loopback fakes of all nine venues' history
endpoints (tests/fakes/history.py is the synthetic truth), on a fresh database."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from pytest import approx
from sqlalchemy import text

import perps_tracker.services.backfill
from perps_tracker.cli import cli
from perps_tracker.exchanges import EXCHANGES
from perps_tracker.model.history import DAY, HOUR
from tests.fakes import Reply, history

NOW = datetime(2026, 11, 22, 10, 30, tzinfo=timezone.utc)
CURRENT = int(NOW.timestamp()) // HOUR * HOUR
BINANCE = {"BTCUSDT": "BTC", "ETHUSDT": "ETH", "BTCUSDC": "BTC", "1000PEPEUSDT": "1000PEPE", "DOGEUSDT": "DOGE",
           "SOLUSDT": "SOL", "1000000MOGUSDT": "1000000MOG", "1MBABYDOGEUSDT": "1MBABYDOGE", "1INCHUSDT": "1INCH"}


@pytest.fixture
def env(venues_env, monkeypatch):
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    return venues_env


def query(db, sql, **params):
    with db.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def run(runner, *args):
    return runner.invoke(cli, ["backfill", *args], catch_exceptions=False)


def test_fresh_database_gets_hourly_snapshots_with_the_venues_history(runner, env, fake):
    result = run(runner, "--days", "2", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert (doc["planned_hours"], doc["stored_hours"], doc["hours_without_data"]) == (48, 48, 0)
    assert [v["exchange"] for v in doc["venues"]] == list(EXCHANGES)
    assert {v["status"] for v in doc["venues"]} == {"downloaded"}
    notes = {v["exchange"]: " ".join(v["notes"]).replace("-", " ") for v in doc["venues"]}
    assert all("open interest" in notes[v] for v in ("hyperliquid", "asterdex", "bitget"))

    hours = [t for (t,) in query(env, "SELECT timestamp FROM market_snapshots WHERE source = 'backfill' "
                                      "ORDER BY timestamp")]
    assert hours == list(range(CURRENT - 2 * DAY, CURRENT, HOUR))
    # Binance's row of one hour against the synthetic history, by hand: 24 h of candles summed over
    # its nine included markets, the BTC close of the hour before, and the change over 24 h.
    h = CURRENT - 7 * HOUR
    (row,) = query(env, "SELECT e.volume_24h_usd, e.btc_price, e.btc_price_change_24h_pct, e.status "
                        "FROM exchange_snapshots e JOIN market_snapshots m ON m.id = e.snapshot_id "
                        "WHERE m.timestamp = :h AND e.exchange = 'binance'", h=h)
    volume = sum(history.candle("binance", base, t)["quote_volume"]
                 for base in BINANCE.values() for t in range(h - DAY, h, HOUR))
    assert row.status == "ok" and row.volume_24h_usd == approx(volume)
    assert row.btc_price == approx(history.price("BTC", h))
    assert row.btc_price_change_24h_pct == approx(100 * (history.price("BTC", h) / history.price("BTC", h - DAY) - 1))
    # Every hour is scored; the venues without OI history have none, never a zero.
    (scored,) = query(env, "SELECT count(*) FROM market_snapshots WHERE composite_score IS NOT NULL")
    assert scored[0] == 48
    oi = query(env, "SELECT DISTINCT e.exchange FROM exchange_snapshots e WHERE e.open_interest_usd IS NULL")
    assert {"hyperliquid", "asterdex", "bitget", "deribit"} <= {r[0] for r in oi}
    assert query(env, "SELECT count(*) FROM exchange_snapshots WHERE open_interest_usd = 0")[0][0] == 0
    # stats shows it
    stats = json.loads(runner.invoke(cli, ["stats", "--json"]).stdout)
    assert stats["backfill"]["snapshots"] == 48
    assert {c["exchange"]: c["backfill_hours"] for c in stats["coverage"]}["dydx"] == 48


def test_interrupted_run_resumes_without_downloading_again(runner, env, fake, monkeypatch):
    real = perps_tracker.services.backfill.venue_at
    calls = {"n": 0}

    def interrupting(h, hour):
        calls["n"] += 1
        if calls["n"] == 9 * 10 + 1:  # while rebuilding the 11th hour (nine venues an hour)
            raise KeyboardInterrupt
        return real(h, hour)

    monkeypatch.setattr(perps_tracker.services.backfill, "venue_at", interrupting)
    result = run(runner, "--days", "1", "--quiet")
    assert result.exit_code == 130 and "run the same command again to resume" in result.stderr
    assert query(env, "SELECT count(*) FROM market_snapshots")[0][0] == 10
    assert query(env, "SELECT count(*) FROM backfill_downloads")[0][0] == 9
    dvol = "/api/v2/public/get_volatility_index_data"  # DVOL comes after the hours: not read yet
    requests = fake.count()
    monkeypatch.setattr(perps_tracker.services.backfill, "venue_at", real)
    result = run(runner, "--days", "1", "--json", "--coins", "none")  # the watchlist's markets download
    doc = json.loads(result.stdout)
    assert (doc["planned_hours"], doc["stored_hours"], doc["existing_hours"]) == (14, 14, {"backfill": 10})
    assert doc["coins"] is None
    assert {v["status"] for v in doc["venues"]} == {"kept"}
    assert fake.count() - fake.count("deribit", dvol) == requests  # nothing downloaded twice
    assert [d["rows_added"] for d in doc["dvol"]] == [24, 24]
    assert query(env, "SELECT count(*) FROM backfill_downloads")[0][0] == 0


def test_a_venue_down_is_named_and_exit_code_3(runner, env, fake):
    fake.override("okx", Reply({"code": "50001", "msg": "Service temporarily unavailable"}, status=503))
    result = run(runner, "--days", "1")
    assert result.exit_code == 3
    assert "okx: failed: " in result.stdout and "HTTP 503" in result.stdout
    assert query(env, "SELECT DISTINCT status FROM exchange_snapshots WHERE exchange = 'okx'") == [("error",)]


def test_live_rows_are_kept(runner, env, fake):
    assert runner.invoke(cli, ["snapshot", "--quiet"]).exit_code in (0, 3)  # this hour, live
    with env.engine.begin() as conn:  # pretend it was taken an hour ago, inside the window
        conn.execute(text("UPDATE market_snapshots SET timestamp = :t"), {"t": CURRENT - HOUR})
    result = run(runner, "--days", "1", "--json")
    doc = json.loads(result.stdout)
    assert doc["existing_hours"] == {"live": 1} and doc["stored_hours"] == 23
    assert query(env, "SELECT source FROM market_snapshots WHERE timestamp = :t", t=CURRENT - HOUR) == [("live",)]


def test_days_over_30_is_a_usage_error(runner, env):
    result = run(runner, "--days", "31")
    assert result.exit_code == 2 and "31" in result.stderr


def test_hours_left_missing_exit_3_and_say_which_venue_lacked_which_span(runner, env, fake):
    # Issue 12 item 3: storing 0 of 48 missing hours used to exit 0, silently with --quiet.
    fake.add("binance", "/fapi/v1/klines", Reply([]))
    result = run(runner, "--days", "2", "--exchange", "binance", "--quiet")
    assert result.exit_code == 3
    assert result.stdout == ""
    first, last = CURRENT - 2 * DAY, CURRENT - HOUR
    span = (f"{datetime.fromtimestamp(first, timezone.utc):%Y-%m-%d %H:%M} → "
            f"{datetime.fromtimestamp(last, timezone.utc):%Y-%m-%d %H:%M} UTC (48 h)")
    assert result.stderr.splitlines() == [
        f"Warning: stored 0 of 48 missing hours; 48 stay missing: {span}",
        f"Warning: binance: no history for 48 of the hours: {span}",
    ]
    doc = json.loads(run(runner, "--days", "2", "--exchange", "binance", "--json").stdout)
    assert doc["unfilled_hours"] == 48 and doc["unfilled"][0]["hours"] == 48
    assert doc["venues"][0]["missing"] == [{"from": doc["from"], "to": doc["to"], "hours": 48}]


def test_a_venue_without_history_beside_others_is_named_but_the_hours_are_stored(runner, env, fake):
    fake.add("binance", "/fapi/v1/klines", Reply([]))
    result = run(runner, "--days", "1", "--exchange", "binance", "--exchange", "okx")
    assert result.exit_code == 0, result.stderr
    assert "binance: no row for 24 of the 24 hours" in result.stdout.replace("\n", " ")
