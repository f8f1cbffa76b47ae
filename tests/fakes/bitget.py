"""Bitget v2 on the loopback fake: contracts, tickers, current-fund-rate and account-long-short,
and the history endpoints (history-candles, history-mark-candles, history-index-candles,
history-fund-rate) serving tests/fakes/history.py for every contract in the contracts fixture."""

from __future__ import annotations

from tests.fakes import Reply, Request, approx, load
from tests.fakes import history as hist

# Bitget can answer HTTP 200 with an error code in the body.
ERROR_IN_200 = (
    {"code": "40034", "msg": "Parameter productType does not exist", "requestTime": 1, "data": None},
    "Parameter productType does not exist",
)

# What fetch() must produce from the fixtures (hand-computed):
# BTCUSDT, ETHUSDT, SOLUSDT and DOGEUSDT are included. BTCUSDT1226 is a delivery contract,
# LUNAUSDT is off, NEWUSDT is listed (pre-launch), XYZUSDT is in maintenance and GHOSTUSDT has
# a ticker but no contract: all left out. BROKENUSDT has a NaN usdtVolume: skipped and counted, the
# market kept.
EXPECTED = {
    "markets": 5,
    "records_skipped": 1,
    "volume_24h_usd": approx(5000000000.5 + 1500000000 + 250000000.25 + 80000000),
    # OI = holdingAmount × markPrice; DOGEUSDT has an empty holdingAmount, so no OI (not 0)
    "open_interest_usd": approx(45000.125 * 84010 + 300000.5 * 2951 + 1200000.75 * 140.3 + 1000 * 1.5),
    "num_trades_24h": None,
    "btc_price": approx(84000.5),  # lastPr
    "btc_mark_price": approx(84010.0),
    "btc_index_price": approx(83990.25),
    "btc_funding_rate_8h": approx(0.000125 * 8 / 8),  # fundingRateInterval 8 h
    "btc_price_change_24h_pct": approx(-1.25),  # change24h -0.0125 × 100
    # newest row (ts 1763798400000) sits in the middle of the list: R = 1.85
    "long_short_ratio": approx(1.85),
    "long_share": approx(1.85 / 2.85),
}

PRODUCT_PATHS = {
    "/api/v2/mix/market/contracts": "contracts",
    "/api/v2/mix/market/tickers": "tickers",
    "/api/v2/mix/market/current-fund-rate": "current_fund_rate",
}


def bad_parameter(name: str) -> Reply:
    return Reply({"code": "40034", "msg": f"Parameter {name} does not exist", "requestTime": 1, "data": None},
                 status=400)


def install(fake) -> None:
    for path, fixture in PRODUCT_PATHS.items():
        payload = load("bitget", fixture)

        def product(request: Request, payload=payload) -> Reply:
            if request.query.get("productType") != "USDT-FUTURES":
                return bad_parameter("productType")
            return Reply(payload)

        fake.add("bitget", path, product)

    ratios = load("bitget", "account_long_short")

    def account_long_short(request: Request) -> Reply:
        if request.query.get("symbol") != "BTCUSDT" or request.query.get("period") != "1h":
            return bad_parameter("symbol")
        return Reply(ratios)

    fake.add("bitget", "/api/v2/mix/market/account-long-short", account_long_short)

    contracts = {row["symbol"]: row for row in load("bitget", "contracts")["data"]}
    for kind in ("candles", "mark-candles", "index-candles"):
        fake.add("bitget", f"/api/v2/mix/market/history-{kind}", history_candles(contracts, kind))
    fake.add("bitget", "/api/v2/mix/market/history-fund-rate", history_fund_rate(contracts))


# -- history --------------------------------------------------------------------------------------

HOUR_MS = hist.HOUR * 1000
MAX_CANDLES, MAX_RANGE_MS = 200, 90 * 24 * HOUR_MS  # history-*candles: limit ≤ 200, range ≤ 90 days
MAX_PAGE_SIZE = 100  # history-fund-rate


def _contract(contracts: dict, request: Request) -> dict | None:
    if request.query.get("productType") != "USDT-FUTURES":
        return None
    return contracts.get(request.query.get("symbol", ""))


