"""Binance specifics: which instruments count, funding intervals, the per-symbol open-interest
fan-out (early start, bounded, failures), the weight budget and the newest long/short row."""

from __future__ import annotations

import threading
import time

import pytest
from pytest import approx

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.binance import (
    Binance,
    WeightBudget,
    build_markets,
    parse_exchange_info,
    parse_funding_info,
    parse_long_short_ratio,
    parse_open_interest,
    parse_rows,
    parse_weight_limit,
)
from perps_tracker.exchanges.parsing import Skips
from tests.fakes import Reply, load
from tests.fakes.binance import (
    EXPECTED,
    OPEN_INTEREST,
    RATIO,
    WeightCounter,
    big_exchange,
    install,
)

QUOTES = ("USDT", "USDC")
MINUTE = 60 * 29401200  # a minute boundary, in Unix seconds


def instrument(**overrides):
    row = {"symbol": "XUSDT", "contractType": "PERPETUAL", "status": "TRADING", "baseAsset": "X",
           "quoteAsset": "USDT", "marginAsset": "USDT"}
    return {**row, **overrides}


def venue(fake, client, **attributes) -> Binance:
    exchange = Binance(client, fake.url("binance"))
    for name, value in attributes.items():
        setattr(exchange, name, value)
    return exchange


def wrap(fake, path, before):
    """Run `before(request)` ahead of the installed route for `path`."""
    route = fake.routes[("binance", "GET", path)]

    def wrapped(request):
        before(request)
        return route(request)

    fake.add("binance", path, wrapped)


# -- instruments ------------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "included"), [
    ({}, True),
    ({"quoteAsset": "USDC", "marginAsset": "USDC"}, True),
    ({"contractType": "CURRENT_QUARTER"}, False),
    ({"contractType": "NEXT_QUARTER"}, False),
    ({"contractType": "TRADIFI_PERPETUAL"}, False),
    ({"contractType": "PERPETUAL DELIVERING"}, False),
    ({"contractType": ""}, False),
    ({"contractType": "perpetual"}, False),
    ({"status": "PENDING_TRADING"}, False),
    ({"status": "SETTLING"}, False),
    ({"status": "CLOSE"}, False),
    ({"quoteAsset": "BUSD", "marginAsset": "BUSD"}, False),
    ({"quoteAsset": "USD1"}, False),
], ids=lambda v: repr(v) if not isinstance(v, bool) else ("in" if v else "out"))
def test_instrument_rules_one_by_one(overrides, included):
    skipped = Skips()
    got = parse_exchange_info({"symbols": [instrument(**overrides)]}, QUOTES, skipped)
    assert got == ({"XUSDT": ("X", overrides.get("quoteAsset", "USDT"))} if included else {})
    assert skipped.count == 0  # excluded is not skipped


def test_fixture_instruments():
    got = parse_exchange_info(load("binance", "exchangeInfo"), QUOTES, Skips())
    assert got == {"BTCUSDT": ("BTC", "USDT"), "ETHUSDT": ("ETH", "USDT"), "BTCUSDC": ("BTC", "USDC"),
                   "1000PEPEUSDT": ("1000PEPE", "USDT"), "DOGEUSDT": ("DOGE", "USDT"), "SOLUSDT": ("SOL", "USDT"),
                   "1000000MOGUSDT": ("1000000MOG", "USDT"), "1MBABYDOGEUSDT": ("1MBABYDOGE", "USDT"),
                   "1INCHUSDT": ("1INCH", "USDT")}


def test_malformed_instrument_rows_are_counted():
    skipped = Skips()
    rows = [instrument(), "BTCUSDT", {"contractType": "PERPETUAL"}, instrument(symbol="YUSDT", baseAsset="")]
    assert list(parse_exchange_info({"symbols": rows}, QUOTES, skipped)) == ["XUSDT"]
    assert skipped.count == 3


@pytest.mark.parametrize("payload", [None, [], {}, {"symbols": {}}, {"data": []}])
def test_exchange_info_shape(payload):
    with pytest.raises(ValueError):
        parse_exchange_info(payload, QUOTES, Skips())


# -- building markets -----------------------------------------------------------------------------


def markets_for(instruments, tickers, premium=(), intervals=None, open_interest=None):
    skipped = Skips()
    markets = build_markets(instruments, parse_rows(list(tickers)), parse_rows(list(premium)),
                            intervals, open_interest, skipped)
    return {m.symbol: m for m in markets}, skipped.count


