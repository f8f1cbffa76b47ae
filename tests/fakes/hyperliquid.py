"""Hyperliquid on the loopback fake: POST /info with {"type": "metaAndAssetCtxs"}, and the
history requests `candleSnapshot` and `fundingHistory` (tests/fakes/history.py values)."""

from __future__ import annotations

from tests.fakes import Reply, Request, approx, history, load

# Hyperliquid reports errors as plain HTTP errors, never inside a 200 body.
ERROR_IN_200 = None

# What fetch() must produce from the fixtures (hand-computed):
# BTC, ETH, kPEPE and BROKEN are included; MATIC is delisted. BROKEN has a NaN volume and an empty
# mark price: both skipped and counted, the market kept.
EXPECTED = {
    "markets": 4,
    "records_skipped": 2,
    "volume_24h_usd": approx(2000000000.5 + 500000000 + 1000000.0),
    # OI = openInterest × oraclePx
    "open_interest_usd": approx(10000.25 * 83958.0 + 200000 * 2941.5 + 5000000000 * 0.0110 + 10 * 1.0),
    "num_trades_24h": None,
    "btc_price": approx(84000.0),  # no last price: the mark price
    "btc_mark_price": approx(84000.0),
    "btc_index_price": approx(83958.0),
    "btc_funding_rate_8h": approx(0.0000125 * 8),  # hourly funding
    "btc_price_change_24h_pct": approx(5.0),  # 84000 / 80000 - 1
    "long_short_ratio": None,
    "long_share": None,
}

# History is served for the included coins of the fixture; the base asset (upper case) is the
# key into tests/fakes/history.py.
HISTORY_COINS = ("BTC", "ETH", "kPEPE", "BROKEN")
CANDLES_PER_RESPONSE = 5000  # the venue's cap; tests lower it to exercise paging
FUNDING_PER_RESPONSE = 500


def settle_ms(hour: int) -> int:
    """A settlement's `time`: a few ms after the hour, as the venue stamps it."""
    return hour * 1000 + (hour // history.HOUR) % 7 * 11


def candle_rows(coin: str, start_ms: int, end_ms: int) -> list[dict]:
    """1 h candles with open time in [startTime, endTime], oldest first, in the venue's units
    (ms, prices and base volume as strings, `n` trades)."""
    base = coin.upper()
    rows = []
    for t in history.hours_between(-(-start_ms // 1000), end_ms // 1000):
        c = history.candle("hyperliquid", base, t)
        rows.append({"t": t * 1000, "T": t * 1000 + history.HOUR * 1000 - 1, "s": coin, "i": "1h",
                     "o": str(c["open"]), "c": str(c["close"]), "h": str(c["high"]), "l": str(c["low"]),
                     "v": str(c["base_volume"]), "n": c["trades"]})
    return rows[:CANDLES_PER_RESPONSE]


def funding_rows(coin: str, start_ms: int, end_ms: int) -> list[dict]:
    """Hourly settlements with `time` in [startTime, endTime], oldest first; `fundingRate` hourly."""
    rows = []
    for hour in history.hours_between(start_ms // 1000 - history.HOUR, end_ms // 1000 + history.HOUR):
        t = settle_ms(hour)
        if start_ms <= t <= end_ms:
            rate = history.funding_8h("hyperliquid", hour) / 8
            rows.append({"coin": coin, "fundingRate": f"{rate:.15f}", "premium": "0.0001", "time": t})
    return rows[:FUNDING_PER_RESPONSE]


def install(fake) -> None:
    payload = load("hyperliquid", "metaAndAssetCtxs")

    def info(request: Request) -> Reply:
        body = request.body or {}
        kind = body.get("type")
        if kind == "metaAndAssetCtxs":
            return Reply(payload)
        now_ms = history.NOW_HOUR * 1000
        if kind == "candleSnapshot":
            req = body.get("req") or {}
            if req.get("interval") != "1h" or not isinstance(req.get("startTime"), int):
                return Reply({"error": "fake: 1h candles with an integer startTime only"}, status=422)
            if req.get("coin") not in HISTORY_COINS:
                return Reply([])
            return Reply(candle_rows(req["coin"], req["startTime"], req.get("endTime") or now_ms))
        if kind == "fundingHistory":
            if not isinstance(body.get("startTime"), int) or body.get("coin") not in HISTORY_COINS:
                return Reply({"error": "fake: a known coin and an integer startTime"}, status=422)
            return Reply(funding_rows(body["coin"], body["startTime"], body.get("endTime") or now_ms))
        return Reply({"error": "unknown request type"}, status=422)

    fake.add("hyperliquid", "/info", info, method="POST")
