"""OKX liquidation history over REST: families ranked by volume, `after` paging, sides and units,
range filtering and per-family failures, through the loopback fake."""

from __future__ import annotations

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.okx import (
    Okx,
    family_of,
    page_extent,
    parse_instruments,
    parse_liquidation_rows,
)
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.market import Market, top_by_volume
from tests.conftest import event_tuples, expected_events
from tests.fakes import Reply, load
from tests.fakes.okx import (
    BULK_COUNT,
    BULK_START_MS,
    LIQUIDATION_HOUR_MS,
    bulk_details,
    error,
    liquidation_orders,
    liquidation_rows,
)

PATH = "/api/v5/public/liquidation-orders"
T0, HOUR = LIQUIDATION_HOUR_MS, 3_600_000

# The fixture's events in 12:00–13:00, hand-computed: quantity = sz × ctVal, USD = bkPx × quantity.
# BTC-USDT-SWAP ctVal 0.01, ETH-USDT-SWAP 0.1, DOGE-USDT-SWAP 1000, BTC-USDC-SWAP 0.0001.
EXPECTED = [  # (symbol, side, price, quantity, value_usd, event_time_ms)
    ("BTC-USDT-SWAP", "long", 84000.1, 0.025, 2100.0025, T0 + 60_000),  # posSide long
    ("ETH-USDT-SWAP", "short", 3000.5, 1.05, 3150.525, T0 + 90_000),  # posSide short, sz 10.5
    ("BTC-USDC-SWAP", "short", 84005.0, 0.01, 840.05, T0 + 100_000),  # net + buy
    ("BTC-USDT-SWAP", "short", 84100.0, 0.005, 420.5, T0 + 120_000),  # posSide short, side "", sz 0.5
    ("DOGE-USDT-SWAP", "long", 0.15, 2000.0, 300.0, T0 + 150_000),
    ("BTC-USDT-SWAP", "long", 83900.0, 0.03, 2517.0, T0 + 180_000),  # net + sell
    ("ETH-USDT-SWAP", "long", 2990.0, 0.4, 1196.0, T0 + 200_000),  # net + sell
    ("BTC-USDT-SWAP", "short", 84200.0, 0.0125, 1052.5, T0 + 240_000),  # posSide "" + buy, sz 1.25
]


@pytest.fixture
def okx(fake, client):
    fake.install("okx")
    return Okx(client, fake.url("okx"))


as_tuples = event_tuples


def expected(*times):
    return expected_events("okx", EXPECTED, times=times)


def liquidation_queries(fake, family=None):
    return [r.query for r in fake.requests
            if r.path == PATH and (family is None or r.query.get("instFamily") == family)]


# -- sides, units, range --------------------------------------------------------------------------

def test_sides_quantities_and_usd_values(okx):
    polled = okx.poll_liquidations(T0, T0 + HOUR, symbols=50)
    events = polled.events
    assert as_tuples(events) == expected()
    # BTC-USDT's empty bkPx is skipped and counted; its 13:01 detail and the 11:00 bulk are out of range
    assert polled.detail == "top 4 instrument families by volume"
    assert polled.notes == ("1 malformed liquidation record skipped",)


def test_range_bounds_are_inclusive(okx):
    polled = okx.poll_liquidations(T0 + 120_000, T0 + 180_000, symbols=50)
    events = polled.events
    assert as_tuples(events) == expected(T0 + 120_000, T0 + 150_000, T0 + 180_000)


def test_first_page_starts_at_the_end_of_the_range(okx, fake):
    okx.poll_liquidations(T0, T0 + HOUR, symbols=1)
    assert liquidation_queries(fake) == [{"instType": "SWAP", "instFamily": "BTC-USDT", "state": "filled",
                                          "limit": "100", "after": str(T0 + HOUR + 1)}]


# -- families -------------------------------------------------------------------------------------

def test_symbols_caps_the_families_by_volume(okx, fake):
    polled = okx.poll_liquidations(T0, T0 + HOUR, symbols=1)
    events = polled.events
    assert {q["instFamily"] for q in liquidation_queries(fake)} == {"BTC-USDT"}
    assert {e.symbol for e in events} == {"BTC-USDT-SWAP"} and len(events) == 4
    assert polled.detail == "top 1 instrument families by volume"


def test_families_ranked_by_usd_volume(okx, fake):
    okx.poll_liquidations(T0, T0 + HOUR, symbols=3)
    # BTC-USDT 2.1e9, ETH-USDT 4.5e8, DOGE-USDT 3e8, BTC-USDC 1.0e8; BTC-USD is coin-margined
    assert {q["instFamily"] for q in liquidation_queries(fake)} == {"BTC-USDT", "ETH-USDT", "DOGE-USDT"}


def test_top_families_sums_the_swaps_of_a_family():
    markets = [Market(symbol=s, base="X", quote="USDT", volume_24h_usd=v)
               for s, v in [("A-USDT-SWAP", 5.0), ("B-USDT-SWAP", 3.0), ("C-USDT-SWAP", 9.0), ("B-USDT", 4.0)]]
    assert top_by_volume(markets, 2, family_of) == ["C-USDT", "B-USDT"]
    assert top_by_volume(markets, 0, family_of) == []
    assert family_of("BTC-USDC-SWAP") == "BTC-USDC"