def test_nan_volume_is_counted_the_market_kept_and_rows_of_other_symbols_are_ignored():
    instruments = {"AUSDT": ("A", "USDT"), "BUSDT": ("B", "USDT"), "CUSDT": ("C", "USDT")}
    tickers = [{"symbol": "AUSDT", "quoteVolume": "10.5", "lastPrice": "1"},
               {"symbol": "BUSDT", "quoteVolume": "NaN", "lastPrice": "2", "count": 9},
               {"symbol": "GHOSTUSDT", "quoteVolume": "NaN"}, {"symbol": "BTCUSDT_261225", "quoteVolume": "1e9"}]
    markets, skipped = markets_for(instruments, tickers, intervals={})
    assert list(markets) == ["AUSDT", "BUSDT"] and markets["AUSDT"].volume_24h_usd == 10.5
    assert markets["BUSDT"].volume_24h_usd is None and markets["BUSDT"].num_trades_24h == 9  # only the volume goes
    assert skipped == 2  # BUSDT's NaN volume and CUSDT's missing ticker; GHOST and the quarterly are not counted


def test_missing_last_price_is_counted_and_the_market_kept():
    markets, skipped = markets_for({"AUSDT": ("A", "USDT")}, [{"symbol": "AUSDT", "quoteVolume": "10.5"}],
                                   intervals={})
    assert markets["AUSDT"].last_price is None and markets["AUSDT"].volume_24h_usd == 10.5 and skipped == 1


def test_ticker_units_strings_and_numbers():
    tickers = [{"symbol": "AUSDT", "quoteVolume": 1234.5, "lastPrice": "2.5", "priceChangePercent": "-3.760",
                "count": "98765"},
               {"symbol": "BUSDT", "quoteVolume": "1", "lastPrice": 3, "priceChangePercent": 1.25, "count": 7}]
    premium = [{"symbol": "AUSDT", "markPrice": "2.49", "indexPrice": 2.48, "lastFundingRate": "0.0001"}]
    markets, _ = markets_for({"AUSDT": ("A", "USDT"), "BUSDT": ("B", "USDC")}, tickers, premium, intervals={})
    a, b = markets["AUSDT"], markets["BUSDT"]
    assert (a.volume_24h_usd, a.last_price, a.price_change_24h_pct, a.num_trades_24h) == (1234.5, 2.5, -3.76, 98765)
    assert (a.mark_price, a.index_price) == (2.49, 2.48)
    assert (b.last_price, b.price_change_24h_pct, b.num_trades_24h, b.quote) == (3.0, 1.25, 7, "USDC")
    assert b.mark_price is None and b.funding_rate_8h is None  # no premiumIndex row: missing, not 0


def test_funding_uses_each_symbols_interval():
    instruments = {s: (s[:-4], "USDT") for s in ("AUSDT", "BUSDT", "CUSDT", "DUSDT")}
    tickers = [{"symbol": s, "quoteVolume": "1"} for s in instruments]
    premium = [{"symbol": "AUSDT", "lastFundingRate": "0.0002"}, {"symbol": "BUSDT", "lastFundingRate": "0.0001"},
               {"symbol": "CUSDT", "lastFundingRate": "-0.0001"}, {"symbol": "DUSDT", "lastFundingRate": ""}]
    markets, _ = markets_for(instruments, tickers, premium, intervals={"AUSDT": 4.0, "BUSDT": 1.0})
    assert markets["AUSDT"].funding_rate_8h == approx(0.0004)  # 4 h: × 2
    assert markets["BUSDT"].funding_rate_8h == approx(0.0008)  # 1 h: × 8
    assert markets["CUSDT"].funding_rate_8h == approx(-0.0001)  # not in fundingInfo: 8 h
    assert markets["DUSDT"].funding_rate_8h is None
    unknown, _ = markets_for(instruments, tickers, premium, intervals=None)
    assert all(m.funding_rate_8h is None for m in unknown.values())  # fundingInfo unavailable: no guessing


def test_open_interest_in_usd_and_missing_symbols_counted():
    instruments = {s: (s[:-4], "USDT") for s in ("AUSDT", "BUSDT", "CUSDT")}
    tickers = [{"symbol": s, "quoteVolume": "1", "lastPrice": "2"} for s in instruments]
    premium = [{"symbol": "AUSDT", "markPrice": "2.0"}, {"symbol": "BUSDT", "markPrice": "3.0"},
               {"symbol": "CUSDT", "markPrice": "NaN"}]
    markets, skipped = markets_for(instruments, tickers, premium, {}, {"AUSDT": 10.5, "CUSDT": 7.0})
    assert markets["AUSDT"].open_interest_usd == approx(21.0)  # base units × mark price
    assert markets["BUSDT"].open_interest_usd is None  # its request failed: kept, counted
    assert markets["CUSDT"].open_interest_usd is None  # no mark price: kept, counted
    assert skipped == 2
    none, skipped = markets_for(instruments, tickers, premium, {}, None)
    assert all(m.open_interest_usd is None for m in none.values()) and skipped == 0  # venue has no OI


