"""Deribit on the loopback fake: JSON-RPC over GET /api/v2/public/<method> — get_instruments and
get_book_summary_by_currency (currency=USDC, kind=future, from the fixtures), and the history methods
get_tradingview_chart_data and get_funding_rate_history (tests/fakes/history.py values). Answers carry
the JSON-RPC envelope (`usIn`, `usOut`, `usDiff`, `testnet`); bad parameters get the venue's HTTP 400
with an error object."""

from __future__ import annotations

from tests.fakes import Reply, Request, approx, history, load

PUBLIC = "/api/v2/public/"

# An error object, as Deribit answers a bad request (here inside an HTTP 200, which `check` reads too).
ERROR_IN_200 = (
    {"jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid params",
                                 "data": {"reason": "must be one of the supported currencies", "param": "currency"}},
     "usIn": 1795388400123456, "usOut": 1795388400123500, "usDiff": 44, "testnet": False},
    "Invalid params: currency must be one of the supported currencies (code -32602)",
)

# What fetch() must produce from the fixtures (hand-computed):
# BTC_, ETH_, SOL_, XRP_ and DOGE_USDC-PERPETUAL are active linear USDC perpetuals and included.
# AVAX_USDC-PERPETUAL (is_active false), BTC_USDC-27DEC26 (dated), the inverse BTC-PERPETUAL and
# ETH-PERPETUAL (settled in the coin) and a row without a name are left out. PAXG_USDC-PERPETUAL is
# included but has no book summary: skipped and counted. XRP's null volume_usd and DOGE's null
# mark_price are skipped and counted, the markets kept.
EXPECTED = {
    "markets": 5,
    "records_skipped": 3,
    "volume_24h_usd": approx(150000000.5 + 60000000 + 8000000.25 + 250000),
    # OI = open_interest (coins) × mark_price; DOGE has no mark price, so no OI (not 0)
    "open_interest_usd": approx(850.25 * 84010.0 + 12000.5 * 3001.5 + 50000 * 140.2 + 1000000 * 0.55),
    "num_trades_24h": None,
    "btc_price": approx(84000.0),  # last
    "btc_mark_price": approx(84010.0),
    "btc_index_price": approx(83990.5),  # estimated_delivery_price
    "btc_funding_rate_8h": approx(0.0001),  # funding_8h, already per 8 h
    "btc_price_change_24h_pct": approx(-1.25),  # price_change, percent
    "long_short_ratio": None,
    "long_share": None,
}

ENVELOPE = {"usIn": 1795388400123456, "usOut": 1795388400125456, "usDiff": 2000, "testnet": False}
# Candles one chart answer holds at most in this fake (the real maximum is not documented): a window
# asking for more gets the newest ones, as a capped venue would.
CANDLES_PER_RESPONSE = 5000


def ok(result) -> Reply:
    return Reply({"jsonrpc": "2.0", "result": result, **ENVELOPE})


def invalid(param: str, reason: str) -> Reply:
    return Reply({"jsonrpc": "2.0", "error": {"code": -32602, "message": "Invalid params",
                                              "data": {"reason": reason, "param": param}}, **ENVELOPE}, status=400)


def included_names() -> list[str]:
    """The instrument names of the fixture the fake serves history for (every one `get_instruments` lists)."""
    return [r["instrument_name"] for r in load("deribit", "get_instruments")["result"] if r.get("instrument_name")]


def base_of(name: str) -> str:
    return name.split("-")[0].split("_")[0]


def _bounds(q: dict) -> tuple[int, int] | Reply:
    try:
        return int(q["start_timestamp"]), int(q["end_timestamp"])
    except (KeyError, ValueError):
        return invalid("start_timestamp", "must be an integer (ms)")


