"""Hyperliquid history (`backfill`) against the fake: candleSnapshot per coin, fundingHistory for BTC,
paging, pacing, failures and what the venue lacks."""

from __future__ import annotations

import json

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.history import settlement_hour
from perps_tracker.exchanges.hyperliquid import (
    Hyperliquid,
    parse_funding_history,
    parse_history_candles,
    response_weight,
)
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.history import DAY, HOUR, VenueHistory, hours, venue_at
from tests.fakes import Reply
from tests.fakes import history as fh
from tests.fakes import hyperliquid as fake_hl

# the included coins of the fixture, upper-cased as tests/fakes/hyperliquid.py keys its history (kPEPE: KPEPE)
BASES = ("BTC", "ETH", "KPEPE", "BROKEN")
END = fh.NOW_HOUR - DAY
START = END - 3 * DAY


@pytest.fixture
def hl(fake, client):
    fake.install("hyperliquid")
    venue = Hyperliquid(client, fake.url("hyperliquid"))
    venue.history_weight_per_minute = 0  # no pacing in tests
    return venue


@pytest.fixture
def window(hl):
    return hl.history(START, END)


def intercept(fake, when, reply, times=None):
    """Answer /info requests matching `when(body)` with `reply` (the first `times` only)."""
    original = fake.routes[("hyperliquid", "POST", "/info")]
    left = [times]

    def responder(request):
        if when(request.body or {}) and (left[0] is None or left[0] > 0):
            left[0] = None if left[0] is None else left[0] - 1
            return reply
        return original(request)

    fake.add("hyperliquid", "/info", responder, method="POST")


def candles_of(coin):
    return lambda body: body.get("type") == "candleSnapshot" and body["req"]["coin"] == coin


def info_requests(fake, kind):
    return [r.body for r in fake.requests if r.venue == "hyperliquid" and (r.body or {}).get("type") == kind]


def test_hourly_volume_is_summed_over_included_coins(window):
    assert list(window.volume_usd) == list(hours(START, END))
    for hour in hours(START, END):
        # base volume × (open + close) / 2: the fake's base volume is quote / mid, so this is exact
        expected = sum(fh.candle("hyperliquid", b, hour)["quote_volume"] for b in BASES)
        assert window.volume_usd[hour] == pytest.approx(expected, rel=1e-12)
        assert window.markets[hour] == len(BASES)
    assert (window.symbols, window.symbols_failed) == (len(BASES), 0)
    assert window.trades is None  # live has no trade counts for this venue either


def test_btc_open_and_close_by_candle_open_time(window):
    assert window.btc_symbol == "BTC"
    for hour in hours(START, END):
        candle = fh.candle("hyperliquid", "BTC", hour)
        assert window.btc_open[hour] == pytest.approx(candle["open"])
        assert window.btc_close[hour] == pytest.approx(candle["close"])


def test_hourly_funding_becomes_8_hours_at_settlement_hours(window):
    # the fake stamps settlements a few ms after the hour; they are keyed by the whole hour
    assert sorted(window.btc_funding) == list(hours(START, END))
    for hour in hours(START, END):
        assert window.btc_funding[hour] == pytest.approx(fh.funding_8h("hyperliquid", hour))


def test_missing_series_are_none_with_notes(window):
    assert window.open_interest_usd is None
    assert window.btc_mark is None and window.btc_index is None
    assert window.long_share is None
    notes = " | ".join(window.notes)
    for words in ("market list is today's: delisted markets are missing, totals are lower bounds",
                  "volume is approximate", "no open-interest history", "no mark- or oracle-price history",
                  "no long/short ratio", "live uses the mark price"):
        assert words in notes


def test_venue_at_one_hour_by_hand(window):
    hour = START + 2 * DAY + 5 * HOUR
    snap = venue_at(window, hour)
    volume = sum(fh.candle("hyperliquid", b, h)["quote_volume"] for b in BASES for h in range(hour - DAY, hour, HOUR))
    close = fh.candle("hyperliquid", "BTC", hour - HOUR)["close"]
    first_open = fh.candle("hyperliquid", "BTC", hour - DAY)["open"]
    assert snap.ok and snap.markets == len(BASES)
    assert snap.volume_24h_usd == pytest.approx(volume)
    assert snap.btc_price == pytest.approx(close)
    assert snap.btc_price_change_24h_pct == pytest.approx(100 * (close / first_open - 1))
    assert snap.btc_funding_rate_8h == pytest.approx(fh.funding_8h("hyperliquid", hour))  # the settlement at H
    assert snap.open_interest_usd is None and snap.num_trades_24h is None
    assert snap.btc_mark_price is None and snap.long_share is None
    # the first day has no full 24 h of candles before it
    assert not venue_at(window, START + 5 * HOUR).ok


