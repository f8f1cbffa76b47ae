"""Normalised market data: the frozen dataclasses that venue parsers produce.

Units are in the field names: `_usd` is US dollars, `_pct` is percent (-3.76 means
-3.76 %), `funding_rate_8h` is a fraction per 8 hours (0.0001 = 0.01 %). A value a venue
does not give is None, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Market:
    """One included perpetual market (active, linear, USDT/USDC/USD-settled)."""

    symbol: str  # the venue's own symbol: BTCUSDT, BTC-USDT-SWAP, BTC_USDT, BTC, BTC-USD
    base: str  # the base asset, upper case: BTC
    quote: str  # USDT, USDC or USD
    volume_24h_usd: float
    open_interest_usd: float | None = None
    last_price: float | None = None
    mark_price: float | None = None
    index_price: float | None = None
    funding_rate_8h: float | None = None
    price_change_24h_pct: float | None = None
    num_trades_24h: int | None = None


@dataclass(frozen=True)
class VenueSnapshot:
    """What one venue looked like at snapshot time (DESIGN §2); a failed venue has status 'error'."""

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


def pick_btc(markets: list[Market]) -> Market | None:
    """The venue's main BTC perpetual: BTC base, USDT before USDC before USD, then most volume."""
    rank = {"USDT": 0, "USDC": 1, "USD": 2}
    btc = [m for m in markets if m.base == "BTC"]
    if not btc:
        return None
    return min(btc, key=lambda m: (rank.get(m.quote, 9), -m.volume_24h_usd))


def summarize(exchange: str, kind: str, markets: list[Market], *, long_short_ratio: float | None = None,
              long_share: float | None = None, records_skipped: int = 0) -> VenueSnapshot:
    """Sum the included markets and take the BTC metrics into a VenueSnapshot.

    Give either the BTC account `long_short_ratio` R (long share = R / (1 + R)) or,
    where the venue publishes shares directly, `long_share`.
    """
    if long_share is None and long_short_ratio is not None and long_short_ratio >= 0:
        long_share = long_short_ratio / (1 + long_short_ratio)
    if long_short_ratio is None and long_share is not None and 0 <= long_share < 1:
        long_short_ratio = long_share / (1 - long_share)
    oi = [m.open_interest_usd for m in markets if m.open_interest_usd is not None]
    trades = [m.num_trades_24h for m in markets if m.num_trades_24h is not None]
    btc = pick_btc(markets)
    return VenueSnapshot(
        exchange=exchange,
        kind=kind,
        volume_24h_usd=sum(m.volume_24h_usd for m in markets),
        open_interest_usd=sum(oi) if oi else None,
        markets=len(markets),
        num_trades_24h=sum(trades) if trades else None,
        btc_price=_first(btc.last_price, btc.mark_price, btc.index_price) if btc else None,
        btc_mark_price=btc.mark_price if btc else None,
        btc_index_price=btc.index_price if btc else None,
        btc_funding_rate_8h=btc.funding_rate_8h if btc else None,
        btc_price_change_24h_pct=btc.price_change_24h_pct if btc else None,
        long_short_ratio=long_short_ratio,
        long_share=long_share,
        records_skipped=records_skipped,
    )
