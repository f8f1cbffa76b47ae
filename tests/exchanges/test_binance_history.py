"""Binance history (backfill) against the fake: hourly sums over the included markets, the BTC
perpetual's series, paging without gaps or duplicates, the 30-day edge of /futures/data, failures,
retries, pacing and the parsers."""

from __future__ import annotations

import json

import pytest
from pytest import approx

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges import binance
from perps_tracker.exchanges.binance import (
    Binance,
    WeightBudget,
    kline_weight,
    parse_funding_history,
    parse_history_candles,
    parse_long_short_history,
    parse_open_interest_history,
    parse_price_candles,
)
from perps_tracker.exchanges.pacing import Pacer
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.history import DAY, VenueHistory, venue_at
from tests.fakes import Reply, history
from tests.fakes.binance import (
    FUNDING_RATE,
    INDEX_KLINES,
    KLINES,
    MARK_KLINES,
    OPEN_INTEREST_HIST,
    RATIO,
    WeightCounter,
    funding_ms,
    install,
)
from tests.fakes.history import HOUR, NOW_HOUR

NOW = NOW_HOUR + 600  # the venue's clock: ten minutes into the hour after the last candle
INCLUDED = {"BTCUSDT": "BTC", "ETHUSDT": "ETH", "BTCUSDC": "BTC", "1000PEPEUSDT": "1000PEPE", "DOGEUSDT": "DOGE",
            "SOLUSDT": "SOL", "1000000MOGUSDT": "1000000MOG", "1MBABYDOGEUSDT": "1MBABYDOGE", "1INCHUSDT": "1INCH"}
N = len(INCLUDED)
START, END = NOW_HOUR - 3 * DAY, NOW_HOUR


def venue(fake, client, **attributes) -> Binance:
    exchange = Binance(client, fake.url("binance"))
    exchange.clock = lambda: NOW
    for name, value in attributes.items():
        setattr(exchange, name, value)
    return exchange


def install_fake(fake, **options):
    install(fake, now=lambda: NOW, **options)


def download(fake, client, start=START, end=END, **attributes) -> VenueHistory:
    install_fake(fake)
    return venue(fake, client, **attributes).history(start, end)


def wrap(fake, path, before):
    """`before(request)` answers instead of the installed route when it returns a Reply."""
    route = fake.routes[("binance", "GET", path)]
    fake.add("binance", path, lambda request: before(request) or route(request))


def asked(fake, path, symbol=None, key="symbol"):
    return [r.query for r in fake.requests if r.venue == "binance" and r.path == path
            and (symbol is None or r.query.get(key) == symbol)]


def summed(what, t, venue_id="binance"):
    if what == "oi":
        return sum(history.open_interest_usd(venue_id, base, t) for base in INCLUDED.values())
    return sum(history.candle(venue_id, base, t)[what] for base in INCLUDED.values())


# -- sums, BTC series, one hour rebuilt by hand ------------------------------------------------------


def test_hourly_sums_over_the_included_markets(fake, client):
    h = download(fake, client)
    hours = list(range(START, END, HOUR))
    assert sorted(h.volume_usd) == hours and sorted(h.open_interest_usd) == hours
    for t in hours:
        assert h.volume_usd[t] == approx(summed("quote_volume", t))
        assert h.trades[t] == summed("trades", t)
        assert h.markets[t] == N
        assert h.open_interest_usd[t] == approx(summed("oi", t))  # sumOpenInterestValue is already USD
    assert {q["symbol"] for q in asked(fake, KLINES)} == set(INCLUDED)  # not the quarterly, TSLA, BUSD...
    assert {q["symbol"] for q in asked(fake, OPEN_INTEREST_HIST)} == set(INCLUDED)
    assert (h.exchange, h.kind, h.start, h.end, h.symbols, h.symbols_failed) == ("binance", "CEX", START, END, N, 0)
    assert "market list is today's: delisted markets are missing, totals are lower bounds" in h.notes


def test_btc_series(fake, client):
    h = download(fake, client)
    hours = list(range(START, END, HOUR))
    assert h.btc_symbol == "BTCUSDT"  # USDT before USDC
    assert h.btc_open == {t: approx(history.candle("binance", "BTC", t)["open"]) for t in hours}
    assert h.btc_close == {t: approx(history.candle("binance", "BTC", t)["close"]) for t in hours}
    assert h.btc_mark == {t: approx(history.mark("BTC", t)) for t in hours}
    assert h.btc_index == {t: approx(history.index("BTC", t)) for t in hours}
    assert [q["pair"] for q in asked(fake, INDEX_KLINES)] == ["BTCUSDT"]  # index klines take the pair
    settlements = [t for t in hours if t % (8 * HOUR) == 0]  # BTCUSDT is not in fundingInfo: every 8 h
    assert h.btc_funding == {t: approx(history.funding_8h("binance", t)) for t in settlements}
    assert h.long_share == {t: approx(history.long_share("binance", t)) for t in hours}
    assert [q["symbol"] for q in asked(fake, RATIO)] == ["BTCUSDT"]


