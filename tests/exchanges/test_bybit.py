"""Bybit v5 specifics: instrument filtering, pagination, units, the account ratio and retCode errors."""

from __future__ import annotations

import pytest

from perps_tracker.errors import ExchangeError, RateLimited
from perps_tracker.exchanges.bybit import (
    Bybit,
    parse_account_ratio,
    parse_instruments,
    parse_tickers,
)
from perps_tracker.exchanges.parsing import Skips
from tests.fakes import Reply, load
from tests.fakes.bybit import EXPECTED, PAGE_2_CURSOR, paged_listing

BTC = {"symbol": "BTCUSDT", "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": "BTC",
       "quoteCoin": "USDT", "settleCoin": "USDT", "fundingInterval": 480}


def page(*rows, cursor=""):
    return {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": list(rows),
                                                     "nextPageCursor": cursor}}


def ticker(**fields):
    return {"symbol": "BTCUSDT", "lastPrice": "84000", "turnover24h": "1000.5", **fields}


@pytest.fixture
def bybit(fake, client):
    fake.install("bybit")
    return Bybit(client, fake.url("bybit"))


# -- instruments ------------------------------------------------------------------------------

def test_active_usdt_linear_perpetual_is_included():
    assert list(parse_instruments(page(BTC))) == ["BTCUSDT"]


def test_usdc_perpetual_is_included():
    usdc = {**BTC, "symbol": "BTCPERP", "quoteCoin": "USDC", "settleCoin": "USDC"}
    assert list(parse_instruments(page(usdc))) == ["BTCPERP"]


@pytest.mark.parametrize("change", [
    {"contractType": "LinearFutures", "symbol": "BTC-26DEC26"},
    {"contractType": "InversePerpetual", "settleCoin": "BTC"},
    {"status": "PreLaunch"},
    {"status": "Settling"},
    {"status": "Delivering"},
    {"status": "Closed"},
    {"settleCoin": "BTC"},
    {"settleCoin": "USDE"},
    {"symbol": ""},
], ids=["dated", "inverse", "prelaunch", "settling", "delivering", "closed", "coin-settled", "other-settle",
        "no-symbol"])
def test_excluded_instruments(change):
    assert parse_instruments(page({**BTC, **change})) == {}


def test_pagination_follows_next_page_cursor(bybit, fake):
    included = bybit.instruments()
    asked = [r.query.get("cursor") for r in fake.requests if r.path == "/v5/market/instruments-info"]
    assert asked == [None, PAGE_2_CURSOR]  # the %-encoded token went back unchanged
    assert {"BTCUSDT", "ETHUSDT"} <= included.keys()  # page 1
    assert {"BTCPERP", "SOLUSDT", "1000PEPEUSDT", "SHIB1000USDT", "BADUSDT"} <= included.keys()  # page 2
    assert bybit.fetch().markets == 7  # only 2 of the 7 are on page 1


def test_a_cursor_that_comes_back_is_a_one_line_error(bybit, fake):
    fake.add("bybit", "/v5/market/instruments-info", Reply(page(BTC, cursor="again")))
    with pytest.raises(ExchangeError) as err:
        bybit.fetch()
    assert str(err.value) == ("bybit: unexpected instruments-info payload: the page cursor 'again' came back "
                              "(a paging loop)")
    assert fake.count("bybit", "/v5/market/instruments-info") == 2


def test_a_cursor_loop_over_several_pages_is_caught(bybit, fake):
    following = {None: "a", "a": "b", "b": "c", "c": "a"}
    fake.add("bybit", "/v5/market/instruments-info",
             lambda request: Reply(page(BTC, cursor=following[request.query.get("cursor")])))
    with pytest.raises(ExchangeError, match="^bybit: unexpected instruments-info payload: the page cursor 'a' came "
                                            "back [(]a paging loop[)]$"):
        bybit.fetch()


def test_twenty_rows_a_page_for_538_perpetuals_is_read_to_the_end(fake, client):
    expected = paged_listing(fake, n=538, per_page=20)
    snap = Bybit(client, fake.url("bybit")).fetch()
    assert expected["pages"] == 27 and fake.count("bybit", "/v5/market/instruments-info") == 27
    assert (snap.markets, snap.volume_24h_usd) == (expected["markets"], expected["volume_24h_usd"])
    assert snap.btc_price == 90652.4


