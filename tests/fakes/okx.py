"""OKX v5 on the loopback fake: swap instruments, tickers, funding (instId=ANY), open interest,
mark prices, the rubik BTC long/short account ratio and liquidation orders."""

from __future__ import annotations

from tests.fakes import approx

from tests.fakes import Reply, Request, load

# OKX answers errors with HTTP 200 and a code other than "0".
ERROR_IN_200 = ({"code": "51001", "msg": "Instrument ID does not exist", "data": []}, "Instrument ID does not exist")

# What fetch() must produce from the fixtures (hand-computed):
# Included: BTC-USDT-SWAP, ETH-USDT-SWAP, BTC-USDC-SWAP (USDC-settled), DOGE-USDT-SWAP.
# Excluded: BTC-USD-SWAP (inverse, settles in BTC), LUNA-USDT-SWAP (suspend), NEW-USDT-SWAP (preopen).
# QUIET-USDT-SWAP is live but untraded (last ""): skipped and counted.
EXPECTED = {
    "markets": 4,
    "records_skipped": 1,
    # volCcy24h (base coin) × last
    "volume_24h_usd": approx(25000.5 * 84000.1 + 150000.25 * 3000 + 1200.5 * 84005 + 2000000000.5 * 0.15),
    # oiUsd; DOGE's is "" (unknown), so it adds nothing
    "open_interest_usd": approx(2100000000.5 + 900000000 + 50000000.25),
    "num_trades_24h": None,
    "btc_price": approx(84000.1),  # BTC-USDT-SWAP (USDT before the USDC swap)
    "btc_mark_price": approx(84010.2),  # from /api/v5/public/mark-price
    "btc_index_price": None,  # OKX tickers carry no index price
    # nextFundingTime − fundingTime = 28 800 000 ms = 8 h
    "btc_funding_rate_8h": approx(0.0001 * 8 / 8),
    "btc_price_change_24h_pct": approx((84000.1 / 80000 - 1) * 100),  # 5.000125
    # newest row by ts is the middle one, "1.25"; long share = 1.25 / 2.25
    "long_short_ratio": approx(1.25),
    "long_share": approx(1.25 / 2.25),
}


def error(code: str, message: str) -> Reply:
    return Reply({"code": code, "msg": message, "data": []})


# Liquidation orders: the fixture's details lie in 12:00–13:00 UTC on 2025-12-01 (one at 13:01),
# and BULK_COUNT more BTC-USDT-SWAP details, one every 14 s from 11:00, make paging necessary.
LIQUIDATION_HOUR_MS = 1764590400000  # 2025-12-01 12:00 UTC
BULK_START_MS = LIQUIDATION_HOUR_MS - 3_600_000
BULK_COUNT = 250
PAGE_MAX = 100


def bulk_details(count: int = BULK_COUNT, start_ms: int = BULK_START_MS, step_ms: int = 14_000) -> list[dict]:
    """`count` liquidation details, alternately of a long and a short, oldest first."""
    return [{"side": "sell" if i % 2 == 0 else "buy", "posSide": "long" if i % 2 == 0 else "short",
             "bkPx": str(80000 + i), "sz": "1", "bkLoss": "0", "ccy": "", "ts": str(start_ms + i * step_ms)}
            for i in range(count)]


def liquidation_rows() -> list[dict]:
    """The fixture's `liquidation-orders` rows plus the BTC-USDT-SWAP bulk."""
    rows = load("okx", "liquidation_orders")["data"]
    bulk = {"instId": "BTC-USDT-SWAP", "instFamily": "BTC-USDT", "instType": "SWAP", "uly": "BTC-USDT",
            "totalLoss": "", "details": bulk_details()}
    return [*rows, bulk]


def liquidation_orders(rows: list[dict]):
    """`liquidation-orders` over `rows` (rows of every family) as OKX answers it: the details of
    `instFamily`, newest first, older than `after` when given, at most `limit` (100) of them,
    grouped back into rows by instId. No instFamily: 50014; a family OKX does not list: 51001."""
    families = {row["instFamily"] for row in load("okx", "instruments")["data"]}

    def respond(request: Request) -> Reply:
        query = request.query
        if query.get("instType") != "SWAP":
            return error("51000", "Parameter instType error")
        family = query.get("instFamily") or query.get("uly")
        if not family:
            return error("50014", "Parameter instFamily can not be empty.")
        if family not in families:
            return error("51001", "Instrument ID does not exist")
        after = int(query["after"]) if query.get("after") else None
        limit = min(int(query.get("limit") or PAGE_MAX), PAGE_MAX)
        details = [(row, detail) for row in rows if row["instFamily"] == family for detail in row["details"]
                   if query.get("state", "filled") == "filled" and (after is None or int(detail["ts"]) < after)]
        details.sort(key=lambda pair: -int(pair[1]["ts"]))
        page: dict[str, dict] = {}
        for row, detail in details[:limit]:
            head = {k: v for k, v in row.items() if k != "details"}
            page.setdefault(row["instId"], {**head, "details": []})["details"].append(detail)
        return Reply({"code": "0", "msg": "", "data": list(page.values())})

    return respond


def install(fake) -> None:
    def swap_only(name: str):
        payload = load("okx", name)

        def respond(request: Request) -> Reply:
            if request.query.get("instType") != "SWAP":
                return error("51000", "Parameter instType error")
            return Reply(payload)

        return respond

    funding, ratio = load("okx", "funding_rate"), load("okx", "long_short_account_ratio")

    def funding_rate(request: Request) -> Reply:
        if request.query.get("instId") != "ANY":
            return error("51001", "Instrument ID does not exist")
        return Reply(funding)

    def long_short(request: Request) -> Reply:
        if request.query.get("ccy") != "BTC" or request.query.get("period") != "1H":
            return error("51000", "Parameter period error")
        return Reply(ratio)

    fake.add("okx", "/api/v5/public/instruments", swap_only("instruments"))
    fake.add("okx", "/api/v5/market/tickers", swap_only("tickers"))
    fake.add("okx", "/api/v5/public/open-interest", swap_only("open_interest"))
    fake.add("okx", "/api/v5/public/mark-price", swap_only("mark_price"))
    fake.add("okx", "/api/v5/public/funding-rate", funding_rate)
    fake.add("okx", "/api/v5/rubik/stat/contracts/long-short-account-ratio", long_short)
    fake.add("okx", "/api/v5/public/liquidation-orders", liquidation_orders(liquidation_rows()))
