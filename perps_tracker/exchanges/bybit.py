"""Bybit v5 linear — CEX venue. Endpoint facts: shared/docs/exchange-apis.md."""

from perps_tracker.exchanges.base import Exchange


class Bybit(Exchange):
    id = "bybit"
    kind = "CEX"
    name = "Bybit v5 linear"
    base_url = "https://api.bybit.com"
    ws_url = "wss://stream.bybit.com"
