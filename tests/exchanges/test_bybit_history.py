"""Bybit `history()` against the fake: sums over the included markets, the BTC series, paging,
failures, retries and the rebuilt snapshot row."""

from __future__ import annotations

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.bybit import (
    Bybit,
    parse_account_ratio_history,
    parse_funding_history,
    parse_history_candles,
    parse_open_interest_history,
    parse_price_candles,
)
from perps_tracker.exchanges.history import open_interest_usd
from perps_tracker.exchanges.parsing import Skips, funding_per_8h
from perps_tracker.model.history import DAY, VenueHistory, hours, venue_at
from tests.fakes import Reply, history
from tests.fakes.history import HOUR, NOW_HOUR

# The included markets of the instrument fixtures (BADUSDT too: `fetch` skips it only for its NaN ticker).
BASES = {"BTCUSDT": "BTC", "ETHUSDT": "ETH", "BTCPERP": "BTC", "SOLUSDT": "SOL", "1000PEPEUSDT": "1000PEPE",
         "SHIB1000USDT": "SHIB1000", "BADUSDT": "BAD"}
N = len(BASES)
START, END = NOW_HOUR - 4 * DAY, NOW_HOUR
ALL = tuple(BASES.values())


@pytest.fixture
def bybit(fake, client):
    fake.install("bybit")
    venue = Bybit(client, fake.url("bybit"))
    venue.history_rate = 0  # no pacing against the loopback fake (the Pacer has its own test, test_pacing.py)
    return venue


def volume(t, bases=ALL):
    return sum(history.candle("bybit", base, t)["quote_volume"] for base in bases)


def replace_route(fake, path, reply, when):
    """Answer `reply` instead of the route at `path` for requests whose query satisfies `when`;
    `when` may count calls to answer only the first."""
    original = fake.routes[("bybit", "GET", path)]
    fake.add("bybit", path, lambda request: reply if when(request.query) else original(request))


# -- sums over the included markets -----------------------------------------------------------

def test_hourly_volume_markets_and_open_interest(bybit):
    h = bybit.history(START, END)
    assert (h.exchange, h.kind, h.start, h.end) == ("bybit", "CEX", START, END)
    assert sorted(h.volume_usd) == list(hours(START, END))
    assert h.symbols == N and h.symbols_failed == 0 and h.trades is None
    for t in (START, START + 37 * HOUR, END - HOUR):
        assert h.volume_usd[t] == pytest.approx(volume(t))
        assert h.markets[t] == N
        # one side in base coin × the price at t (what the fake's USD value was divided by)
        assert h.open_interest_usd[t] == pytest.approx(
            sum(history.open_interest_usd("bybit", base, t) for base in BASES.values()))
    assert "market list is today's: delisted markets are missing, totals are lower bounds" in h.notes
    assert any("no trade counts" in note for note in h.notes)


def test_btc_series(bybit):
    h = bybit.history(START, END)
    assert h.btc_symbol == "BTCUSDT"  # USDT before the USDC BTCPERP
    for t in hours(START, END):
        candle = history.candle("bybit", "BTC", t)
        assert (h.btc_open[t], h.btc_close[t]) == (pytest.approx(candle["open"]), pytest.approx(candle["close"]))
        assert h.btc_mark[t] == pytest.approx(history.mark("BTC", t))
        assert h.btc_index[t] == pytest.approx(history.index("BTC", t))
        assert h.long_share[t] == pytest.approx(history.long_share("bybit", t))
    settlements = [t for t in hours(START, END) if t % (8 * HOUR) == 0]  # BTCUSDT: fundingInterval 480
    assert sorted(h.btc_funding) == settlements
    for t in settlements:
        assert h.btc_funding[t] == pytest.approx(history.funding_8h("bybit", t))


def test_venue_at_one_hour_by_hand(bybit):
    h = bybit.history(START, END)
    hour = START + 2 * DAY + 5 * HOUR  # 05:00 UTC: its funding period settles at 08:00
    row = venue_at(h, hour)
    assert row.ok and row.markets == N
    assert row.volume_24h_usd == pytest.approx(sum(volume(t) for t in range(hour - DAY, hour, HOUR)))
    close, first_open = history.price("BTC", hour), history.price("BTC", hour - DAY)
    assert row.btc_price == pytest.approx(close)
    assert row.btc_price_change_24h_pct == pytest.approx(100 * (close / first_open - 1))
    assert row.btc_funding_rate_8h == pytest.approx(history.funding_8h("bybit", hour + 3 * HOUR))
    assert row.btc_mark_price == pytest.approx(history.mark("BTC", hour - HOUR))
    assert row.btc_index_price == pytest.approx(history.index("BTC", hour - HOUR))
    assert row.open_interest_usd == pytest.approx(
        sum(history.open_interest_usd("bybit", base, hour) for base in BASES.values()))
    share = history.long_share("bybit", hour)
    assert row.long_share == pytest.approx(share) and row.long_short_ratio == pytest.approx(share / (1 - share))
    assert row.num_trades_24h is None and row.records_skipped == 0


