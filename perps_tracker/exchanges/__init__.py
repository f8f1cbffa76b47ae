"""Registry of venues: id → class. A new venue is one module plus one line here."""

from perps_tracker.exchanges.asterdex import Asterdex
from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.binance import Binance
from perps_tracker.exchanges.bitget import Bitget
from perps_tracker.exchanges.bybit import Bybit
from perps_tracker.exchanges.dydx import Dydx
from perps_tracker.exchanges.gateio import Gateio
from perps_tracker.exchanges.hyperliquid import Hyperliquid
from perps_tracker.exchanges.okx import Okx

EXCHANGES: dict[str, type[Exchange]] = {
    cls.id: cls for cls in (Binance, Bybit, Okx, Bitget, Gateio, Hyperliquid, Asterdex, Dydx)
}

__all__ = ["EXCHANGES", "Exchange"]
