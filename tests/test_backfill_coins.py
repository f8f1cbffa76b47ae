"""`perps-tracker backfill --coins`: the per-instrument layer rebuilt from the venues' history endpoints,
end to end against the loopback fakes of all nine venues (tests/fakes/history.py is the synthetic
truth): today's markets of the coins, prices per one coin, rows marked backfill, resumable, live rows kept."""

from __future__ import annotations

import json

import pytest
from pytest import approx
from sqlalchemy import text

from perps_tracker.cli import cli
from perps_tracker.exchanges import EXCHANGES
from perps_tracker.model.history import DAY, HOUR
from tests.fakes import Reply, history
from tests.test_backfill_cli import CURRENT, NOW, query

FIRST, LAST = CURRENT - DAY, CURRENT - HOUR


@pytest.fixture
def env(venues_env, monkeypatch):
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    return venues_env


def run(runner, *args):
    return runner.invoke(cli, ["backfill", "--days", "1", *args], catch_exceptions=False)


def rows(db, where="1 = 1", **params):
    return query(db, f"SELECT * FROM instrument_snapshots WHERE {where} ORDER BY timestamp, exchange, symbol",
                 **params)


def test_coins_get_a_row_per_market_and_hour_with_prices_per_one_coin(runner, env, fake):
    result = run(runner, "--coins", "btc,PEPE", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)["coins"]
    assert doc["coins"] == ["BTC", "PEPE"] and doc["unlisted"] == []
    assert [v["exchange"] for v in doc["venues"]] == list(EXCHANGES)
    got = rows(env)
    assert {r.coin for r in got} == {"BTC", "PEPE"} and {r.source for r in got} == {"backfill"}
    assert doc["rows_added"] == len(got)
    markets = {(r.exchange, r.symbol) for r in got}
    assert len(got) == 24 * len(markets)  # every market, every hour of the window, once
    assert {h for (h,) in query(env, "SELECT DISTINCT timestamp FROM instrument_rows")} == set(
        range(FIRST, LAST + HOUR, HOUR))
    # Binance's BTCUSDT at one hour, by hand from the synthetic history
    h = CURRENT - 5 * HOUR
    (btc,) = rows(env, "exchange = 'binance' AND symbol = 'BTCUSDT' AND timestamp = :h", h=h)
    assert btc.price == approx(history.price("BTC", h))
    assert btc.mark_price == approx(history.mark("BTC", h - HOUR))
    assert btc.index_price == approx(history.index("BTC", h - HOUR))
    assert btc.volume_24h_usd == approx(sum(history.candle("binance", "BTC", t)["quote_volume"]
                                            for t in range(h - DAY, h, HOUR)), abs=1)
    assert btc.price_change_24h_pct == approx(100 * (history.price("BTC", h) / history.price("BTC", h - DAY) - 1))
    assert btc.funding_rate_8h is not None and btc.funding_interval_h == 8
    assert btc.funding_rate == approx(btc.funding_rate_8h)
    assert btc.next_funding_time >= h and btc.next_funding_time - h <= 8 * HOUR
    # PEPE: 1000PEPEUSDT, kPEPE, ... all per one PEPE, the same price on every venue
    pepe = rows(env, "coin = 'PEPE' AND timestamp = :h", h=h)
    assert len({r.exchange for r in pepe}) >= 3
    assert {r.multiplier for r in pepe} >= {1000.0}
    for r in pepe:
        assert r.price == approx(history.price("PEPE", h)), (r.exchange, r.symbol)


def test_a_rerun_adds_nothing_and_downloads_no_history(runner, env, fake):
    first = json.loads(run(runner, "--coins", "ETH", "--json").stdout)["coins"]
    assert first["rows_added"] > 0
    result = run(runner, "--coins", "ETH", "--json")
    again = json.loads(result.stdout)["coins"]
    assert again["rows_added"] == 0
    assert {v["status"] for v in again["venues"]} <= {"complete", "unlisted"}
    assert fake.count("binance", "/fapi/v1/klines") > 0