# -- paging -----------------------------------------------------------------------------------

def test_thirty_days_page_without_gaps_or_duplicates(bybit, fake):
    start = NOW_HOUR - 31 * DAY  # 744 hours: 4 open-interest pages of 200, 2 account-ratio pages of 500
    h = bybit.history(start, END)
    every_hour = list(hours(start, END))
    assert sorted(h.volume_usd) == every_hour and sorted(h.open_interest_usd) == every_hour
    assert sorted(h.long_share) == every_hour and sorted(h.btc_mark) == every_hour
    assert set(h.markets.values()) == {N}
    oi = [r.query for r in fake.requests if r.path == "/v5/market/open-interest" and r.query["symbol"] == "BTCUSDT"]
    assert [q.get("cursor") for q in oi] == [None, "lastid%3D200", "lastid%3D400", "lastid%3D600"]
    assert all(q["limit"] == "200" and q["intervalTime"] == "1h" for q in oi)
    ratio = [r.query for r in fake.requests if r.path == "/v5/market/account-ratio"]
    assert len(ratio) == 2 and ratio[0]["limit"] == "500"
    assert fake.count("bybit", "/v5/market/kline") == N  # 744 candles fit one page of 1000
    t = start + 300 * HOUR
    assert h.open_interest_usd[t] == pytest.approx(
        sum(history.open_interest_usd("bybit", base, t) for base in BASES.values()))


def test_klines_page_back_by_end(bybit, fake, monkeypatch):
    monkeypatch.setattr("perps_tracker.exchanges.bybit.KLINE_LIMIT", 100)
    h = bybit.history(START, END)  # 96 hours: one full page, then a short one
    assert sorted(h.volume_usd) == list(hours(START, END))
    asked = [r.query for r in fake.requests if r.path == "/v5/market/kline" and r.query["symbol"] == "ETHUSDT"]
    assert [q["end"] for q in asked] == [str(END * 1000 - 1)]  # 96 < 100: one page
    monkeypatch.setattr("perps_tracker.exchanges.bybit.KLINE_LIMIT", 40)
    fake.requests.clear()
    h = bybit.history(START, END)
    asked = [r.query for r in fake.requests if r.path == "/v5/market/kline" and r.query["symbol"] == "ETHUSDT"]
    oldest_first_page = END - 40 * HOUR
    assert [q["end"] for q in asked] == [str(END * 1000 - 1), str(oldest_first_page * 1000 - 1),
                                         str((oldest_first_page - 40 * HOUR) * 1000 - 1)]
    assert sorted(h.volume_usd) == list(hours(START, END))
    assert h.volume_usd[START] == pytest.approx(volume(START))


def test_progress_counts_every_request(bybit, fake):
    seen = []
    bybit.history(START, END, progress=lambda done, total: seen.append((done, total)))
    assert [done for done, _ in seen] == list(range(1, len(seen) + 1))
    assert all(done <= total for done, total in seen)
    assert seen[-1][0] == seen[-1][1]
    assert seen[-1][0] == fake.count("bybit") - 1  # the two instruments-info pages count as one step


# -- failures ---------------------------------------------------------------------------------

def test_a_failing_market_is_counted_and_left_out(bybit, fake):
    replace_route(fake, "/v5/market/kline", Reply({"retCode": 10001, "retMsg": "params error"}),
                  lambda q: q["symbol"] == "ETHUSDT")
    h = bybit.history(START, END)
    assert h.symbols == N and h.symbols_failed == 1
    others = [base for symbol, base in BASES.items() if symbol != "ETHUSDT"]
    assert h.volume_usd[START] == pytest.approx(volume(START, others)) and h.markets[START] == N - 1
    assert h.open_interest_usd[START] == pytest.approx(
        sum(history.open_interest_usd("bybit", base, START) for base in others))
    assert any(f"1 of {N} markets unavailable" in note and "ETHUSDT" in note for note in h.notes)


