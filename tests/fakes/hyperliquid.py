"""Hyperliquid on the loopback fake: POST /info with {"type": "metaAndAssetCtxs"}."""

from __future__ import annotations

from tests.fakes import Reply, Request, approx, load

# Hyperliquid reports errors as plain HTTP errors, never inside a 200 body.
ERROR_IN_200 = None

# What fetch() must produce from the fixtures (hand-computed):
# BTC, ETH and kPEPE are included; MATIC is delisted; BROKEN has a NaN volume and an empty
# mark price, so it is skipped and counted.
EXPECTED = {
    "markets": 3,
    "records_skipped": 1,
    "volume_24h_usd": approx(2000000000.5 + 500000000 + 1000000.0),
    # OI = openInterest × oraclePx
    "open_interest_usd": approx(10000.25 * 83958.0 + 200000 * 2941.5 + 5000000000 * 0.0110),
    "num_trades_24h": None,
    "btc_price": approx(84000.0),  # no last price: the mark price
    "btc_mark_price": approx(84000.0),
    "btc_index_price": approx(83958.0),
    "btc_funding_rate_8h": approx(0.0000125 * 8),  # hourly funding
    "btc_price_change_24h_pct": approx(5.0),  # 84000 / 80000 - 1
    "long_short_ratio": None,
    "long_share": None,
}


def install(fake) -> None:
    payload = load("hyperliquid", "metaAndAssetCtxs")

    def info(request: Request) -> Reply:
        if (request.body or {}).get("type") != "metaAndAssetCtxs":
            return Reply({"error": "unknown request type"}, status=422)
        return Reply(payload)

    fake.add("hyperliquid", "/info", info, method="POST")