def test_funding_info_intervals():
    assert parse_funding_info(load("binance", "fundingInfo")) == {"1000PEPEUSDT": 4.0, "TSLAUSDT": 1.0}
    assert parse_funding_info([{"symbol": "A", "fundingIntervalHours": 0}, {"fundingIntervalHours": 4}, "x"]) == {}


def test_open_interest_is_base_units_or_missing():
    assert parse_open_interest({"openInterest": "10659.509", "symbol": "BTCUSDT"}) == 10659.509
    assert parse_open_interest({"openInterest": 0.5}) == 0.5
    assert parse_open_interest({"openInterest": "NaN"}) is None


@pytest.mark.parametrize(("parse", "payload"), [(parse_funding_info, {}), (parse_rows, {"symbol": "BTCUSDT"}),
                                                (parse_rows, None), (parse_open_interest, [])])
def test_wrong_shapes_raise(parse, payload):
    with pytest.raises(ValueError):
        parse(payload)


def test_long_short_ratio_takes_the_newest_row():
    rows = load("binance", "globalLongShortAccountRatio")
    assert [r["timestamp"] for r in rows] != sorted(r["timestamp"] for r in rows)  # out of order on purpose
    assert parse_long_short_ratio(rows) == 1.5
    assert parse_long_short_ratio(list(reversed(rows))) == 1.5
    assert parse_long_short_ratio([]) is None
    assert parse_long_short_ratio(None) is None  # 404
    with pytest.raises(ValueError):
        parse_long_short_ratio({"code": 0})


# -- fetch against the fake --------------------------------------------------------------------


def test_only_included_symbols_get_an_open_interest_request(fake, client):
    install(fake)
    snap = venue(fake, client).fetch()
    asked = {r.query["symbol"] for r in fake.requests if r.path == OPEN_INTEREST}
    assert asked == {"BTCUSDT", "ETHUSDT", "BTCUSDC", "1000PEPEUSDT", "DOGEUSDT", "SOLUSDT", "1000000MOGUSDT",
                     "1MBABYDOGEUSDT", "1INCHUSDT"}
    ratio = [r.query for r in fake.requests if r.path == RATIO]
    assert ratio == [{"symbol": "BTCUSDT", "period": "1h", "limit": "1"}]
    assert snap.records_skipped == EXPECTED["records_skipped"]


def test_invalid_symbol_skips_only_that_open_interest(fake, client):
    install(fake)
    exchange = venue(fake, client)
    snap = exchange.fetch()
    assert snap.ok and snap.open_interest_usd == EXPECTED["open_interest_usd"]
    assert any("open interest missing for 2 of 9 symbols" in n and "Invalid symbol." in n for n in exchange.notes)


def test_every_open_interest_failing_leaves_oi_null_not_zero(fake, client):
    install(fake)
    fake.add("binance", OPEN_INTEREST, Reply({"code": -1121, "msg": "Invalid symbol."}, status=400))
    snap = venue(fake, client).fetch()
    assert snap.ok and snap.open_interest_usd is None
    assert snap.records_skipped == 1 + 9  # SOLUSDT's NaN volume, then each market's OI
    assert snap.volume_24h_usd == EXPECTED["volume_24h_usd"]


def test_open_interest_starts_while_the_tickers_are_in_flight(fake, client):
    install(fake)
    oi_started = threading.Event()
    seen = []
    wrap(fake, OPEN_INTEREST, lambda request: oi_started.set())
    # The ticker answers only once an OI request has arrived (or gives up after 1.5 s).
    wrap(fake, "/fapi/v1/ticker/24hr", lambda request: seen.append(oi_started.wait(1.5)))
    wrap(fake, "/fapi/v1/premiumIndex", lambda request: seen.append(oi_started.wait(1.5)))
    snap = venue(fake, client).fetch()
    assert seen == [True, True] and snap.markets == EXPECTED["markets"]


