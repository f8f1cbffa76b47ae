"""dYdX v4 indexer history (`backfill`) against the fake: candles per ticker (USD volume, trades,
startingOpenInterest), historicalFunding for BTC-USD, backwards paging, the limit fallback, failures."""

from __future__ import annotations

import json

import pytest

from perps_tracker.errors import ExchangeError, TemporaryExchangeError
from perps_tracker.exchanges.dydx import (
    Dydx,
    iso_ms,
    limit_refused,
    parse_historical_funding,
    parse_history_candles,
    parse_iso_ms,
)
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.history import DAY, HOUR, VenueHistory, hours, venue_at
from tests.fakes import Reply
from tests.fakes import dydx as fake_dydx
from tests.fakes import history as fh

BASES = ("BTC", "ETH", "SOL", "BROKEN", "NOPRICE")  # the ACTIVE markets of the fixture
END = fh.NOW_HOUR - DAY
START = END - 3 * DAY
CANDLES = "/v4/candles/perpetualMarkets/"
FUNDING = "/v4/historicalFunding/BTC-USD"


@pytest.fixture
def dydx(fake, client):
    fake.install("dydx")
    venue = Dydx(client, fake.url("dydx"))
    venue.history_per_minute = 0  # no pacing in tests
    return venue


@pytest.fixture
def window(dydx):
    return dydx.history(START, END)


def intercept(fake, path, reply, times=None):
    """Answer GET `path` with `reply` (the first `times` requests only)."""
    original = fake.routes[("dydx", "GET", path)]
    left = [times]

    def responder(request):
        if left[0] is None or left[0] > 0:
            left[0] = None if left[0] is None else left[0] - 1
            return reply
        return original(request)

    fake.add("dydx", path, responder)


def requests_to(fake, path):
    return [r for r in fake.requests if r.venue == "dydx" and r.path.startswith(path)]


def test_hourly_volume_trades_and_markets_are_summed(window):
    assert list(window.volume_usd) == list(hours(START, END))
    for hour in hours(START, END):
        candles = [fh.candle("dydx", b, hour) for b in BASES]
        assert window.volume_usd[hour] == pytest.approx(sum(c["quote_volume"] for c in candles))
        assert window.trades[hour] == sum(c["trades"] for c in candles)
        assert window.markets[hour] == len(BASES)
    assert (window.symbols, window.symbols_failed) == (len(BASES), 0)


def test_open_interest_is_starting_base_times_open_at_the_hour_start(window):
    assert sorted(window.open_interest_usd) == list(hours(START, END))
    for hour in hours(START, END):
        expected = sum(fh.open_interest_usd("dydx", b, hour) for b in BASES)
        assert window.open_interest_usd[hour] == pytest.approx(expected)


def test_btc_open_close_and_funding(window):
    assert window.btc_symbol == "BTC-USD"
    for hour in hours(START, END):
        candle = fh.candle("dydx", "BTC", hour)
        assert (window.btc_open[hour], window.btc_close[hour]) == (pytest.approx(candle["open"]),
                                                                    pytest.approx(candle["close"]))
    # effectiveAt is a fraction of a second after the hour: keyed by the whole hour, hourly × 8
    assert sorted(window.btc_funding) == list(hours(START, END))
    for hour in hours(START, END):
        assert window.btc_funding[hour] == pytest.approx(fh.funding_8h("dydx", hour))


def test_missing_series_are_none_with_notes(window):
    assert window.btc_mark is None and window.btc_index is None and window.long_share is None
    notes = " | ".join(window.notes)
    for words in ("market list is today's: delisted markets are missing, totals are lower bounds",
                  "no mark- or index-price history", "no long/short ratio", "startingOpenInterest",
                  "live uses the oracle price"):
        assert words in notes


