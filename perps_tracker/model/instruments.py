"""The per-instrument layer: every included market of every venue, per hour, per one coin.

`instrument_rows` turns a venue's markets into the rows of `instrument_snapshots` (prices per one
coin, the coin and its multiplier from `model.coins`); `coin_view`, `funding_opportunities` and
`sector_lines` are the `coin`, `funding` and `sectors` commands' figures over one hour's rows.
Units as everywhere: `_usd` dollars, `_pct` percent, `_bps` basis points, `funding_rate_8h` a
fraction per 8 hours, `funding_apr_pct` = f8 × 3 × 365 × 100.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from perps_tracker.model.coins import Coins
from perps_tracker.model.market import Market

APR_PER_8H = 3 * 365 * 100  # a fraction per 8 hours as percent per year
DEFAULT_MIN_VOLUME = 1_000_000.0  # `funding`: each leg's 24 h volume at least this (USD)


@dataclass(frozen=True)
class InstrumentRow:
    """One market of one venue in one hour: the columns of `instrument_snapshots`."""

    timestamp: int
    exchange: str
    symbol: str
    coin: str
    multiplier: float
    quote: str
    price: float | None  # last (mark, then index, where a venue has no last), per one coin
    mark_price: float | None
    index_price: float | None
    volume_24h_usd: float | None
    open_interest_usd: float | None
    funding_rate: float | None
    funding_interval_h: float | None
    funding_rate_8h: float | None
    next_funding_time: int | None
    price_change_24h_pct: float | None
    source: str = "live"


def _per_coin(price: float | None, multiplier: float) -> float | None:
    return None if price is None else price / multiplier


def instrument_rows(exchange: str, markets: Iterable[Market], timestamp: int, coins: Coins,
                    source: str = "live") -> list[InstrumentRow]:
    """The rows of one venue's markets; a symbol met twice is kept once (the first)."""
    rows, seen = [], set()
    for m in markets:
        if m.symbol in seen:
            continue
        seen.add(m.symbol)
        coin, multiplier = coins.normalise(m.base, exchange)
        price = next((p for p in (m.last_price, m.mark_price, m.index_price) if p is not None), None)
        rows.append(InstrumentRow(
            timestamp=timestamp, exchange=exchange, symbol=m.symbol, coin=coin, multiplier=multiplier,
            quote=m.quote, price=_per_coin(price, multiplier), mark_price=_per_coin(m.mark_price, multiplier),
            index_price=_per_coin(m.index_price, multiplier), volume_24h_usd=m.volume_24h_usd,
            open_interest_usd=m.open_interest_usd, funding_rate=m.funding_rate,
            funding_interval_h=m.funding_interval_h, funding_rate_8h=m.funding_rate_8h,
            next_funding_time=m.next_funding_time, price_change_24h_pct=m.price_change_24h_pct, source=source))
    return rows


def apr_pct(rate_8h: float | None) -> float | None:
    return None if rate_8h is None else rate_8h * APR_PER_8H


def weighted(pairs: Iterable[tuple[float | None, float | None]]) -> float | None:
    """The mean of the values weighted by their weights, over the pairs that have both (weight > 0)."""
    total = weight_sum = 0.0
    for value, weight in pairs:
        if value is not None and weight is not None and weight > 0:
            total += value * weight
            weight_sum += weight
    return total / weight_sum if weight_sum > 0 else None