def in_flight_counter(fake, hold: float) -> dict:
    """Hold every OI request `hold` seconds and record the most in flight at once."""
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def slow(request):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(hold)
        with lock:
            state["now"] -= 1

    wrap(fake, OPEN_INTEREST, slow)
    return state


def test_open_interest_fan_out_is_bounded(fake, client):
    big_exchange(fake, n=40)
    state = in_flight_counter(fake, hold=0.05)
    snap = venue(fake, client, open_interest_limit=8).fetch()
    assert 6 <= state["peak"] <= 8
    assert fake.count("binance", OPEN_INTEREST) == 40 and snap.markets == 40


def test_big_exchange_fans_out_as_far_as_the_weight_left_allows(fake, client):
    # Issue 13: the fan-out is sized from the minute's weight budget, not a fixed 50 (at 150 ms a
    # request, 560 symbols took 2.07 s at 50 in flight, 1.21 s at 100, with the weight used ~600 of 2400).
    expected = big_exchange(fake, n=120)
    state = in_flight_counter(fake, hold=0.2)
    snap = venue(fake, client).fetch()
    assert 50 < state["peak"] <= Binance.open_interest_limit
    assert fake.count("binance", OPEN_INTEREST) == 120
    assert (snap.markets, snap.volume_24h_usd, snap.open_interest_usd) == (
        expected["markets"], expected["volume_24h_usd"], expected["open_interest_usd"])
    assert snap.btc_price == 84000.0 and snap.long_short_ratio == 1.2 and snap.records_skipped == 0


def test_a_nearly_spent_minute_narrows_the_fan_out(fake, client):
    clock = Clock(MINUTE + 10.0)
    big_exchange(fake, n=40, weight=WeightCounter(start=1930, clock=clock))  # someone else spent most of it
    state = in_flight_counter(fake, hold=0.05)
    snap = venue(fake, client, budget=WeightBudget(clock=clock, sleep=clock.sleep)).fetch()
    # exchangeInfo answered 1931 used of the 2000 pause: room for 69, of which 52 go to the other calls
    assert 1 <= state["peak"] <= 2000 - 1931 - 52
    assert snap.markets == 40 and fake.count("binance", OPEN_INTEREST) == 40


