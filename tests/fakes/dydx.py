"""dYdX v4 indexer on the loopback fake: GET /v4/perpetualMarkets, and the history endpoints
/v4/candles/perpetualMarkets/{ticker} and /v4/historicalFunding/{ticker} (tests/fakes/history.py
values)."""

from __future__ import annotations

from datetime import datetime, timezone

from tests.fakes import Reply, Request, approx, history, load

# The indexer reports errors with HTTP status codes only.
ERROR_IN_200 = None

# What fetch() must produce from the fixtures (hand-computed):
# BTC-USD, ETH-USD, SOL-USD, BROKEN-USD and NOPRICE-USD are ACTIVE and included. LUNA-USD (PAUSED),
# FTM-USD (FINAL_SETTLEMENT), NEW-USD (INITIALIZING) and XYZ-USD (CANCEL_ONLY) are left out.
# BROKEN-USD's NaN volume24H and NOPRICE-USD's empty oraclePrice are skipped and counted, the markets kept.
EXPECTED = {
    "markets": 5,
    "records_skipped": 2,
    "volume_24h_usd": approx(350000000.25 + 120000000 + 15000000.5 + 25000),
    # OI = openInterest × oraclePrice; SOL-USD has an empty openInterest and NOPRICE-USD no oracle price,
    # so no OI (not 0)
    "open_interest_usd": approx(850.5 * 84000.5 + 12000.25 * 2950 + 1000 * 1.5),
    "num_trades_24h": 45000 + 30000 + 12000 + 7 + 11,
    "btc_price": approx(84000.5),  # no last or mark price: the oracle price
    "btc_mark_price": None,
    "btc_index_price": approx(84000.5),  # the oracle price
    "btc_funding_rate_8h": approx(0.0000125 * 8),  # hourly nextFundingRate
    # priceChange24H is absolute: 1500.5 / (84000.5 - 1500.5) × 100
    "btc_price_change_24h_pct": approx(1500.5 / 82500 * 100),
    "long_short_ratio": None,
    "long_share": None,
}

# History is served for the included markets of the fixture; the base asset is the key into
# tests/fakes/history.py.
HISTORY_TICKERS = ("BTC-USD", "ETH-USD", "SOL-USD", "BROKEN-USD", "NOPRICE-USD")
API_LIMIT_V4 = 1000  # the deployment's max `limit` (and default); tests lower it to 100
RESOLUTIONS = ("1MIN", "5MINS", "15MINS", "30MINS", "1HOUR", "4HOURS", "1DAY")


def iso(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t_ms % 1000:03d}Z"


def parse_iso(value: str) -> int:
    """Unix ms of an ISO 8601 string; ValueError if it is not one."""
    return int(round(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000))


def effective_ms(hour: int) -> int:
    """The funding tick's block time: a fraction of a second after the hour."""
    return hour * 1000 + 250 + (hour // history.HOUR) % 5 * 37


def height(hour: int) -> int:
    return 40_000_000 + (hour - history.FIRST_HOUR) // history.HOUR * 3_000


def invalid(param: str, value, msg: str) -> Reply:
    return Reply({"errors": [{"value": value, "msg": msg, "param": param, "location": "query"}]}, status=400)


def limit_of(query: dict) -> int | Reply:
    """The request's `limit` as comlink validates it (default API_LIMIT_V4), or its 400 reply."""
    raw = query.get("limit")
    try:
        limit = float(raw) if raw is not None else API_LIMIT_V4
    except ValueError:
        limit = -1
    if limit <= 0 or limit > API_LIMIT_V4 or limit != int(limit):
        return invalid("limit", raw, f"limit must be a positive integer that is not greater than max: {API_LIMIT_V4}")
    return int(limit)


def candles(ticker: str, request: Request) -> Reply:
    q = request.query
    if q.get("resolution") not in RESOLUTIONS:
        return invalid("resolution", q.get("resolution"), f"resolution must be a valid Candle Resolution, one of "
                       f"{','.join(RESOLUTIONS)}")
    if q["resolution"] != "1HOUR":
        return Reply({"candles": []})
    limit = limit_of(q)
    if isinstance(limit, Reply):
        return limit
    try:  # fromISO inclusive, toISO exclusive (comlink's CandleTable.findAll)
        start = -(-parse_iso(q["fromISO"]) // 1000) if q.get("fromISO") else history.FIRST_HOUR
        to = parse_iso(q["toISO"]) if q.get("toISO") else history.NOW_HOUR * 1000
    except ValueError:
        return invalid("fromISO", q.get("fromISO"), "Invalid value")
    base = ticker.split("-")[0]
    rows = []
    for t in reversed(history.hours_between(start, (to - 1) // 1000)):  # newest first
        c = history.candle("dydx", base, t)
        oi_base = history.open_interest_usd("dydx", base, t) / c["open"]
        rows.append({"startedAt": iso(t * 1000), "ticker": ticker, "resolution": "1HOUR",
                     "low": str(c["low"]), "high": str(c["high"]), "open": str(c["open"]), "close": str(c["close"]),
                     "baseTokenVolume": str(c["base_volume"]), "usdVolume": str(c["quote_volume"]),
                     "trades": c["trades"], "startingOpenInterest": str(oi_base),
                     "orderbookMidPriceOpen": str(c["open"]), "orderbookMidPriceClose": str(c["close"]),
                     "id": f"{ticker}-1HOUR-{t}"})
        if len(rows) == limit:
            break
    return Reply({"candles": rows})


def funding(ticker: str, request: Request) -> Reply:
    q = request.query
    limit = limit_of(q)
    if isinstance(limit, Reply):
        return limit
    try:
        before = parse_iso(q["effectiveBeforeOrAt"]) if q.get("effectiveBeforeOrAt") else history.NOW_HOUR * 1000
    except ValueError:
        return invalid("effectiveBeforeOrAt", q.get("effectiveBeforeOrAt"), "Invalid value")
    max_height = int(q["effectiveBeforeOrAtHeight"]) if q.get("effectiveBeforeOrAtHeight") else None
    base = ticker.split("-")[0]
    rows = []
    for hour in reversed(history.hours_between(history.FIRST_HOUR, before // 1000)):  # newest first
        if effective_ms(hour) > before or (max_height is not None and height(hour) > max_height):
            continue
        rate = history.funding_8h("dydx", hour) / 8 if base == "BTC" else 0.0000125
        rows.append({"ticker": ticker, "rate": f"{rate:.15f}", "price": str(history.price(base, hour)),
                     "effectiveAt": iso(effective_ms(hour)), "effectiveAtHeight": str(height(hour))})
        if len(rows) == limit:
            break
    return Reply({"historicalFunding": rows})


def install(fake) -> None:
    fake.add("dydx", "/v4/perpetualMarkets", Reply(load("dydx", "perpetualMarkets")))
    for ticker in HISTORY_TICKERS:
        fake.add("dydx", f"/v4/candles/perpetualMarkets/{ticker}", lambda r, t=ticker: candles(t, r))
        fake.add("dydx", f"/v4/historicalFunding/{ticker}", lambda r, t=ticker: funding(t, r))
