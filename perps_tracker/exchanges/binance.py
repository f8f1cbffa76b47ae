"""Binance USDⓈ-M futures — CEX venue. Endpoint facts: shared/docs/exchange-apis.md."""

from perps_tracker.exchanges.base import Exchange


class Binance(Exchange):
    id = "binance"
    kind = "CEX"
    name = "Binance USDⓈ-M futures"
    base_url = "https://fapi.binance.com"
    ws_url = "wss://fstream.binance.com"
