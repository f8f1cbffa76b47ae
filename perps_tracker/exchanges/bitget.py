"""Bitget v2 USDT futures — CEX venue. Endpoint facts: shared/docs/exchange-apis.md."""

from perps_tracker.exchanges.base import Exchange


class Bitget(Exchange):
    id = "bitget"
    kind = "CEX"
    name = "Bitget v2 USDT futures"
    base_url = "https://api.bitget.com"
