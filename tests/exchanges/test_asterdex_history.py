"""AsterDEX history (backfill): Binance's `history` on Aster's host, minus what Aster lacks — no
open-interest or long/short history (None, with notes, never requested); BTCUSDT settles every 4 h."""

from __future__ import annotations

import json

import pytest
from pytest import approx

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.asterdex import Asterdex
from perps_tracker.exchanges.binance import Binance
from perps_tracker.model.history import DAY, VenueHistory, venue_at
from tests.fakes import Reply, history
from tests.fakes.asterdex import install
from tests.fakes.binance import (
    FUNDING_RATE,
    INDEX_KLINES,
    KLINES,
    MARK_KLINES,
    OPEN_INTEREST_HIST,
    RATIO,
)
from tests.fakes.history import HOUR, NOW_HOUR

NOW = NOW_HOUR + 600
INCLUDED = {"BTCUSDT": "BTC", "ETHUSDT": "ETH", "ASTERUSDT": "ASTER", "CAKEUSDT": "CAKE"}  # not ETHUSD1, not SETTLING
START, END = NOW_HOUR - 3 * DAY, NOW_HOUR


def aster(fake, client) -> Asterdex:
    exchange = Asterdex(client, fake.url("asterdex"))
    exchange.clock = lambda: NOW
    return exchange


def download(fake, client, start=START, end=END, progress=None) -> VenueHistory:
    install(fake)
    return aster(fake, client).history(start, end, progress)


def asked(fake, path, symbol=None):
    return [r.query for r in fake.requests if r.venue == "asterdex" and r.path == path
            and (symbol is None or r.query.get("symbol") == symbol)]


def summed(what, t):
    return sum(history.candle("asterdex", base, t)[what] for base in INCLUDED.values())


def refuse(symbol, status=400):
    def answer(request):
        if request.query.get("symbol") == symbol:
            return Reply({"code": -1121, "msg": "Invalid symbol."}, status=status)
        return None
    return answer


def wrap(fake, path, before):
    route = fake.routes[("asterdex", "GET", path)]
    fake.add("asterdex", path, lambda request: before(request) or route(request))


def test_history_is_binances():
    assert Asterdex.history is Binance.history
    assert Asterdex.long_short_path is None and Asterdex._open_interest_history_path is None


def test_hourly_sums_and_btc_series(fake, client):
    h = download(fake, client)
    hours = list(range(START, END, HOUR))
    assert sorted(h.volume_usd) == hours and (h.symbols, h.symbols_failed) == (4, 0)
    for t in hours:
        assert h.volume_usd[t] == approx(summed("quote_volume", t))
        assert h.trades[t] == summed("trades", t) and h.markets[t] == 4
    assert {q["symbol"] for q in asked(fake, KLINES)} == set(INCLUDED)
    assert h.btc_symbol == "BTCUSDT"
    assert h.btc_close == {t: approx(history.candle("asterdex", "BTC", t)["close"]) for t in hours}
    assert h.btc_open == {t: approx(history.candle("asterdex", "BTC", t)["open"]) for t in hours}
    assert h.btc_mark == {t: approx(history.mark("BTC", t)) for t in hours}
    assert h.btc_index == {t: approx(history.index("BTC", t)) for t in hours}
    settlements = [t for t in hours if t % (4 * HOUR) == 0]  # fundingInfo: BTCUSDT every 4 h
    assert h.btc_funding == {t: approx(history.funding_8h("asterdex", t)) for t in settlements}  # × 8 / 4


def test_no_open_interest_or_long_short_history(fake, client):
    h = download(fake, client)
    assert h.open_interest_usd is None and h.long_share is None
    assert "no open interest history: the venue has no such endpoint" in h.notes
    assert "no long/short history: the venue has no such endpoint" in h.notes
    assert not asked(fake, OPEN_INTEREST_HIST) and not asked(fake, RATIO)
    assert "market list is today's: delisted markets are missing, totals are lower bounds" in h.notes


