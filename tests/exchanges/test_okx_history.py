"""OKX `history()` against the fake: sums over the included swaps, the BTC series, paging with
OKX's exclusive cursors, the 30-day long/short history, failures, retries and the rebuilt row."""

from __future__ import annotations

import pytest

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.okx import (
    CANDLES_PATH,
    OI_HISTORY_PATH,
    Okx,
    pacing,
    parse_funding_history,
    parse_history_candles,
    parse_long_short_history,
    parse_mark_candles,
    parse_open_interest_history,
)
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.history import DAY, VenueHistory, hours, venue_at
from tests.fakes import Reply, history
from tests.fakes.history import HOUR, NOW_HOUR

# Included swaps with history; QUIET-USDT-SWAP is included too but untraded (no candles, no open interest).
BASES = {"BTC-USDT-SWAP": "BTC", "ETH-USDT-SWAP": "ETH", "BTC-USDC-SWAP": "BTC", "DOGE-USDT-SWAP": "DOGE"}
START, END = NOW_HOUR - 4 * DAY, NOW_HOUR
ALL = tuple(BASES.values())
RATIO_PATH = "/api/v5/rubik/stat/contracts/long-short-account-ratio"


@pytest.fixture
def okx(fake, client):
    fake.install("okx")
    venue = Okx(client, fake.url("okx"))
    venue.history_rates = {}  # no pacing against the loopback fake
    return venue


def volume(t, bases=ALL):
    return sum(history.candle("okx", base, t)["quote_volume"] for base in bases)


def open_interest(t, bases=ALL):
    return sum(history.open_interest_usd("okx", base, t) for base in bases)


def replace_route(fake, path, reply, when):
    """Answer `reply` instead of the route at `path` for requests whose query satisfies `when`."""
    original = fake.routes[("okx", "GET", path)]
    fake.add("okx", path, lambda request: reply if when(request.query) else original(request))


def asked(fake, path, inst_id=None):
    return [r.query for r in fake.requests if r.path == path and (inst_id is None or r.query.get("instId") == inst_id)]


# -- sums over the included swaps ---------------------------------------------------------------

def test_hourly_volume_markets_and_open_interest(okx):
    h = okx.history(START, END)
    assert (h.exchange, h.kind, h.start, h.end) == ("okx", "CEX", START, END)
    assert h.symbols == 5 and h.symbols_failed == 0 and h.trades is None
    assert sorted(h.volume_usd) == list(hours(START, END)) == sorted(h.open_interest_usd)
    for t in (START, START + 50 * HOUR, END - HOUR):
        assert h.volume_usd[t] == pytest.approx(volume(t))  # volCcyQuote
        assert h.markets[t] == 4  # the untraded swap has no candle
        assert h.open_interest_usd[t] == pytest.approx(open_interest(t))  # oiUsd
    assert "market list is today's: delisted markets are missing, totals are lower bounds" in h.notes


def test_btc_series(okx):
    h = okx.history(START, END)
    assert h.btc_symbol == "BTC-USDT-SWAP"
    for t in hours(START, END):
        candle = history.candle("okx", "BTC", t)
        assert (h.btc_open[t], h.btc_close[t]) == (pytest.approx(candle["open"]), pytest.approx(candle["close"]))
        assert h.btc_mark[t] == pytest.approx(history.mark("BTC", t))
        assert h.long_share[t] == pytest.approx(history.long_share("okx", t))
    settlements = [t for t in hours(START, END) if t % (8 * HOUR) == 0]
    assert sorted(h.btc_funding) == settlements
    for t in settlements:  # realizedRate, not the predicted fundingRate the fake sets 0.00001 higher
        assert h.btc_funding[t] == pytest.approx(history.funding_8h("okx", t))
    assert h.btc_index is None and "no BTC index price: kept empty, as live has none for OKX" in h.notes
    assert not any("long/short" in note for note in h.notes)  # 4 days: inside OKX's 30


def test_venue_at_one_hour_by_hand(okx):
    h = okx.history(START, END)
    hour = START + 2 * DAY + 13 * HOUR  # 13:00 UTC: its funding period settles at 16:00
    row = venue_at(h, hour)
    assert row.ok and row.markets == 4
    assert row.volume_24h_usd == pytest.approx(sum(volume(t) for t in range(hour - DAY, hour, HOUR)))
    close, first_open = history.price("BTC", hour), history.price("BTC", hour - DAY)
    assert row.btc_price == pytest.approx(close)
    assert row.btc_price_change_24h_pct == pytest.approx(100 * (close / first_open - 1))
    assert row.btc_funding_rate_8h == pytest.approx(history.funding_8h("okx", hour + 3 * HOUR))
    assert row.btc_mark_price == pytest.approx(history.mark("BTC", hour - HOUR)) and row.btc_index_price is None
    assert row.open_interest_usd == pytest.approx(open_interest(hour))
    share = history.long_share("okx", hour)
    assert row.long_share == pytest.approx(share) and row.long_short_ratio == pytest.approx(share / (1 - share))


# -- paging -------------------------------------------------------------------------------------

