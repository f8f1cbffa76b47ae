"""Bitget v2 on the loopback fake: contracts, tickers, current-fund-rate and account-long-short."""

from __future__ import annotations

from tests.fakes import approx

from tests.fakes import Reply, Request, load

# Bitget can answer HTTP 200 with an error code in the body.
ERROR_IN_200 = (
    {"code": "40034", "msg": "Parameter productType does not exist", "requestTime": 1, "data": None},
    "Parameter productType does not exist",
)

# What fetch() must produce from the fixtures (hand-computed):
# BTCUSDT, ETHUSDT, SOLUSDT and DOGEUSDT are included. BTCUSDT1226 is a delivery contract,
# LUNAUSDT is off, NEWUSDT is listed (pre-launch), XYZUSDT is in maintenance and GHOSTUSDT has
# a ticker but no contract: all left out. BROKENUSDT has a NaN usdtVolume: skipped and counted.
EXPECTED = {
    "markets": 4,
    "records_skipped": 1,
    "volume_24h_usd": approx(5000000000.5 + 1500000000 + 250000000.25 + 80000000),
    # OI = holdingAmount × markPrice; DOGEUSDT has an empty holdingAmount, so no OI (not 0)
    "open_interest_usd": approx(45000.125 * 84010 + 300000.5 * 2951 + 1200000.75 * 140.3),
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