def test_coin_margined_rows_are_ignored_not_counted():
    skipped = Skips()
    events = parse_liquidation_rows(load("okx", "liquidation_orders")["data"],
                                    parse_instruments(load("okx", "instruments")), skipped, "rest")
    assert "BTC-USD-SWAP" not in {e.symbol for e in events}
    assert len(events) == 9 and skipped.count == 1  # 10 linear details, one without bkPx


# -- paging ---------------------------------------------------------------------------------------

def test_paging_returns_every_detail_once(okx, fake):
    polled = okx.poll_liquidations(BULK_START_MS, T0 - 1, symbols=1)
    events = polled.events
    assert len(events) == BULK_COUNT == len({e.key() for e in events})
    assert [e.price for e in events] == [80000.0 + i for i in range(BULK_COUNT)]
    assert {e.side for e in events[::2]} == {"long"} and {e.side for e in events[1::2]} == {"short"}
    afters = [int(q["after"]) for q in liquidation_queries(fake)]
    # newest 100 (i = 249..150), then from the oldest millisecond seen, again
    assert afters == [T0, BULK_START_MS + 150 * 14_000 + 1, BULK_START_MS + 51 * 14_000 + 1]


def test_details_sharing_a_millisecond_across_pages_are_all_kept(okx, fake):
    details = bulk_details(150, start_ms=T0, step_ms=1000)
    twin = {**details[50], "bkPx": "99999"}  # same ts as the 100th newest: the first page's oldest
    row = {"instId": "BTC-USDT-SWAP", "instFamily": "BTC-USDT", "details": [*details, twin]}
    fake.add("okx", PATH, liquidation_orders([row]))
    polled = okx.poll_liquidations(T0, T0 + HOUR, symbols=1)
    events = polled.events
    assert len(events) == 151 and 99999.0 in {e.price for e in events}


def test_a_full_page_within_one_millisecond_is_noted(okx, fake):
    details = [{**d, "ts": str(T0 + 5000)} for d in bulk_details(150)]
    fake.add("okx", PATH, liquidation_orders([{"instId": "BTC-USDT-SWAP", "instFamily": "BTC-USDT",
                                               "details": details}]))
    polled = okx.poll_liquidations(T0, T0 + HOUR, symbols=1)
    events = polled.events
    assert len(events) == 100 and len(liquidation_queries(fake)) == 2
    assert "liquidation history of BTC-USDT cut at one crowded millisecond" in polled.notes


def test_page_cap_is_noted(okx, fake):
    okx.liquidation_pages = 2
    polled = okx.poll_liquidations(BULK_START_MS, T0 - 1, symbols=1)
    events = polled.events
    assert len(events) == 199  # two pages of 100, sharing one millisecond
    assert "liquidation history of BTC-USDT cut at 2 pages" in polled.notes


def test_page_extent():
    rows = [{"instId": "X", "details": [{"ts": "30"}, {"ts": "10"}, {"ts": ""}]}, {"instId": "Y", "details": []}]
    assert page_extent(rows) == (3, 10)
    assert page_extent([]) == (0, None)


# -- failures -------------------------------------------------------------------------------------

def test_a_failing_family_is_noted_and_the_others_count(okx, fake):
    serve = liquidation_orders(liquidation_rows())
    fake.add("okx", PATH, lambda r: error("51001", "Instrument ID does not exist")
             if r.query.get("instFamily") == "ETH-USDT" else serve(r))
    polled = okx.poll_liquidations(T0, T0 + HOUR, symbols=50)
    events = polled.events
    assert {e.symbol for e in events} == {"BTC-USDT-SWAP", "DOGE-USDT-SWAP", "BTC-USDC-SWAP"} and len(events) == 6
    assert ("liquidations missing for 1 of 4 instrument families: Instrument ID does not exist (code 51001)"
            in polled.notes)


def test_all_families_failing_raises(okx, fake):
    fake.add("okx", PATH, lambda r: error("51001", "Instrument ID does not exist"))
    with pytest.raises(ExchangeError, match=r"^okx: Instrument ID does not exist \(code 51001\)$"):
        okx.poll_liquidations(T0, T0 + HOUR, symbols=2)


def test_malformed_page_fails_the_family(okx, fake):
    fake.add("okx", PATH, Reply({"code": "0", "msg": "", "data": {}}))
    with pytest.raises(ExchangeError, match="unexpected liquidation-orders payload"):
        okx.poll_liquidations(T0, T0 + HOUR, symbols=1)


@pytest.mark.parametrize(("query", "message"), [
    ({"instType": "SWAP"}, "Parameter instFamily can not be empty. (code 50014)"),
    ({"instType": "SWAP", "instFamily": "NOPE-USDT"}, "Instrument ID does not exist (code 51001)"),
])
def test_fake_answers_bad_families_like_okx(okx, query, message):
    with pytest.raises(ExchangeError) as err:
        okx.get(PATH, query)
    assert err.value.reason == message