def test_the_budget_comes_from_exchange_info_rate_limits():
    info = {"rateLimits": [{"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                           {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200}]}
    assert parse_weight_limit(info) == 1200
    assert parse_weight_limit({"rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                                               "intervalNum": 2, "limit": "4800"}]}) == 2400
    for payload in ({}, {"rateLimits": "x"}, {"rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "limit": -1,
                                                            "interval": "MINUTE"}]}, []):
        assert parse_weight_limit(payload) is None
    budget, clock = budget_at(MINUTE + 30)
    budget.documented(1200)
    assert budget.room() == 1000  # held past 5/6 of it
    budget.observe(Response(used=990))
    assert budget.room() == 10 and budget.pause() == 0
    clock.now += 60
    assert budget.room() == 1000  # a new minute


def test_optional_endpoints_failing_leave_their_metrics_null(fake, client):
    install(fake)
    fake.add("binance", RATIO, Reply({"code": -1000, "msg": "An unknown error occurred"}, status=400))
    fake.add("binance", "/fapi/v1/fundingInfo", Reply({"code": -1000, "msg": "nope"}, status=400))
    exchange = venue(fake, client)
    snap = exchange.fetch()
    assert snap.ok and snap.markets == EXPECTED["markets"]
    assert snap.long_short_ratio is None and snap.long_share is None
    assert snap.btc_funding_rate_8h is None  # interval unknown: no 8 h guess
    assert any(n.startswith("long/short ratio unavailable") for n in exchange.notes)
    assert any(n.startswith("funding intervals unavailable") for n in exchange.notes)


@pytest.mark.parametrize(("path", "what"), [("/fapi/v1/exchangeInfo", "exchangeInfo"),
                                            ("/fapi/v1/ticker/24hr", "ticker/24hr"),
                                            ("/fapi/v1/premiumIndex", "premiumIndex")])
def test_required_endpoint_with_wrong_shape_fails_the_venue(fake, client, path, what):
    install(fake)
    fake.add("binance", path, Reply({"symbol": "BTCUSDT"} if path != "/fapi/v1/exchangeInfo" else []))
    with pytest.raises(ExchangeError) as err:
        venue(fake, client).fetch()
    assert str(err.value).startswith(f"binance: unexpected {what} payload: ")


# -- the weight budget ----------------------------------------------------------------------


class Clock:
    """A settable clock whose sleep advances it."""

    def __init__(self, now: float):
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Response:
    def __init__(self, used=None, status=200, retry_after=None):
        self.status_code = status
        self.headers = {}
        if used is not None:
            self.headers["X-MBX-USED-WEIGHT-1M"] = str(used)
        if retry_after is not None:
            self.headers["Retry-After"] = str(retry_after)


def budget_at(now: float) -> tuple[WeightBudget, Clock]:
    clock = Clock(now)
    return WeightBudget(clock=clock, sleep=clock.sleep), clock


def test_budget_within_limit_does_not_wait():
    budget, clock = budget_at(MINUTE + 30)
    budget.observe(Response(used=2000))
    assert budget.pause() == 0 and budget.wait(65) and clock.slept == []


def test_budget_over_limit_waits_for_the_next_minute():
    budget, clock = budget_at(MINUTE + 30)
    budget.observe(Response(used=2001))
    assert budget.pause() == approx(31.0)  # 30 s to the boundary, plus the 1 s margin
    assert budget.wait(65) and clock.slept == [approx(31.0)]
    assert budget.pause() == 0


def test_budget_keeps_the_highest_reading_of_the_minute():
    budget, _ = budget_at(MINUTE + 10)
    budget.observe(Response(used=2100))
    budget.observe(Response(used=1990))  # an older request answering late
    assert budget.pause() > 0


def test_budget_ignores_a_reading_from_a_request_sent_last_minute():
    budget, clock = budget_at(MINUTE - 0.5)
    budget.sending()
    clock.now = MINUTE + 1.5  # the answer arrives in the new minute, still carrying the old count
    budget.observe(Response(used=2390))
    assert budget.pause() == 0


def test_budget_keeps_this_minutes_reading_when_a_stale_one_arrives():
    budget, clock = budget_at(MINUTE - 0.5)
    budget.sending()  # this thread's request goes out in the old minute...
    clock.now = MINUTE + 1.5
    reader = threading.Thread(target=lambda: (budget.sending(), budget.observe(Response(used=12))))
    reader.start()
    reader.join()  # ...another thread's fresh reading arrives first
    budget.observe(Response(used=2390))  # then the stale one
    assert budget.pause() == 0


def test_budget_honours_retry_after_of_429_and_418():
    budget, clock = budget_at(MINUTE + 5)
    budget.observe(Response(status=429, retry_after=3))
    assert budget.pause() == approx(3.0)
    budget.observe(Response(status=429, retry_after=0))
    assert budget.pause() == approx(3.0)  # the longer hold stands
    budget, clock = budget_at(MINUTE + 5)
    budget.observe(Response(status=429))  # no Retry-After: the next minute
    assert budget.pause() == approx(56.0)
    budget.observe(Response(status=418, retry_after=7200))
    assert budget.wait(65) is False and clock.slept == []  # a ban is not slept through


def test_fetch_pauses_open_interest_until_the_next_minute(fake, client):
    clock = Clock(MINUTE - 1.0)  # one second before a minute boundary
    install(fake, weight=WeightCounter(start=2100, clock=clock))  # someone else spent the minute already
    oi_at = []
    wrap(fake, OPEN_INTEREST, lambda request: oi_at.append(clock.now))
    exchange = venue(fake, client, budget=WeightBudget(clock=clock, sleep=clock.sleep))
    snap = exchange.fetch()
    assert clock.slept == [approx(2.0)]  # once: 1 s to the boundary + 1 s margin
    assert len(oi_at) == 9 and min(oi_at) >= MINUTE  # no OI request in the spent minute
    assert snap.ok and snap.open_interest_usd == EXPECTED["open_interest_usd"]


def test_ip_ban_during_the_fan_out_stops_it(fake, client):
    install(fake)
    ban = {"code": -1003, "msg": "Way too many requests; IP banned until 1764075600000."}
    fake.add("binance", OPEN_INTEREST, Reply(ban, status=418, headers={"Retry-After": "3600"}))
    clock = Clock(time.time())
    exchange = venue(fake, client, open_interest_limit=1, budget=WeightBudget(clock=clock, sleep=clock.sleep))
    snap = exchange.fetch()
    assert clock.slept == [] and fake.count("binance", OPEN_INTEREST) == 1  # the other eight are not sent
    assert snap.ok and snap.open_interest_usd is None and snap.records_skipped == 1 + 9  # SOLUSDT's volume, 9 OIs
    assert any("IP banned (HTTP 418)" in n for n in exchange.notes)
