"""AsterDEX on the loopback fake: Binance's routes and shapes (tests/fakes/binance.py) with Aster's
fundingInfo fields, a 404 for the undocumented /fapi/v1/openInterest and no long/short ratio route.
History: klines, markPriceKlines, indexPriceKlines and fundingRate as on Binance (BTCUSDT settles
every 4 h per fundingInfo); no openInterestHist and no long/short ratio (404)."""

from __future__ import annotations

from tests.fakes import Reply, approx, load
from tests.fakes.binance import (
    OPEN_INTEREST,
    WeightCounter,
    install_history,
    install_venue,
)

# AsterDEX, like Binance, reports errors with HTTP status codes, never inside a 200 body.
ERROR_IN_200 = None

# What fetch() must produce from the fixtures (hand-computed):
# Included: BTCUSDT, ETHUSDT, ASTERUSDT and CAKEUSDT. Excluded: ETHUSD1 (USD1 quote), OLDUSDT (SETTLING).
# Skipped and counted: CAKEUSDT's volume (quoteVolume ""; the market is kept). /fapi/v1/openInterest
# answers 404: OI is null.
EXPECTED = {
    "markets": 4,
    "records_skipped": 1,
    "volume_24h_usd": approx(2000000000.25 + 800000000.5 + 300000000),
    "open_interest_usd": None,
    "num_trades_24h": 420000 + 310000 + 125000 + 900,
    "btc_price": approx(84150.0),
    "btc_mark_price": approx(84120.5),
    "btc_index_price": approx(84100.25),
    "btc_funding_rate_8h": approx(0.00005 * 8 / 4),  # fundingInfo: BTCUSDT every 4 h
    "btc_price_change_24h_pct": approx(2.0),
    "long_short_ratio": None,  # Aster has no long/short ratio endpoint
    "long_share": None,
}


def install(fake, weight: WeightCounter | None = None, open_interest: list[dict] | None = None) -> None:
    """Aster's routes; `open_interest` (per-symbol answers) stands in for an openInterest endpoint."""
    weight = weight or WeightCounter()
    install_venue(fake, "asterdex", {
        "/fapi/v1/exchangeInfo": load("asterdex", "exchangeInfo"),
        "/fapi/v1/ticker/24hr": load("asterdex", "ticker_24hr"),
        "/fapi/v1/premiumIndex": load("asterdex", "premiumIndex"),
        "/fapi/v1/fundingInfo": load("asterdex", "fundingInfo"),
    }, open_interest, weight)
    install_history(fake, "asterdex", load("asterdex", "exchangeInfo"), load("asterdex", "fundingInfo"), weight,
                    futures_data=False)
    if open_interest is None:
        fake.add("asterdex", OPEN_INTEREST, Reply({"code": -1, "msg": "Not Found"}, status=404))