def test_a_rerun_fills_only_what_is_missing_and_downloads_only_that(runner, env, fake):
    assert run(runner, "--coins", "ETH", "--exchange", "binance", "--exchange", "okx").exit_code == 0
    full = rows(env)
    with env.engine.begin() as conn:  # one market loses its rows of the newest 3 hours
        conn.execute(text("DELETE FROM instrument_rows WHERE timestamp > :t AND instrument_id = "
                          "(SELECT id FROM instruments WHERE symbol = 'ETHUSDT')"), {"t": LAST - 3 * HOUR})
    okx_history = ("/api/v5/market/history-candles", "/api/v5/market/history-mark-price-candles",
                   "/api/v5/public/funding-rate-history")
    klines, candles = fake.count("binance", "/fapi/v1/klines"), [fake.count("okx", p) for p in okx_history]
    doc = json.loads(run(runner, "--coins", "ETH", "--exchange", "binance", "--exchange", "okx", "--json").stdout)
    venues = {v["exchange"]: v for v in doc["coins"]["venues"]}
    assert venues["binance"]["status"] == "filled" and venues["binance"]["rows_added"] == 3
    assert venues["okx"]["status"] == "complete" and venues["okx"]["rows_added"] == 0
    assert fake.count("binance", "/fapi/v1/klines") == klines + 1  # one page for the 3 hours and the 24 before
    assert [fake.count("okx", p) for p in okx_history] == candles  # its market list only: no history
    assert rows(env) == full


def test_live_rows_are_never_overwritten(runner, env, fake):
    assert runner.invoke(cli, ["snapshot", "--quiet"]).exit_code in (0, 3)  # this hour, live
    with env.engine.begin() as conn:  # pretend it was taken an hour ago, inside the window
        conn.execute(text("UPDATE market_snapshots SET timestamp = :t"), {"t": LAST})
        conn.execute(text("UPDATE instrument_rows SET timestamp = :t"), {"t": LAST})
    live = rows(env, "coin = 'BTC'")
    assert live and {r.source for r in live} == {"live"}
    assert run(runner, "--coins", "BTC").exit_code == 0
    assert rows(env, "coin = 'BTC' AND timestamp = :t", t=LAST) == live
    older = rows(env, "coin = 'BTC' AND timestamp < :t", t=LAST)
    assert older and {r.source for r in older} == {"backfill"}


def test_the_watchlist_is_the_default_and_none_skips_the_coins(runner, env, fake, monkeypatch):
    monkeypatch.setenv("PERPS_TRACKER_WATCHLIST", "sol, eth")
    doc = json.loads(run(runner, "--exchange", "bybit", "--json").stdout)
    assert doc["coins"]["coins"] == ["SOL", "ETH"]
    assert {r.coin for r in rows(env)} <= {"SOL", "ETH"} and rows(env)
    doc = json.loads(run(runner, "--exchange", "okx", "--coins", "NONE", "--json").stdout)
    assert doc["coins"] is None
    assert {r.exchange for r in rows(env)} == {"bybit"}


def test_a_venue_down_is_named_exit_3_and_the_others_are_stored(runner, env, fake):
    fake.override("okx", Reply({"code": "50001", "msg": "Service temporarily unavailable"}, status=503))
    result = run(runner, "--coins", "BTC")
    assert result.exit_code == 3
    out = " ".join(result.stdout.split())
    assert "okx: coins failed: market list not read:" in out and "HTTP 503" in out
    assert "okx: coins' history not read" in result.stderr
    assert {r.exchange for r in rows(env)} == set(EXCHANGES) - {"okx"}


def test_a_market_whose_candles_fail_is_named_and_the_rest_stored(runner, env, fake):
    fake.add("bybit", "/v5/market/kline", Reply({"retCode": 10001, "retMsg": "params error"}))
    doc = json.loads(run(runner, "--coins", "BTC", "--exchange", "bybit", "--exchange", "binance", "--json").stdout)
    venues = {v["exchange"]: v for v in doc["coins"]["venues"]}
    assert venues["bybit"]["status"] == "failed" and "params error" in venues["bybit"]["error"]
    assert venues["binance"]["status"] == "filled" and venues["binance"]["rows_added"] == 2 * 24  # BTCUSDT, BTCUSDC


def test_unknown_coins_are_named_and_an_empty_list_is_a_usage_error(runner, env, fake):
    result = run(runner, "--coins", "NOSUCHCOIN", "--exchange", "binance")
    assert result.exit_code == 0
    assert "Not listed on any venue that answered: NOSUCHCOIN." in result.stdout
    result = run(runner, "--coins", " , ")
    assert result.exit_code == 2 and "--coins" in result.stderr and "Traceback" not in result.stderr


