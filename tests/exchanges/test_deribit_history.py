"""Deribit history (`backfill`) against the fake: chart candles per perpetual, funding and index for BTC,
windows, closed candles only, failures, the per-market hooks and what the venue lacks."""

from __future__ import annotations

import json

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.deribit import WINDOW_HOURS, Deribit, parse_candles, parse_funding_history
from perps_tracker.exchanges.history import market_histories
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.history import DAY, HOUR, VenueHistory, hours, venue_at
from perps_tracker.model.market import Market
from tests.fakes import Reply
from tests.fakes import deribit as fake_deribit
from tests.fakes import history as fh

CHART = "/api/v2/public/get_tradingview_chart_data"
FUNDING = "/api/v2/public/get_funding_rate_history"
# the included instruments of the fixture (PAXG has no book summary, but it is listed): history asks for each
SYMBOLS = ("BTC_USDC-PERPETUAL", "DOGE_USDC-PERPETUAL", "ETH_USDC-PERPETUAL", "PAXG_USDC-PERPETUAL",
           "SOL_USDC-PERPETUAL", "XRP_USDC-PERPETUAL")
BASES = tuple(s.split("_")[0] for s in SYMBOLS)
END = fh.NOW_HOUR - DAY
START = END - 3 * DAY


@pytest.fixture
def deribit(fake, client):
    fake.install("deribit")
    venue = Deribit(client, fake.url("deribit"))
    venue.history_rate = 0  # no pacing in tests
    venue.clock = lambda: fh.NOW_HOUR + 600
    return venue


@pytest.fixture
def window(deribit):
    return deribit.history(START, END)


def intercept(fake, path, when, reply, times=None):
    """Answer requests to `path` whose query matches `when` with `reply` (the first `times` only)."""
    original = fake.routes[("deribit", "GET", path)]
    left = [times]

    def responder(request):
        if when(request.query) and (left[0] is None or left[0] > 0):
            left[0] = None if left[0] is None else left[0] - 1
            return reply
        return original(request)

    fake.add("deribit", path, responder)


def of(symbol):
    return lambda query: query.get("instrument_name") == symbol


def requests_to(fake, path):
    return [r.query for r in fake.requests if r.venue == "deribit" and r.path == path]


def test_hourly_volume_is_the_cost_summed_over_included_perpetuals(window):
    assert list(window.volume_usd) == list(hours(START, END))
    for hour in hours(START, END):
        expected = sum(fh.candle("deribit", b, hour)["quote_volume"] for b in BASES)
        assert window.volume_usd[hour] == pytest.approx(expected, rel=1e-12)
        assert window.markets[hour] == len(SYMBOLS)
    assert (window.symbols, window.symbols_failed) == (len(SYMBOLS), 0)
    assert window.trades is None and window.open_interest_usd is None


def test_btc_series_by_hand(window):
    assert window.btc_symbol == "BTC_USDC-PERPETUAL"
    assert sorted(window.btc_funding) == sorted(window.btc_index) == list(hours(START, END))
    for hour in hours(START, END):
        candle = fh.candle("deribit", "BTC", hour)
        assert (window.btc_open[hour], window.btc_close[hour]) == (pytest.approx(candle["open"]),
                                                                   pytest.approx(candle["close"]))
        assert window.btc_funding[hour] == pytest.approx(fh.funding_8h("deribit", hour))  # interest_8h at H
        assert window.btc_index[hour] == pytest.approx(fh.index("BTC", hour))  # the row ending the hour
    assert window.btc_mark is None and window.long_share is None


def test_missing_series_are_said(window):
    notes = " | ".join(window.notes)
    for words in ("market list is today's", "volume is each candle's cost", "no open-interest history",
                  "no mark-price history", "no long/short ratio", "interest_8h"):
        assert words in notes


def test_venue_at_one_hour_by_hand(window):
    hour = START + 2 * DAY + 5 * HOUR
    snap = venue_at(window, hour)
    volume = sum(fh.candle("deribit", b, h)["quote_volume"] for b in BASES for h in range(hour - DAY, hour, HOUR))
    close = fh.candle("deribit", "BTC", hour - HOUR)["close"]
    assert snap.ok and snap.markets == len(SYMBOLS)
    assert snap.volume_24h_usd == pytest.approx(volume)
    assert snap.btc_price == pytest.approx(close)
    assert snap.btc_funding_rate_8h == pytest.approx(fh.funding_8h("deribit", hour))
    assert snap.open_interest_usd is None


def test_a_month_is_read_in_windows_without_gaps(deribit, fake):
    start, end = fh.NOW_HOUR - 31 * DAY, fh.NOW_HOUR
    progress = []
    h = deribit.history(start, end, lambda done, total: progress.append((done, total)))
    every = list(hours(start, end))
    assert list(h.volume_usd) == every and set(h.markets.values()) == {len(SYMBOLS)}
    assert sorted(h.btc_close) == sorted(h.btc_funding) == sorted(h.btc_index) == every
    chart = requests_to(fake, CHART)
    assert len(chart) == len(SYMBOLS) * 2  # 744 hours in windows of 719
    btc = sorted(int(q["start_timestamp"]) for q in chart if q["instrument_name"] == "BTC_USDC-PERPETUAL")
    assert btc == [start * 1000, (start + (WINDOW_HOURS - 1) * HOUR) * 1000]
    assert all(q["resolution"] == "60" for q in chart)
    assert len(requests_to(fake, FUNDING)) == 2
    assert progress[-1][0] == progress[-1][1] == 1 + len(chart) + 2


