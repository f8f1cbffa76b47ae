"""OKX v5 swaps — CEX venue. Endpoint facts: shared/docs/exchange-apis.md."""

from perps_tracker.exchanges.base import Exchange


class Okx(Exchange):
    id = "okx"
    kind = "CEX"
    name = "OKX v5 swaps"
    base_url = "https://www.okx.com"
    ws_url = "wss://ws.okx.com:8443"
