"""Bitget `history()` against the loopback fake: sums, BTC series, paging, failures, notes."""

from __future__ import annotations

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.bitget import (
    Bitget,
    parse_funding_history,
    parse_history_candles,
    parse_long_short_history,
)
from perps_tracker.exchanges.history import time_windows
from perps_tracker.exchanges.parsing import Skips, funding_series
from perps_tracker.model.history import DAY, HOUR, VenueHistory, hours, venue_at
from tests.fakes import Reply
from tests.fakes import history as hist
from tests.fakes.bitget import account_long_short_history

BASES = ("BTC", "ETH", "SOL", "DOGE", "BROKEN")  # the perpetual, normal contracts of the fixture
END = hist.NOW_HOUR
START = END - 3 * DAY
CANDLES = "/api/v2/mix/market/history-candles"
RATIO = "/api/v2/mix/market/account-long-short"


@pytest.fixture
def venue(fake, client):
    fake.install("bitget")
    v = Bitget(client, fake.url("bitget"))
    v.history_rate = None  # pacing has its own test (test_pacing.py)
    return v


def volume(t: int, bases=BASES) -> float:
    return sum(hist.candle("bitget", b, t)["quote_volume"] for b in bases)


def failing_for(fake, path: str, symbol: str, reply: Reply):
    route = fake.routes[("bitget", "GET", path)]
    fake.add("bitget", path, lambda r: reply if r.query.get("symbol") == symbol else route(r))


def test_sums_and_btc_series(venue):
    h = venue.history(START, END)
    assert h.exchange == "bitget" and h.kind == "CEX" and (h.start, h.end) == (START, END)
    assert h.symbols == 5 and h.symbols_failed == 0 and h.btc_symbol == "BTCUSDT"
    assert sorted(h.volume_usd) == list(hours(START, END))
    for t in (START, START + 7 * HOUR, END - HOUR):
        assert h.volume_usd[t] == pytest.approx(volume(t))
        assert h.markets[t] == 5
        assert h.btc_open[t] == pytest.approx(hist.candle("bitget", "BTC", t)["open"])
        assert h.btc_close[t] == pytest.approx(hist.candle("bitget", "BTC", t)["close"])
        assert h.btc_mark[t] == pytest.approx(hist.mark("BTC", t))
        assert h.btc_index[t] == pytest.approx(hist.index("BTC", t))
    assert h.trades is None
    settle = [t for t in range(START, END) if t % (8 * HOUR) == 0]
    assert sorted(h.btc_funding) == settle  # 8-hour funding: the rate is already per 8 h
    assert all(h.btc_funding[t] == pytest.approx(hist.funding_8h("bitget", t)) for t in settle)


def test_missing_series_are_none_with_a_note(venue):
    h = venue.history(START, END)
    assert h.open_interest_usd is None
    assert any("no open-interest history" in n for n in h.notes)
    assert any("market list is today's" in n and "lower bounds" in n for n in h.notes)
    # the default route serves the fixture's rows from a year earlier: nothing in the window
    assert h.long_share is None
    assert any("last ~30 hours" in n for n in h.notes)


def test_long_share_for_the_hours_the_ratio_covers(venue, fake):
    fake.add("bitget", RATIO, account_long_short_history)
    h = venue.history(START, END)
    assert sorted(h.long_share) == list(range(END - 30 * HOUR, END, HOUR))
    t = END - 5 * HOUR
    assert h.long_share[t] == pytest.approx(hist.long_share("bitget", t))
    assert any("last ~30 hours" in n for n in h.notes)


def test_venue_at_one_hour_by_hand(venue, fake):
    fake.add("bitget", RATIO, account_long_short_history)
    h = venue.history(START, END)
    hour = END - 21 * HOUR  # 03:00 UTC: its funding period settles at 08:00
    row = venue_at(h, hour)
    assert row.ok and row.markets == 5
    assert row.volume_24h_usd == pytest.approx(sum(volume(t) for t in range(hour - DAY, hour, HOUR)))
    assert row.btc_price == pytest.approx(hist.price("BTC", hour))
    change = 100 * (hist.price("BTC", hour) / hist.price("BTC", hour - DAY) - 1)
    assert row.btc_price_change_24h_pct == pytest.approx(change)
    settlement = hour - hour % (8 * HOUR) + 8 * HOUR
    assert row.btc_funding_rate_8h == pytest.approx(hist.funding_8h("bitget", settlement))
    assert row.btc_mark_price == pytest.approx(hist.mark("BTC", hour - HOUR))
    assert row.btc_index_price == pytest.approx(hist.index("BTC", hour - HOUR))
    assert row.long_share == pytest.approx(hist.long_share("bitget", hour))
    assert row.open_interest_usd is None and row.num_trades_24h is None


