"""Gate.io v4 on the loopback fake: GET /api/v4/futures/usdt/contracts, /tickers and /liq_orders,
and the history endpoints (/candlesticks with mark_/index_ contracts, /contract_stats, /funding_rate)
serving tests/fakes/history.py for every contract in the contracts fixture."""

from __future__ import annotations

from tests.fakes import Reply, Request, approx, load
from tests.fakes import history as hist

# Gate reports errors with HTTP status codes and {"label", "message"}, never inside a 200 body.
ERROR_IN_200 = None

# What fetch() must produce from the fixtures (hand-computed):
# BTC_USDT, ETH_USDT and PEPE_USDT are included. LUNA_USDT is in_delisting, OLD_USDT has status
# "delisted", NEW_USDT "prelaunch", INV_USDT is type "inverse", GHOST_USDT has a ticker but no
# contract: all left out. BAD_USDT has a NaN volume_24h_quote: skipped and counted, the market kept.
EXPECTED = {
    "markets": 4,
    "records_skipped": 1,
    "volume_24h_usd": approx(3000000000.25 + 900000000 + 5000000.5),
    # OI = total_size × quanto_multiplier × mark_price (PEPE's ticker mark is "": the contract's)
    "open_interest_usd": approx(120000000.5 * 0.0001 * 84010 + 5000000 * 0.01 * 2950.5
                                + 2500.75 * 1000000 * 0.0000104 + 1000 * 1 * 2.5),
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
    contracts = {row["name"]: row for row in load("gateio", "contracts")}
    fake.add("gateio", "/api/v4/futures/usdt/candlesticks", candlesticks(contracts))
    fake.add("gateio", "/api/v4/futures/usdt/contract_stats", contract_stats(contracts))
    fake.add("gateio", "/api/v4/futures/usdt/funding_rate", funding_rate(contracts))


# -- history --------------------------------------------------------------------------------------

MAX_POINTS = 2000  # candlesticks: points per query
STATS_MAX_LIMIT = 100  # contract_stats: undocumented maximum; the fake refuses more than the client's page
FUNDING_MAX_LIMIT = 1000  # funding_rate: undocumented maximum


def not_found(name: str) -> Reply:
    return Reply({"label": "CONTRACT_NOT_FOUND", "message": f"contract {name} not found"}, status=400)


def _base(name: str) -> str:
    return name.partition("_")[0]


def candlesticks(contracts: dict):
    """`candlesticks` (interval 1h): rows with `from` ≤ t ≤ `to` (seconds), oldest first; more than
    2000 points, or `limit` together with `from`/`to`, is an HTTP 400. `mark_`/`index_` contracts
    give price candles without `v`/`sum`."""

    def respond(request: Request) -> Reply:
        q = request.query
        prefix, name = "", q.get("contract", "")
        for kind in ("mark_", "index_"):
            if name.startswith(kind):
                prefix, name = kind, name[len(kind):]
        if name not in contracts:
            return not_found(q.get("contract", ""))
        if q.get("interval") != "1h":
            return invalid("the fake serves interval=1h only")
        if "limit" in q and ("from" in q or "to" in q):
            return invalid("limit can not be used together with from and to")
        to = int(q.get("to") or hist.NOW_HOUR)
        start = int(q.get("from") or to - 100 * hist.HOUR)
        if (to - start) // hist.HOUR + 1 > MAX_POINTS:
            return invalid(f"too many points requested, at most {MAX_POINTS}")
        base, multiplier = _base(name), float(contracts[name]["quanto_multiplier"]) or 1.0
        rows = []
        for t in hist.hours_between(start, to):
            if prefix:
                price = hist.mark if prefix == "mark_" else hist.index
                o, c = price(base, t - hist.HOUR), price(base, t)
                rows.append({"t": t, "c": repr(c), "h": repr(max(o, c)), "l": repr(min(o, c)), "o": repr(o)})
            else:
                k = hist.candle("gateio", base, t)
                rows.append({"t": t, "v": round(k["base_volume"] / multiplier), "c": repr(k["close"]),
                             "h": repr(k["high"]), "l": repr(k["low"]), "o": repr(k["open"]),
                             "sum": repr(k["quote_volume"])})
        return Reply(rows)

    return respond


def stat_row(name: str, contract: dict, t: int) -> dict:
    """One hourly `contract_stats` point (JSON numbers): open interest from history.py, the long/short
    account ratio from history.long_share."""
    base = _base(name)
    usd = hist.open_interest_usd("gateio", base, t)
    share = hist.long_share("gateio", t)
    return {"time": t, "lsr_taker": 1.02, "lsr_account": share / (1 - share), "long_liq_size": 0,
            "long_liq_amount": 0.0, "long_liq_usd": 0.0, "short_liq_size": 0, "short_liq_amount": 0.0,
            "short_liq_usd": 0.0,
            "open_interest": round(usd / ((float(contract["quanto_multiplier"]) or 1.0) * hist.price(base, t))),
            "open_interest_usd": usd, "top_lsr_account": 1.1, "top_lsr_size": 0.95}


def contract_stats(contracts: dict):
    """`contract_stats` (interval 1h): the first `limit` points from `from` on, oldest first. With a `to`
    (not in Gate's docs) the points are those up to `to` and, when more than `limit`, the newest ones —
    as some clients report the venue does."""

    def respond(request: Request) -> Reply:
        q = request.query
        name = q.get("contract", "")
        if name not in contracts:
            return not_found(name)
        if q.get("interval") != "1h":
            return invalid("the fake serves interval=1h only")
        limit = int(q.get("limit") or 30)
        if not 1 <= limit <= STATS_MAX_LIMIT:
            return invalid(f"limit must be between 1 and {STATS_MAX_LIMIT}")
        start = int(q.get("from") or hist.NOW_HOUR - limit * hist.HOUR)
        if "to" in q:
            times = hist.hours_between(start, int(q["to"]))[-limit:]
        else:
            times = hist.hours_between(start, hist.NOW_HOUR)[:limit]
        return Reply([stat_row(name, contracts[name], t) for t in times])

    return respond


def funding_settlements(contract: dict) -> list[int]:
    """Settlement times (s) of a contract, newest first: every `funding_interval` seconds before NOW_HOUR."""
    step = int(contract["funding_interval"])
    last = (hist.NOW_HOUR - 1) // step * step
    return list(range(last, hist.FIRST_HOUR - 1, -step))


def funding_rate(contracts: dict):
    """`funding_rate`: settlements with `from` ≤ t ≤ `to` (seconds), newest first, the newest `limit`
    of them; the rate is history.funding_8h scaled to the contract's interval."""

    def respond(request: Request) -> Reply:
        q = request.query
        name = q.get("contract", "")
        if name not in contracts:
            return not_found(name)
        limit = int(q.get("limit") or 100)
        if not 1 <= limit <= FUNDING_MAX_LIMIT:
            return invalid(f"limit must be between 1 and {FUNDING_MAX_LIMIT}")
        to = int(q.get("to") or hist.NOW_HOUR)
        start = int(q.get("from") or 0)
        hours = int(contracts[name]["funding_interval"]) / hist.HOUR
        times = [t for t in funding_settlements(contracts[name]) if start <= t <= to][:limit]
        return Reply([{"t": t, "r": repr(hist.funding_8h("gateio", t) * hours / 8)} for t in times])

    return respond
