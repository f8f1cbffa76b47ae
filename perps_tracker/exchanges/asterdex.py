"""AsterDEX (Binance-compatible) — DEX venue. Endpoint facts: shared/docs/exchange-apis.md."""

from perps_tracker.exchanges.base import Exchange


class Asterdex(Exchange):
    id = "asterdex"
    kind = "DEX"
    name = "AsterDEX (Binance-compatible)"
    base_url = "https://fapi.asterdex.com"
