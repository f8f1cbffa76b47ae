"""Normalised market data: the frozen dataclasses that venue parsers produce.

Units are in the field names: `_usd` is US dollars, `_pct` is percent (-3.76 means
-3.76 %), `funding_rate_8h` is a fraction per 8 hours (0.0001 = 0.01 %). A value a venue
does not give is None, never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

QUOTE_RANK = {"USDT": 0, "USDC": 1, "USD": 2}  # pick_btc's order of quotes; any other ranks 9


@dataclass(frozen=True)
class Market:
    """One included perpetual market (active, linear, USDT/USDC/USD-settled)."""

    symbol: str  # the venue's own symbol: BTCUSDT, BTC-USDT-SWAP, BTC_USDT, BTC, BTC-USD
    base: str  # the base asset, upper case: BTC (Hyperliquid's 1000-coin contracts keep their k: kPEPE)
    quote: str  # USDT, USDC or USD
    volume_24h_usd: float | None  # None: the venue sent none (or a bad one); the market still counts
    open_interest_usd: float | None = None
    last_price: float | None = None
    mark_price: float | None = None
    index_price: float | None = None
    funding_rate_8h: float | None = None
    price_change_24h_pct: float | None = None
    num_trades_24h: int | None = None
    funding_rate: float | None = None  # as the venue pays it, per `funding_interval_h`
    funding_interval_h: float | None = None
    next_funding_time: int | None = None  # Unix seconds of the next settlement, where the venue says


@dataclass(frozen=True)
class VenueSnapshot:
    """One venue at snapshot time (docs/design.md#venues-and-units); a failed venue has status 'error'."""

    exchange: str
    kind: str  # CEX or DEX
    status: str = "ok"
    error: str | None = None
    latency_ms: int | None = None
    volume_24h_usd: float | None = None
    open_interest_usd: float | None = None
    markets: int | None = None
    num_trades_24h: int | None = None
    btc_price: float | None = None
    btc_mark_price: float | None = None
    btc_index_price: float | None = None
    btc_funding_rate_8h: float | None = None
    btc_price_change_24h_pct: float | None = None
    long_short_ratio: float | None = None
    long_share: float | None = None
    records_skipped: int = 0
    notes: tuple[str, ...] = ()  # metrics that were unavailable, e.g. "long/short ratio unavailable: ..."
    taken_at: int | None = None  # Unix seconds of the run that fetched this row
    # Every included market of a venue fetched in this run (sanitized); None for a row read back from
    # the database, whose markets stay as stored. Not a column of `exchange_snapshots`.
    instruments: tuple[Market, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def failed(cls, exchange: str, kind: str, error: str, latency_ms: int | None = None) -> "VenueSnapshot":
        return cls(exchange=exchange, kind=kind, status="error", error=error, latency_ms=latency_ms, markets=None)

    def with_latency(self, latency_ms: int) -> "VenueSnapshot":
        return replace(self, latency_ms=latency_ms)


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)


# What no real market shows: a value beyond these bounds is a venue's glitch, left out as missing.
MAX_MARKET_USD = 1e12  # one market's 24 h volume or open interest: all perpetuals together trade ~$2e11 a day
MAX_PRICE = 1e8  # USD per unit: a thousand times BTC's price
MAX_TRADES = 1e9  # one market's trades in 24 h: a hundred times Binance BTCUSDT's busiest days
MAX_FUNDING_8H = 1.0  # 100 % per 8 h: venues cap funding at a few percent per interval
MIN_CHANGE_PCT = -100.0  # a fall of 100 % or more would leave a price of 0 or less
MAX_FUNDING_INTERVAL_H = 24.0  # venues settle every 1 to 8 hours

SANE = {
    "volume_24h_usd": lambda v: 0 <= v <= MAX_MARKET_USD,
    "open_interest_usd": lambda v: 0 <= v <= MAX_MARKET_USD,
    "last_price": lambda v: 0 < v <= MAX_PRICE,
    "mark_price": lambda v: 0 < v <= MAX_PRICE,
    "index_price": lambda v: 0 < v <= MAX_PRICE,
    "funding_rate_8h": lambda v: abs(v) <= MAX_FUNDING_8H,
    "price_change_24h_pct": lambda v: v > MIN_CHANGE_PCT,
    "num_trades_24h": lambda v: 0 <= v <= MAX_TRADES,
    "funding_rate": lambda v: abs(v) <= MAX_FUNDING_8H,
    "funding_interval_h": lambda v: 0 < v <= MAX_FUNDING_INTERVAL_H,
    "next_funding_time": lambda v: v > 0,
}


def sanitize(market: Market) -> tuple[Market, int]:
    """`market` with each value outside its bounds (`SANE`) set to None, and how many were."""
    bad = {name: None for name, ok in SANE.items()
           if (value := getattr(market, name)) is not None and not (math.isfinite(value) and ok(value))}
    return (replace(market, **bad) if bad else market), len(bad)


def pick_btc(markets: list[Market]) -> Market | None:
    """The venue's main BTC perpetual: BTC base, USDT before USDC before USD, then most volume.

    The quote decides first, whatever values the market lacks: a missing volume ranks as the largest
    (the choice between two markets of one quote would otherwise be a guess), so the BTC line never
    comes from another contract because the preferred one lacks a field.
    """
    btc = [m for m in markets if m.base == "BTC"]
    if not btc:
        return None

    def order(m: Market) -> tuple[int, float]:
        return QUOTE_RANK.get(m.quote, 9), -(math.inf if m.volume_24h_usd is None else m.volume_24h_usd)

    return min(btc, key=order)


def btc_candidates(bases: Mapping[str, tuple[str, str | None]]) -> list[str]:
    """The symbols `pick_btc` would choose among, sorted: BTC base and the best-ranked quote of those
    (USDT, then USDC, then USD); the most volume decides between them. `bases`: symbol → (base, quote)."""
    ranks = {symbol: QUOTE_RANK.get(quote, 9) for symbol, (base, quote) in bases.items() if base == "BTC"}
    best = min(ranks.values(), default=None)
    return sorted(symbol for symbol, rank in ranks.items() if rank == best)


def top_by_volume(markets: list[Market], n: int, group: Callable[[str], str] = str) -> list[str]:
    """The `n` groups of markets (`group(symbol)`, the symbol itself by default) with the largest summed
    24 h volume, largest first, ties in the order met; a market without a volume is not ranked."""
    volumes: dict[str, float] = {}
    for market in markets:
        if market.volume_24h_usd is not None:
            key = group(market.symbol)
            volumes[key] = volumes.get(key, 0.0) + market.volume_24h_usd
    return sorted(volumes, key=lambda key: -volumes[key])[:max(n, 0)]


def summarize(exchange: str, kind: str, markets: list[Market], *, long_short_ratio: float | None = None,
              long_share: float | None = None, records_skipped: int = 0) -> VenueSnapshot:
    """Sum the included markets and take the BTC metrics into a VenueSnapshot.

    Every market counts in `markets`; volume, open interest and trades are summed over the markets
    that have them (None when none has). Values `sanitize` rejects are left out and added to
    `records_skipped`. Give either the BTC account `long_short_ratio` R (long share = R / (1 + R)) or,
    where the venue publishes shares directly, `long_share`.
    """
    if long_share is None and long_short_ratio is not None and long_short_ratio >= 0:
        long_share = long_short_ratio / (1 + long_short_ratio)
    if long_short_ratio is None and long_share is not None and 0 <= long_share < 1:
        long_short_ratio = long_share / (1 - long_share)
    checked = [sanitize(m) for m in markets]
    markets = [m for m, _ in checked]
    btc = pick_btc(markets)
    return VenueSnapshot(
        exchange=exchange,
        kind=kind,
        volume_24h_usd=_sum(m.volume_24h_usd for m in markets),
        open_interest_usd=_sum(m.open_interest_usd for m in markets),
        markets=len(markets),
        num_trades_24h=_sum(m.num_trades_24h for m in markets),
        btc_price=_first(btc.last_price, btc.mark_price, btc.index_price) if btc else None,
        btc_mark_price=btc.mark_price if btc else None,
        btc_index_price=btc.index_price if btc else None,
        btc_funding_rate_8h=btc.funding_rate_8h if btc else None,
        btc_price_change_24h_pct=btc.price_change_24h_pct if btc else None,
        long_short_ratio=long_short_ratio,
        long_share=long_share,
        records_skipped=records_skipped + sum(bad for _, bad in checked),
        instruments=tuple(markets),
    )


def _sum(values):
    """The sum of the values present; None when none is (missing, not 0)."""
    present = [v for v in values if v is not None]
    return sum(present) if present else None