def test_a_candle_still_open_is_left_out(deribit, fake):
    deribit.clock = lambda: fh.NOW_HOUR - HOUR + 600  # the candle opening at NOW_HOUR − 1 h is not closed
    h = deribit.history(fh.NOW_HOUR - DAY, fh.NOW_HOUR + 3 * HOUR)
    assert max(h.volume_usd) == fh.NOW_HOUR - 2 * HOUR


def test_no_data_is_no_candles(deribit):
    h = deribit.history(fh.FIRST_HOUR - 3 * DAY, fh.FIRST_HOUR)
    assert not h.volume_usd and h.symbols_failed == 0


def test_a_failing_market_is_counted_and_left_out(deribit, fake):
    intercept(fake, CHART, of("ETH_USDC-PERPETUAL"), Reply({"error": "boom"}, status=500))
    h = deribit.history(START, END)
    assert (h.symbols, h.symbols_failed) == (6, 1)
    hour = START + 7 * HOUR
    assert h.volume_usd[hour] == pytest.approx(sum(fh.candle("deribit", b, hour)["quote_volume"]
                                                   for b in BASES if b != "ETH"))
    assert any("history of 1 of 6 markets unavailable" in n for n in h.notes)


def test_too_many_requests_on_a_history_call_is_retried(deribit, fake):
    intercept(fake, CHART, of("SOL_USDC-PERPETUAL"), Reply(
        {"jsonrpc": "2.0", "error": {"code": 10028, "message": "too_many_requests"}}, status=400), times=1)
    h = deribit.history(START, END)
    assert h.symbols_failed == 0 and len(requests_to(fake, CHART)) == len(SYMBOLS) + 1


def test_btc_candles_failure_raises(deribit, fake):
    intercept(fake, CHART, of("BTC_USDC-PERPETUAL"), fake_deribit.invalid("instrument_name", "wrong format"))
    with pytest.raises(ExchangeError, match="deribit: HTTP 400 at .*get_tradingview_chart_data: Invalid params"):
        deribit.history(START, END)


def test_funding_failure_leaves_funding_and_index_none_with_notes(deribit, fake, client):
    intercept(fake, FUNDING, lambda q: True, Reply({"error": "nope"}, status=503))
    h = deribit.history(START, END)
    assert h.btc_funding is None and h.btc_index is None and h.btc_close
    assert any(n.startswith("BTC funding history unavailable: HTTP 503") for n in h.notes)
    assert any(n.startswith("BTC index price history unavailable: HTTP 503") for n in h.notes)
    assert len(requests_to(fake, FUNDING)) == 1 + client.settings.retries  # one download serves both series


def test_json_round_trip(window):
    assert VenueHistory.from_json(json.loads(json.dumps(window.to_json()))) == window


def test_per_market_hooks_serve_backfill_coins(deribit, fake):
    markets = [Market("SOL_USDC-PERPETUAL", "SOL", "USDC", 1.0, funding_interval_h=8.0),
               Market("NOPE_USDC-PERPETUAL", "NOPE", "USDC", 1.0)]
    results, notes = market_histories(deribit, markets, START, END)
    sol, nope = results
    assert isinstance(nope, ExchangeError)
    assert sorted(sol.volume_usd) == list(hours(START, END))
    hour = START + 5 * HOUR
    assert sol.volume_usd[hour] == pytest.approx(fh.candle("deribit", "SOL", hour)["quote_volume"])
    assert sol.closes[hour] == pytest.approx(fh.candle("deribit", "SOL", hour)["close"])
    assert sol.funding[hour] == pytest.approx(0.0001) and sol.index[hour] == pytest.approx(fh.index("SOL", hour))
    assert sol.open_interest_usd is None and sol.mark is None
    assert any("no open interest history" in n for n in notes)


def test_parsers_skip_and_count_malformed_records():
    skipped = Skips()
    payload = {"jsonrpc": "2.0", "result": {"status": "ok", "ticks": [3600000, None, 10800000, 14400000],
                                            "open": [10, 1, 1, 2], "close": [12, 1, None, 4],
                                            "volume": [2, 1, 1, 3], "cost": [25, 1, 1, None]}}
    assert [tuple(c) for c in parse_candles(payload, skipped)] == [(3600, 10.0, 12.0, 25.0), (14400, 2.0, 4.0, 12.0)]
    assert skipped.count == 2  # no time; no close. A candle without cost counts volume × close
    skipped = Skips()
    rows = parse_funding_history({"jsonrpc": "2.0", "result": [
        {"timestamp": 7200003, "interest_8h": 0.0001, "index_price": 84000.0},
        {"timestamp": 10800000, "interest_8h": None, "index_price": None}, "junk"]}, skipped)
    assert [tuple(r) for r in rows] == [(7200, 0.0001, 84000.0)] and skipped.count == 2
    for parser in (parse_candles, parse_funding_history):
        with pytest.raises(ValueError):
            parser({"jsonrpc": "2.0", "error": {"code": 1}}, Skips())