def _sum(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return math.fsum(present) if present else None


def _share(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else part / whole * 100


@dataclass(frozen=True)
class CoinTotals:
    """One coin over its markets: summed volume and OI, volume-weighted price and funding, the widest
    price gap between two markets, volume-weighted 24 h change."""

    volume_24h_usd: float | None
    open_interest_usd: float | None
    price: float | None
    funding_rate_8h: float | None
    max_spread_bps: float | None
    price_change_24h_pct: float | None
    markets: int


TOTALS_FIELDS = ("price", "volume_24h_usd", "open_interest_usd", "funding_rate_8h", "price_change_24h_pct")


def coin_totals(rows: Sequence[InstrumentRow]) -> CoinTotals:
    return totals_of([(r.price, r.volume_24h_usd, r.open_interest_usd, r.funding_rate_8h, r.price_change_24h_pct)
                      for r in rows])


def totals_of(points: Sequence[Sequence[float | None]]) -> CoinTotals:
    """`coin_totals` of markets given as tuples of their `TOTALS_FIELDS` (a coin's hourly history
    is read as such tuples: ~12,000 a month for BTC, too many to build rows of)."""
    prices = [p[0] for p in points if p[0] is not None and p[0] > 0]
    spread = (max(prices) - min(prices)) / min(prices) * 1e4 if len(prices) >= 2 else None
    return CoinTotals(
        volume_24h_usd=_sum(p[1] for p in points),
        open_interest_usd=_sum(p[2] for p in points),
        price=weighted((p[0], p[1]) for p in points),
        funding_rate_8h=weighted((p[3], p[1]) for p in points),
        max_spread_bps=spread,
        price_change_24h_pct=weighted((p[4], p[1]) for p in points),
        markets=len(points),
    )


@dataclass(frozen=True)
class CoinVenue:
    """One market of a coin (`coin` command), beside the coin's totals."""

    exchange: str
    symbol: str
    multiplier: float
    price: float | None
    mark_price: float | None
    index_price: float | None
    basis_pct: float | None  # mark / index − 1, in %
    volume_24h_usd: float | None
    volume_share: float | None  # % of the coin's volume
    open_interest_usd: float | None
    oi_share: float | None
    funding_rate_8h: float | None
    funding_apr_pct: float | None
    funding_interval_h: float | None
    next_funding_time: int | None
    price_change_24h_pct: float | None
    price_dev_bps: float | None  # price against the coin's volume-weighted price


@dataclass(frozen=True)
class CoinView:
    coin: str
    sector: str
    timestamp: int | None
    venues: tuple[CoinVenue, ...]
    total: CoinTotals


def coin_view(coin: str, sector: str, timestamp: int | None, rows: Sequence[InstrumentRow]) -> CoinView:
    """The `coin` command's figures over one hour's rows of that coin, largest volume first."""
    total = coin_totals(rows)
    venues = []
    for r in rows:
        basis = (r.mark_price / r.index_price - 1) * 100 if r.mark_price and r.index_price else None
        dev = (r.price / total.price - 1) * 1e4 if r.price is not None and total.price else None
        venues.append(CoinVenue(
            exchange=r.exchange, symbol=r.symbol, multiplier=r.multiplier, price=r.price,
            mark_price=r.mark_price, index_price=r.index_price, basis_pct=basis,
            volume_24h_usd=r.volume_24h_usd, volume_share=_share(r.volume_24h_usd, total.volume_24h_usd),
            open_interest_usd=r.open_interest_usd, oi_share=_share(r.open_interest_usd, total.open_interest_usd),
            funding_rate_8h=r.funding_rate_8h, funding_apr_pct=apr_pct(r.funding_rate_8h),
            funding_interval_h=r.funding_interval_h, next_funding_time=r.next_funding_time,
            price_change_24h_pct=r.price_change_24h_pct, price_dev_bps=dev))
    venues.sort(key=lambda v: (-(v.volume_24h_usd or 0.0), v.exchange, v.symbol))
    return CoinView(coin, sector, timestamp, tuple(venues), total)


@dataclass(frozen=True)
class FundingLeg:
    exchange: str
    symbol: str
    funding_rate_8h: float
    funding_interval_h: float | None
    volume_24h_usd: float


@dataclass(frozen=True)
class Opportunity:
    """Short the venue paying the most funding, long the one paying the least (`funding` command)."""

    coin: str
    short: FundingLeg
    long: FundingLeg
    spread_8h: float  # short − long, fraction per 8 h
    apr_pct: float
    intervals_differ: bool  # the legs settle at different intervals: the spread is not paid in step


def _leg(r: InstrumentRow) -> FundingLeg:
    return FundingLeg(r.exchange, r.symbol, r.funding_rate_8h, r.funding_interval_h, r.volume_24h_usd)


def funding_opportunities(rows: Iterable[InstrumentRow], min_volume: float = DEFAULT_MIN_VOLUME,
                          top: int | None = None) -> list[Opportunity]:
    """Per coin listed on two or more venues with at least `min_volume` on each leg, the widest
    funding spread between two markets on different venues; highest APR first."""
    legs: dict[str, list[InstrumentRow]] = {}
    for r in rows:
        if r.funding_rate_8h is not None and r.volume_24h_usd is not None and r.volume_24h_usd >= min_volume:
            legs.setdefault(r.coin, []).append(r)
    found = []
    for coin, markets in legs.items():
        best = None
        for high in markets:
            for low in markets:
                if high.exchange == low.exchange:
                    continue
                spread = high.funding_rate_8h - low.funding_rate_8h
                key = (spread, high.volume_24h_usd + low.volume_24h_usd)
                if best is None or key > best[0]:
                    best = (key, high, low)
        if best is None:
            continue
        (spread, _), high, low = best
        found.append(Opportunity(coin, _leg(high), _leg(low), spread, spread * APR_PER_8H,
                                 high.funding_interval_h != low.funding_interval_h))
    found.sort(key=lambda o: (-o.apr_pct, o.coin))
    return found if top is None else found[:max(top, 0)]


@dataclass(frozen=True)
class SectorLine:
    sector: str
    coins: int
    markets: int
    volume_24h_usd: float | None
    open_interest_usd: float | None
    funding_rate_8h: float | None  # weighted by volume
    price_change_24h_pct: float | None  # weighted by volume


def sector_lines(rows: Iterable[InstrumentRow], coins: Coins) -> list[SectorLine]:
    """Per sector (of the coins present), largest volume first."""
    by_sector: dict[str, list[InstrumentRow]] = {}
    for r in rows:
        by_sector.setdefault(coins.sector(r.coin), []).append(r)
    lines = []
    for sector, members in by_sector.items():
        lines.append(SectorLine(
            sector=sector, coins=len({r.coin for r in members}), markets=len(members),
            volume_24h_usd=_sum(r.volume_24h_usd for r in members),
            open_interest_usd=_sum(r.open_interest_usd for r in members),
            funding_rate_8h=weighted((r.funding_rate_8h, r.volume_24h_usd) for r in members),
            price_change_24h_pct=weighted((r.price_change_24h_pct, r.volume_24h_usd) for r in members)))
    lines.sort(key=lambda s: (-(s.volume_24h_usd or 0.0), s.sector))
    return lines


def by_coin(rows: Iterable[InstrumentRow]) -> Mapping[str, list[InstrumentRow]]:
    grouped: dict[str, list[InstrumentRow]] = {}
    for r in rows:
        grouped.setdefault(r.coin, []).append(r)
    return grouped