def _row(t: int, o: float, h: float, low: float, c: float, base: float, quote: float) -> list[str]:
    return [str(t * 1000), *(repr(float(x)) for x in (o, h, low, c, base, quote))]


def history_candles(contracts: dict, kind: str):
    """One-hour candles as Bitget's history endpoints answer: rows with startTime ≤ open time ≤ endTime
    (ms), the newest `limit` of them (≤ 200, else an error), oldest first, all strings."""

    def respond(request: Request) -> Reply:
        contract, q = _contract(contracts, request), request.query
        if contract is None:
            return bad_parameter("symbol")
        if q.get("granularity") != "1H":
            return bad_parameter("granularity")
        limit = int(q.get("limit") or 100)
        if not 1 <= limit <= MAX_CANDLES:
            return bad_parameter("limit")
        end_ms = int(q.get("endTime") or hist.NOW_HOUR * 1000)
        start_ms = int(q.get("startTime") or end_ms - limit * HOUR_MS)
        if end_ms - start_ms > MAX_RANGE_MS or end_ms < start_ms:
            return bad_parameter("endTime")
        base = contract["baseCoin"]
        rows = []
        for t in hist.hours_between(-(-start_ms // 1000), end_ms // 1000)[-limit:]:
            if kind == "candles":
                c = hist.candle("bitget", base, t)
                rows.append(_row(t, c["open"], c["high"], c["low"], c["close"], c["base_volume"], c["quote_volume"]))
            else:
                price = hist.mark if kind == "mark-candles" else hist.index
                o, c = price(base, t - hist.HOUR), price(base, t)
                rows.append(_row(t, o, max(o, c), min(o, c), c, 0, 0))
        return Reply({"code": "00000", "msg": "success", "requestTime": hist.NOW_HOUR * 1000, "data": rows})

    return respond


def settlements(contract: dict) -> list[int]:
    """Funding settlement times (s) of a contract, newest first: every `fundInterval` hours before NOW_HOUR."""
    step = int(float(contract.get("fundInterval") or 8)) * hist.HOUR
    last = (hist.NOW_HOUR - 1) // step * step
    return list(range(last, hist.FIRST_HOUR - 1, -step))


def history_fund_rate(contracts: dict):
    """history-fund-rate: `pageSize` (≤ 100) rows of page `pageNo` (from 1), newest first; the rate
    is history.funding_8h scaled to the contract's interval."""

    def respond(request: Request) -> Reply:
        contract, q = _contract(contracts, request), request.query
        if contract is None:
            return bad_parameter("symbol")
        size, page = int(q.get("pageSize") or 20), int(q.get("pageNo") or 1)
        if not 1 <= size <= MAX_PAGE_SIZE or page < 1:
            return bad_parameter("pageSize")
        hours = float(contract.get("fundInterval") or 8)
        times = settlements(contract)[(page - 1) * size: page * size]
        rows = [{"symbol": contract["symbol"], "fundingRate": repr(hist.funding_8h("bitget", t) * hours / 8),
                 "fundingTime": str(t * 1000)} for t in times]
        return Reply({"code": "00000", "msg": "success", "requestTime": hist.NOW_HOUR * 1000, "data": rows})

    return respond


def account_long_short_history(request: Request) -> Reply:
    """account-long-short as it answers at NOW_HOUR (not installed: the default route serves the
    fixture that fetch() is checked against): the last 30 hourly rows, oldest first."""
    if request.query.get("period") != "1h" or request.query.get("symbol") != "BTCUSDT":
        return bad_parameter("symbol")
    rows = []
    for t in range(hist.NOW_HOUR - 30 * hist.HOUR, hist.NOW_HOUR, hist.HOUR):
        share = hist.long_share("bitget", t)
        rows.append({"longAccountRatio": repr(share), "shortAccountRatio": repr(1 - share),
                     "longShortAccountRatio": repr(share / (1 - share)), "ts": str(t * 1000)})
    return Reply({"code": "00000", "msg": "success", "requestTime": hist.NOW_HOUR * 1000, "data": rows})
