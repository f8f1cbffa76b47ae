"""Bybit v5 on the loopback fake: paged instruments-info, tickers and the BTC account ratio."""

from __future__ import annotations

from tests.fakes import approx

from tests.fakes import Reply, Request, load

PAGE_2_CURSOR = "first%3DBTCUSDT%26last%3DOLDUSDT"  # page 1's nextPageCursor, already %-encoded as Bybit sends it

# Bybit answers errors with HTTP 200 and a non-zero retCode.
ERROR_IN_200 = ({"retCode": 10001, "retMsg": "params error", "result": {}, "retExtInfo": {}, "time": 1},
                "params error")

# What fetch() must produce from the fixtures (hand-computed):
# Included: BTCUSDT, ETHUSDT (page 1), BTCPERP (USDC), SOLUSDT, 1000PEPEUSDT (page 2).
# Excluded: BTC-26DEC26 (LinearFutures), NEWUSDT (PreLaunch), OLDUSDT (Settling), BTCUSD (inverse,
# settles in BTC); XYZUSDT has a ticker but no instrument. BADUSDT is included but its turnover24h
# is "NaN": skipped and counted.
EXPECTED = {
    "markets": 5,
    "records_skipped": 1,
    # turnover24h: BTCUSDT + ETHUSDT + BTCPERP + SOLUSDT + 1000PEPEUSDT
    "volume_24h_usd": approx(12000000000.5 + 5000000000 + 300000000.75 + 800000000 + 150000000.125),
    # singleOpenInterestValue where present and non-empty, else openInterestValue (BTCPERP, 1000PEPEUSDT)
    "open_interest_usd": approx(4500000000.25 + 1500000000 + 200000000 + 250000000.5 + 60000000),
    "num_trades_24h": None,
    "btc_price": approx(84000.5),  # BTCUSDT (USDT before the USDC BTCPERP)
    "btc_mark_price": approx(84001.0),
    "btc_index_price": approx(83990.0),
    "btc_funding_rate_8h": approx(0.0001 * 8 / 8),  # fundingIntervalHour 8
    "btc_price_change_24h_pct": approx(-1.25),  # price24hPcnt -0.0125 × 100
    # newest row by timestamp (the middle one): buyRatio 0.6 / (0.6 + 0.4); R = 0.6 / 0.4
    "long_share": approx(0.6),
    "long_short_ratio": approx(1.5),
}


def error(message: str) -> Reply:
    return Reply({"retCode": 10001, "retMsg": message, "result": {}, "retExtInfo": {}, "time": 1})


def install(fake) -> None:
    pages = {None: load("bybit", "instruments_info_page1"), PAGE_2_CURSOR: load("bybit", "instruments_info_page2")}
    tickers, ratio = load("bybit", "tickers"), load("bybit", "account_ratio")

    def instruments(request: Request) -> Reply:
        page = pages.get(request.query.get("cursor"))
        if request.query.get("category") != "linear" or page is None:
            return error("params error")
        return Reply(page)

    def market_tickers(request: Request) -> Reply:
        return Reply(tickers) if request.query.get("category") == "linear" else error("params error")

    def account_ratio(request: Request) -> Reply:
        if request.query.get("symbol") != "BTCUSDT" or request.query.get("period") != "1h":
            return error("params error")
        return Reply(ratio)  # three rows although limit=1 was asked: the limit is not trusted

    fake.add("bybit", "/v5/market/instruments-info", instruments)
    fake.add("bybit", "/v5/market/tickers", market_tickers)
    fake.add("bybit", "/v5/market/account-ratio", account_ratio)