def test_a_cursor_that_never_ends_stops_at_a_bound_on_rows_not_pages(bybit, fake):
    bybit.max_listing_rows = 100
    fake.add("bybit", "/v5/market/instruments-info",
             lambda request: Reply(page(BTC, BTC, BTC, cursor=f"{request.query.get('cursor')}+")))
    with pytest.raises(ExchangeError, match="^bybit: unexpected instruments-info payload: more than 100 rows$"):
        bybit.fetch()
    assert fake.count("bybit", "/v5/market/instruments-info") == 34  # 3 rows a page


def test_empty_pages_count_towards_the_bound(bybit, fake):
    bybit.max_listing_rows = 10
    fake.add("bybit", "/v5/market/instruments-info",
             lambda request: Reply(page(cursor=f"{request.query.get('cursor')}+")))
    with pytest.raises(ExchangeError, match="more than 10 rows"):
        bybit.fetch()


def test_malformed_instruments_page_fails_the_venue(bybit, fake):
    fake.add("bybit", "/v5/market/instruments-info", Reply({"retCode": 0, "result": {"list": None}}))
    with pytest.raises(ExchangeError, match="^bybit: unexpected instruments-info payload"):
        bybit.fetch()


# -- tickers ----------------------------------------------------------------------------------

def markets_of(*tickers, instruments=None):
    skipped = Skips()
    markets = parse_tickers(page(*tickers), instruments or {"BTCUSDT": BTC}, skipped)
    return markets, skipped.count


def test_ticker_units():
    (m,), _ = markets_of(ticker(markPrice="84001", indexPrice="83990", price24hPcnt="-0.0125",
                                fundingRate="0.0001", fundingIntervalHour="8"))
    assert (m.base, m.quote, m.volume_24h_usd) == ("BTC", "USDT", 1000.5)
    assert (m.last_price, m.mark_price, m.index_price) == (84000.0, 84001.0, 83990.0)
    assert m.price_change_24h_pct == pytest.approx(-1.25)
    assert m.funding_rate_8h == pytest.approx(0.0001)


def test_one_sided_open_interest_is_preferred():
    (m,), _ = markets_of(ticker(openInterestValue="9000", singleOpenInterestValue="4500"))
    assert m.open_interest_usd == 4500.0


@pytest.mark.parametrize("fields", [{"openInterestValue": "9000"},
                                    {"openInterestValue": "9000", "singleOpenInterestValue": ""}])
def test_both_sides_open_interest_when_one_side_is_absent(fields):
    (m,), _ = markets_of(ticker(**fields))
    assert m.open_interest_usd == 9000.0


def test_missing_open_interest_is_none_not_zero():
    (m,), _ = markets_of(ticker(openInterestValue="NaN"))
    assert m.open_interest_usd is None


@pytest.mark.parametrize(("hours", "expected"), [("1", 0.0008), ("2", 0.0004), ("4", 0.0002), (8, 0.0001)])
def test_funding_uses_the_tickers_interval(hours, expected):
    (m,), _ = markets_of(ticker(fundingRate="0.0001", fundingIntervalHour=hours))
    assert m.funding_rate_8h == pytest.approx(expected)


def test_funding_interval_falls_back_to_instruments_minutes():
    (m,), _ = markets_of(ticker(fundingRate="0.0001"), instruments={"BTCUSDT": {**BTC, "fundingInterval": 240}})
    assert m.funding_rate_8h == pytest.approx(0.0002)  # 240 min = 4 h


def test_funding_without_any_interval_is_none():
    instruments = {"BTCUSDT": {k: v for k, v in BTC.items() if k != "fundingInterval"}}
    (m,), _ = markets_of(ticker(fundingRate="0.0001"), instruments=instruments)
    assert m.funding_rate_8h is None


@pytest.mark.parametrize("turnover", ["", "NaN", None])
def test_missing_turnover_is_counted_and_the_market_kept(turnover):
    (m,), skipped = markets_of(ticker(turnover24h=turnover, markPrice="84001"))
    assert m.volume_24h_usd is None and (m.last_price, m.mark_price) == (84000.0, 84001.0) and skipped == 1


