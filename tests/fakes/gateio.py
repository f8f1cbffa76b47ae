"""Gate.io v4 on the loopback fake: GET /api/v4/futures/usdt/contracts, /tickers and /liq_orders."""

from __future__ import annotations

from tests.fakes import approx

from tests.fakes import Reply, Request, load

# Gate reports errors with HTTP status codes and {"label", "message"}, never inside a 200 body.
ERROR_IN_200 = None

# What fetch() must produce from the fixtures (hand-computed):
# BTC_USDT, ETH_USDT and PEPE_USDT are included. LUNA_USDT is in_delisting, OLD_USDT has status
# "delisted", NEW_USDT "prelaunch", INV_USDT is type "inverse", GHOST_USDT has a ticker but no
# contract: all left out. BAD_USDT has a NaN volume_24h_quote: skipped and counted.
EXPECTED = {
    "markets": 3,
    "records_skipped": 1,
    "volume_24h_usd": approx(3000000000.25 + 900000000 + 5000000.5),
    # OI = total_size × quanto_multiplier × mark_price (PEPE's ticker mark is "": the contract's)
    "open_interest_usd": approx(120000000.5 * 0.0001 * 84010 + 5000000 * 0.01 * 2950.5
                                + 2500.75 * 1000000 * 0.0000104),
    "num_trades_24h": None,
    "btc_price": approx(84005.5),  # last
    "btc_mark_price": approx(84010.0),  # the ticker's mark, not the contract's 84009
    "btc_index_price": approx(83990.0),
    "btc_funding_rate_8h": approx(0.0001 * 8 / (28800 / 3600)),
    "btc_price_change_24h_pct": approx(-1.5),  # change_percentage is already percent
    # BTC_USDT: long_users 6000, short_users 4000 → long share 0.6, R = 0.6 / 0.4
    "long_short_ratio": approx(1.5),
    "long_share": approx(0.6),
}


# Liquidations: the fixture's rows lie in 12:00–13:00 UTC on 2025-12-01 (one at 13:01:40).
LIQUIDATION_HOUR_S = 1764590400  # 2025-12-01 12:00 UTC
MAX_WINDOW_S, MAX_LIMIT = 3600, 1000


def invalid(message: str) -> Reply:
    return Reply({"label": "INVALID_PARAM_VALUE", "message": message}, status=400)


def liq_orders(rows: list[dict]):
    """`liq_orders` over `rows` as Gate answers it: rows with `from` ≤ time ≤ `to` (seconds),
    newest first, at most `limit`; a window over 3600 s or a limit over 1000 is an HTTP 400."""

    def respond(request: Request) -> Reply:
        query = request.query
        to = int(query.get("to") or max((row["time"] for row in rows), default=0))
        start = int(query.get("from") or to - MAX_WINDOW_S)
        limit = int(query.get("limit") or 100)
        if to - start > MAX_WINDOW_S:
            return invalid(f"time range can not exceed {MAX_WINDOW_S} seconds")
        if not 1 <= limit <= MAX_LIMIT:
            return invalid(f"limit must be between 1 and {MAX_LIMIT}")
        hits = sorted((row for row in rows if start <= row["time"] <= to), key=lambda row: -row["time"])
        return Reply(hits[:limit])

    return respond


def install(fake) -> None:
    for name in ("contracts", "tickers"):
        fake.add("gateio", f"/api/v4/futures/usdt/{name}", Reply(load("gateio", name)))
    fake.add("gateio", "/api/v4/futures/usdt/liq_orders", liq_orders(load("gateio", "liq_orders")))