def test_a_market_whose_open_interest_fails_is_left_out_of_every_sum(bybit, fake):
    replace_route(fake, "/v5/market/open-interest", Reply({"retCode": 10001, "retMsg": "params error"}),
                  lambda q: q["symbol"] == "SOLUSDT")
    h = bybit.history(START, END)
    assert h.symbols_failed == 1 and h.markets[START] == N - 1
    assert h.volume_usd[START] == pytest.approx(volume(START, [b for s, b in BASES.items() if s != "SOLUSDT"]))


def test_a_malformed_kline_payload_fails_only_that_market(bybit, fake):
    replace_route(fake, "/v5/market/kline", Reply({"retCode": 0, "result": {}}), lambda q: q["symbol"] == "SOLUSDT")
    h = bybit.history(START, END)
    assert h.symbols_failed == 1
    assert any("unexpected kline payload" in note for note in h.notes)


def test_malformed_records_are_skipped_and_counted(bybit, fake):
    replace_route(fake, "/v5/market/kline", Reply({"retCode": 0, "result": {"list": [
        ["nope", "1", "1", "1", "1", "1", "1"],
        [str(START * 1000), "1", "1", "1", "2", "10", "NaN"],
        [str(START * 1000), "1", "1", "1", "2", "10", "500.5"]]}}), lambda q: q["symbol"] == "SOLUSDT")
    h = bybit.history(START, END)
    assert h.symbols_failed == 0
    assert h.volume_usd[START] == pytest.approx(volume(START, [b for s, b in BASES.items() if s != "SOLUSDT"]) + 500.5)
    assert "2 malformed history records skipped" in h.notes


def test_a_429_on_a_history_call_is_retried(bybit, fake):
    calls = []

    def first_btc_kline(query):
        calls.append(query["symbol"])
        return query["symbol"] == "BTCUSDT" and calls.count("BTCUSDT") == 1

    replace_route(fake, "/v5/market/kline", Reply({"retMsg": "Too many visits"}, status=429), first_btc_kline)
    h = bybit.history(START, END)
    assert calls.count("BTCUSDT") == 2 and h.symbols_failed == 0
    assert h.btc_close[START] == pytest.approx(history.candle("bybit", "BTC", START)["close"])


def test_rate_limit_code_in_a_200_body_is_retried(bybit, fake):
    calls = []

    def first(query):
        calls.append(1)
        return len(calls) == 1

    replace_route(fake, "/v5/market/funding/history", Reply({"retCode": 10006, "retMsg": "Too many visits"}), first)
    h = bybit.history(START, END)
    assert len(calls) == 2 and h.btc_funding


def test_btc_candles_failing_fails_the_venue(bybit, fake):
    replace_route(fake, "/v5/market/kline", Reply({"retCode": 10001, "retMsg": "params error"}),
                  lambda q: q["symbol"] == "BTCUSDT")
    with pytest.raises(ExchangeError, match="^bybit: BTC candles of BTCUSDT unavailable: params error"):
        bybit.history(START, END)


def test_instrument_list_failing_fails_the_venue(bybit, fake):
    fake.add("bybit", "/v5/market/instruments-info", Reply("<html>", status=403))
    with pytest.raises(ExchangeError, match="^bybit: HTTP 403"):
        bybit.history(START, END)


def test_missing_optional_series_are_none_with_a_note(bybit, fake):
    fake.add("bybit", "/v5/market/index-price-kline", Reply({"retCode": -1, "retMsg": "not found"}, status=404))
    replace_route(fake, "/v5/market/account-ratio", Reply({"retCode": 10001, "retMsg": "params error"}),
                  lambda q: "startTime" in q)
    fake.add("bybit", "/v5/market/funding/history", Reply({"retCode": 0, "result": None}))
    h = bybit.history(START, END)
    assert h.btc_index is None and h.long_share is None and h.btc_funding is None
    assert h.btc_mark and h.btc_close
    assert any(note.startswith("index price history unavailable: HTTP 404") for note in h.notes)
    assert "long/short history unavailable: params error (code 10001)" in h.notes
    assert any(note.startswith("funding history unavailable: unexpected funding/history payload") for note in h.notes)
    row = venue_at(h, START + DAY)
    assert row.ok and row.btc_index_price is None and row.long_share is None and row.btc_funding_rate_8h is None