def test_missing_last_price_is_counted_and_the_market_kept():
    (m,), skipped = markets_of(ticker(lastPrice="", markPrice="84001"))
    assert m.last_price is None and m.mark_price == 84001.0 and m.volume_24h_usd == 1000.5 and skipped == 1


def test_tickers_of_excluded_symbols_are_ignored_not_counted():
    markets, skipped = markets_of(ticker(), ticker(symbol="BTC-26DEC26", turnover24h=""),
                                  ticker(symbol="XYZUSDT"))
    assert [m.symbol for m in markets] == ["BTCUSDT"] and skipped == 0


def test_included_instrument_without_a_ticker_is_counted():
    instruments = {"BTCUSDT": BTC, "ETHUSDT": {**BTC, "symbol": "ETHUSDT", "baseCoin": "ETH"}}
    markets, skipped = markets_of(ticker(), instruments=instruments)
    assert [m.symbol for m in markets] == ["BTCUSDT"] and skipped == 1


def test_fixture_tickers_match_the_fixture_instruments():
    instruments = {**parse_instruments(load("bybit", "instruments_info_page1")),
                   **parse_instruments(load("bybit", "instruments_info_page2"))}
    skipped = Skips()
    markets = parse_tickers(load("bybit", "tickers"), instruments, skipped)
    assert sorted(m.symbol for m in markets) == ["1000PEPEUSDT", "BADUSDT", "BTCPERP", "BTCUSDT", "ETHUSDT",
                                                 "SHIB1000USDT", "SOLUSDT"]
    assert skipped.count == 2  # BADUSDT's turnover24h and lastPrice
    eth = next(m for m in markets if m.symbol == "ETHUSDT")
    assert eth.funding_rate_8h == pytest.approx(0.00005 * 8 / 4)  # no fundingIntervalHour: 240 min


def test_btcusdt_without_turnover_still_gives_the_btc_line(bybit, fake):
    tickers = load("bybit", "tickers")
    btcusdt = next(row for row in tickers["result"]["list"] if row["symbol"] == "BTCUSDT")
    del btcusdt["turnover24h"]
    fake.add("bybit", "/v5/market/tickers", Reply(tickers))
    snap = bybit.fetch()
    for line in ("btc_price", "btc_mark_price", "btc_index_price", "btc_funding_rate_8h", "btc_price_change_24h_pct"):
        assert getattr(snap, line) == EXPECTED[line], line  # BTCUSDT's, not the USDC perpetual BTCPERP's
    assert snap.markets == EXPECTED["markets"] and snap.records_skipped == EXPECTED["records_skipped"] + 1
    assert snap.volume_24h_usd == pytest.approx(EXPECTED["volume_24h_usd"].expected - 12000000000.5)


def test_malformed_tickers_payload_fails_the_venue(bybit, fake):
    fake.add("bybit", "/v5/market/tickers", Reply({"retCode": 0, "result": {}}))
    with pytest.raises(ExchangeError) as err:
        bybit.fetch()
    assert str(err.value).startswith("bybit: unexpected tickers payload") and "\n" not in str(err.value)


# -- long/short account ratio -----------------------------------------------------------------

def ratio_rows(*rows):
    return {"retCode": 0, "result": {"list": list(rows)}}


def test_account_ratio_takes_the_newest_row_whatever_the_order():
    payload = ratio_rows({"buyRatio": "0.7", "sellRatio": "0.3", "timestamp": "300"},
                         {"buyRatio": "0.4", "sellRatio": "0.6", "timestamp": "900"},
                         {"buyRatio": "0.5", "sellRatio": "0.5", "timestamp": "600"})
    assert parse_account_ratio(payload) == pytest.approx(0.4)


def test_account_ratio_normalises_shares_that_do_not_sum_to_one():
    assert parse_account_ratio(ratio_rows({"buyRatio": "0.3", "sellRatio": "0.2", "timestamp": 1})) == \
        pytest.approx(0.6)


def test_account_ratio_without_sell_ratio_is_the_buy_ratio():
    assert parse_account_ratio(ratio_rows({"buyRatio": 0.55, "timestamp": 1})) == pytest.approx(0.55)