def test_the_coin_command_reads_the_backfilled_hours(runner, env, fake):
    assert run(runner, "--coins", "PEPE").exit_code == 0
    doc = json.loads(runner.invoke(cli, ["coin", "pepe", "--hours", "24", "--no-fetch", "--json"]).stdout)
    assert doc["coin"] == "PEPE" and len(doc["history"]) == 24
    h = LAST
    assert doc["total"]["max_spread_bps"] == approx(0, abs=1e-6)  # the same price per PEPE on every venue
    assert doc["total"]["price"] == approx(history.price("PEPE", h))


# -- the pure rebuild of one market's hour (model.history.market_at) ---------------------------------------

H = 1_795_000_000 // HOUR * HOUR


def series(**kw):
    from perps_tracker.model.history import MarketSeries

    candles = {t: (100.0 + (t - H) / HOUR, 1000.0) for t in range(H - 30 * HOUR, H)}
    base = dict(exchange="binance", symbol="1000PEPEUSDT", base="1000PEPE", quote="USDT",
                opens={t: o for t, (o, _) in candles.items()}, closes={t: o + 0.5 for t, (o, _) in candles.items()},
                volume_usd={t: v for t, (_, v) in candles.items()})
    return MarketSeries(**{**base, **kw})


def test_market_at_rebuilds_the_live_fields_of_one_hour():
    from perps_tracker.model.history import market_at

    s = series(open_interest_usd={H - 1800: 5e6, H - 3 * HOUR: 1.0}, mark={H - HOUR: 99.6}, index={H - HOUR: 99.4},
               funding={H - 4 * HOUR: 0.0002, H + 4 * HOUR: 0.0004}, funding_interval_h=8.0)
    m = market_at(s, H)
    assert (m.symbol, m.base, m.quote) == ("1000PEPEUSDT", "1000PEPE", "USDT")
    assert m.last_price == 99.5 and m.mark_price == 99.6 and m.index_price == 99.4  # the candle of H − 1 h
    assert m.volume_24h_usd == 24_000.0
    assert m.price_change_24h_pct == approx(100 * (99.5 / 76.0 - 1))  # against the open of H − 24 h
    assert m.open_interest_usd == 5e6  # the newest point in (H − 1 h, H]
    # the period containing H settles at H + 4 h; the settlements are 8 h apart: its raw rate is per 8 h
    assert (m.funding_rate_8h, m.funding_interval_h, m.funding_rate, m.next_funding_time) == (
        0.0004, 8.0, 0.0004, H + 4 * HOUR)


def test_market_at_takes_the_interval_from_the_settlements_and_leaves_unknowns_empty():
    from perps_tracker.model.history import market_at

    hourly = market_at(series(funding={H - HOUR: 0.0008, H: 0.0008}, funding_interval_h=8.0), H)
    assert (hourly.funding_interval_h, hourly.funding_rate) == (1.0, approx(0.0001))  # the spacing wins
    first = market_at(series(funding={H + 2 * HOUR: 0.0008}, funding_interval_h=4.0), H)
    assert (first.funding_interval_h, first.funding_rate) == (4.0, approx(0.0004))  # no spacing: today's
    bare = market_at(series(), H)
    assert (bare.open_interest_usd, bare.mark_price, bare.funding_rate_8h, bare.funding_rate) == (None,) * 4
    young = series(opens={H - HOUR: 1.0}, closes={H - HOUR: 2.0}, volume_usd={H - HOUR: 5.0})
    assert market_at(young, H).volume_24h_usd is None  # listed an hour ago: no 24 h volume, never a partial sum
    assert market_at(young, H).price_change_24h_pct is None
    assert market_at(young, H + HOUR) is None  # no candle for the hour before: no row


def test_a_sampled_funding_history_keeps_todays_interval():
    from perps_tracker.model.history import market_at

    sampled = market_at(series(funding={H - HOUR: 0.0008, H: 0.0008}, funding_interval_h=8.0,
                               funding_settled=False), H)
    assert (sampled.funding_interval_h, sampled.funding_rate) == (8.0, approx(0.0008))  # Deribit's interest_8h


def test_deribit_rows_have_the_live_interval(runner, env, fake):
    assert run(runner, "--coins", "BTC", "--exchange", "deribit").exit_code == 0
    got = rows(env, "exchange = 'deribit'")
    assert got and {(r.funding_interval_h, r.funding_rate == r.funding_rate_8h) for r in got} == {(8.0, True)}
