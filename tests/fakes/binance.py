"""Binance USDⓈ-M futures on the loopback fake: exchangeInfo, ticker/24hr, premiumIndex,
fundingInfo, per-symbol openInterest and globalLongShortAccountRatio. Every answer carries
`X-MBX-USED-WEIGHT-1M`, counted per minute like the real venue.

History (`install_history`, values from tests/fakes/history.py): klines, markPriceKlines,
indexPriceKlines, fundingRate, openInterestHist and globalLongShortAccountRatio with startTime or
endTime, for every symbol of the exchangeInfo fixture (its baseAsset is the history key), with
Binance's limits, string numbers, ms times and ascending rows. /futures/data keeps the last 30 days
by the fake's clock (`now`, default the wall clock, as the real venue) and refuses an older startTime.

`big_exchange(fake, n)` installs a synthetic Binance with n perpetuals instead (benchmarks).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from tests.fakes import Reply, Request, approx, history, load
from tests.fakes.history import HOUR, NOW_HOUR, hours_between

# Binance reports errors with HTTP 4xx/5xx and {"code", "msg"}, never inside a 200 body.
ERROR_IN_200 = None

RATIO = "/futures/data/globalLongShortAccountRatio"
OPEN_INTEREST = "/fapi/v1/openInterest"
KLINES = "/fapi/v1/klines"
MARK_KLINES = "/fapi/v1/markPriceKlines"
INDEX_KLINES = "/fapi/v1/indexPriceKlines"
FUNDING_RATE = "/fapi/v1/fundingRate"
OPEN_INTEREST_HIST = "/futures/data/openInterestHist"
WEIGHTS = {  # request weight of each call, as documented (klines: by limit, see kline_weight)
    "/fapi/v1/exchangeInfo": 1,
    "/fapi/v1/ticker/24hr": 40,
    "/fapi/v1/premiumIndex": 10,
    "/fapi/v1/fundingInfo": 1,
    OPEN_INTEREST: 1,
    RATIO: 0,  # the /futures/data endpoints have their own limit (1000 per 5 min)
    OPEN_INTEREST_HIST: 0,
}
INVALID_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}
INVALID_LIMIT = {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
INVALID_START = {"code": -1130, "msg": "parameter 'startTime' is invalid."}
DATA_KEPT = 30 * 24 * HOUR  # /futures/data: the last 30 days only

# What fetch() must produce from the fixtures (hand-computed):
# Included: BTCUSDT, ETHUSDT, BTCUSDC, 1000PEPEUSDT, DOGEUSDT, SOLUSDT and the multiplied contracts'
# shapes 1000000MOGUSDT (base 1000000MOG), 1MBABYDOGEUSDT (1MBABYDOGE) and 1INCHUSDT (1INCH, a coin).
# Excluded: BTCUSDT_261225 (CURRENT_QUARTER), TSLAUSDT (TRADIFI_PERPETUAL), OLDUSDT ("PERPETUAL
# DELIVERING"), NEWUSDT (""), LAUNCHUSDT (PENDING_TRADING), ETHBUSD (BUSD). The ticker row of GHOSTUSDT
# (not listed) is ignored. Skipped and counted, the markets kept: SOLUSDT's volume (quoteVolume "NaN")
# and the open interest of SOLUSDT and DOGEUSDT (400 Invalid symbol).
EXPECTED = {
    "markets": 9,
    "records_skipped": 3,
    # quoteVolume of BTCUSDT, ETHUSDT, BTCUSDC, 1000PEPEUSDT, DOGEUSDT, then MOG, BABYDOGE, 1INCH
    "volume_24h_usd": approx(15000000000.50 + 8000000000.25 + 900000000 + 450000000.75 + 300000000
                             + 60000000 + 20000000.5 + 10000000),
    # OI = openInterest × markPrice (premiumIndex); DOGEUSDT has none
    "open_interest_usd": approx(80000.125 * 83990.0 + 1500000.5 * 2999.0 + 2500.5 * 84000.0 + 30000000000 * 0.0111
                                + 100000000 * 0.5195 + 2000000000 * 0.0014990 + 40000000 * 0.2499),
    "num_trades_24h": 3500000 + 2000000 + 150000 + 98765 + 80000 + 50000 + 40000 + 15000 + 9000,
    "btc_price": approx(84000.10),  # BTCUSDT (USDT before USDC) lastPrice
    "btc_mark_price": approx(83990.0),
    "btc_index_price": approx(83950.0),
    "btc_funding_rate_8h": approx(0.0001),  # BTCUSDT is not in fundingInfo: 8 h, 0.0001 × 8 / 8
    "btc_price_change_24h_pct": approx(-3.76),
    "long_short_ratio": approx(1.5),  # the newest of three rows given out of order
    "long_share": approx(1.5 / 2.5),
}


class WeightCounter:
    """The request weight the fake reports in X-MBX-USED-WEIGHT-1M: per clock minute, from `start`."""

    def __init__(self, start: int = 0, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.used = start
        self.minute = int(clock() // 60)
        self._lock = threading.Lock()

    def add(self, weight: int) -> int:
        with self._lock:
            minute = int(self.clock() // 60)
            if minute != self.minute:
                self.minute, self.used = minute, 0
            self.used += weight
            return self.used

    def reset(self) -> None:
        with self._lock:
            self.used = 0


def install_venue(fake, venue: str, payloads: dict[str, Any], open_interest: list[dict] | None,
                  weight: WeightCounter | None) -> None:
    """Routes for a Binance-compatible venue: `payloads` maps a path to its body; `open_interest`
    holds the per-symbol `openInterest` answers (None: no such route, the fake answers 404)."""

    def reply(path: str, body: Any, status: int = 200) -> Reply:
        headers = {} if weight is None else {"X-MBX-USED-WEIGHT-1M": str(weight.add(WEIGHTS.get(path, 1)))}
        return Reply(body, status=status, headers=headers)

    for path, body in payloads.items():
        fake.add(venue, path, lambda request, path=path, body=body: reply(path, body))
    if open_interest is not None:
        by_symbol = {row["symbol"]: row for row in open_interest}

        def one_symbol(request: Request) -> Reply:
            row = by_symbol.get(request.query.get("symbol"))
            return reply(OPEN_INTEREST, row) if row else reply(OPEN_INTEREST, INVALID_SYMBOL, status=400)

        fake.add(venue, OPEN_INTEREST, one_symbol)


def install(fake, weight: WeightCounter | None = None, now: Callable[[], float] | None = None) -> None:
    """Binance's routes; `now` (Unix seconds) is the fake's clock for what /futures/data still keeps."""
    weight = weight or WeightCounter()
    install_venue(fake, "binance", {
        "/fapi/v1/exchangeInfo": load("binance", "exchangeInfo"),
        "/fapi/v1/ticker/24hr": load("binance", "ticker_24hr"),
        "/fapi/v1/premiumIndex": load("binance", "premiumIndex"),
        "/fapi/v1/fundingInfo": load("binance", "fundingInfo"),
        RATIO: load("binance", "globalLongShortAccountRatio"),
    }, load("binance", "openInterest"), weight)
    install_history(fake, "binance", load("binance", "exchangeInfo"), load("binance", "fundingInfo"), weight, now=now)


# -- history ----------------------------------------------------------------------------------


def kline_weight(limit: int) -> int:
    """Binance's klines weight by `limit`: [1, 100) 1, [100, 500) 2, [500, 1000] 5, above 10."""
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