def test_long_share_history_shorter_than_the_window_is_noted(bybit, fake):
    cut = END - 2 * DAY
    original = fake.routes[("bybit", "GET", "/v5/market/account-ratio")]

    def recent_only(request):
        reply = original(request)
        if "startTime" in request.query:
            rows = reply.body["result"]["list"]
            reply.body["result"]["list"] = [r for r in rows if int(r["timestamp"]) >= cut * 1000]
        return reply

    fake.add("bybit", "/v5/market/account-ratio", recent_only)
    h = bybit.history(START, END)
    assert min(h.long_share) == cut
    assert "long/short history starts only at 2026-11-21 00:00 UTC" in h.notes  # NOW_HOUR is 2026-11-23


def test_history_survives_json(bybit):
    h = bybit.history(START, END)
    assert VenueHistory.from_json(h.to_json()) == h


# -- pure parts -------------------------------------------------------------------------------

def test_parsers_skip_and_count_malformed_rows():
    skipped = Skips()
    rows = parse_history_candles({"result": {"list": [
        ["1795388400000", "1", "2", "0.5", "1.5", "10", "15.5"], ["x"], "row", [None] * 7]}}, skipped)
    assert rows == [(1795388400, 1.0, 1.5, 15.5)] and skipped.count == 3
    assert parse_price_candles({"result": {"list": [["1795388400000", "1", "2", "0.5", "1.5"], []]}}, skipped) == \
        [(1795388400, 1.5)]
    assert parse_funding_history({"result": {"list": [
        {"fundingRate": "0.0001", "fundingRateTimestamp": "1795363200000"}, {"fundingRate": ""}]}}, skipped) == \
        [(1795363200, 0.0001)]
    assert parse_account_ratio_history({"result": {"list": [
        {"buyRatio": "0.6", "sellRatio": "0.4", "timestamp": "1795388400000"}, {"timestamp": "1"}]}}, skipped) == \
        [(1795388400, pytest.approx(0.6))]
    assert skipped.count == 6


def test_open_interest_prefers_one_side():
    skipped = Skips()
    rows = parse_open_interest_history({"result": {"list": [
        {"openInterest": "100", "singleOpenInterest": "50", "timestamp": "7200000"},
        {"openInterest": "80", "timestamp": "3600000"},
        {"openInterest": "80", "singleOpenInterest": "", "timestamp": "0"},
        {"openInterest": "NaN", "timestamp": "10800000"}]}}, skipped)
    assert rows == [(7200, 50.0), (3600, 80.0), (0, 80.0)] and skipped.count == 1


def test_malformed_payload_is_a_value_error():
    with pytest.raises(ValueError):
        parse_history_candles({"result": {"list": None}}, Skips())


def test_open_interest_takes_the_price_at_its_time():
    candles = [(0, 10.0, 11.0, 1.0), (HOUR, 11.0, 12.0, 1.0)]
    # at 0: the open of the candle opening then; at 1 h: the close of the one before; 2 h: close of 1 h;
    # half past: that hour's close; 5 h: no price, dropped
    assert open_interest_usd([(0, 2.0), (HOUR, 2.0), (2 * HOUR, 2.0), (HOUR + 1800, 2.0), (5 * HOUR, 2.0)],
                             candles) == [(0, 20.0), (HOUR, 22.0), (2 * HOUR, 24.0), (HOUR + 1800, 24.0)]


def test_funding_is_scaled_by_the_spacing_of_settlements():
    settlements = [(0, 0.0001), (8 * HOUR, 0.0001), (12 * HOUR, 0.0001), (13 * HOUR, 0.0001), (37 * HOUR, 0.0001)]
    assert funding_per_8h(settlements, 8.0) == {
        0: pytest.approx(0.0001),  # the oldest: today's interval
        8 * HOUR: pytest.approx(0.0001), 12 * HOUR: pytest.approx(0.0002), 13 * HOUR: pytest.approx(0.0008),
        37 * HOUR: pytest.approx(0.0001),  # after a gap: today's interval
    }
    assert funding_per_8h([(0, 0.0001), (4 * HOUR, 0.0001)], None) == {0: pytest.approx(0.0002),
                                                                      4 * HOUR: pytest.approx(0.0002)}


def test_history_rate_stays_under_half_the_ip_limit():
    assert Bybit.history_rate * 5 <= 300  # at most half of Bybit's 600 requests per 5 s