def test_one_hour_rebuilt_by_hand(fake, client):
    h = download(fake, client)
    hour = NOW_HOUR - 27 * HOUR  # 21:00: its 4 h funding period settles at midnight, NOW_HOUR − 24 h
    row = venue_at(h, hour)
    day = range(hour - DAY, hour, HOUR)
    close = history.candle("asterdex", "BTC", hour - HOUR)["close"]
    assert row.ok and row.markets == 4
    assert row.volume_24h_usd == approx(sum(summed("quote_volume", t) for t in day))
    assert row.num_trades_24h == sum(summed("trades", t) for t in day)
    assert row.btc_price == approx(close)
    assert row.btc_price_change_24h_pct == approx(100 * (close / history.candle("asterdex", "BTC", hour - DAY)["open"] - 1))
    assert row.btc_funding_rate_8h == approx(history.funding_8h("asterdex", NOW_HOUR - DAY))
    assert row.btc_mark_price == approx(history.mark("BTC", hour - HOUR))
    assert row.open_interest_usd is None and row.long_share is None and row.long_short_ratio is None
    assert VenueHistory.from_json(json.loads(json.dumps(h.to_json()))) == h


def test_thirty_days_in_pages(fake, client):
    start = NOW_HOUR - 30 * DAY
    calls = []
    h = download(fake, client, start, NOW_HOUR, lambda done, total: calls.append((done, total)))
    for symbol in INCLUDED:
        pages = [(int(q["startTime"]) // 1000, (int(q["endTime"]) + 1) // 1000, int(q["limit"]))
                 for q in asked(fake, KLINES, symbol)]
        assert pages == [(start, start + 499 * HOUR, 499), (start + 499 * HOUR, NOW_HOUR, 221)]
    hours = list(range(start, NOW_HOUR, HOUR))
    assert sorted(h.volume_usd) == hours and sorted(h.btc_mark) == hours
    assert h.volume_usd[hours[499]] == approx(summed("quote_volume", hours[499]))
    assert len(asked(fake, MARK_KLINES)) == len(asked(fake, INDEX_KLINES)) == 2
    assert len(asked(fake, FUNDING_RATE)) == 1 and len(h.btc_funding) == 30 * 6
    assert calls[-1] == (fake.count("asterdex"), fake.count("asterdex")) == (1 + 4 * 2 + 2 * 2 + 2,) * 2


def test_a_failing_market_is_counted_and_left_out(fake, client):
    install(fake)
    wrap(fake, KLINES, refuse("CAKEUSDT"))
    h = aster(fake, client).history(START, END)
    t = START + HOUR
    assert h.symbols_failed == 1 and h.markets[t] == 3
    assert h.volume_usd[t] == approx(summed("quote_volume", t) - history.candle("asterdex", "CAKE", t)["quote_volume"])


def test_btc_candles_failing_fail_the_venue(fake, client):
    install(fake)
    wrap(fake, KLINES, refuse("BTCUSDT", status=503))
    with pytest.raises(ExchangeError, match="asterdex: BTC candles of BTCUSDT unavailable: HTTP 503"):
        aster(fake, client).history(START, END)


def test_429_is_retried(fake, client):
    install(fake)
    hits = []

    def first_refused(request):
        hits.append(request.query["symbol"])
        if len(hits) == 1:
            return Reply({"code": -1003, "msg": "Too many requests"}, status=429, headers={"Retry-After": "0"})
        return None

    wrap(fake, FUNDING_RATE, first_refused)
    h = aster(fake, client).history(START, END)
    assert hits == ["BTCUSDT", "BTCUSDT"] and h.btc_funding and h.symbols_failed == 0


def test_missing_mark_and_funding_are_none_with_a_note(fake, client):
    install(fake)
    fake.add("asterdex", MARK_KLINES, Reply({"code": -1, "msg": "Not Found"}, status=404))
    fake.add("asterdex", FUNDING_RATE, Reply({"code": -1000, "msg": "busy"}, status=400))
    h = aster(fake, client).history(START, END)
    assert h.btc_mark is None and h.btc_funding is None and h.btc_index
    assert any(n.startswith("mark price history unavailable: HTTP 404") for n in h.notes)
    assert any(n.startswith("funding history unavailable: HTTP 400") for n in h.notes)
