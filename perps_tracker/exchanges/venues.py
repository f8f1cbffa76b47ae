"""What the command line and the settings need to know of each venue before any venue runs: id,
module, class, name, default URLs and liquidation sources. The one place these facts are written:
`Exchange` subclasses take them from here (`Exchange.__init_subclass__`), so `--help`, `stats` and
the settings read them without importing a venue's module.
"""

from __future__ import annotations

from typing import NamedTuple


class VenueInfo(NamedTuple):
    id: str
    module: str  # perps_tracker.exchanges.<module>
    cls: str  # the Exchange subclass in it
    name: str
    base_url: str
    ws_url: str | None = None
    liquidation_sources: tuple[str, ...] = ()

    def env_prefix(self) -> str:
        """Prefix of this venue's environment overrides, e.g. `PERPS_TRACKER_BINANCE` (as `Exchange.env_prefix`)."""
        return f"PERPS_TRACKER_{self.id.upper()}"


VENUES: dict[str, VenueInfo] = {v.id: v for v in (
    VenueInfo("binance", "binance", "Binance", "Binance USDⓈ-M futures", "https://fapi.binance.com",
              "wss://fstream.binance.com", ("ws",)),
    VenueInfo("bybit", "bybit", "Bybit", "Bybit v5 linear", "https://api.bybit.com", "wss://stream.bybit.com", ("ws",)),
    VenueInfo("okx", "okx", "Okx", "OKX v5 swaps", "https://www.okx.com", "wss://ws.okx.com:8443", ("ws", "rest")),
    VenueInfo("bitget", "bitget", "Bitget", "Bitget v2 USDT futures", "https://api.bitget.com"),
    VenueInfo("gateio", "gateio", "Gateio", "Gate.io v4 USDT futures", "https://api.gateio.ws", None, ("rest",)),
    VenueInfo("hyperliquid", "hyperliquid", "Hyperliquid", "Hyperliquid", "https://api.hyperliquid.xyz",
              "wss://api.hyperliquid.xyz"),
    # AsterDEX: no liquidation stream or endpoint in its API documentation
    VenueInfo("asterdex", "asterdex", "Asterdex", "AsterDEX (Binance-compatible)", "https://fapi.asterdex.com"),
    VenueInfo("dydx", "dydx", "Dydx", "dYdX v4 indexer", "https://indexer.dydx.trade"),
    # Deribit: liquidations only as flags on trades (get_last_trades_by_currency, trades.* channels): not read yet
    VenueInfo("deribit", "deribit", "Deribit", "Deribit USDC linear perpetuals", "https://www.deribit.com",
              "wss://www.deribit.com"),
)}

# The venues `capture` reads trades, best bid/offer and books from (docs/capture-venues.md).
OPTIONS_CURRENCIES: tuple[str, ...] = ("BTC", "ETH")  # whose Deribit option chains are read (docs/options.md)
CAPTURE_VENUES: tuple[str, ...] = ("binance", "bybit", "okx", "deribit", "hyperliquid")
