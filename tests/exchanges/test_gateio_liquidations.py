"""Gate.io liquidation history over REST: hour windows, paging by `to`, sides and quanto units,
range filtering and Gate's errors, through the loopback fake."""

from __future__ import annotations

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.gateio import Gateio, liq_windows, time_span
from tests.conftest import event_tuples, expected_events
from tests.fakes import Reply
from tests.fakes.gateio import LIQUIDATION_HOUR_S, liq_orders

PATH = "/api/v4/futures/usdt/liq_orders"
T0S = LIQUIDATION_HOUR_S
T0, HOUR = T0S * 1000, 3_600_000

# The fixture's events in 12:00–13:00, hand-computed: quantity = |size| × quanto_multiplier
# (BTC_USDT 0.0001, ETH_USDT 0.01, PEPE_USDT 1e6), USD = price × quantity.
EXPECTED = [  # (symbol, side, price, quantity, value_usd, event_time_ms)
    ("BTC_USDT", "long", 83950.0, 0.0002, 16.79, T0),
    ("BTC_USDT", "long", 84000.0, 0.06, 5040.0, T0 + 60_000),  # size 600 (order_size -600 is not the side)
    ("BTC_USDT", "short", 84100.5, 0.02505, 2106.717525, T0 + 120_000),  # size -250.5
    ("ETH_USDT", "long", 2950.5, 0.125, 368.8125, T0 + 180_000),  # fill_price "": order_price
    ("PEPE_USDT", "short", 0.0000104, 3.5e6, 36.4, T0 + 240_000),  # size -3.5
]


@pytest.fixture
def gate(fake, client):
    fake.install("gateio")
    return Gateio(client, fake.url("gateio"))


as_tuples = event_tuples


def expected(*times):
    return expected_events("gateio", EXPECTED, times=times)


def windows_asked(fake):
    return [(int(r.query["from"]), int(r.query["to"])) for r in fake.requests if r.path == PATH]


def many_rows(count, time_of=lambda i: T0S + i // 2):
    """`count` BTC_USDT liquidations, two a second by default, each with its own size."""
    return [{"time": time_of(i), "contract": "BTC_USDT", "size": (i + 1) * (1 if i % 2 else -1),
             "order_price": "80000", "fill_price": str(80000 + i), "left": 0} for i in range(count)]


# -- sides, units, range --------------------------------------------------------------------------

def test_sides_quantities_and_usd_values(gate, fake):
    polled = gate.poll_liquidations(T0, T0 + HOUR, symbols=50)
    events = polled.events
    # LUNA_USDT is not trading: ignored; the row without prices is skipped; 13:01:40 is out of range
    assert as_tuples(events) == expected()
    assert polled.notes == ("1 malformed liquidation record skipped",)
    assert [r.query for r in fake.requests if r.path == PATH] == [
        {"from": str(T0S), "to": str(T0S + 3600), "limit": "1000"}]


def test_range_bounds_are_inclusive_to_the_millisecond(gate):
    polled = gate.poll_liquidations(T0 + 1, T0 + 120_000, symbols=50)
    events = polled.events
    assert as_tuples(events) == expected(T0 + 60_000, T0 + 120_000)


def test_three_hours_are_asked_in_hour_windows(gate, fake):
    polled = gate.poll_liquidations(T0 - 2 * HOUR, T0 + HOUR, symbols=50)
    events = polled.events
    assert windows_asked(fake) == [(T0S - 7200, T0S - 3600), (T0S - 3600, T0S), (T0S, T0S + 3600)]
    assert as_tuples(events) == expected()  # the 12:00:00 row, in two windows, comes once


def test_windows_cover_the_range_without_exceeding_an_hour():
    assert liq_windows(0, 10800, 3600) == [(0, 3600), (3600, 7200), (7200, 10800)]
    assert liq_windows(0, 3601, 3600) == [(0, 3600), (3600, 3601)]
    assert liq_windows(5, 5, 3600) == [(5, 5)]
    assert liq_windows(6, 5, 3600) == []


# -- paging ---------------------------------------------------------------------------------------

def test_paging_returns_every_row_once(gate, fake):
    fake.add("gateio", PATH, liq_orders(many_rows(2500)))
    polled = gate.poll_liquidations(T0, T0 + HOUR, symbols=50)
    events = polled.events
    assert len(events) == 2500 == len({e.key() for e in events})
    assert sorted(e.price for e in events) == [80000.0 + i for i in range(2500)]
    # a full page ends at its oldest second, which the next page asks for again
    assert windows_asked(fake) == [(T0S, T0S + 3600), (T0S, T0S + 750), (T0S, T0S + 251)]
    assert polled.notes == ()


def test_a_full_page_within_one_second_is_noted(gate, fake):
    fake.add("gateio", PATH, liq_orders(many_rows(1200, time_of=lambda i: T0S + 10)))
    polled = gate.poll_liquidations(T0, T0 + HOUR, symbols=50)
    events = polled.events
    assert len(events) == 1000 and len(windows_asked(fake)) == 1
    assert polled.notes == ("at least 1000 liquidations at 2025-12-01 12:00:10 UTC: some may be missing",)


def test_page_cap_is_noted(gate, fake):
    gate.liq_pages = 2
    fake.add("gateio", PATH, liq_orders(many_rows(2500)))
    polled = gate.poll_liquidations(T0, T0 + HOUR, symbols=50)
    events = polled.events
    assert len(events) == 1998  # two pages of 1000, sharing two rows of one second
    assert polled.notes == (("liquidations from 2025-12-01 12:00:00 UTC to 2025-12-01 12:04:11 UTC not read: "
                           "over 2 pages"),)


def test_time_span():
    assert time_span([{"time": 30}, {"time": "10"}, {"time": ""}, "x"]) == (10, 30)
    assert time_span([]) == (None, None)


# -- errors ---------------------------------------------------------------------------------------

def test_gate_refuses_windows_over_an_hour(gate):
    with pytest.raises(ExchangeError) as err:
        gate.get(PATH, {"from": T0S, "to": T0S + 3601, "limit": 1000})
    assert err.value.reason.startswith("HTTP 400 at ")
    assert err.value.reason.endswith(": time range can not exceed 3600 seconds (code INVALID_PARAM_VALUE)")


def test_http_400_surfaces_with_gates_message(gate, fake):
    fake.add("gateio", PATH, Reply({"label": "INVALID_PARAM_VALUE", "message": "Invalid request parameter `from`"},
                                   status=400))
    with pytest.raises(ExchangeError, match=r"HTTP 400 .*Invalid request parameter `from` \(code INVALID_PARAM"):
        gate.poll_liquidations(T0, T0 + HOUR, symbols=50)


def test_malformed_page_is_one_line_error(gate, fake):
    fake.add("gateio", PATH, Reply({"data": []}))
    with pytest.raises(ExchangeError, match="^gateio: unexpected liq_orders payload: expected a list, got dict$"):
        gate.poll_liquidations(T0, T0 + HOUR, symbols=50)
