"""OKX v5 on the loopback fake: swap instruments, tickers, funding (instId=ANY), open interest,
mark prices, the rubik BTC long/short account ratio and liquidation orders, and the history
endpoints `backfill` reads (history candles, mark-price candles, rubik open-interest history,
funding-rate history and the ratio's history) serving tests/fakes/history.py in OKX's shapes."""

from __future__ import annotations

from tests.fakes import Reply, Request, approx, history, load

# OKX answers errors with HTTP 200 and a code other than "0".
ERROR_IN_200 = ({"code": "51001", "msg": "Instrument ID does not exist", "data": []}, "Instrument ID does not exist")

# What fetch() must produce from the fixtures (hand-computed):
# Included: BTC-USDT-SWAP, ETH-USDT-SWAP, BTC-USDC-SWAP (USDC-settled), DOGE-USDT-SWAP.
# Excluded: BTC-USD-SWAP (inverse, settles in BTC), LUNA-USDT-SWAP (suspend), NEW-USDT-SWAP (preopen).
# QUIET-USDT-SWAP is live but untraded (last ""): its last price is skipped and counted, so it has no
# USD volume; the market is kept.
EXPECTED = {
    "markets": 5,
    "records_skipped": 1,
    # volCcy24h (base coin) × last
    "volume_24h_usd": approx(25000.5 * 84000.1 + 150000.25 * 3000 + 1200.5 * 84005 + 2000000000.5 * 0.15),
    # oiUsd; DOGE's is "" (unknown), so it adds nothing; QUIET's is 0
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
        if "begin" in request.query or "end" in request.query:
            return long_short_history(request)
        return Reply(ratio)

    fake.add("okx", "/api/v5/public/instruments", swap_only("instruments"))
    fake.add("okx", "/api/v5/market/tickers", swap_only("tickers"))
    fake.add("okx", "/api/v5/public/open-interest", swap_only("open_interest"))
    fake.add("okx", "/api/v5/public/mark-price", swap_only("mark_price"))
    fake.add("okx", "/api/v5/public/funding-rate", funding_rate)
    fake.add("okx", "/api/v5/rubik/stat/contracts/long-short-account-ratio", long_short)
    fake.add("okx", "/api/v5/public/liquidation-orders", liquidation_orders(liquidation_rows()))
    install_history(fake)


# -- history ----------------------------------------------------------------------------------
# Every swap of the instrument fixtures has history (the instId's first part is the key into
# history.py) from history.FIRST_HOUR to the hour before history.NOW_HOUR, except QUIET-USDT-SWAP,
# which is untraded (empty answers). Rows come newest first as string arrays; `after`/`end` mean
# "older than", `before`/`begin` "newer than" (both exclusive); a limit over the documented maximum
# is "Parameter limit error".

CANDLES_MAX = 300  # history-candles, current docs (older docs: 100)
MARK_CANDLES_MAX = 100
OI_MAX = 100
OI_KEPT = 1440  # rubik open-interest-history keeps the latest 1,440 points per period
FUNDING_MAX = 400  # funding-rate-history, current docs (older docs: 100)
RATIO_KEPT = 30 * 24 * history.HOUR  # long-short-account-ratio: 1H data for the last 30 days
RATIO_ROWS = 100  # rows per long-short-account-ratio answer (not documented; the fake's choice)
UNTRADED = "QUIET-USDT-SWAP"


def ok(data: list) -> Reply:
    return Reply({"code": "0", "msg": "", "data": data})


def limit_of(query: dict, default: int, maximum: int) -> int | None:
    try:
        limit = int(query.get("limit") or default)
    except ValueError:
        return None
    return limit if 1 <= limit <= maximum else None


def between(times, query: dict, newer_key: str, older_key: str, limit: int) -> list[int]:
    """The newest `limit` of `times` newer than `newer_key` and older than `older_key` (ms, exclusive)."""
    newer, older = query.get(newer_key), query.get(older_key)
    chosen = [t for t in times if (not newer or t * 1000 > int(newer)) and (not older or t * 1000 < int(older))]
    return sorted(chosen, reverse=True)[:limit]


def all_hours() -> list[int]:
    return history.hours_between(history.FIRST_HOUR, history.NOW_HOUR)


def funding_hours() -> dict[str, int]:
    """Each swap's funding interval in hours, from the funding-rate fixture (nextFundingTime − fundingTime)."""
    hours = {}
    for row in load("okx", "funding_rate")["data"]:
        if str(row["fundingTime"]) and str(row["nextFundingTime"]):
            hours[row["instId"]] = (int(row["nextFundingTime"]) - int(row["fundingTime"])) // 3_600_000
    return hours


def long_short_history(request: Request) -> Reply:
    """[ts, long/short account ratio] rows with begin ≤ ts ≤ end, of the last 30 days only, newest
    first, at most RATIO_ROWS of them."""
    query = request.query
    lo = int(query["begin"]) if query.get("begin") else 0
    hi = int(query["end"]) if query.get("end") else history.NOW_HOUR * 1000
    kept = history.NOW_HOUR - RATIO_KEPT
    times = sorted((t for t in all_hours() if t >= kept and lo <= t * 1000 <= hi), reverse=True)[:RATIO_ROWS]
    rows = []
    for t in times:
        share = history.long_share("okx", t)
        rows.append([str(t * 1000), str(share / (1 - share))])
    return ok(rows)


def install_history(fake) -> None:
    instruments = {row["instId"]: row for row in load("okx", "instruments")["data"]}
    intervals = funding_hours()

    def swap(request: Request) -> tuple[dict | None, Reply | None]:
        inst_id = request.query.get("instId")
        if not inst_id:
            return None, error("50014", "Parameter instId can not be empty.")
        if inst_id not in instruments:
            return None, error("51001", "Instrument ID does not exist")
        return instruments[inst_id], None

    def history_candles(request: Request) -> Reply:
        instrument, refused = swap(request)
        if refused:
            return refused
        limit = limit_of(request.query, 100, CANDLES_MAX)
        if request.query.get("bar") != "1H" or limit is None:
            return error("51000", "Parameter bar or limit error")
        inst_id, base, size = instrument["instId"], instrument["instId"].split("-")[0], float(instrument["ctVal"])
        rows = []
        if inst_id != UNTRADED:
            for t in between(all_hours(), request.query, "before", "after", limit):
                c = history.candle("okx", base, t)
                rows.append([str(t * 1000), str(c["open"]), str(c["high"]), str(c["low"]), str(c["close"]),
                             str(c["base_volume"] / size), str(c["base_volume"]), str(c["quote_volume"]), "1"])
        return ok(rows)

    def mark_candles(request: Request) -> Reply:
        instrument, refused = swap(request)
        if refused:
            return refused
        limit = limit_of(request.query, 100, MARK_CANDLES_MAX)
        if request.query.get("bar") != "1H" or limit is None:
            return error("51000", "Parameter bar or limit error")
        base = instrument["instId"].split("-")[0]
        rows = []
        for t in between(all_hours(), request.query, "before", "after", limit):
            o, c = history.mark(base, t - history.HOUR), history.mark(base, t)
            rows.append([str(t * 1000), str(o), str(max(o, c)), str(min(o, c)), str(c), "1"])
        return ok(rows)

    def open_interest_history(request: Request) -> Reply:
        instrument, refused = swap(request)
        if refused:
            return refused
        limit = limit_of(request.query, 100, OI_MAX)
        if request.query.get("period") != "1H" or limit is None:  # the fake serves 1H only
            return error("51000", "Parameter period or limit error")
        inst_id, base, size = instrument["instId"], instrument["instId"].split("-")[0], float(instrument["ctVal"])
        rows = []
        if inst_id != UNTRADED:
            for t in between(all_hours()[-OI_KEPT:], request.query, "begin", "end", limit):
                usd = history.open_interest_usd("okx", base, t)
                coins = usd / history.price(base, t)
                rows.append([str(t * 1000), str(coins / size), str(coins), str(usd)])
        return ok(rows)

    def funding_rate_history(request: Request) -> Reply:
        instrument, refused = swap(request)
        if refused:
            return refused
        limit = limit_of(request.query, 100, FUNDING_MAX)
        if limit is None:
            return error("51000", "Parameter limit error")
        inst_id = instrument["instId"]
        hours = intervals.get(inst_id)
        if not hours:
            return ok([])
        settlements = [t for t in all_hours() if t % (hours * history.HOUR) == 0]
        rows = []
        for t in between(settlements, request.query, "before", "after", limit):
            realized = history.funding_8h("okx", t) * hours / 8
            rows.append({"instType": "SWAP", "instId": inst_id, "formulaType": "noRate",
                         "fundingRate": str(realized + 0.00001),  # the predicted rate: not what was paid
                         "realizedRate": str(realized), "fundingTime": str(t * 1000), "method": "current_period"})
        return ok(rows)

    fake.add("okx", "/api/v5/market/history-candles", history_candles)
    fake.add("okx", "/api/v5/market/history-mark-price-candles", mark_candles)
    fake.add("okx", "/api/v5/rubik/stat/contracts/open-interest-history", open_interest_history)
    fake.add("okx", "/api/v5/public/funding-rate-history", funding_rate_history)
