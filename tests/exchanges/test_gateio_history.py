"""Gate.io `history()` against the loopback fake: sums, open interest, BTC series, paging, failures."""

from __future__ import annotations

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges import gateio
from perps_tracker.exchanges.gateio import (
    Gateio,
    long_shares,
    open_interest_points,
    parse_candlesticks,
    parse_contract_stats,
    parse_funding_history,
)
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.history import DAY, HOUR, VenueHistory, hours, venue_at
from tests.fakes import Reply
from tests.fakes import history as hist

BASES = ("BTC", "ETH", "PEPE", "BAD")  # the trading, linear contracts of the fixture
END = hist.NOW_HOUR
START = END - 3 * DAY
CANDLES = "/api/v4/futures/usdt/candlesticks"
STATS = "/api/v4/futures/usdt/contract_stats"
FUNDING = "/api/v4/futures/usdt/funding_rate"


@pytest.fixture
def venue(fake, client):
    fake.install("gateio")
    v = Gateio(client, fake.url("gateio"))
    v.history_rate = None  # pacing has its own test (test_pacing.py)
    return v


def volume(t: int, bases=BASES) -> float:
    return sum(hist.candle("gateio", b, t)["quote_volume"] for b in bases)


def open_interest(t: int, bases=BASES) -> float:
    return sum(hist.open_interest_usd("gateio", b, t) for b in bases)


def failing_for(fake, path: str, contract: str, reply: Reply):
    route = fake.routes[("gateio", "GET", path)]
    fake.add("gateio", path, lambda r: reply if r.query.get("contract") == contract else route(r))


def not_found(name: str) -> Reply:
    return Reply({"label": "CONTRACT_NOT_FOUND", "message": f"contract {name} not found"}, status=400)


def test_sums_open_interest_and_btc_series(venue):
    h = venue.history(START, END)
    assert h.exchange == "gateio" and (h.start, h.end) == (START, END)
    assert h.symbols == 4 and h.symbols_failed == 0 and h.btc_symbol == "BTC_USDT"
    assert sorted(h.volume_usd) == sorted(h.open_interest_usd) == list(hours(START, END))
    for t in (START, START + 7 * HOUR, END - HOUR):
        assert h.volume_usd[t] == pytest.approx(volume(t))
        assert h.markets[t] == 4
        assert h.open_interest_usd[t] == pytest.approx(open_interest(t))
        assert h.btc_open[t] == pytest.approx(hist.candle("gateio", "BTC", t)["open"])
        assert h.btc_close[t] == pytest.approx(hist.candle("gateio", "BTC", t)["close"])
        assert h.btc_mark[t] == pytest.approx(hist.mark("BTC", t))
        assert h.btc_index[t] == pytest.approx(hist.index("BTC", t))
        assert h.long_share[t] == pytest.approx(hist.long_share("gateio", t))
    assert h.trades is None
    settle = [t for t in range(START, END) if t % (8 * HOUR) == 0]  # BTC_USDT funding_interval 28800
    assert sorted(h.btc_funding) == settle
    assert all(h.btc_funding[t] == pytest.approx(hist.funding_8h("gateio", t)) for t in settle)
    assert any("market list is today's" in n and "lower bounds" in n for n in h.notes)
    assert any("lsr_account" in n for n in h.notes)


def test_venue_at_one_hour_by_hand(venue):
    h = venue.history(START, END)
    hour = END - 21 * HOUR  # 03:00 UTC: its funding period settles at 08:00
    row = venue_at(h, hour)
    assert row.ok and row.markets == 4
    assert row.volume_24h_usd == pytest.approx(sum(volume(t) for t in range(hour - DAY, hour, HOUR)))
    assert row.open_interest_usd == pytest.approx(open_interest(hour))
    assert row.btc_price == pytest.approx(hist.price("BTC", hour))
    change = 100 * (hist.price("BTC", hour) / hist.price("BTC", hour - DAY) - 1)
    assert row.btc_price_change_24h_pct == pytest.approx(change)
    assert row.btc_funding_rate_8h == pytest.approx(hist.funding_8h("gateio", hour - 3 * HOUR + 8 * HOUR))
    assert row.btc_mark_price == pytest.approx(hist.mark("BTC", hour - HOUR))
    assert row.btc_index_price == pytest.approx(hist.index("BTC", hour - HOUR))
    share = hist.long_share("gateio", hour)
    assert row.long_share == pytest.approx(share) and row.long_short_ratio == pytest.approx(share / (1 - share))


def test_thirty_days_page_without_gaps_or_duplicates(venue, fake):
    start = END - 30 * DAY
    progress = []
    h = venue.history(start, END, lambda done, total: progress.append((done, total)))
    assert sorted(h.volume_usd) == sorted(h.open_interest_usd) == list(hours(start, END))
    assert set(h.markets.values()) == {4}
    t = start + 100 * HOUR
    assert h.volume_usd[t] == pytest.approx(volume(t)) and h.open_interest_usd[t] == pytest.approx(open_interest(t))
    candles = [r for r in fake.requests if r.path == CANDLES and r.query["contract"] == "ETH_USDT"]
    assert len(candles) == 1 and "limit" not in candles[0].query  # 720 points fit one query
    stats = [r for r in fake.requests if r.path == STATS and r.query["contract"] == "ETH_USDT"]
    spans = sorted((int(r.query["from"]), int(r.query["to"])) for r in stats)
    assert len(spans) == 8  # at most 99 hours per query, so a full page of 100 loses nothing
    assert spans[0][0] == start and spans[-1][1] == END
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert len(h.btc_funding) == 90 and len(h.long_share) == 720
    assert progress[-1][0] == progress[-1][1] == fake.count("gateio")