def test_one_hour_rebuilt_by_hand(fake, client):
    h = download(fake, client)
    hour = NOW_HOUR - 29 * HOUR  # 19:00; its funding period settles at the next midnight, NOW_HOUR − 24 h
    row = venue_at(h, hour)
    day = range(hour - DAY, hour, HOUR)
    btc = history.candle("binance", "BTC", hour - HOUR)
    share = history.long_share("binance", hour)
    assert row.ok and row.markets == N and row.records_skipped == 0
    assert row.volume_24h_usd == approx(sum(summed("quote_volume", t) for t in day))
    assert row.num_trades_24h == sum(summed("trades", t) for t in day)
    assert row.open_interest_usd == approx(summed("oi", hour))
    assert row.btc_price == approx(btc["close"]) == approx(history.price("BTC", hour))
    assert row.btc_price_change_24h_pct == approx(100 * (btc["close"] / history.candle("binance", "BTC", hour - DAY)["open"] - 1))
    assert row.btc_funding_rate_8h == approx(history.funding_8h("binance", NOW_HOUR - DAY))
    assert (row.btc_mark_price, row.btc_index_price) == (approx(history.mark("BTC", hour - HOUR)),
                                                         approx(history.index("BTC", hour - HOUR)))
    assert row.long_share == approx(share) and row.long_short_ratio == approx(share / (1 - share))
    assert not venue_at(h, START + 23 * HOUR).ok  # the first 24 h are the warm-up


def test_round_trips_through_json(fake, client):
    h = download(fake, client)
    assert VenueHistory.from_json(json.loads(json.dumps(h.to_json()))) == h


# -- paging and the 30-day edge ----------------------------------------------------------------------


