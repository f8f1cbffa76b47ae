"""dYdX v4 indexer on the loopback fake: GET /v4/perpetualMarkets."""

from __future__ import annotations

from tests.fakes import approx

from tests.fakes import Reply, load

# The indexer reports errors with HTTP status codes only.
ERROR_IN_200 = None

# What fetch() must produce from the fixtures (hand-computed):
# BTC-USD, ETH-USD and SOL-USD are ACTIVE and included. LUNA-USD (PAUSED), FTM-USD
# (FINAL_SETTLEMENT), NEW-USD (INITIALIZING) and XYZ-USD (CANCEL_ONLY) are left out.
# BROKEN-USD has a NaN volume24H and NOPRICE-USD an empty oraclePrice: both skipped and counted.
EXPECTED = {
    "markets": 3,
    "records_skipped": 2,
    "volume_24h_usd": approx(350000000.25 + 120000000 + 15000000.5),
    # OI = openInterest × oraclePrice; SOL-USD has an empty openInterest, so no OI (not 0)
    "open_interest_usd": approx(850.5 * 84000.5 + 12000.25 * 2950),
    "num_trades_24h": 45000 + 30000 + 12000,
    "btc_price": approx(84000.5),  # no last or mark price: the oracle price
    "btc_mark_price": None,
    "btc_index_price": approx(84000.5),  # the oracle price
    "btc_funding_rate_8h": approx(0.0000125 * 8),  # hourly nextFundingRate
    # priceChange24H is absolute: 1500.5 / (84000.5 - 1500.5) × 100
    "btc_price_change_24h_pct": approx(1500.5 / 82500 * 100),
    "long_short_ratio": None,
    "long_share": None,
}


def install(fake) -> None:
    fake.add("dydx", "/v4/perpetualMarkets", Reply(load("dydx", "perpetualMarkets")))
