"""The history download engine every venue's `history()` runs on (`backfill`).

Helpers for now; the engine proper follows.
"""

from __future__ import annotations

from typing import Iterable, Mapping, NamedTuple

from perps_tracker.errors import ExchangeError
from perps_tracker.model.history import HistoryBuilder
from perps_tracker.model.times import HOUR, utc_minute

utc = utc_minute  # for notes: `2026-11-22 11:00 UTC`


def time_windows(start: int, end: int, points: int) -> list[tuple[int, int]]:
    """[from, to) windows of at most `points` − 1 hours covering [start, end): asked for with both
    bounds, a window holds at most `points` hourly rows whether the venue reads `to` as inclusive
    or not, so whichever end a full page is cut from, nothing is lost."""
    step = max(points - 1, 1) * HOUR
    return [(s, min(s + step, end)) for s in range(start, end, step)]


def settlement_hour(time_ms: int) -> int:
    """The whole hour (Unix seconds) a funding settlement stamped `time_ms` belongs to: the nearest one
    (venues stamp it a few ms, or a block, after the hour)."""
    return int(round(time_ms / 1000 / HOUR)) * HOUR


def pick_btc_symbol(bases: Mapping[str, tuple[str, str]], volumes: Mapping[str, float],
                    failures: Mapping[str, ExchangeError]) -> str | None:
    """The BTC perpetual `pick_btc` would choose: BTC base, USDT before USDC before USD, then the most
    volume over the window. `bases`: symbol → (base, quote). Raises the error of a best-ranked BTC
    market whose candles failed (the choice would be a guess)."""
    rank = {"USDT": 0, "USDC": 1, "USD": 2}
    btc = [s for s, (base, _) in bases.items() if base == "BTC"]
    if not btc:
        return None
    best = min(rank.get(bases[s][1], 9) for s in btc)
    top = [s for s in btc if rank.get(bases[s][1], 9) == best]
    for symbol in top:
        if symbol in failures:
            raise failures[symbol]
    return max(top, key=lambda s: volumes.get(s, 0.0))


def skipped_note(count: int) -> list[str]:
    """The note on malformed records a download skipped (none if it skipped none)."""
    return [f"{count} malformed history record{'s' if count != 1 else ''} skipped"] if count else []


def covers_from(series: Mapping[int, float] | None, start: int) -> int | None:
    """The first time of `series` when it begins more than an hour after `start` (history cut short), else None."""
    if not series:
        return None
    first = min(series)
    return first if first > start + HOUR else None




class MarketHistory(NamedTuple):
    """One market's download: candles and open interest (or why the latter is missing)."""

    candles: list[tuple[int, float, float, float]]  # (open time s, open, close, quote volume USD)
    open_interest: list[tuple[int, float]] | Exception  # (time s, USD), or the ExchangeError


def collect_markets(ids: Iterable[str], results: Iterable[MarketHistory | Exception]
                    ) -> tuple[HistoryBuilder, dict[str, list], dict[str, Exception]]:
    """Sum per-market downloads into a HistoryBuilder. A market whose candles or open interest
    failed is left out of every sum (counted in `failed`); its candles are still returned, for
    the BTC series. Returns (builder, candles by market, failure by market)."""
    builder, candles_of, failures = HistoryBuilder(), {}, {}
    for market, got in zip(ids, results):
        if isinstance(got, Exception):
            failures[market] = got
            continue
        candles_of[market] = got.candles
        if isinstance(got.open_interest, Exception):
            failures[market] = got.open_interest
            continue
        builder.add_candles((t, volume, None) for t, _, _, volume in got.candles)
        builder.add_open_interest(got.open_interest)
    builder.failed = len(failures)
    return builder, candles_of, failures