def test_thirty_days_page_without_gaps_or_duplicates(okx, fake):
    start = NOW_HOUR - 31 * DAY  # 744 hours: 8 pages of 100 candles and of 100 open-interest points
    h = okx.history(start, END)
    every_hour = list(hours(start, END))
    assert sorted(h.volume_usd) == every_hour == sorted(h.open_interest_usd) == sorted(h.btc_mark)
    assert set(h.markets.values()) == {4}
    candles = asked(fake, CANDLES_PATH, "BTC-USDT-SWAP")
    assert [int(q["after"]) for q in candles] == [(END - i * 100 * HOUR) * 1000 for i in range(8)]
    assert {q["before"] for q in candles} == {str(start * 1000 - 1)} and {q["limit"] for q in candles} == {"100"}
    oi = asked(fake, OI_HISTORY_PATH, "ETH-USDT-SWAP")
    assert [int(q["end"]) for q in oi] == [(END - i * 100 * HOUR) * 1000 for i in range(8)]
    assert {q["begin"] for q in oi} == {str(start * 1000 - 1)} and {q["period"] for q in oi} == {"1H"}
    assert len(asked(fake, CANDLES_PATH, "QUIET-USDT-SWAP")) == 1  # an empty first page ends it
    for t in (start, start + 99 * HOUR, start + 100 * HOUR, END - HOUR):
        assert h.volume_usd[t] == pytest.approx(volume(t)) and h.open_interest_usd[t] == pytest.approx(open_interest(t))


def test_long_short_history_covers_only_the_last_30_days(okx, fake):
    start = NOW_HOUR - 31 * DAY
    h = okx.history(start, END)
    kept = NOW_HOUR - 30 * DAY
    assert sorted(h.long_share) == list(hours(kept, END))
    assert h.long_share[kept] == pytest.approx(history.long_share("okx", kept))
    assert "long/short history covers only the last 30 days (from 2026-10-24 00:00 UTC)" in h.notes
    ends = [int(q["end"]) for q in asked(fake, RATIO_PATH)]
    assert ends == sorted(ends, reverse=True) and len(ends) == len(set(ends))
    assert venue_at(h, kept - 2 * HOUR).long_share is None and venue_at(h, kept).long_share is not None


def test_long_short_refused_for_older_ranges_keeps_the_newer_part(okx, fake):
    edge = END - 6 * DAY
    replace_route(fake, RATIO_PATH, Reply({"code": "51000", "msg": "Parameter begin error", "data": []}),
                  lambda q: "begin" in q and int(q["begin"]) < edge * 1000 - 1)
    h = okx.history(END - 10 * DAY, END)  # asked 4 days at a time: the second request is refused
    assert sorted(h.long_share) == list(hours(END - 4 * DAY, END))
    assert any(note.startswith("long/short history covers only the last 30 days") for note in h.notes)


def test_long_short_failing_at_once_is_none_with_a_note(okx, fake):
    replace_route(fake, RATIO_PATH, Reply({"code": "50011", "msg": "Too Many Requests"}, status=429),
                  lambda q: "begin" in q)
    h = okx.history(START, END)
    assert h.long_share is None
    assert any(note.startswith("long/short history unavailable: rate limited (HTTP 429)") for note in h.notes)


def test_progress_counts_every_request(okx, fake):
    seen = []
    okx.history(START, END, progress=lambda done, total: seen.append((done, total)))
    assert [done for done, _ in seen] == list(range(1, len(seen) + 1))
    assert all(done <= total for done, total in seen) and seen[-1][0] == seen[-1][1] == fake.count("okx")


# -- failures -----------------------------------------------------------------------------------

def test_a_failing_swap_is_counted_and_left_out(okx, fake):
    replace_route(fake, CANDLES_PATH, Reply({"code": "51001", "msg": "Instrument ID does not exist", "data": []}),
                  lambda q: q["instId"] == "DOGE-USDT-SWAP")
    h = okx.history(START, END)
    assert h.symbols == 5 and h.symbols_failed == 1 and h.markets[START] == 3
    others = [b for i, b in BASES.items() if i != "DOGE-USDT-SWAP"]
    assert h.volume_usd[START] == pytest.approx(volume(START, others))
    assert h.open_interest_usd[START] == pytest.approx(open_interest(START, others))
    assert any("1 of 5 swaps unavailable" in note and "DOGE-USDT-SWAP" in note for note in h.notes)


def test_a_429_on_a_history_call_is_retried(okx, fake):
    calls = []

    def first_eth_page(query):
        calls.append(query["instId"])
        return query["instId"] == "ETH-USDT-SWAP" and calls.count("ETH-USDT-SWAP") == 1

    replace_route(fake, OI_HISTORY_PATH, Reply({"code": "50011", "msg": "Too Many Requests"}, status=429),
                  first_eth_page)
    h = okx.history(START, END)
    assert calls.count("ETH-USDT-SWAP") == 2 and h.symbols_failed == 0
    assert h.open_interest_usd[START] == pytest.approx(open_interest(START))