def funding_ms(settle: int) -> int:
    """A settlement's `fundingTime`: the real venue stamps it a few ms after the hour."""
    return settle * 1000 + (settle // HOUR) % 7


def _ms(query: dict, name: str) -> int | None:
    return int(query[name]) if name in query else None


def _opens(query: dict, limit: int, first_kept: int = history.FIRST_HOUR, from_start: bool = True) -> list[int]:
    """Hour starts in [startTime, endTime] (ms, both optional) that the fake has: with startTime the first
    `limit` of them (`from_start`) or the last; without it the `limit` newest up to endTime (or now)."""
    start, end = _ms(query, "startTime"), _ms(query, "endTime")
    low = first_kept if start is None else max(first_kept, -(-start // 1000))
    high = NOW_HOUR if end is None else end // 1000
    hours = hours_between(low, high)
    return hours[:limit] if start is not None and from_start else hours[-limit:]


def install_history(fake, venue: str, info: dict, funding_info: list, weight: WeightCounter | None,
                    futures_data: bool = True, now: Callable[[], float] | None = None) -> None:
    """History routes of a Binance-compatible venue; `futures_data`: also openInterestHist and the
    long/short ratio with startTime/endTime (the plain live ratio call keeps its fixture), keeping
    the 30 days before `now()` (default: the wall clock)."""
    clock = now or (lambda: time.time())
    bases = {row["symbol"]: str(row["baseAsset"]).upper() for row in info["symbols"]}
    pairs = {row.get("pair", row["symbol"]): str(row["baseAsset"]).upper() for row in info["symbols"]}
    intervals = {row["symbol"]: float(row["fundingIntervalHours"]) for row in funding_info}

    def reply(path: str, body: Any, status: int = 200, cost: int | None = None) -> Reply:
        used = weight.add(WEIGHTS.get(path, 1) if cost is None else cost) if weight else None
        return Reply(body, status=status, headers={} if used is None else {"X-MBX-USED-WEIGHT-1M": str(used)})

    def limit_of(request: Request, default: int, most: int) -> int | None:
        limit = int(request.query.get("limit", default))
        return limit if 1 <= limit <= most else None

    def klines(path: str, key: str, row: Callable[[str, int], list]) -> Callable[[Request], Reply]:
        names = pairs if key == "pair" else bases

        def serve(request: Request) -> Reply:
            base = names.get(request.query.get(key))
            limit = limit_of(request, 500, 1500)
            if base is None:
                return reply(path, INVALID_SYMBOL, 400, cost=1)
            if request.query.get("interval") != "1h" or limit is None:
                return reply(path, {"code": -1120, "msg": "Invalid interval."} if limit else INVALID_LIMIT, 400, cost=1)
            return reply(path, [row(base, t) for t in _opens(request.query, limit)], cost=kline_weight(limit))

        fake.add(venue, path, serve)

    def trade_row(base: str, t: int) -> list:
        c = history.candle(venue, base, t)
        return [t * 1000, str(c["open"]), str(c["high"]), str(c["low"]), str(c["close"]), str(c["base_volume"]),
                t * 1000 + HOUR * 1000 - 1, str(c["quote_volume"]), c["trades"], str(c["base_volume"] / 2),
                str(c["quote_volume"] / 2), "0"]

    def price_row(price: Callable[[str, int], float]) -> Callable[[str, int], list]:
        def row(base: str, t: int) -> list:
            o, c = price(base, t - HOUR), price(base, t)
            return [t * 1000, str(o), str(max(o, c)), str(min(o, c)), str(c), "0", t * 1000 + HOUR * 1000 - 1,
                    "0", 3600, "0", "0", "0"]
        return row

    klines(KLINES, "symbol", trade_row)
    klines(MARK_KLINES, "symbol", price_row(history.mark))
    klines(INDEX_KLINES, "pair", price_row(history.index))

    def funding(request: Request) -> Reply:
        """Ascending; more than `limit` rows in range: the first `limit` from startTime (as documented)."""
        symbol, limit = request.query.get("symbol"), limit_of(request, 100, 1000)
        if symbol is not None and symbol not in bases:
            return reply(FUNDING_RATE, INVALID_SYMBOL, 400)
        if limit is None:
            return reply(FUNDING_RATE, INVALID_LIMIT, 400)
        start, end = _ms(request.query, "startTime"), _ms(request.query, "endTime")
        rows = []
        for s in [symbol] if symbol else list(bases):
            every = int(intervals.get(s, 8) * HOUR)
            for t in hours_between(history.FIRST_HOUR, NOW_HOUR):
                ms = funding_ms(t)
                if t % every == 0 and (start is None or ms >= start) and (end is None or ms <= end):
                    rate = history.funding_8h(venue, t) * every / (8 * HOUR)
                    rows.append({"symbol": s, "fundingTime": ms, "fundingRate": f"{rate:.16f}",
                                 "markPrice": str(history.price(bases[s], t))})
        rows.sort(key=lambda r: r["fundingTime"])
        return reply(FUNDING_RATE, rows[:limit] if start is not None else rows[-limit:])

    fake.add(venue, FUNDING_RATE, funding)
    if not futures_data:
        return

    def data(path: str, row: Callable[[str, str, int], dict]) -> Callable[[Request], Reply]:
        """/futures/data: period 1h only here; more rows than `limit` in range: the newest `limit` (UNVERIFIED)."""

        def serve(request: Request) -> Reply:
            symbol, limit = request.query.get("symbol"), limit_of(request, 30, 500)
            if symbol not in bases:
                return reply(path, INVALID_SYMBOL, 400)
            if request.query.get("period") != "1h" or limit is None:
                return reply(path, {"code": -1130, "msg": "parameter 'period' is invalid."} if limit else INVALID_LIMIT,
                             400)
            first_kept = int(clock()) - DATA_KEPT
            start = _ms(request.query, "startTime")
            if start is not None and start < first_kept * 1000:
                return reply(path, INVALID_START, 400)
            opens = _opens(request.query, limit, first_kept, from_start=False)
            return reply(path, [row(symbol, bases[symbol], t) for t in opens])

        return serve

    def open_interest_row(symbol: str, base: str, t: int) -> dict:
        usd = history.open_interest_usd(venue, base, t)
        return {"symbol": symbol, "sumOpenInterest": str(usd / history.price(base, t)),
                "sumOpenInterestValue": str(usd), "timestamp": t * 1000}

    def ratio_row(symbol: str, base: str, t: int) -> dict:
        share = history.long_share(venue, t)
        return {"symbol": symbol, "longShortRatio": str(share / (1 - share)), "longAccount": str(share),
                "shortAccount": str(1 - share), "timestamp": t * 1000}

    fake.add(venue, OPEN_INTEREST_HIST, data(OPEN_INTEREST_HIST, open_interest_row))
    live_ratio, ratio_history = fake.routes.get((venue, "GET", RATIO)), data(RATIO, ratio_row)
    fake.add(venue, RATIO, lambda request: ratio_history(request)
             if live_ratio is None or {"startTime", "endTime"} & set(request.query) else live_ratio(request))


def big_exchange(fake, n: int = 560, venue: str = "binance", weight: WeightCounter | None = None) -> dict[str, Any]:
    """Install a synthetic Binance with `n` live USDT perpetuals (BTCUSDT first) under `venue`.

    Returns what fetch() must report (markets, volume_24h_usd, open_interest_usd). A fetch spends
    n + 52 weight, so a benchmark fetching more than 3 times a minute from one install makes the
    venue pause for the next minute, as real Binance would: call `weight.reset()` between runs
    (pass your own WeightCounter) to measure without that.
    """
    symbols = ["BTCUSDT"] + [f"C{i:04d}USDT" for i in range(1, n)]
    prices = {s: 84000.0 if s == "BTCUSDT" else 1.0 + i / 100 for i, s in enumerate(symbols)}
    volumes = {s: 1_000_000.0 * (i + 1) for i, s in enumerate(symbols)}
    install_venue(fake, venue, {
        "/fapi/v1/exchangeInfo": {"symbols": [
            {"symbol": s, "contractType": "PERPETUAL", "status": "TRADING", "baseAsset": s[:-4],
             "quoteAsset": "USDT", "marginAsset": "USDT"} for s in symbols]},
        "/fapi/v1/ticker/24hr": [
            {"symbol": s, "lastPrice": str(prices[s]), "priceChangePercent": "1.5", "quoteVolume": str(volumes[s]),
             "count": 1000} for s in symbols],
        "/fapi/v1/premiumIndex": [
            {"symbol": s, "markPrice": str(prices[s]), "indexPrice": str(prices[s]), "lastFundingRate": "0.0001"}
            for s in symbols],
        "/fapi/v1/fundingInfo": [{"symbol": s, "fundingIntervalHours": 4} for s in symbols[1::10]],
        RATIO: [{"symbol": "BTCUSDT", "longShortRatio": "1.2", "timestamp": 1764072000000}],
    }, [{"symbol": s, "openInterest": "10.5", "time": 1764072000000} for s in symbols], weight or WeightCounter())
    return {
        "markets": n,
        "volume_24h_usd": approx(sum(volumes.values())),
        "open_interest_usd": approx(sum(10.5 * p for p in prices.values())),
    }