def covered(queries):
    """The hours each page asked for, in order."""
    return [(int(q["startTime"]) // 1000, (int(q["endTime"]) + 1) // 1000, int(q["limit"])) for q in queries]


def test_thirty_days_in_pages_without_gaps_or_duplicates(fake, client, monkeypatch):
    monkeypatch.setattr(binance, "FUNDING_PAGE", 40)  # 90 settlements: three cursor pages
    start = NOW_HOUR - 30 * DAY
    calls = []
    install_fake(fake)
    h = venue(fake, client).history(start, NOW_HOUR, lambda done, total: calls.append((done, total)))
    hours = list(range(start, NOW_HOUR, HOUR))
    for symbol in INCLUDED:
        pages = covered(asked(fake, KLINES, symbol))
        assert pages == [(start, start + 499 * HOUR, 499), (start + 499 * HOUR, NOW_HOUR, 221)]
        assert all(kline_weight(limit) == 2 for _, _, limit in pages)
        first_kept = NOW_HOUR - 30 * DAY + HOUR  # the venue keeps 30 days back from NOW: the first hour is gone
        assert covered(asked(fake, OPEN_INTEREST_HIST, symbol)) == [
            (first_kept, first_kept + 500 * HOUR, 500), (first_kept + 500 * HOUR, NOW_HOUR, 219)]
    assert sorted(h.volume_usd) == hours and all(h.markets[t] == N for t in hours)
    assert h.volume_usd[hours[498]] == approx(summed("quote_volume", hours[498]))  # each side of the page edge
    assert h.volume_usd[hours[499]] == approx(summed("quote_volume", hours[499]))
    assert sorted(h.open_interest_usd) == hours[1:] and sorted(h.long_share) == hours[1:]
    assert sorted(h.btc_mark) == sorted(h.btc_index) == hours
    assert "open interest history covers only the last 30 days: none before 2026-10-24 01:00 UTC" in h.notes
    assert "long/short history covers only the last 30 days: none before 2026-10-24 01:00 UTC" in h.notes
    funding = asked(fake, FUNDING_RATE)
    settlements = [t for t in hours if t % (8 * HOUR) == 0]
    assert [int(q["startTime"]) for q in funding] == [start * 1000, funding_ms(settlements[39]) + 1,
                                                      funding_ms(settlements[79]) + 1]
    assert sorted(h.btc_funding) == settlements
    assert calls[-1][0] == calls[-1][1] == fake.count("binance")  # every request reported, the total exact
    assert [done for done, _ in calls] == list(range(1, len(calls) + 1))


def test_window_older_than_thirty_days_has_no_open_interest_or_long_share(fake, client):
    h = download(fake, client, start=NOW_HOUR - 45 * DAY, end=NOW_HOUR - 40 * DAY)
    assert h.open_interest_usd is None and h.long_share is None
    assert not asked(fake, OPEN_INTEREST_HIST) and not asked(fake, RATIO)  # the venue would refuse them
    assert "open interest history covers only the last 30 days: none in this window" in h.notes
    assert len(h.volume_usd) == 5 * 24 and h.btc_funding


def test_the_fake_refuses_a_start_older_than_thirty_days(fake, client):
    install_fake(fake)
    exchange = venue(fake, client)
    with pytest.raises(ExchangeError, match="startTime"):
        exchange.get(OPEN_INTEREST_HIST, {"symbol": "BTCUSDT", "period": "1h", "limit": 10,
                                          "startTime": (NOW_HOUR - 31 * DAY) * 1000})
    with pytest.raises(ExchangeError, match="limit"):
        exchange.get(KLINES, {"symbol": "BTCUSDT", "interval": "1h", "limit": 1501})


# -- failures ----------------------------------------------------------------------------------------


def refuse(symbol, key="symbol", status=400):
    body = {"code": -1121, "msg": "Invalid symbol."} if status == 400 else {"code": -1000, "msg": "busy"}
    return lambda request: Reply(body, status=status) if request.query.get(key) == symbol else None


def test_a_failing_market_is_counted_and_left_out(fake, client):
    install_fake(fake)
    wrap(fake, KLINES, refuse("ETHUSDT", status=503))
    h = venue(fake, client).history(START, END)
    assert len(asked(fake, KLINES, "ETHUSDT")) == 3  # retried twice by the client, then given up
    assert h.symbols_failed == 1 and h.symbols == N
    t = START + 5 * HOUR
    assert h.markets[t] == N - 1
    assert h.volume_usd[t] == approx(summed("quote_volume", t) - history.candle("binance", "ETH", t)["quote_volume"])
    assert h.open_interest_usd[t] == approx(summed("oi", t) - history.open_interest_usd("binance", "ETH", t))
    assert any(n.startswith(f"history missing for 1 of {N} markets: HTTP 503") for n in h.notes)
    assert venue_at(h, END).records_skipped == 1


def test_failing_open_interest_keeps_the_markets_volume(fake, client):
    install_fake(fake)
    wrap(fake, OPEN_INTEREST_HIST, refuse("DOGEUSDT"))
    h = venue(fake, client).history(START, END)
    t = START + 7 * HOUR
    assert h.markets[t] == N and h.volume_usd[t] == approx(summed("quote_volume", t))
    assert h.open_interest_usd[t] == approx(summed("oi", t) - history.open_interest_usd("binance", "DOGE", t))
    assert h.symbols_failed == 1
    assert f"open interest history missing for 1 of {N} markets: HTTP 400 at /binance/futures/data/openInterestHist: " \
           "Invalid symbol. (code -1121)" in h.notes


def test_btc_candles_failing_fail_the_venue(fake, client):
    install_fake(fake)
    wrap(fake, KLINES, refuse("BTCUSDT"))
    with pytest.raises(ExchangeError, match="BTC candles of BTCUSDT unavailable: HTTP 400"):
        venue(fake, client).history(START, END)


def test_usdc_btc_failing_does_not_matter(fake, client):
    install_fake(fake)
    wrap(fake, KLINES, refuse("BTCUSDC"))
    h = venue(fake, client).history(START, END)
    assert h.btc_symbol == "BTCUSDT" and h.symbols_failed == 1


def test_instrument_list_failing_fails_the_venue(fake, client):
    install_fake(fake)
    fake.add("binance", "/fapi/v1/exchangeInfo", Reply({"symbols": {}}))
    with pytest.raises(ExchangeError, match="unexpected exchangeInfo payload"):
        venue(fake, client).history(START, END)


def test_missing_optional_series_are_none_with_a_note(fake, client):
    install_fake(fake)
    for path in (MARK_KLINES, INDEX_KLINES, RATIO):
        fake.add("binance", path, Reply({"code": -1000, "msg": "An unknown error occurred"}, status=400))
    fake.add("binance", "/fapi/v1/fundingInfo", Reply({"code": -1000, "msg": "nope"}, status=400))
    h = venue(fake, client).history(START, END)
    assert (h.btc_mark, h.btc_index, h.btc_funding, h.long_share) == (None, None, None, None)
    for what in ("mark price history", "index price history", "funding history", "long/short history"):
        assert any(n.startswith(f"{what} unavailable: HTTP 400") for n in h.notes), what
    assert h.btc_close and h.open_interest_usd and h.symbols_failed == 0  # the rest is there
    row = venue_at(h, END)
    assert row.ok and row.btc_funding_rate_8h is None and row.long_share is None


def test_429_on_a_history_call_is_retried(fake, client):
    install_fake(fake)
    seen = set()

    def once(request):
        if request.query["symbol"] not in seen:
            seen.add(request.query["symbol"])
            return Reply({"code": -1003, "msg": "Too many requests"}, status=429, headers={"Retry-After": "0"})
        return None

    wrap(fake, KLINES, once)
    h = venue(fake, client).history(START, END)
    assert len(asked(fake, KLINES)) == 2 * N and h.symbols_failed == 0  # each symbol's one page, twice
    assert h.volume_usd[START] == approx(summed("quote_volume", START))


def test_a_partly_malformed_page_skips_records(fake, client):
    install_fake(fake)
    route = fake.routes[("binance", "GET", KLINES)]

    def spoil(request):
        reply = route(request)
        if request.query["symbol"] == "DOGEUSDT":
            reply.body[3] = [reply.body[3][0], "NaN"]
        return reply

    fake.add("binance", KLINES, spoil)
    h = venue(fake, client).history(START, END)
    assert h.markets[START + 3 * HOUR] == N - 1 and h.symbols_failed == 0
    assert "1 malformed history records skipped" in h.notes


# -- pacing ------------------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: float):
        self.now, self.slept = now, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_futures_data_and_weight_go_through_their_pacers(fake, client):
    clock = Clock(0.0)
    data, weight = Pacer(3.0, 1.0, clock, clock.sleep), Pacer(30.0, 200.0, clock, clock.sleep)
    download(fake, client, data_pacer=data, weight_pacer=weight)
    data_requests = len(asked(fake, OPEN_INTEREST_HIST)) + len(asked(fake, RATIO))
    assert data_requests == N + 1 and len(clock.slept) == data_requests - 1  # one burst, then 1/3 s apart
    assert all(s == approx(1 / 3) for s in clock.slept)


def test_a_spent_weight_budget_pauses_history_until_the_next_minute(fake, client):
    minute = 60 * 29401200
    clock = Clock(minute - 1.0)
    install_fake(fake, weight=WeightCounter(start=2100, clock=clock))
    exchange = venue(fake, client, budget=WeightBudget(clock=clock, sleep=clock.sleep))
    h = exchange.history(START, END)
    assert clock.slept == [approx(2.0)]  # after exchangeInfo reported the spent minute: 1 s + 1 s margin
    assert h.symbols_failed == 0


# -- parsers -----------------------------------------------------------------------------------------


def test_history_parsers_skip_malformed_rows():
    skipped = Skips()
    good = [1795388400000, "1", "2", "0.5", "1.5", "10", 1795391999999, "15.5", 7, "5", "7", "0"]
    rows = [good, [1795392000000, "1"], "x", [None, *good[1:]], [1795395600000, *good[1:7], "-1", 7, "0", "0", "0"]]
    assert parse_history_candles(rows, skipped) == {1795388400: (1.0, 1.5, 15.5, 7)} and skipped.count == 4
    assert parse_price_candles([good, [1795392000000, "1", "2", "0", ""]], skipped) == {1795388400: 1.5}
    funding = [{"symbol": "BTCUSDT", "fundingTime": 1795363200001, "fundingRate": "0.0001"},
               {"symbol": "ETHUSDT", "fundingTime": 1795363200000, "fundingRate": "0.0003"},
               {"symbol": "BTCUSDT", "fundingTime": 1795392000000, "fundingRate": ""}]
    assert parse_funding_history(funding, skipped, "BTCUSDT") == {1795363200001: 0.0001}
    oi = [{"sumOpenInterest": "2", "sumOpenInterestValue": "168000.5", "timestamp": 1795388400000},
          {"sumOpenInterest": "2", "timestamp": 1795392000000}]
    assert parse_open_interest_history(oi, skipped) == {1795388400: 168000.5}
    ratio = [{"longShortRatio": "1.5000", "longAccount": "0.6", "timestamp": 1795388400000}, {"timestamp": 1}]
    assert parse_long_short_history(ratio, skipped) == {1795388400: approx(0.6)}
    assert skipped.count == 4 + 1 + 1 + 1 + 1


@pytest.mark.parametrize("parse", [parse_history_candles, parse_price_candles, parse_funding_history,
                                   parse_open_interest_history, parse_long_short_history])
def test_history_parsers_reject_a_wrong_shape(parse):
    with pytest.raises(ValueError):
        parse({"code": -1121, "msg": "Invalid symbol."}, Skips())


def test_a_wrong_shape_fails_only_that_market(fake, client):
    install_fake(fake)
    wrap(fake, KLINES, lambda request: Reply({"rows": []}) if request.query["symbol"] == "SOLUSDT" else None)
    h = venue(fake, client).history(START, END)
    assert h.symbols_failed == 1
    assert any("unexpected klines payload: expected a list, got dict" in n for n in h.notes)
