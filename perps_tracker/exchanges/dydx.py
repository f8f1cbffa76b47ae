"""dYdX v4 indexer — DEX venue. Endpoint facts: shared/docs/exchange-apis.md."""

from perps_tracker.exchanges.base import Exchange


class Dydx(Exchange):
    id = "dydx"
    kind = "DEX"
    name = "dYdX v4 indexer"
    base_url = "https://indexer.dydx.trade"
