"""The shared pieces the venues' history downloads are declared on (exchanges/history.py), tried on a
stub venue that answers from a function: what each asks for, plans and keeps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.history import (
    Back,
    Cursor,
    Download,
    Forward,
    MarketHistory,
    Windows,
    collect_markets,
    kept_volume_notes,
)
from perps_tracker.exchanges.pacing import MinuteWeight, PerSymbol
from perps_tracker.exchanges.parsing import Skips, listed, ms_rows, num, stamped_rows
from perps_tracker.model.times import HOUR, utc_minute

T0 = 1_795_388_400 - 1_795_388_400 % HOUR  # a whole hour


class Stub(Exchange):
    """A venue answering every GET with `answer(path, params)`; the requests are kept."""

    id = "stub"
    kind = "CEX"

    def __init__(self, answer: Callable[[str, dict], Any]):
        super().__init__(client=None, base_url="http://stub")
        self.answer, self.asked = answer, []

    def fetch(self):  # pragma: no cover - not a snapshot venue
        raise NotImplementedError

    def get(self, path: str, params=None, *, missing_ok: bool = False) -> Any:
        self.asked.append((path, dict(params or {})))
        return self.answer(path, dict(params or {}))


def rows_of(payload: Any, skipped) -> list[tuple]:
    """(time s, value) of `[[time ms, value], ...]`."""
    return stamped_rows(payload, skipped, lambda row: row[0] // 1000, lambda row: row[1])


def hours_between(lo_ms: int, hi_ms: int, newest_first: bool = False) -> list[list]:
    """One row per whole hour in [lo_ms, hi_ms]."""
    first = -(-lo_ms // (HOUR * 1000)) * HOUR * 1000
    rows = [[t, float(t // 1000)] for t in range(first, hi_ms + 1, HOUR * 1000)]
    return rows[::-1] if newest_first else rows


def download(answer) -> tuple[Download, Stub, list]:
    reports: list = []
    venue = Stub(answer)
    return Download(venue, lambda done, total: reports.append((done, total))), venue, reports


# -- Download.hourly -------------------------------------------------------------------------------------


def test_hourly_keeps_the_window_and_names_the_series_after_its_path():
    def answer(path, params):  # a venue that sends one hour either side of what was asked
        return hours_between(params["start"] - HOUR * 1000, params["end"] + HOUR * 1000, newest_first=True)

    d, venue, _ = download(answer)
    pager = Back(1000, lambda lo, hi: {"start": lo, "end": hi}, scale=1000)
    rows = d.hourly("/v5/market/kline", rows_of, pager, T0, T0 + 5 * HOUR)
    assert [t for t, _ in rows] == [T0 + h * HOUR for h in range(5)]
    assert venue.asked == [("/v5/market/kline", {"start": T0 * 1000, "end": (T0 + 5 * HOUR) * 1000})]


def test_hourly_asks_a_closed_upper_bound_one_unit_less():
    d, venue, _ = download(lambda path, params: hours_between(params["start"], params["end"], newest_first=True))
    pager = Back(1000, lambda lo, hi: {"start": lo, "end": hi}, step=1, scale=1000)
    assert len(d.hourly("/kline", rows_of, pager, T0, T0 + 3 * HOUR, closed=True)) == 3
    assert venue.asked[0][1]["end"] == (T0 + 3 * HOUR) * 1000 - 1


def test_hourly_plans_a_page_per_limit_hours_and_counts_the_pages_beyond():
    def answer(path, params):  # pages of at most 10 rows, newest first
        return hours_between(params["start"], params["end"] - 1, newest_first=True)[:10]

    d, venue, reports = download(answer)
    d.plan(3)  # what the venue planned: 25 hours at 10 a page
    pager = Back(10, lambda lo, hi: {"start": lo, "end": hi}, step=0, scale=1000)
    rows = d.hourly("/kline", rows_of, pager, T0, T0 + 25 * HOUR)
    assert len(rows) == 25 and len(venue.asked) == 3
    assert reports[-1] == (3, 3)  # the plan held: no page was added


def test_hourly_plans_every_window_of_a_windows_pager():
    d, venue, reports = download(lambda path, params: hours_between(params["from"], params["to"]))
    d.plan(3)
    rows = d.hourly("/candles", rows_of, Windows(4, lambda lo, hi: {"from": lo, "to": hi}, scale=1000),
                    T0, T0 + 7 * HOUR)
    assert len(rows) == 7 and len(venue.asked) == 3  # windows of 3 hours
    assert reports == [(1, 3), (2, 3), (3, 3)]  # every window was in the plan


def test_hourly_drops_rows_after_complete_until():
    d, _, _ = download(lambda path, params: hours_between(params["start"], params["end"] - 1))
    pager = Windows(100, lambda lo, hi: {"start": lo, "end": hi}, scale=1000)
    rows = d.hourly("/klines", rows_of, pager, T0, T0 + 5 * HOUR, complete_until=T0 + 2 * HOUR)
    assert [t for t, _ in rows] == [T0, T0 + HOUR, T0 + 2 * HOUR]


def test_hourly_with_a_cursor_plans_by_its_limit():
    pages = {None: ([[T0 * 1000, 1.0], [(T0 + HOUR) * 1000, 2.0]], "b"), "b": ([[(T0 + 2 * HOUR) * 1000, 3.0]], None)}
    d, venue, reports = download(lambda path, params: pages[params.get("cursor")])
    d.plan(2)
    pager = Cursor(lambda c: {"cursor": c} if c else {}, lambda payload: payload[1], size=lambda p: len(p[0]), limit=2)
    rows = d.hourly("/open-interest", lambda payload, skipped: rows_of(payload[0], skipped), pager,
                    T0, T0 + 3 * HOUR)
    assert [value for _, value in rows] == [1.0, 2.0, 3.0] and reports[-1] == (2, 2)
    assert venue.asked == [("/open-interest", {}), ("/open-interest", {"cursor": "b"})]


def test_funding_reads_from_a_day_before_so_the_first_settlement_has_its_spacing():
    settlements = [[(T0 - 4 * HOUR) * 1000, 0.0004], [T0 * 1000, 0.0002], [(T0 + 4 * HOUR) * 1000, 0.0001]]
    d, venue, _ = download(lambda path, params: [r for r in settlements if params["start"] <= r[0] <= params["end"]])
    pager = Forward(100, lambda lo, hi: {"start": lo, "end": hi}, scale=1000)
    got = d.funding("/funding-rate-history", rows_of, pager, T0, T0 + 8 * HOUR, closed=True)
    assert got == {T0: 0.0004, T0 + 4 * HOUR: 0.0002}  # 4-hourly: × 2
    assert venue.asked == [("/funding-rate-history", {"start": (T0 - 86400) * 1000, "end": (T0 + 8 * HOUR) * 1000 - 1})]


# -- per-market downloads and their notes ----------------------------------------------------------------


def test_market_history_read_keeps_the_candles_when_open_interest_fails():
    candles = [(T0, 1.0, 2.0, 100.0)]

    def refused():
        raise ExchangeError("stub", "HTTP 400: Invalid symbol.")

    assert MarketHistory.read(candles, lambda: [(T0, 5.0)]) == (candles, [(T0, 5.0)])
    assert MarketHistory.read(candles, None) == (candles, [])
    failed = MarketHistory.read(candles, refused)
    assert failed.candles == candles and failed.open_interest.reason == "HTTP 400: Invalid symbol."


def test_kept_volume_notes_tell_failed_candles_from_failed_open_interest():
    error = ExchangeError("stub", "HTTP 503")
    results = [MarketHistory([(T0, 1.0, 2.0, 10.0)], [(T0, 5.0)]), error,
               MarketHistory([(T0, 1.0, 2.0, 20.0)], ExchangeError("stub", "HTTP 400")), error]
    builder, candles_of, failures = collect_markets("ABCD", results, keep_volume=True)
    assert builder.volume == {T0: 30.0}  # C's volume is kept without its open interest
    assert kept_volume_notes(failures, candles_of, 4) == ["history missing for 2 of 4 markets: HTTP 503",
                                                          "open interest history missing for 1 of 2 markets: HTTP 400"]
    assert kept_volume_notes({}, candles_of, 4) == []


def test_retained_from_notes_a_series_the_venue_does_not_offer():
    d, _, _ = download(lambda path, params: [])
    now = T0 + 40 * 86400
    assert d.retained_from("open interest", 30, now, T0, T0 + 20 * 86400, offered=False) is None
    assert d.retained_from("long/short", 30, now, T0 + 5 * 86400, T0 + 20 * 86400) == T0 + 10 * 86400
    assert d.notes == ["no open interest history: the venue has no such endpoint",
                       f"long/short history covers only the last 30 days: none before {utc_minute(T0 + 10 * 86400)}"]


# -- parsing: rows of a history page -----------------------------------------------------------------


def test_ms_rows_reads_array_rows_counts_malformed_ones_and_drops_unconfirmed_candles():
    rows = [["1795388400000", "1.5", "1"], ["1795384800000", "x", "1"], ["1795381200000"], "junk",
            ["1795377600000", "2.5", "0"], ["1795374000000", "3.5"]]
    skipped = Skips()
    got = ms_rows(rows, skipped, 2, lambda row: num(row[1]), confirm=2)
    assert got == [(1795388400, 1.5), (1795374000, 3.5)]  # a row too short for `confirm` is kept
    assert skipped.count == 3  # the bad value, the short row, the string; the open candle is not counted


def test_ms_rows_may_leave_the_last_values_missing():
    skipped = Skips()
    got = ms_rows([[1795388400000, "1", None]], skipped, 2, lambda row: (num(row[1]), num(row[2])), optional=1)
    assert got == [(1795388400, 1.0, None)] and skipped.count == 0


def test_listed_without_keys_is_the_answer_itself():
    assert listed([1, 2]) == [1, 2]
    with pytest.raises(ValueError, match="expected a list, got dict"):
        listed({"data": []})
    with pytest.raises(ValueError, match=r"expected \{data: \[...\]\}"):
        listed([], "data")


# -- pacing: per-symbol requests under a minute's weight -------------------------------------------


class Budget(MinuteWeight):
    header, default_limit, venue = "X-Used", 100, "stub"


def per_symbol(longest: float = 65.0, **options) -> PerSymbol:
    return PerSymbol("open interest", "/oi", "oi", lambda payload: payload["oi"], longest, **options)


def test_per_symbol_gives_each_symbols_value_and_notes_the_failed_ones():
    def answer(path, params):
        if params["symbol"] == "B":
            raise ExchangeError("stub", "HTTP 400: Invalid symbol.")
        return {"oi": None if params["symbol"] == "C" else 2.0}

    venue = Stub(answer)
    got = per_symbol().fetch(venue, Budget(), ["A", "B", "C", "D"], limit=2)
    assert got == {"A": 2.0, "D": 2.0}  # C answered without a value
    assert venue.notes == ["open interest missing for 1 of 4 symbols: HTTP 400: Invalid symbol."]


def test_per_symbol_stops_at_a_404_and_gives_none():
    venue = Stub(lambda path, params: None)  # what get(missing_ok=True) gives for a 404
    assert per_symbol().fetch(venue, Budget(), ["A", "B", "C"], limit=1) is None
    assert len(venue.asked) == 1 and venue.notes == ["open interest unavailable: /oi answered 404"]


def test_per_symbol_in_flight_is_the_room_left_beside_the_reserve():
    budget, seen = Budget(), []
    venue = Stub(lambda path, params: {"oi": 1.0})
    venue.fan_out = lambda func, items, limit: seen.append(limit) or [func(item) for item in items]
    per_symbol(reserve=97).fetch(venue, budget, ["A", "B", "C", "D", "E"], limit=128)
    per_symbol(reserve=0).fetch(venue, budget, ["A", "B", "C", "D", "E"], limit=4)
    per_symbol(reserve=150).fetch(venue, budget, ["A", "B"], limit=128)
    assert seen == [3, 4, 1]  # 100 − 97; the limit; a spent minute still asks one at a time


def test_per_symbol_does_not_ask_when_the_hold_is_too_long():
    budget = Budget(clock=lambda: 1000.0, sleep=lambda s: None)
    budget.observe(type("R", (), {"headers": {"Retry-After": "3600"}, "status_code": 418})())
    venue = Stub(lambda path, params: {"oi": 1.0})
    assert per_symbol(longest=65.0).fetch(venue, budget, ["A", "B"], limit=2) == {}
    assert venue.asked == [] and venue.notes == [
        "open interest missing for 2 of 2 symbols: request weight budget spent: open interest not requested"]