def test_btc_candles_failing_fails_the_venue(okx, fake):
    replace_route(fake, CANDLES_PATH, Reply({"code": "50013", "msg": "System busy", "data": []}),
                  lambda q: q["instId"] == "BTC-USDT-SWAP")
    with pytest.raises(ExchangeError, match="^okx: BTC candles of BTC-USDT-SWAP unavailable: System busy"):
        okx.history(START, END)


def test_instrument_list_failing_fails_the_venue(okx, fake):
    fake.add("okx", "/api/v5/public/instruments", Reply({"code": "50001", "msg": "Service unavailable"}))
    with pytest.raises(ExchangeError, match="^okx: Service unavailable"):
        okx.history(START, END)


def test_missing_mark_and_funding_are_none_with_a_note(okx, fake):
    fake.add("okx", "/api/v5/market/history-mark-price-candles", Reply({"msg": "not found"}, status=404))
    fake.add("okx", "/api/v5/public/funding-rate-history", Reply({"code": "0", "data": {}}))
    h = okx.history(START, END)
    assert h.btc_mark is None and h.btc_funding is None and h.btc_close
    assert any(note.startswith("mark price history unavailable: HTTP 404") for note in h.notes)
    assert any(note.startswith("funding history unavailable: unexpected funding-rate-history payload")
               for note in h.notes)
    row = venue_at(h, START + DAY)
    assert row.ok and row.btc_mark_price is None and row.btc_funding_rate_8h is None


def test_unconfirmed_and_malformed_candles(okx, fake):
    replace_route(fake, CANDLES_PATH, Reply({"code": "0", "data": [
        [str(START * 1000), "1", "1", "1", "1", "5", "5", "700.25", "0"],  # still open: dropped, not counted
        [str(START * 1000), "1", "1", "1", "1", "5", "5", "", "1"],  # no quote volume: counted
        [str((START + HOUR) * 1000), "1", "1", "1", "1", "5", "5", "300.5", "1"]]}),
        lambda q: q["instId"] == "DOGE-USDT-SWAP")
    h = okx.history(START, END)
    others = [b for i, b in BASES.items() if i != "DOGE-USDT-SWAP"]
    assert h.volume_usd[START] == pytest.approx(volume(START, others))
    assert h.volume_usd[START + HOUR] == pytest.approx(volume(START + HOUR, others) + 300.5)
    assert "1 malformed history record skipped" in h.notes


def test_history_survives_json(okx):
    h = okx.history(START, END)
    assert VenueHistory.from_json(h.to_json()) == h


# -- pure parts ---------------------------------------------------------------------------------

def test_parsers():
    skipped = Skips()
    assert parse_history_candles({"data": [["3600000", "1", "2", "0.5", "1.5", "10", "1", "15.5", "1"],
                                           ["7200000", "1", "2", "0.5", "1.5", "10", "1", "15.5", "0"],
                                           ["x"], {}]}, skipped) == [(3600, 1.0, 1.5, 15.5)]
    assert parse_mark_candles({"data": [["3600000", "1", "2", "0.5", "1.5", "1"], ["7200000", "1", "2", "0.5",
                                                                                  "1.6", "0"]]}, skipped) == \
        [(3600, 1.5)]
    assert parse_open_interest_history({"data": [["3600000", "10", "1", "84000.5"], ["1", "2"]]}, skipped) == \
        [(3600, 84000.5)]
    assert parse_long_short_history({"data": [["3600000", "1.5"], ["7200000", "-1"]]}, skipped) == \
        [(3600, pytest.approx(0.6))]
    assert parse_funding_history({"data": [
        {"fundingTime": "28800000", "fundingRate": "0.0002", "realizedRate": "0.0001"},
        {"fundingTime": "57600000", "fundingRate": "0.0003", "realizedRate": ""},
        {"fundingTime": "", "realizedRate": "0.1"}]}, skipped) == [(28800, 0.0001), (57600, 0.0003)]
    assert skipped.count == 5
    with pytest.raises(ValueError):
        parse_history_candles({"code": "0"}, Skips())


def test_open_interest_history_is_paced_per_instrument():
    requests = pacing({CANDLES_PATH: 8.0, OI_HISTORY_PATH: 4.0})
    assert requests.pacer(OI_HISTORY_PATH, "BTC-USDT-SWAP") is not requests.pacer(OI_HISTORY_PATH, "ETH-USDT-SWAP")
    assert requests.pacer(OI_HISTORY_PATH, "BTC-USDT-SWAP") is requests.pacer(OI_HISTORY_PATH, "BTC-USDT-SWAP")
    assert requests.pacer(CANDLES_PATH, "BTC-USDT-SWAP") is requests.pacer(CANDLES_PATH, "ETH-USDT-SWAP")
    pacer = requests.pacer(CANDLES_PATH, None)
    assert (pacer.rate, pacer.burst) == (8.0, 1.0)  # 1/8 s apart
    assert Okx.history_rates[CANDLES_PATH] * 2 < 20 and Okx.history_rates[RATIO_PATH] * 2 < 5
