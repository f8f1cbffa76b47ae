"""Gate.io v4 USDT futures — CEX venue. Endpoint facts: shared/docs/exchange-apis.md."""

from perps_tracker.exchanges.base import Exchange


class Gateio(Exchange):
    id = "gateio"
    kind = "CEX"
    name = "Gate.io v4 USDT futures"
    base_url = "https://api.gateio.ws"