def test_empty_account_ratio_is_none():
    assert parse_account_ratio(ratio_rows()) is None


def test_account_ratio_404_leaves_the_ratio_none(bybit, fake):
    fake.add("bybit", "/v5/market/account-ratio", Reply({"msg": "not found"}, status=404))
    snap = bybit.fetch()
    assert snap.ok and snap.long_share is None and snap.long_short_ratio is None and snap.markets == EXPECTED["markets"]


def test_account_ratio_error_leaves_the_ratio_none_with_a_note(bybit, fake):
    fake.add("bybit", "/v5/market/account-ratio", Reply({"retCode": 10001, "retMsg": "params error"}))
    snap = bybit.fetch()
    assert snap.ok and snap.long_share is None
    assert bybit.notes == ["long/short ratio unavailable: params error (code 10001)"]


# -- errors inside HTTP 200 -------------------------------------------------------------------

def test_check_passes_success():
    Bybit.check(Bybit(None), {"retCode": 0, "retMsg": "OK", "result": {}})


def test_check_raises_the_venue_message_and_code():
    with pytest.raises(ExchangeError) as err:
        Bybit.check(Bybit(None), {"retCode": 10001, "retMsg": "params error", "result": {}})
    assert not isinstance(err.value, RateLimited)
    assert str(err.value) == "bybit: params error (code 10001)"


@pytest.mark.parametrize("code", [10006, 10018, "10006"])
def test_check_rate_limit_codes(code):
    with pytest.raises(RateLimited, match="Too many visits"):
        Bybit.check(Bybit(None), {"retCode": code, "retMsg": "Too many visits!"})


def test_rate_limit_in_200_is_retried(bybit, fake):
    tickers, calls = load("bybit", "tickers"), []

    def once_limited(request):
        calls.append(request)
        return Reply({"retCode": 10006, "retMsg": "Too many visits!"} if len(calls) == 1 else tickers)

    fake.add("bybit", "/v5/market/tickers", once_limited)
    assert bybit.fetch().markets == EXPECTED["markets"] and len(calls) == 2


def test_required_tickers_error_fails_the_venue(bybit, fake):
    fake.add("bybit", "/v5/market/tickers", Reply({"retCode": 10001, "retMsg": "params error"}))
    with pytest.raises(ExchangeError, match="^bybit: params error"):
        bybit.fetch()


def test_null_tickers_body_is_an_unexpected_tickers_payload(bybit, fake):
    fake.add("bybit", "/v5/market/tickers", Reply(None))
    with pytest.raises(ExchangeError, match="^bybit: unexpected tickers payload"):
        bybit.fetch()


# -- the liquidation stream's split over connections ---------------------------------------------

def test_split_keeps_each_topic_on_its_connection_when_the_listing_changes():
    from perps_tracker.exchanges.bybit import ARGS_CHARS_PER_CONNECTION
    from perps_tracker.exchanges.streams import args_chars, split_topics

    topics = [f"allLiquidation.COIN{i}USDT" for i in range(600)]
    before = split_topics(topics, ARGS_CHARS_PER_CONNECTION)
    after = split_topics(topics[1:] + ["allLiquidation.NEWCOINUSDT"], ARGS_CHARS_PER_CONNECTION)  # one delisted, one listed
    assert len(before) == len(after) == 2
    assert sorted(t for share in before for t in share) == sorted(topics)
    assert all(args_chars(share) <= ARGS_CHARS_PER_CONNECTION for share in before + after)
    for old, new in zip(before, after):  # a reconnecting connection takes no other connection's topics
        assert set(old) - {topics[0]} <= set(new)


def test_split_puts_a_small_list_on_one_connection_in_the_order_given():
    from perps_tracker.exchanges.bybit import ARGS_CHARS_PER_CONNECTION
    from perps_tracker.exchanges.streams import split_topics

    assert split_topics(["allLiquidation.ETHUSDT", "allLiquidation.BTCUSDT"], ARGS_CHARS_PER_CONNECTION) == [
        ["allLiquidation.ETHUSDT", "allLiquidation.BTCUSDT"]]
