"""Hyperliquid — DEX venue. Endpoint facts: shared/docs/exchange-apis.md."""

from perps_tracker.exchanges.base import Exchange


class Hyperliquid(Exchange):
    id = "hyperliquid"
    kind = "DEX"
    name = "Hyperliquid"
    base_url = "https://api.hyperliquid.xyz"
