"""Bybit v5 on the loopback fake: paged instruments-info, tickers and the BTC account ratio, and the
history endpoints `backfill` reads (klines, mark/index klines, open interest, account ratio and
funding history) serving tests/fakes/history.py in Bybit's shapes and units."""

from __future__ import annotations

from tests.fakes import Reply, Request, approx, history, load

PAGE_2_CURSOR = "first%3DBTCUSDT%26last%3DOLDUSDT"  # page 1's nextPageCursor, already %-encoded as Bybit sends it

# Bybit answers errors with HTTP 200 and a non-zero retCode.
ERROR_IN_200 = ({"retCode": 10001, "retMsg": "params error", "result": {}, "retExtInfo": {}, "time": 1},
                "params error")

# What fetch() must produce from the fixtures (hand-computed):
# Included: BTCUSDT, ETHUSDT (page 1), BTCPERP (USDC), SOLUSDT, 1000PEPEUSDT, SHIB1000USDT (page 2;
# Bybit writes SHIB's size behind the coin). Excluded: BTC-26DEC26 (LinearFutures), NEWUSDT (PreLaunch),
# OLDUSDT (Settling), BTCUSD (inverse, settles in BTC); XYZUSDT has a ticker but no instrument. BADUSDT
# is included but its turnover24h is "NaN" and its lastPrice "": both skipped and counted, the market kept.
EXPECTED = {
    "markets": 7,
    "records_skipped": 2,
    # turnover24h: BTCUSDT + ETHUSDT + BTCPERP + SOLUSDT + 1000PEPEUSDT + SHIB1000USDT (BADUSDT has none)
    "volume_24h_usd": approx(12000000000.5 + 5000000000 + 300000000.75 + 800000000 + 150000000.125 + 70000000),
    # singleOpenInterestValue where present and non-empty (SHIB1000USDT's too), else openInterestValue
    # (BTCPERP, 1000PEPEUSDT, BADUSDT)
    "open_interest_usd": approx(4500000000.25 + 1500000000 + 200000000 + 250000000.5 + 60000000 + 15000000 + 10),
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
    fake.add("bybit", "/v5/market/account-ratio", with_history(account_ratio, account_ratio_history))
    install_history(fake)


# -- generated listings ----------------------------------------------------------------------------


def perpetual(symbol: str) -> dict:
    """An included instruments-info row: an active USDT linear perpetual."""
    return {"symbol": symbol, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": symbol[:-4],
            "quoteCoin": "USDT", "settleCoin": "USDT", "fundingInterval": 480}


def serve_listing(fake, rows: list[dict], tickers: list[dict], per_page: int) -> int:
    """Serve `rows` from instruments-info `per_page` at a time, whatever `limit` asks, each page naming
    the next by an opaque cursor (an unknown cursor is an error), and `tickers` in one call. Returns
    the number of pages."""
    pages = [rows[i:i + per_page] for i in range(0, len(rows), per_page)]
    cursors = [None] + [f"page%3D{p}%26after%3D{pages[p - 1][-1]['symbol']}" for p in range(1, len(pages))]

    def instruments(request: Request) -> Reply:
        if request.query.get("cursor") not in cursors:
            return error("params error")
        p = cursors.index(request.query.get("cursor"))
        following = cursors[p + 1] if p + 1 < len(cursors) else ""
        return ok({"category": "linear", "list": pages[p], "nextPageCursor": following})

    fake.add("bybit", "/v5/market/instruments-info", instruments)
    fake.add("bybit", "/v5/market/tickers", ok({"category": "linear", "list": tickers}))
    return len(pages)


def paged_listing(fake, n: int = 538, per_page: int = 20) -> dict:
    """A synthetic Bybit with `n` USDT perpetuals (BTCUSDT first), instruments-info `per_page` rows a page.

    Returns what fetch() must report (markets, volume_24h_usd, pages)."""
    symbols = ["BTCUSDT"] + [f"C{i:04d}USDT" for i in range(1, n)]
    tickers = [{"symbol": s, "lastPrice": "90652.4" if s == "BTCUSDT" else "1.5", "turnover24h": str(1000 * (i + 1)),
                "markPrice": "1.5", "fundingRate": "0.0001", "fundingIntervalHour": "8"} for i, s in enumerate(symbols)]
    pages = serve_listing(fake, [perpetual(s) for s in symbols], tickers, per_page)
    fake.add("bybit", "/v5/market/account-ratio", Reply({"retCode": 0, "result": {"list": []}}))
    return {"markets": n, "volume_24h_usd": approx(sum(1000 * (i + 1) for i in range(n))), "pages": pages}


def install_listing(fake, count: int, page: int = 500) -> list[str]:
    """Replace the fixtures' instruments and tickers with `count` generated USDT perpetuals
    (COIN0USDT, COIN1USDT, ...; the 24 h turnover falls with the number), plus a dated future and a
    pre-launch perpetual that are not included; instruments-info is paged `page` rows at a time.
    Returns the included symbols, largest volume first."""
    symbols = [f"COIN{i}USDT" for i in range(count)]
    rows = [perpetual(s) for s in symbols]
    rows[1:1] = [{"symbol": "COIN0-26DEC26", "contractType": "LinearFutures", "status": "Trading",
                  "baseCoin": "COIN0", "quoteCoin": "USDC", "settleCoin": "USDC", "fundingInterval": 0},
                 {"symbol": "LATERUSDT", "contractType": "LinearPerpetual", "status": "PreLaunch",
                  "baseCoin": "LATER", "quoteCoin": "USDT", "settleCoin": "USDT", "fundingInterval": 240}]
    tickers = [{"symbol": s, "lastPrice": "1.5", "turnover24h": str(1e9 / (i + 1)), "fundingRate": "0.0001"}
               for i, s in enumerate(symbols)]
    serve_listing(fake, rows, tickers, page)
    return symbols


# -- history ----------------------------------------------------------------------------------
# Every symbol of the instrument fixtures has history (its baseCoin is the key into history.py),
# from history.FIRST_HOUR to the hour before history.NOW_HOUR. Limits are enforced as documented
# (a limit outside [1, max] is "params error"); rows come newest first; times are ms strings.

KLINE_MAX, OI_MAX, RATIO_MAX, FUNDING_MAX = 1000, 200, 500, 200
CURSOR_PREFIX = "lastid%3D"  # opaque to clients; the fake's is the offset into the newest-first rows


def symbols() -> dict[str, dict]:
    """Every instrument of the fixtures, by symbol."""
    rows = [row for name in ("instruments_info_page1", "instruments_info_page2")
            for row in load("bybit", name)["result"]["list"]]
    return {row["symbol"]: row for row in rows}


def ok(result: dict) -> Reply:
    return Reply({"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": history.NOW_HOUR * 1000})


def window(query: dict, lo_key: str, hi_key: str) -> tuple[int, int]:
    """[lo, hi] in whole seconds from millisecond parameters (the history's whole span when absent)."""
    lo, hi = query.get(lo_key), query.get(hi_key)
    return (-(-int(lo) // 1000) if lo else history.FIRST_HOUR, int(hi) // 1000 if hi else history.NOW_HOUR)


def limit_of(query: dict, default: int, maximum: int) -> int | None:
    try:
        limit = int(query.get("limit") or default)
    except ValueError:
        return None
    return limit if 1 <= limit <= maximum else None


def with_history(live, past):
    """The live route, unless the request asks for a time range or a cursor (a history request)."""
    def respond(request: Request) -> Reply:
        if any(k in request.query for k in ("startTime", "endTime", "cursor")):
            return past(request)
        return live(request)
    return respond


def newest_first(times: list[int], limit: int) -> list[int]:
    return sorted(times, reverse=True)[:limit]


def cursor_page(rows: list, query: dict, limit: int) -> tuple[list, str]:
    """One page of newest-first `rows` from the request's cursor, and the next cursor ("" at the end)."""
    cursor = query.get("cursor") or ""
    offset = int(cursor[len(CURSOR_PREFIX):]) if cursor.startswith(CURSOR_PREFIX) else 0
    following = offset + limit
    return rows[offset:following], (f"{CURSOR_PREFIX}{following}" if following < len(rows) else "")


def funding_hours(instrument: dict) -> int:
    return int(instrument.get("fundingInterval") or 0) // 60


def account_ratio_history(request: Request) -> Reply:
    query = request.query
    limit = limit_of(query, 50, RATIO_MAX)
    if query.get("symbol") != "BTCUSDT" or query.get("period") != "1h" or limit is None:
        return error("params error")
    times = sorted(history.hours_between(*window(query, "startTime", "endTime")), reverse=True)
    rows = [{"symbol": "BTCUSDT", "buyRatio": str(history.long_share("bybit", t)),
             "sellRatio": str(1 - history.long_share("bybit", t)), "timestamp": str(t * 1000)} for t in times]
    page, cursor = cursor_page(rows, query, limit)
    return ok({"list": page, "nextPageCursor": cursor})


def install_history(fake) -> None:
    listed = symbols()

    def market(request: Request) -> dict | None:
        if request.query.get("category") != "linear":
            return None
        return listed.get(request.query.get("symbol"))

    def kline(request: Request) -> Reply:
        instrument, limit = market(request), limit_of(request.query, 200, KLINE_MAX)
        if instrument is None or request.query.get("interval") != "60" or limit is None:
            return error("params error")
        base = instrument["baseCoin"]
        rows = []
        for t in newest_first(history.hours_between(*window(request.query, "start", "end")), limit):
            c = history.candle("bybit", base, t)
            rows.append([str(t * 1000), str(c["open"]), str(c["high"]), str(c["low"]), str(c["close"]),
                         str(c["base_volume"]), str(c["quote_volume"])])
        return ok({"category": "linear", "symbol": instrument["symbol"], "list": rows})

    def price_kline(price):
        def respond(request: Request) -> Reply:
            instrument, limit = market(request), limit_of(request.query, 200, KLINE_MAX)
            if instrument is None or request.query.get("interval") != "60" or limit is None:
                return error("params error")
            base = instrument["baseCoin"]
            rows = []
            for t in newest_first(history.hours_between(*window(request.query, "start", "end")), limit):
                o, c = price(base, t - history.HOUR), price(base, t)
                rows.append([str(t * 1000), str(o), str(max(o, c)), str(min(o, c)), str(c)])
            return ok({"category": "linear", "symbol": instrument["symbol"], "list": rows})
        return respond

    def open_interest(request: Request) -> Reply:
        instrument, limit = market(request), limit_of(request.query, 50, OI_MAX)
        if instrument is None or request.query.get("intervalTime") != "1h" or limit is None:
            return error("params error")
        base = instrument["baseCoin"]
        rows = []
        for t in sorted(history.hours_between(*window(request.query, "startTime", "endTime")), reverse=True):
            one_side = history.open_interest_usd("bybit", base, t) / history.price(base, t)  # base coin
            rows.append({"openInterest": str(2 * one_side), "singleOpenInterest": str(one_side),
                         "timestamp": str(t * 1000)})
        page, cursor = cursor_page(rows, request.query, limit)
        return ok({"symbol": instrument["symbol"], "category": "linear", "list": page, "nextPageCursor": cursor})

    def funding_history(request: Request) -> Reply:
        instrument, limit = market(request), limit_of(request.query, 200, FUNDING_MAX)
        if instrument is None or limit is None or not funding_hours(instrument):
            return error("params error")
        if "startTime" in request.query and "endTime" not in request.query:
            return error("params error: endTime is required with startTime")
        hours = funding_hours(instrument)
        settlements = [t for t in history.hours_between(*window(request.query, "startTime", "endTime"))
                       if t % (hours * history.HOUR) == 0]
        rows = [{"symbol": instrument["symbol"], "fundingRate": str(history.funding_8h("bybit", t) * hours / 8),
                 "fundingRateTimestamp": str(t * 1000)} for t in newest_first(settlements, limit)]
        return ok({"category": "linear", "list": rows})

    fake.add("bybit", "/v5/market/kline", kline)
    fake.add("bybit", "/v5/market/mark-price-kline", price_kline(history.mark))
    fake.add("bybit", "/v5/market/index-price-kline", price_kline(history.index))
    fake.add("bybit", "/v5/market/open-interest", open_interest)
    fake.add("bybit", "/v5/market/funding/history", funding_history)
