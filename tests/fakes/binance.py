"""Binance USDⓈ-M futures on the loopback fake: exchangeInfo, ticker/24hr, premiumIndex,
fundingInfo, per-symbol openInterest and globalLongShortAccountRatio. Every answer carries
`X-MBX-USED-WEIGHT-1M`, counted per minute like the real venue.

`big_exchange(fake, n)` installs a synthetic Binance with n perpetuals instead (benchmarks).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from tests.fakes import approx

from tests.fakes import Reply, Request, load

# Binance reports errors with HTTP 4xx/5xx and {"code", "msg"}, never inside a 200 body.
ERROR_IN_200 = None

RATIO = "/futures/data/globalLongShortAccountRatio"
OPEN_INTEREST = "/fapi/v1/openInterest"
WEIGHTS = {  # request weight of each call, as documented
    "/fapi/v1/exchangeInfo": 1,
    "/fapi/v1/ticker/24hr": 40,
    "/fapi/v1/premiumIndex": 10,
    "/fapi/v1/fundingInfo": 1,
    OPEN_INTEREST: 1,
    RATIO: 0,  # the /futures/data endpoints have their own limit (1000 per 5 min)
}
INVALID_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}

# What fetch() must produce from the fixtures (hand-computed):
# Included: BTCUSDT, ETHUSDT, BTCUSDC, 1000PEPEUSDT, DOGEUSDT and SOLUSDT. Excluded: BTCUSDT_261225
# (CURRENT_QUARTER), TSLAUSDT (TRADIFI_PERPETUAL), OLDUSDT ("PERPETUAL DELIVERING"), NEWUSDT (""),
# LAUNCHUSDT (PENDING_TRADING), ETHBUSD (BUSD). The ticker row of GHOSTUSDT (not listed) is ignored.
# Skipped and counted: SOLUSDT (quoteVolume "NaN"; its failing OI is not counted again) and
# DOGEUSDT's open interest (400 Invalid symbol: the market stays, without OI).
EXPECTED = {
    "markets": 5,
    "records_skipped": 2,
    "volume_24h_usd": approx(15000000000.50 + 8000000000.25 + 900000000 + 450000000.75 + 300000000),
    # OI = openInterest × markPrice (premiumIndex); DOGEUSDT has none
    "open_interest_usd": approx(80000.125 * 83990.0 + 1500000.5 * 2999.0 + 2500.5 * 84000.0 + 30000000000 * 0.0111),
    "num_trades_24h": 3500000 + 2000000 + 150000 + 98765 + 80000,
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


def install(fake, weight: WeightCounter | None = None) -> None:
    install_venue(fake, "binance", {
        "/fapi/v1/exchangeInfo": load("binance", "exchangeInfo"),
        "/fapi/v1/ticker/24hr": load("binance", "ticker_24hr"),
        "/fapi/v1/premiumIndex": load("binance", "premiumIndex"),
        "/fapi/v1/fundingInfo": load("binance", "fundingInfo"),
        RATIO: load("binance", "globalLongShortAccountRatio"),
    }, load("binance", "openInterest"), weight or WeightCounter())


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