def test_venue_at_one_hour_by_hand(window):
    hour = START + 2 * DAY + 9 * HOUR
    snap = venue_at(window, hour)
    day = range(hour - DAY, hour, HOUR)
    close = fh.candle("dydx", "BTC", hour - HOUR)["close"]
    first_open = fh.candle("dydx", "BTC", hour - DAY)["open"]
    assert snap.ok and snap.markets == len(BASES)
    volume = sum(fh.candle("dydx", b, h)["quote_volume"] for b in BASES for h in day)
    assert snap.volume_24h_usd == pytest.approx(volume)
    assert snap.num_trades_24h == sum(fh.candle("dydx", b, h)["trades"] for b in BASES for h in day)
    # the open interest at H: the candle that starts at H
    assert snap.open_interest_usd == pytest.approx(sum(fh.open_interest_usd("dydx", b, hour) for b in BASES))
    assert snap.btc_price == pytest.approx(close)
    assert snap.btc_price_change_24h_pct == pytest.approx(100 * (close / first_open - 1))
    assert snap.btc_funding_rate_8h == pytest.approx(fh.funding_8h("dydx", hour))
    assert snap.btc_mark_price is None and snap.btc_index_price is None and snap.long_share is None


def test_thirty_days_in_one_page_at_the_current_limit(dydx, fake):
    start, end = fh.NOW_HOUR - 31 * DAY, fh.NOW_HOUR
    h = dydx.history(start, end)
    assert list(h.volume_usd) == list(hours(start, end)) and sorted(h.btc_funding) == list(hours(start, end))
    assert len(requests_to(fake, CANDLES)) == len(BASES) and len(requests_to(fake, FUNDING)) == 1
    assert requests_to(fake, CANDLES)[0].query == {"resolution": "1HOUR", "fromISO": iso_ms(start * 1000),
                                                   "toISO": iso_ms(end * 1000), "limit": "1000"}


def test_older_deployment_limit_of_100_pages_backwards_without_gaps(dydx, fake, monkeypatch):
    monkeypatch.setattr(fake_dydx, "API_LIMIT_V4", 100)
    start, end = fh.NOW_HOUR - 31 * DAY, fh.NOW_HOUR
    progress = []
    h = dydx.history(start, end, lambda done, total: progress.append((done, total)))
    every = list(hours(start, end))
    assert list(h.volume_usd) == every and set(h.markets.values()) == {len(BASES)}
    assert sorted(h.open_interest_usd) == every and sorted(h.btc_close) == every
    assert sorted(h.btc_funding) == every
    for hour in (start, start + 100 * HOUR, end - 100 * HOUR, end - HOUR):  # page edges
        assert h.volume_usd[hour] == pytest.approx(sum(fh.candle("dydx", b, hour)["quote_volume"] for b in BASES))
    btc = [r.query for r in requests_to(fake, CANDLES + "BTC-USD")]
    assert [q["limit"] for q in btc] == ["1000"] + ["100"] * 8  # refused once, then 744 hours in 8 pages
    assert [q["toISO"] for q in btc[1:]] == [iso_ms((end - i * 100 * HOUR) * 1000) for i in range(8)]
    assert len(requests_to(fake, CANDLES)) == 1 + len(BASES) * 8 and len(requests_to(fake, FUNDING)) == 8
    assert {r.query["limit"] for r in requests_to(fake, FUNDING)} == {"100"}  # the limit found is kept
    total = len(fake.requests)
    assert [d for d, _ in progress] == list(range(1, total + 1)) and progress[-1] == (total, total)


def test_a_failing_market_is_counted_and_left_out(dydx, fake):
    intercept(fake, CANDLES + "SOL-USD", Reply({"errors": [{"msg": "boom"}]}, status=500))
    h = dydx.history(START, END)
    assert (h.symbols, h.symbols_failed) == (5, 1)
    hour = START + 11 * HOUR
    others = [b for b in BASES if b != "SOL"]
    assert h.markets[hour] == 4
    assert h.volume_usd[hour] == pytest.approx(sum(fh.candle("dydx", b, hour)["quote_volume"] for b in others))
    assert h.open_interest_usd[hour] == pytest.approx(sum(fh.open_interest_usd("dydx", b, hour) for b in others))
    assert any("history of 1 of 5 markets unavailable" in n for n in h.notes)


