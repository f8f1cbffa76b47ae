"""Liquidation events and their summary over a window (docs/design.md#cascade-risk). Pure: no I/O.

Venue parsers turn pushed or polled payloads into `LiquidationEvent`s with the side
normalised to *which position was liquidated* (`long`/`short`) and the quantity in the
base asset. `summarize_window` turns per-venue sums into the per-venue and market-wide
lines with their cascade risk, against the same venues' volume.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from perps_tracker.model.scoring import cascade_level, cascade_risk

LONG, SHORT = "long", "short"
MIN_COVERAGE = 0.5  # a cascade risk needs at least half of the window read; less says too little


@dataclass(frozen=True, slots=True)
class LiquidationEvent:
    exchange: str
    symbol: str  # the venue's own symbol: BTCUSDT, BTC-USDT-SWAP, BTC_USDT
    side: str  # the position that was liquidated: "long" or "short"
    price: float
    quantity: float  # base asset
    value_usd: float
    event_time_ms: int
    source: str = "ws"  # "ws" (pushed) or "rest" (polled)

    def key(self) -> tuple:
        """What makes two reports the same event (the database's unique key)."""
        return (self.exchange, self.symbol, self.event_time_ms, self.side, self.price, self.quantity)

    def row(self) -> dict:
        return {"exchange": self.exchange, "symbol": self.symbol, "side": self.side, "price": self.price,
                "quantity": self.quantity, "value_usd": self.value_usd, "event_time_ms": self.event_time_ms,
                "source": self.source}


def make_event(exchange: str, symbol: str, side: str, price: float | None, quantity: float | None,
               time_ms: int | None, source: str) -> LiquidationEvent:
    """A checked event: ValueError unless price and quantity are positive and the time is known."""
    if not symbol:
        raise ValueError("no symbol")
    if price is None or price <= 0 or quantity is None or quantity <= 0:
        raise ValueError(f"{symbol}: price {price!r} or quantity {quantity!r} is not positive")
    if time_ms is None or time_ms <= 0:
        raise ValueError(f"{symbol}: no event time")
    return LiquidationEvent(exchange, symbol, side, price, quantity, price * quantity, int(time_ms), source)


def covered_fraction(spans: Iterable[tuple[int, int]], start_ms: int, end_ms: int) -> float:
    """The part of [start_ms, end_ms) inside the union of `spans` (overlaps counted once)."""
    clipped = sorted((max(a, start_ms), min(b, end_ms)) for a, b in spans if b > start_ms and a < end_ms)
    covered, reach = 0, start_ms
    for a, b in clipped:
        a = max(a, reach)
        if b > a:
            covered += b - a
            reach = b
    return covered / (end_ms - start_ms) if end_ms > start_ms else 0.0


@dataclass(frozen=True)
class VenueTotals:
    """Sums of one venue's stored events in a window."""

    exchange: str
    count: int
    long_usd: float
    short_usd: float
    largest_usd: float | None


@dataclass(frozen=True)
class LiquidationSummary:
    """One line of a liquidation report: a venue, or the market (`exchange == "all"`).

    `coverage` is the fraction of the window during which a collector or poller was
    reading this venue. With no coverage nothing is known: the amounts are None, not 0.
    `volume_usd` is V of docs/design.md#cascade-risk: 24 h volume / 24 × hours observed.
    """

    exchange: str
    window_hours: float
    coverage: float
    count: int | None
    long_usd: float | None
    short_usd: float | None
    total_usd: float | None
    long_liq_share: float | None
    largest_usd: float | None
    volume_usd: float | None
    cascade_risk_score: float | None
    level: str | None
    sampled: bool

    @property
    def observed(self) -> bool:
        return self.coverage > 0

    @property
    def insufficient(self) -> bool:
        """Read, but for less than MIN_COVERAGE of the window: amounts shown, no risk level."""
        return self.observed and self.coverage < MIN_COVERAGE


def _line(exchange: str, window_hours: float, coverage: float, count: int, long_usd: float, short_usd: float,
          largest: float | None, volume: float | None, sampled: bool) -> LiquidationSummary:
    total = long_usd + short_usd
    score = cascade_risk(total, long_usd, volume) if coverage >= MIN_COVERAGE else None
    return LiquidationSummary(
        exchange=exchange, window_hours=window_hours, coverage=coverage, count=count,
        long_usd=long_usd, short_usd=short_usd, total_usd=total,
        long_liq_share=long_usd / total if total > 0 else None,
        largest_usd=largest, volume_usd=volume, cascade_risk_score=score,
        level=cascade_level(score) if score is not None else None, sampled=sampled,
    )


def _unobserved(exchange: str, window_hours: float, sampled: bool) -> LiquidationSummary:
    return LiquidationSummary(exchange, window_hours, 0.0, None, None, None, None, None, None, None, None, None,
                              sampled)


def summarize_window(venues: Iterable[str], totals: Mapping[str, VenueTotals], coverage: Mapping[str, float],
                     volumes_24h: Mapping[str, float | None], window_hours: float,
                     sampled: Iterable[str] = ()) -> tuple[list[LiquidationSummary], LiquidationSummary | None]:
    """Per-venue lines (in `venues` order) and the market line over the observed venues.

    A venue's V is its 24 h volume / 24 × window hours × coverage: liquidations are compared
    with the trading that happened while they were being watched. The market line sums the
    observed venues; its V is None (and so its score, unless nothing was liquidated) when
    one of them has no volume; its coverage is the observed venues' coverage weighted by their
    volume (a plain mean when a volume is missing). A line read for less than MIN_COVERAGE of
    the window has its sums but no score or level. No observed venue: no market line.
    """
    sampled = set(sampled)
    lines, observed = [], []
    for venue in venues:
        cover = min(1.0, max(0.0, coverage.get(venue, 0.0)))
        if cover <= 0:
            lines.append(_unobserved(venue, window_hours, venue in sampled))
            continue
        t = totals.get(venue) or VenueTotals(venue, 0, 0.0, 0.0, None)
        vol = volumes_24h.get(venue)
        volume = vol / 24.0 * window_hours * cover if vol is not None and vol > 0 else None
        line = _line(venue, window_hours, cover, t.count, t.long_usd, t.short_usd, t.largest_usd, volume,
                     venue in sampled)
        lines.append(line)
        observed.append(line)
    if not observed:
        return lines, None
    volumes = [line.volume_usd for line in observed]
    largest = [line.largest_usd for line in observed if line.largest_usd is not None]
    market = _line(
        "all", window_hours, _market_coverage(observed, volumes_24h), sum(line.count for line in observed),
        sum(line.long_usd for line in observed), sum(line.short_usd for line in observed),
        max(largest) if largest else None, None if None in volumes else sum(volumes),
        any(line.sampled for line in observed),
    )
    return lines, market


def _market_coverage(observed: list[LiquidationSummary], volumes_24h: Mapping[str, float | None]) -> float:
    """The share of the observed venues' trading that was read: coverage weighted by 24 h volume."""
    weights = [volumes_24h.get(line.exchange) for line in observed]
    if any(w is None or w <= 0 for w in weights):
        return sum(line.coverage for line in observed) / len(observed)
    return sum(w * line.coverage for w, line in zip(weights, observed)) / sum(weights)