def chart(request: Request) -> Reply:
    """1 h candles with open time in [start_timestamp, end_timestamp] (ms, both inclusive), oldest first."""
    q = request.query
    if q.get("instrument_name") not in included_names():
        return invalid("instrument_name", "wrong format")
    if q.get("resolution") != "60":
        return invalid("resolution", "fake: 60 only")
    bounds = _bounds(q)
    if isinstance(bounds, Reply):
        return bounds
    lo, hi = bounds
    base = base_of(q["instrument_name"])
    hours = history.hours_between(-(-lo // 1000), hi // 1000)[-CANDLES_PER_RESPONSE:]
    if not hours:
        return ok({"status": "no_data", "ticks": [], "open": [], "high": [], "low": [], "close": [],
                   "volume": [], "cost": []})
    candles = [history.candle("deribit", base, t) for t in hours]
    return ok({"status": "ok", "ticks": [t * 1000 for t in hours],
               **{key: [c[field] for c in candles] for key, field in (
                   ("open", "open"), ("high", "high"), ("low", "low"), ("close", "close"),
                   ("volume", "base_volume"), ("cost", "quote_volume"))}})


def funding_8h(base: str, hour_end: int) -> float:
    return history.funding_8h("deribit", hour_end) if base == "BTC" else 0.0001


def funding_history(request: Request) -> Reply:
    """Hourly rows stamped at each hour's end with timestamp in [start_timestamp, end_timestamp] (ms)."""
    q = request.query
    if q.get("instrument_name") not in included_names():
        return invalid("instrument_name", "wrong format")
    bounds = _bounds(q)
    if isinstance(bounds, Reply):
        return bounds
    lo, hi = bounds
    base = base_of(q["instrument_name"])
    rows = []
    for hour in history.hours_between(-(-lo // 1000) - history.HOUR, hi // 1000 - history.HOUR):
        end = hour + history.HOUR
        rate = funding_8h(base, end)
        rows.append({"timestamp": end * 1000, "index_price": history.index(base, hour),
                     "prev_index_price": history.index(base, hour - history.HOUR),
                     "interest_8h": rate, "interest_1h": rate / 8})
    return ok(rows)


# -- the options market -------------------------------------------------------------------------------
# A small chain per currency, the figures chosen by hand: (expiry, forward, [(strike, type, OI, 24 h volume,
# mark IV %)]). Expiries at 08:00 UTC as Deribit's; `OPTIONS_NOW` (2026-11-22 11:00 UTC) is the clock the
# option tests use: 2026-12-25 is 32.9 days away (nearest 30), 2026-11-27 4.9 and 2027-03-26 123.9.
OPTIONS_NOW = 1795345200
DAY = 86400
EXPIRIES = {"27NOV26": 1795766400, "25DEC26": 1798185600, "26MAR27": 1806048000}
CHAINS = {
    "BTC": [
        ("27NOV26", 84_100.0, [(84_000, "call", 300.0, 90.0, 44.0), (84_000, "put", 280.0, 85.0, 45.0)]),
        ("25DEC26", 84_500.0, [
            (85_000, "call", 900.0, 120.0, 48.0), (90_000, "call", 1200.0, 150.0, 47.0),
            (95_000, "call", 800.0, 60.0, 48.5), (100_000, "call", 1500.0, 80.0, 50.0),
            (85_000, "put", 700.0, 110.0, 49.0), (80_000, "put", 1100.0, 140.0, 51.0),
            (75_000, "put", 900.0, 70.0, 54.0), (70_000, "put", 600.0, 50.0, 57.0),
        ]),
        ("26MAR27", 86_000.0, [(100_000, "call", 2000.0, 30.0, 52.0), (70_000, "put", 1800.0, 20.0, 58.0)]),
    ],
    "ETH": [  # thin: no OTM put below 25 delta, so no skew
        ("25DEC26", 3_010.0, [(3_000, "call", 5000.0, 800.0, 60.0), (3_400, "call", 4000.0, 500.0, 61.0),
                              (3_000, "put", 4500.0, 600.0, 61.0)]),
    ],
}


def option_name(currency: str, expiry: str, strike: int, kind: str) -> str:
    return f"{currency}-{expiry}-{strike}-{kind[0].upper()}"


def option_instruments(currency: str) -> list[dict]:
    return [{"instrument_name": option_name(currency, e, k, t), "kind": "option", "option_type": t,
             "strike": float(k), "expiration_timestamp": EXPIRIES[e] * 1000, "is_active": True,
             "base_currency": currency, "settlement_period": "month", "contract_size": 1.0}
            for e, _, rows in CHAINS[currency] for k, t, *_ in rows]


def option_summaries(currency: str) -> list[dict]:
    return [{"instrument_name": option_name(currency, e, k, t), "open_interest": oi, "volume": vol, "mark_iv": iv,
             "underlying_price": forward, "underlying_index": f"{currency}-{e}", "mark_price": 0.05,
             "bid_price": 0.049, "ask_price": 0.051, "creation_timestamp": OPTIONS_NOW * 1000}
            for e, forward, rows in CHAINS[currency] for k, t, oi, vol, iv in rows]


def dvol(currency: str, open_time: int) -> float:
    """DVOL's hourly candle opening at `open_time`: its close."""
    import math

    return (55.0 if currency == "BTC" else 70.0) + 3 * math.sin(open_time / history.HOUR / 17)


def volatility_index(request: Request) -> Reply:
    """DVOL candles with open time in [start_timestamp, end_timestamp] (ms), oldest first."""
    q = request.query
    if q.get("currency") not in CHAINS:
        return invalid("currency", "must be one of the supported currencies")
    if q.get("resolution") != "3600":
        return invalid("resolution", "fake: 3600 only")
    bounds = _bounds(q)
    if isinstance(bounds, Reply):
        return bounds
    lo, hi = bounds
    rows = [[t * 1000, dvol(q["currency"], t) - 0.5, dvol(q["currency"], t) + 1, dvol(q["currency"], t) - 1,
             dvol(q["currency"], t)] for t in history.hours_between(-(-lo // 1000), hi // 1000)]
    return ok({"data": rows, "continuation": None})


def install(fake) -> None:
    instruments, summary = load("deribit", "get_instruments"), load("deribit", "get_book_summary_by_currency")

    def linear(payload, options):
        def answer(request: Request) -> Reply:
            currency, kind = request.query.get("currency"), request.query.get("kind")
            if currency in CHAINS and kind == "option":
                return ok(options(currency))
            if currency not in ("USDC", *CHAINS):
                return invalid("currency", "must be one of the supported currencies")
            if currency != "USDC" or kind != "future":
                return ok([])
            return Reply(payload)
        return answer

    fake.add("deribit", PUBLIC + "get_instruments", linear(instruments, option_instruments))
    fake.add("deribit", PUBLIC + "get_book_summary_by_currency", linear(summary, option_summaries))
    fake.add("deribit", PUBLIC + "get_volatility_index_data", volatility_index)
    fake.add("deribit", PUBLIC + "get_tradingview_chart_data", chart)
    fake.add("deribit", PUBLIC + "get_funding_rate_history", funding_history)