def test_thirty_days_page_without_gaps_or_duplicates(hl, fake, monkeypatch):
    monkeypatch.setattr(fake_hl, "CANDLES_PER_RESPONSE", 100)  # the venue's cap is 5000: force candle pages
    hl.candles_per_response = 100
    start, end = fh.NOW_HOUR - 31 * DAY, fh.NOW_HOUR
    progress = []
    h = hl.history(start, end, lambda done, total: progress.append((done, total)))
    every = list(hours(start, end))
    assert list(h.volume_usd) == every and set(h.markets.values()) == {len(BASES)}
    assert sorted(h.btc_close) == every and sorted(h.btc_funding) == every
    candles = info_requests(fake, "candleSnapshot")
    assert len(candles) == len(BASES) * 8  # 744 hours in pages of 100
    btc_starts = [b["req"]["startTime"] for b in candles if b["req"]["coin"] == "BTC"]
    assert btc_starts == [(start + i * 100 * HOUR) * 1000 for i in range(8)]
    funding = info_requests(fake, "fundingHistory")
    assert len(funding) == 2  # 500 rows a response
    assert funding[1]["startTime"] == fake_hl.settle_ms(start + 499 * HOUR) + 1
    assert all(b["req"]["endTime"] == end * 1000 - 1 for b in candles)
    assert all(b["endTime"] == end * 1000 - 1 for b in funding)
    total = 1 + len(candles) + len(funding)
    assert [d for d, _ in progress] == list(range(1, total + 1)) and progress[-1] == (total, total)


def test_window_reaching_now_stops_at_the_last_candle(hl, fake):
    h = hl.history(fh.NOW_HOUR - 2 * DAY, fh.NOW_HOUR + 3 * HOUR)
    assert max(h.volume_usd) == fh.NOW_HOUR - HOUR
    assert len(info_requests(fake, "candleSnapshot")) == len(BASES)


def test_a_failing_market_is_counted_and_left_out(hl, fake):
    intercept(fake, candles_of("ETH"), Reply({"error": "boom"}, status=500))
    h = hl.history(START, END)
    assert (h.symbols, h.symbols_failed) == (4, 1)
    hour = START + 7 * HOUR
    assert h.volume_usd[hour] == pytest.approx(sum(fh.candle("hyperliquid", b, hour)["quote_volume"]
                                                   for b in ("BTC", "KPEPE", "BROKEN")))
    assert h.markets[hour] == 3
    assert any("history of 1 of 4 markets unavailable" in n for n in h.notes)


def test_429_on_a_history_call_is_retried(hl, fake):
    intercept(fake, candles_of("kPEPE"), Reply({"error": "slow down"}, status=429), times=1)
    h = hl.history(START, END)
    assert h.symbols_failed == 0 and set(h.markets.values()) == {len(BASES)}
    assert len(info_requests(fake, "candleSnapshot")) == len(BASES) + 1


def test_btc_candles_failure_raises(hl, fake):
    intercept(fake, candles_of("BTC"), Reply({"error": "boom"}, status=500))
    with pytest.raises(ExchangeError, match="hyperliquid: HTTP 500 at .*/info: boom"):
        hl.history(START, END)


def test_market_list_failure_raises(hl, fake):
    intercept(fake, lambda body: body.get("type") == "metaAndAssetCtxs", Reply("<html>", status=502))
    with pytest.raises(ExchangeError):
        hl.history(START, END)


def test_funding_failure_leaves_none_and_a_note(hl, fake):
    intercept(fake, lambda body: body.get("type") == "fundingHistory", Reply({"error": "nope"}, status=422))
    h = hl.history(START, END)
    assert h.btc_funding is None and h.btc_close
    assert any(n.startswith("BTC funding history unavailable: HTTP 422") for n in h.notes)


def test_malformed_candle_payload_is_a_one_line_error(hl, fake):
    intercept(fake, candles_of("BTC"), Reply({"candles": []}))
    with pytest.raises(ExchangeError, match="unexpected candleSnapshot payload"):
        hl.history(START, END)


def test_json_round_trip(window):
    assert VenueHistory.from_json(json.loads(json.dumps(window.to_json()))) == window


def test_parsers_skip_and_count_malformed_records():
    skipped = Skips()
    rows = [{"t": 3600000, "o": "10", "c": "12", "v": "2", "n": 5}, {"t": None, "o": "1", "c": "1", "v": "1"},
            {"t": 7200000, "o": "NaN", "c": "1", "v": "1"}, "junk"]
    candles = parse_history_candles(rows, skipped)
    assert [(c.t, c.open, c.close, c.volume_usd) for c in candles] == [(3600, 10.0, 12.0, 22.0)]
    assert skipped.count == 3
    skipped = Skips()
    funding = parse_funding_history([{"coin": "BTC", "fundingRate": "0.00001", "time": 3600048},
                                     {"coin": "BTC", "fundingRate": "", "time": 1}, None], skipped)
    assert funding == [(3600048, 0.00001)] and skipped.count == 2
    assert settlement_hour(3600048) == 3600 and settlement_hour(7199990) == 7200
    for parser in (parse_history_candles, parse_funding_history):
        with pytest.raises(ValueError):
            parser({"error": "x"}, Skips())


def test_an_answer_weighs_one_more_per_60_candles_or_20_funding_rows():
    assert response_weight([{"t": 3600000 * i, "o": "1"} for i in range(61)]) == 2
    assert response_weight([{"coin": "BTC", "fundingRate": "0.00001", "time": 1}] * 20) == 1
    assert response_weight([{"universe": []}, []]) == 0  # metaAndAssetCtxs: no per-row weight
    assert response_weight([]) == 0 and response_weight({"error": "x"}) == 0
