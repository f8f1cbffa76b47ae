"""`coin`, `funding`, `sectors`: the per-instrument layer's read commands.

Each reads the newest stored hour of `instrument_snapshots`; when that is an hour old or more (or
there is none) it first takes a snapshot of every venue, as `snapshot` does, unless `no_fetch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Sequence

from perps_tracker.errors import DatabaseError, TrackerError
from perps_tracker.model.instruments import (
    DEFAULT_MIN_VOLUME,
    CoinTotals,
    CoinView,
    InstrumentRow,
    Opportunity,
    SectorLine,
    by_coin,
    coin_totals,
    totals_of,
    coin_view,
    funding_opportunities,
    sector_lines,
)
from perps_tracker.model.market import VenueSnapshot
from perps_tracker.model.times import HOUR

NO_ROWS = ("no per-market rows stored yet: take a snapshot with `perps-tracker snapshot` "
           "(or run this without --no-fetch)")


@dataclass(frozen=True)
class Current:
    """The hour read: its timestamp, its rows, and the failed venues of a snapshot taken for it."""

    timestamp: int
    rows: list[InstrumentRow]
    fetched: bool = False
    failed: tuple[VenueSnapshot, ...] = ()


def _taken_at(rt, hour: int) -> int:
    from perps_tracker.storage.db import guard

    with guard("reading snapshots"), rt.reader().reading() as read:
        taken = read.scalar("SELECT taken_at FROM market_snapshots WHERE timestamp = :t", {"t": hour})
    return hour if taken is None else int(taken)


def current_rows(rt, now: datetime, *, no_fetch: bool, coins: Sequence[str] | None = None,
                 on_venue: Callable[[VenueSnapshot], None] | None = None) -> Current:
    """The newest hour's rows (of `coins` only, when given); a fresh snapshot first when the newest is
    an hour old or more, unless `no_fetch`."""
    from perps_tracker.storage.instruments import read_hour

    hour, rows = None, []
    if no_fetch or rt.has_database():
        try:
            hour, rows = read_hour(rt.reader(), coins=coins)
        except DatabaseError:
            if no_fetch:
                raise
            # e.g. a schema older than this version reads: the snapshot opens it for writing (and
            # upgrades it), or says what is wrong with it
    if no_fetch or (hour is not None and now.timestamp() - _taken_at(rt, hour) < HOUR):
        if hour is None:
            raise TrackerError(NO_ROWS)
        return Current(hour, rows)
    from perps_tracker.exchanges import EXCHANGES
    from perps_tracker.services.snapshot import take_snapshot

    rt.reopen_for_writing()
    snap = take_snapshot(rt, list(EXCHANGES), now, on_venue=on_venue)
    hour, rows = read_hour(rt.db(), snap.timestamp, coins)
    return Current(snap.timestamp, rows, fetched=True, failed=snap.failed_now)


@dataclass(frozen=True)
class CoinReport:
    view: CoinView
    history: tuple[tuple[int, CoinTotals], ...] | None  # (hour, totals), oldest first; None without --hours
    current: Current


def coin_report(rt, coin: str, now: datetime, *, hours: int | None, no_fetch: bool,
                on_venue: Callable[[VenueSnapshot], None] | None = None) -> CoinReport:
    """One coin on every venue, and with `hours` its hourly totals up to the hour read."""
    from perps_tracker.storage.instruments import read_coin_points

    coin = coin.strip().upper()
    coins = rt.coins()
    current = current_rows(rt, now, no_fetch=no_fetch, coins=[coin], on_venue=on_venue)
    if not current.rows:
        raise TrackerError(f"{coin} is not listed on any venue in the snapshot of the hour "
                           f"{_hour_text(current.timestamp)}")
    history = None
    if hours is not None:
        points = read_coin_points(rt.reader(), coin, current.timestamp - (hours - 1) * HOUR, current.timestamp)
        history = tuple((t, totals_of(members)) for t, members in sorted(points.items()))
    return CoinReport(coin_view(coin, coins.sector(coin), current.timestamp, current.rows), history, current)


@dataclass(frozen=True)
class FundingReport:
    opportunities: list[Opportunity]
    min_volume: float
    current: Current


def funding_report(rt, now: datetime, *, min_volume: float = DEFAULT_MIN_VOLUME, top: int | None = None,
                   no_fetch: bool, on_venue: Callable[[VenueSnapshot], None] | None = None) -> FundingReport:
    current = current_rows(rt, now, no_fetch=no_fetch, on_venue=on_venue)
    return FundingReport(funding_opportunities(current.rows, min_volume, top), min_volume, current)


@dataclass(frozen=True)
class SectorsReport:
    lines: list[SectorLine]
    current: Current


def sectors_report(rt, now: datetime, *, no_fetch: bool,
                   on_venue: Callable[[VenueSnapshot], None] | None = None) -> SectorsReport:
    current = current_rows(rt, now, no_fetch=no_fetch, on_venue=on_venue)
    return SectorsReport(sector_lines(current.rows, rt.coins()), current)


def watchlist_totals(rt, timestamp: int) -> list[tuple[str, CoinTotals | None]]:
    """The watchlist's coins in the hour `timestamp` (None: not listed anywhere that hour)."""
    from perps_tracker.storage.instruments import read_hour

    watch = rt.watchlist()
    _, rows = read_hour(rt.db(), timestamp, watch)
    grouped = by_coin(rows)
    return [(coin, coin_totals(grouped[coin]) if coin in grouped else None) for coin in watch]


def _hour_text(ts: int) -> str:
    from perps_tracker.model.times import utc_minute

    return utc_minute(ts)
