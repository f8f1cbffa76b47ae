"""dYdX v4 indexer — DEX. One GET gives every perpetual market, keyed by ticker.

Docs: https://docs.dydx.xyz/indexer-client/http#get-perpetual-markets
All markets are USD(C)-settled linear perpetuals; only `status=ACTIVE` trades normally (not PAUSED,
CANCEL_ONLY, POST_ONLY, INITIALIZING or FINAL_SETTLEMENT). There is no last or mark price: the
oracle price stands in. `priceChange24H` is absolute USD, `nextFundingRate` hourly, `openInterest`
base units, `trades24H` a JSON number. No public long/short ratio.
"""

from __future__ import annotations

from typing import Any

from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.parsing import Skips, funding_8h, integer, num, pct_change
from perps_tracker.market import Market, VenueSnapshot


def _market(ticker: str, row: dict, volume: float, oracle: float) -> Market:
    oi, change = num(row.get("openInterest")), num(row.get("priceChange24H"))
    base, _, quote = ticker.partition("-")
    return Market(
        symbol=ticker, base=base.upper(), quote=(quote or "USD").upper(), volume_24h_usd=volume,
        open_interest_usd=oi * oracle if oi is not None else None,
        last_price=None,
        mark_price=None,
        index_price=oracle,  # the oracle price is all dYdX gives; summarize falls back to it for the BTC price
        funding_rate_8h=funding_8h(num(row.get("nextFundingRate")), 1.0),
        price_change_24h_pct=pct_change(oracle, oracle - change) if change is not None else None,
        num_trades_24h=integer(row.get("trades24H")),
    )


def parse_perpetual_markets(payload: Any, skipped: Skips) -> list[Market]:
    """Markets from `perpetualMarkets`, active ones only.

    Sample::

        {"markets": {"BTC-USD": {"ticker": "BTC-USD", "status": "ACTIVE", "oraclePrice": "84000.5",
          "priceChange24H": "1500.5", "volume24H": "350000000.25", "trades24H": 45000,
          "nextFundingRate": "0.0000125", "openInterest": "850.5", "marketType": "CROSS"}, ...}}
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("markets"), dict):
        raise ValueError("expected an object with a markets object")
    markets = []
    for key, row in payload["markets"].items():
        if not isinstance(row, dict):
            skipped()
            continue
        if row.get("status") != "ACTIVE":
            continue
        volume, oracle = num(row.get("volume24H")), num(row.get("oraclePrice"))
        if volume is None or oracle is None:
            skipped()
            continue
        markets.append(_market(str(row.get("ticker") or key), row, volume, oracle))
    return markets


class Dydx(Exchange):
    id = "dydx"
    kind = "DEX"
    name = "dYdX v4 indexer"
    base_url = "https://indexer.dydx.trade"

    def fetch(self) -> VenueSnapshot:
        skipped = Skips()
        markets = self.parse("perpetualMarkets", parse_perpetual_markets, self.get("/v4/perpetualMarkets"), skipped)
        return self.summarize(markets, records_skipped=skipped.count)