def test_429_on_a_history_call_is_retried(dydx, fake):
    intercept(fake, CANDLES + "ETH-USD", Reply({"errors": [{"msg": "Too many requests"}]}, status=429), times=1)
    h = dydx.history(START, END)
    assert h.symbols_failed == 0 and set(h.markets.values()) == {len(BASES)}
    assert len(requests_to(fake, CANDLES + "ETH-USD")) == 2


def test_btc_candles_failure_raises(dydx, fake):
    intercept(fake, CANDLES + "BTC-USD", Reply({"errors": [{"msg": "boom"}]}, status=500))
    with pytest.raises(ExchangeError, match="dydx: HTTP 500 at .*BTC-USD: boom"):
        dydx.history(START, END)


def test_market_list_failure_raises(dydx, fake):
    intercept(fake, "/v4/perpetualMarkets", Reply("<html>", status=502))
    with pytest.raises(ExchangeError):
        dydx.history(START, END)


def test_funding_failure_leaves_none_and_a_note(dydx, fake):
    intercept(fake, FUNDING, Reply({"errors": [{"msg": "Forbidden"}]}, status=403))
    h = dydx.history(START, END)
    assert h.btc_funding is None and h.btc_close
    assert any(n.startswith("BTC funding history unavailable: HTTP 403") for n in h.notes)


def test_malformed_candle_payload_is_a_one_line_error(dydx, fake):
    intercept(fake, CANDLES + "BTC-USD", Reply({"candles": {}}))
    with pytest.raises(ExchangeError, match="unexpected candles payload"):
        dydx.history(START, END)


def test_json_round_trip(window):
    assert VenueHistory.from_json(json.loads(json.dumps(window.to_json()))) == window


def test_parsers_skip_and_count_malformed_records():
    skipped = Skips()
    last = iso_ms((fh.NOW_HOUR - HOUR) * 1000)  # 2026-11-22T23:00:00.000Z
    payload = {"candles": [
        {"startedAt": last, "open": "10", "close": "12", "usdVolume": "5", "trades": 3,
         "startingOpenInterest": "2"},
        {"startedAt": "2026-11-22T22:00:00+00:00", "open": "10", "close": "12", "usdVolume": "5"},
        {"startedAt": "yesterday", "open": "1", "close": "1", "usdVolume": "1"},
        {"startedAt": "2026-11-21T21:00:00.000Z", "open": "1", "close": "1", "usdVolume": "NaN"}, 7]}
    candles = parse_history_candles(payload, skipped)
    assert candles[0] == (fh.NOW_HOUR - HOUR, 10.0, 12.0, 5.0, 3, 2.0)
    assert candles[1].t == fh.NOW_HOUR - 2 * HOUR and candles[1].trades is None and candles[1].open_interest is None
    assert skipped.count == 3
    skipped = Skips()
    rows = parse_historical_funding({"historicalFunding": [
        {"rate": "0.00001", "effectiveAt": "2026-11-22T23:00:00.412Z"}, {"rate": None, "effectiveAt": "x"}]}, skipped)
    assert rows == [((fh.NOW_HOUR - HOUR) * 1000 + 412, 0.00001)] and skipped.count == 1
    for parser in (parse_history_candles, parse_historical_funding):
        with pytest.raises(ValueError):
            parser({"errors": []}, Skips())
    assert parse_iso_ms(iso_ms(1795391999999)) == 1795391999999


def test_limit_refusal_names_the_smaller_limit():
    refused = ExchangeError("dydx", "HTTP 400 at /v4/candles: limit must be a positive integer that is not "
                                    "greater than max: 100")
    assert limit_refused(refused, 1000) == 100
    assert limit_refused(refused, 100) is None
    assert limit_refused(ExchangeError("dydx", "HTTP 400 at /x: limit is wrong"), 1000) == 100
    assert limit_refused(ExchangeError("dydx", "HTTP 400 at /x: ticker must be a valid ticker"), 1000) is None
    assert limit_refused(TemporaryExchangeError("dydx", "HTTP 503 at /x: limit"), 1000) is None