def test_thirty_days_page_without_gaps_or_duplicates(venue, fake):
    start = END - 30 * DAY
    progress = []
    h = venue.history(start, END, lambda done, total: progress.append((done, total)))
    assert sorted(h.volume_usd) == list(hours(start, END)) and set(h.markets.values()) == {5}
    assert h.volume_usd[start + 100 * HOUR] == pytest.approx(volume(start + 100 * HOUR))
    asked = [r for r in fake.requests if r.path == CANDLES and r.query["symbol"] == "ETHUSDT"]
    spans = sorted((int(r.query["startTime"]) // 1000, int(r.query["endTime"]) // 1000) for r in asked)
    assert len(spans) == 4  # 720 hours, at most 199 per request
    assert spans[0][0] == start and spans[-1][1] == END
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous, no overlap
    assert all(int(r.query["limit"]) <= 200 for r in asked)
    assert len(h.btc_funding) == 90  # history-fund-rate paged past the window's start
    assert progress[-1][0] == progress[-1][1] == fake.count("bitget")
    assert [d for d, _ in progress] == list(range(1, len(progress) + 1))


def test_failing_market_is_counted_and_left_out(venue, fake):
    failing_for(fake, CANDLES, "ETHUSDT", Reply({"code": "40034", "msg": "Parameter ETHUSDT does not exist"},
                                                status=400))
    h = venue.history(START, END)
    assert h.symbols == 5 and h.symbols_failed == 1
    assert set(h.markets.values()) == {4}
    assert h.volume_usd[START] == pytest.approx(volume(START, ("BTC", "SOL", "DOGE", "BROKEN")))


def test_failing_btc_candles_raise(venue, fake):
    failing_for(fake, CANDLES, "BTCUSDT", Reply({"code": "40034", "msg": "Parameter BTCUSDT does not exist"},
                                                status=400))
    with pytest.raises(ExchangeError, match="BTCUSDT does not exist"):
        venue.history(START, END)


def test_failing_contracts_raise(venue, fake):
    fake.add("bitget", "/api/v2/mix/market/contracts", Reply({"code": "40034", "msg": "bad"}, status=400))
    with pytest.raises(ExchangeError):
        venue.history(START, END)


def test_failing_optional_btc_series_are_none_with_a_note(venue, fake):
    for path in ("/api/v2/mix/market/history-mark-candles", "/api/v2/mix/market/history-fund-rate"):
        fake.add("bitget", path, Reply({"code": "40034", "msg": "Parameter symbol does not exist"}, status=400))
    h = venue.history(START, END)
    assert h.btc_mark is None and h.btc_funding is None and h.btc_index is not None
    assert any(n.startswith("BTC mark price history unavailable") for n in h.notes)
    assert any(n.startswith("BTC funding history unavailable") for n in h.notes)


@pytest.mark.parametrize("reply", [
    Reply({"code": "429", "msg": "Too Many Requests", "data": None}),  # in an HTTP 200
    Reply({"code": "429", "msg": "Too Many Requests"}, status=429),
])
def test_rate_limited_history_call_is_retried(venue, fake, reply):
    route, calls = fake.routes[("bitget", "GET", CANDLES)], []

    def limited_once(request):
        calls.append(request)
        return reply if len(calls) == 1 else route(request)

    fake.add("bitget", CANDLES, limited_once)
    h = venue.history(START, END)
    assert h.symbols_failed == 0 and set(h.markets.values()) == {5}


def test_json_round_trip(venue, fake):
    fake.add("bitget", RATIO, account_long_short_history)
    h = venue.history(START, END)
    assert VenueHistory.from_json(h.to_json()) == h


def test_malformed_records_are_skipped_and_counted():
    skipped = Skips()
    payload = {"code": "00000", "data": [
        ["1795384800000", "1", "2", "0.5", "1.5", "10", "15"],
        ["1795388400000", "1", "2", "0.5", "1.5", "10", ""],  # no quote volume
        ["oops"], None,
    ]}
    assert [c.t for c in parse_history_candles(payload, skipped)] == [1795384800] and skipped.count == 3
    assert parse_funding_history({"data": [{"fundingRate": "NaN", "fundingTime": "1"}]}, skipped) == []
    assert parse_long_short_history({"data": [{"longShortAccountRatio": "3", "ts": "3600000"}]}, skipped) == {
        3600: pytest.approx(0.75)}
    assert skipped.count == 4


def test_malformed_payload_raises_a_one_line_error(venue, fake):
    fake.add("bitget", CANDLES, Reply({"code": "00000", "data": {"not": "a list"}}))
    with pytest.raises(ExchangeError, match="unexpected history-candles payload"):
        venue.history(START, END)  # every market fails, BTCUSDT's candles with them


def test_funding_interval_from_the_spacing_else_the_contracts():
    rules = {"whole_hours": True, "next_spacing": False}  # Bitget's and Gate's (see Bitget.history)
    rows = [(0, 0.0001), (4 * HOUR, 0.0002), (8 * HOUR, 0.0003), (24 * HOUR, 0.0004)]
    got = funding_series(rows, 8.0, 0, 25 * HOUR, **rules)
    # the first has no earlier settlement: the contract's 8 h; a 16 h gap is not an interval: 8 h
    assert got == {0: pytest.approx(0.0001), 4 * HOUR: pytest.approx(0.0004), 8 * HOUR: pytest.approx(0.0006),
                   24 * HOUR: pytest.approx(0.0004)}
    assert funding_series(rows, 8.0, HOUR, 9 * HOUR, **rules) == {4 * HOUR: pytest.approx(0.0004),
                                                                  8 * HOUR: pytest.approx(0.0006)}
    # a spacing of a fraction of an hour is not an interval; without the contract's, nothing is guessed
    assert funding_series([(0, 0.0001), (HOUR + 1, 0.0001)], 2.0, 0, DAY, **rules) == {
        0: pytest.approx(0.0004), HOUR + 1: pytest.approx(0.0004)}
    assert funding_series([(0, 0.0001), (4 * HOUR, 0.0001)], None, 0, DAY, **rules) == {
        4 * HOUR: pytest.approx(0.0002)}


def test_windows_cover_the_range_with_at_most_limit_points():
    windows = time_windows(0, 500 * HOUR, 200)
    assert windows == [(0, 199 * HOUR), (199 * HOUR, 398 * HOUR), (398 * HOUR, 500 * HOUR)]


def test_history_rate_stays_under_the_ip_limit():
    assert Bitget.history_rate == 15.0  # under Bitget's 20 requests per second per IP
