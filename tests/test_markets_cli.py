"""The per-instrument layer end to end: `snapshot` stores every market, `coin`, `funding`,
`sectors` and `export` read it (loopback fakes of the nine venues, SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime, timedelta, timezone

import pytest
from pytest import approx
from sqlalchemy import text

from perps_tracker.cli import cli
from perps_tracker.exchanges import EXCHANGES
from tests.fakes import closed_port_url

NOW = datetime(2026, 11, 22, 11, 0, 42, tzinfo=timezone.utc)
HOUR_TS = 1795345200
VIEW_COLUMNS = ["timestamp", "exchange", "symbol", "coin", "multiplier", "quote", "price", "mark_price",
                "index_price", "volume_24h_usd", "open_interest_usd", "funding_rate", "funding_interval_h",
                "funding_rate_8h", "next_funding_time", "price_change_24h_pct", "source"]


@pytest.fixture
def env(fake, monkeypatch, database):
    """All nine venues on the fake, the test database (SQLite and PostgreSQL), a settable clock."""
    fake.install()
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PERPS_TRACKER_DB", database.url)
    for name, value in (("BACKOFF", "0"), ("RETRIES", "1"), ("READ_TIMEOUT", "1")):
        monkeypatch.setenv(f"PERPS_TRACKER_{name}", value)
    clock = {"now": NOW}
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: clock["now"])
    monkeypatch.clock = clock
    return monkeypatch


def run(runner, *args):
    return runner.invoke(cli, list(args), catch_exceptions=False, terminal_width=100)


def query(database, sql, **params):
    with database.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def test_snapshot_stores_every_included_market_once(runner, env, database):
    result = run(runner, "snapshot", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert "instruments" not in data  # the default JSON stays small
    markets = {e["exchange"]: e["markets"] for e in data["exchanges"]}
    stored = dict(query(database, "SELECT exchange, COUNT(*) FROM instrument_snapshots GROUP BY exchange"))
    assert stored == markets
    assert query(database, "SELECT COUNT(*) FROM (SELECT DISTINCT timestamp, exchange, symbol "
                           "FROM instrument_snapshots) d") == [(sum(markets.values()),)]
    # the venue's BTC line is one of its markets, per coin as stored
    for e in data["exchanges"]:
        btc = query(database, "SELECT price, funding_rate_8h FROM instrument_snapshots WHERE exchange = :e "
                              "AND coin = 'BTC' AND source = 'live'", e=e["exchange"])
        assert (approx(e["btc_price"]), approx(e["btc_funding_rate_8h"])) in [tuple(r) for r in btc]
    pepe = query(database, "SELECT exchange, symbol, multiplier FROM instrument_snapshots WHERE coin = 'PEPE' "
                           "ORDER BY exchange")
    assert ("binance", "1000PEPEUSDT", 1000.0) in [tuple(r) for r in pepe]


def test_snapshot_json_with_instruments_and_the_watchlist_block(runner, env, database):
    data = json.loads(run(runner, "snapshot", "--json", "--instruments").stdout)
    rows = data["instruments"]
    assert len(rows) == sum(e["markets"] for e in data["exchanges"])
    assert list(rows[0]) == VIEW_COLUMNS[1:]  # timestamp is the snapshot's
    env.setenv("PERPS_TRACKER_WATCHLIST", "eth,nope")
    table = run(runner, "snapshot").stdout
    assert "watchlist" in table and "ETH" in table and "NOPE" in table and "not listed" in table


def test_a_rerun_replaces_the_venues_that_answered_and_keeps_the_others(runner, env, database):
    run(runner, "snapshot")
    before = query(database, "SELECT exchange, symbol, price FROM instrument_snapshots ORDER BY exchange, symbol")
    env.setenv("PERPS_TRACKER_OKX_URL", closed_port_url())
    env.clock["now"] = NOW + timedelta(minutes=30)
    assert run(runner, "snapshot", "--quiet").exit_code == 3  # okx failed: its markets stay
    after = query(database, "SELECT exchange, symbol, price FROM instrument_snapshots ORDER BY exchange, symbol")
    assert after == before
    assert run(runner, "snapshot", "--exchange", "dydx", "--quiet").exit_code == 0
    assert query(database, "SELECT exchange, symbol, price FROM instrument_snapshots ORDER BY exchange, symbol") == before


def test_coin_by_hand_against_the_stored_rows(runner, env, database):
    run(runner, "snapshot", "--quiet")
    data = json.loads(run(runner, "coin", "eth", "--no-fetch", "--json").stdout)
    rows = query(database, "SELECT exchange, symbol, price, volume_24h_usd, open_interest_usd, funding_rate_8h "
                           "FROM instrument_snapshots WHERE coin = 'ETH'")
    assert data["coin"] == "ETH" and data["sector"] == "MAJORS" and data["timestamp"] == "2026-11-22T11:00:00Z"
    assert {(v["exchange"], v["symbol"]) for v in data["venues"]} == {(r[0], r[1]) for r in rows}
    volume = sum(r[3] for r in rows if r[3] is not None)
    priced = [r for r in rows if r[2] is not None and r[3]]
    vwap = sum(r[2] * r[3] for r in priced) / sum(r[3] for r in priced)
    assert data["total"]["volume_24h_usd"] == approx(volume)
    assert data["total"]["price"] == approx(vwap)
    prices = [r[2] for r in rows if r[2] is not None]
    assert data["total"]["max_spread_bps"] == approx((max(prices) - min(prices)) / min(prices) * 1e4)
    assert sum(v["volume_share"] for v in data["venues"] if v["volume_share"] is not None) == approx(100)
    for v in data["venues"]:
        if v["funding_rate_8h"] is not None:
            assert v["funding_apr_pct"] == approx(v["funding_rate_8h"] * 109500)
    assert set(data["total"]) == {"volume_24h_usd", "open_interest_usd", "price", "funding_rate_8h", "max_spread_bps"}
    assert "history" not in data
    history = json.loads(run(runner, "coin", "ETH", "--no-fetch", "--hours", "24", "--json").stdout)["history"]
    assert [h["timestamp"] for h in history] == ["2026-11-22T11:00:00Z"]
    assert history[0]["price"] == approx(vwap)
    assert history[0]["volume_24h_usd"] == approx(volume)
    assert history[0]["open_interest_usd"] == approx(sum(r[4] for r in rows if r[4] is not None))
    funded = [r for r in rows if r[5] is not None and r[3]]
    assert history[0]["funding_rate_8h"] == approx(sum(r[5] * r[3] for r in funded) / sum(r[3] for r in funded))
    assert history[0]["max_spread_bps"] == approx(data["total"]["max_spread_bps"])
    table = run(runner, "coin", "ETH", "--no-fetch").stdout
    assert "ETH (MAJORS)" in table and "total" in table


def test_coin_errors(runner, env, database):
    result = runner.invoke(cli, ["coin", "BTC", "--no-fetch"])
    assert result.exit_code == 1 and "no per-market rows stored yet" in result.stderr
    run(runner, "snapshot", "--quiet")
    result = runner.invoke(cli, ["coin", "NOPE", "--no-fetch"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: NOPE is not listed on any venue")


def test_read_commands_take_a_snapshot_when_the_newest_is_an_hour_old(runner, env, database):
    run(runner, "snapshot", "--quiet")
    env.clock["now"] = NOW + timedelta(minutes=50)
    assert json.loads(run(runner, "sectors", "--json").stdout)["timestamp"] == "2026-11-22T11:00:00Z"
    assert query(database, "SELECT COUNT(*) FROM market_snapshots") == [(1,)]
    env.clock["now"] = NOW + timedelta(hours=1, minutes=5)
    assert json.loads(run(runner, "sectors", "--json").stdout)["timestamp"] == "2026-11-22T12:00:00Z"
    assert query(database, "SELECT COUNT(*) FROM market_snapshots") == [(2,)]
    env.clock["now"] = NOW + timedelta(hours=3)
    no_fetch = json.loads(run(runner, "sectors", "--json", "--no-fetch").stdout)
    assert no_fetch["timestamp"] == "2026-11-22T12:00:00Z"


def test_funding_and_sectors_json(runner, env, database):
    run(runner, "snapshot", "--quiet")
    data = json.loads(run(runner, "funding", "--no-fetch", "--min-volume", "0", "--json").stdout)
    assert data["min_volume"] == 0
    opportunities = data["opportunities"]
    assert opportunities and [o["apr_pct"] for o in opportunities] == sorted(
        (o["apr_pct"] for o in opportunities), reverse=True)
    for o in opportunities:
        assert o["short"]["exchange"] != o["long"]["exchange"]
        assert o["spread_8h"] == approx(o["short"]["funding_rate_8h"] - o["long"]["funding_rate_8h"])
        assert o["apr_pct"] == approx(o["spread_8h"] * 109500)
        assert set(o["short"]) == {"exchange", "symbol", "funding_rate_8h", "funding_interval_h", "volume_24h_usd"}
    top = json.loads(run(runner, "funding", "--no-fetch", "--min-volume", "0", "--top", "1", "--json").stdout)
    assert top["opportunities"] == opportunities[:1]
    high = json.loads(run(runner, "funding", "--no-fetch", "--min-volume", "1e12", "--json").stdout)
    assert high["opportunities"] == []
    sectors = json.loads(run(runner, "sectors", "--no-fetch", "--json").stdout)["sectors"]
    total = query(database, "SELECT COUNT(*), SUM(volume_24h_usd) FROM instrument_snapshots")[0]
    assert sum(s["markets"] for s in sectors) == total[0]
    assert sum(s["volume_24h_usd"] or 0 for s in sectors) == approx(total[1])
    assert sectors[0]["sector"] == "MAJORS"


def test_export_csv_jsonl_and_parquet_agree_with_the_table(runner, env, database, tmp_path):
    run(runner, "snapshot", "--quiet")
    count = query(database, "SELECT COUNT(*) FROM instrument_snapshots")[0][0]
    out = run(runner, "export", "instrument_snapshots", "--since", "2026-11-22")
    got = list(csv.reader(io.StringIO(out.stdout)))
    assert got[0] == VIEW_COLUMNS and len(got) == count + 1
    lines = run(runner, "export", "instrument_snapshots", "--format", "jsonl").stdout.splitlines()
    assert len(lines) == count and json.loads(lines[0])["timestamp"] == HOUR_TS
    target = tmp_path / "month.parquet"
    result = run(runner, "export", "instrument_snapshots", "--format", "parquet", "-o", str(target))
    assert result.exit_code == 0 and f"{count:,} rows written" in result.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(target)
    assert table.column_names == VIEW_COLUMNS and table.num_rows == count
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    # nothing in a range without rows; a command's rows per stored hour
    assert run(runner, "export", "instrument_snapshots", "--until", "2026-11-22").stdout.count("\n") == 1
    funding = run(runner, "export", "funding", "--format", "jsonl").stdout.splitlines()
    assert funding and json.loads(funding[0])["timestamp"] == HOUR_TS
    coin = list(csv.reader(io.StringIO(run(runner, "export", "coin:eth").stdout)))
    assert coin[0][:3] == ["timestamp", "exchange", "symbol"] and len(coin) > 2
    assert run(runner, "export", "market_snapshots", "--format", "jsonl").stdout.count("\n") == 1


def test_export_errors(runner, env, database, tmp_path, monkeypatch):
    run(runner, "snapshot", "--quiet")
    result = runner.invoke(cli, ["export", "nope"])
    assert result.exit_code == 1 and "cannot export 'nope'" in result.stderr
    result = runner.invoke(cli, ["export", "alerts", "--since", "1d", "--until", "2d"])
    assert result.exit_code == 1 and "--until must be later than --since" in result.stderr
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the extra were not installed
    target = tmp_path / "x.parquet"
    result = runner.invoke(cli, ["export", "liquidations", "--format", "parquet", "-o", str(target)])
    assert result.exit_code == 1 and "pip install 'perps-tracker[parquet]'" in result.stderr
    assert not target.exists() and list(tmp_path.glob("*.part")) == []


def test_every_venue_contributes(runner, env, database):
    run(runner, "snapshot", "--quiet")
    assert {e for (e,) in query(database, "SELECT DISTINCT exchange FROM instruments")} == set(EXCHANGES)


def test_the_hour_records_its_widest_funding_spread_for_the_alert(runner, env, database):
    run(runner, "snapshot", "--quiet")
    top = json.loads(run(runner, "funding", "--no-fetch", "--top", "1", "--json").stdout)["opportunities"][0]
    stored = query(database, "SELECT funding_arb_coin, funding_arb_short, funding_arb_short_8h, funding_arb_long, "
                             "funding_arb_long_8h FROM market_snapshots")
    assert stored == [(top["coin"], top["short"]["exchange"], approx(top["short"]["funding_rate_8h"]),
                       top["long"]["exchange"], approx(top["long"]["funding_rate_8h"]))]
    alerts = json.loads(run(runner, "alerts", "--all", "--json").stdout)["alerts"]
    arb = next(a for a in alerts if a["strategy"] == "Funding Rate Arbitrage")
    text = " ".join(arb["reasons"]) + (arb.get("why") or "")
    assert top["coin"] in text