def test_full_funding_page_is_split(venue, fake, monkeypatch):
    monkeypatch.setattr(gateio, "FUNDING_LIMIT", 4)  # 10 settlements in the window: full pages
    h = venue.history(START, END)
    settle = [t for t in range(START, END) if t % (8 * HOUR) == 0]
    assert sorted(h.btc_funding) == settle
    assert all(h.btc_funding[t] == pytest.approx(hist.funding_8h("gateio", t)) for t in settle)
    assert fake.count("gateio", FUNDING) > 3


def test_failing_market_is_counted_and_left_out(venue, fake):
    failing_for(fake, STATS, "ETH_USDT", not_found("ETH_USDT"))
    h = venue.history(START, END)
    assert h.symbols == 4 and h.symbols_failed == 1
    assert set(h.markets.values()) == {3}
    assert h.volume_usd[START] == pytest.approx(volume(START, ("BTC", "PEPE", "BAD")))
    assert h.open_interest_usd[START] == pytest.approx(open_interest(START, ("BTC", "PEPE", "BAD")))


def test_failing_btc_candles_raise(venue, fake):
    failing_for(fake, CANDLES, "BTC_USDT", not_found("BTC_USDT"))
    with pytest.raises(ExchangeError, match="CONTRACT_NOT_FOUND|not found"):
        venue.history(START, END)


def test_failing_contracts_raise(venue, fake):
    fake.add("gateio", "/api/v4/futures/usdt/contracts", Reply({"label": "SERVER_ERROR", "message": "x"}, status=400))
    with pytest.raises(ExchangeError):
        venue.history(START, END)


def test_failing_btc_stats_leave_open_interest_and_long_share_none(venue, fake):
    failing_for(fake, STATS, "BTC_USDT", not_found("BTC_USDT"))
    h = venue.history(START, END)
    assert h.symbols_failed == 0 and set(h.markets.values()) == {4}  # BTC's volume still counts
    assert h.open_interest_usd is None and h.long_share is None
    assert any(n.startswith("open interest and long/short history unavailable") for n in h.notes)


def test_failing_optional_btc_series_are_none_with_a_note(venue, fake):
    failing_for(fake, CANDLES, "index_BTC_USDT", not_found("index_BTC_USDT"))
    fake.add("gateio", FUNDING, not_found("BTC_USDT"))
    h = venue.history(START, END)
    assert h.btc_index is None and h.btc_funding is None and h.btc_mark is not None
    assert any(n.startswith("BTC index price history unavailable") for n in h.notes)
    assert any(n.startswith("BTC funding history unavailable") for n in h.notes)


def test_429_on_a_history_call_is_retried(venue, fake):
    route, calls = fake.routes[("gateio", "GET", STATS)], []

    def limited_once(request):
        calls.append(request)
        if len(calls) == 1:
            return Reply({"label": "TOO_MANY_REQUESTS", "message": "slow down"}, status=429)
        return route(request)

    fake.add("gateio", STATS, limited_once)
    h = venue.history(START, END)
    assert h.symbols_failed == 0 and set(h.markets.values()) == {4}


def test_json_round_trip(venue):
    h = venue.history(START, END)
    assert VenueHistory.from_json(h.to_json()) == h


def test_malformed_records_are_skipped_and_counted():
    skipped = Skips()
    rows = [{"t": 3600, "o": "1", "c": "2", "sum": "10"}, {"t": 7200, "o": "1", "c": "2", "sum": "NaN"},
            {"o": "1"}, "junk"]
    assert [c.t for c in parse_candlesticks(rows, skipped)] == [3600] and skipped.count == 2
    assert [c.t for c in parse_candlesticks(rows[1:2], skipped, volume=False)] == [7200]  # mark_: no sum
    stats = parse_contract_stats([{"time": 3600, "open_interest": 50, "lsr_account": 3},
                                  {"time": 7200, "lsr_account": 1}], skipped)
    assert [s.t for s in stats] == [3600] and skipped.count == 3
    assert parse_funding_history([{"t": 1, "r": ""}], skipped) == [] and skipped.count == 4
    # no open_interest_usd: contracts × multiplier × the price then (the close of the candle ending then)
    assert open_interest_points(stats, 0.01, {0: 2000.0}, 0, 7200) == [(3600, pytest.approx(50 * 0.01 * 2000))]
    assert long_shares(stats, 0, 7200) == {3600: pytest.approx(0.75)}


def test_malformed_payload_raises_a_one_line_error(venue, fake):
    fake.add("gateio", CANDLES, Reply({"not": "a list"}))
    with pytest.raises(ExchangeError, match="unexpected candlesticks payload"):
        venue.history(START, END)


def test_history_rate_stays_under_the_endpoint_limit():
    assert Gateio.history_rate == 15.0  # per endpoint, under Gate's 200 requests per 10 s
