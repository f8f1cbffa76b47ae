"""`backfill`: rebuild the hourly snapshots of the last N days from the venues' history.

1. The hours to fill are those in the window without any snapshot: live rows are never
   touched, and hours filled by an earlier run are not redone (so a rerun resumes).
2. Each venue downloads its whole window once (`Exchange.history`, 24 h more in front for
   the rolling 24 h figures), all venues at once, each pacing itself to its rate limits.
   A finished download is kept in the database until the run completes, so an interrupted
   run picks up where it stopped.
3. Oldest hour first, each hour's venue rows are rebuilt (`history.venue_at`) and scored by
   the same code as a live snapshot (`build_snapshot`, with the open-interest change against
   the stored snapshot of 24 h before), and stored with `source = 'backfill'` in its own
   transaction. A venue whose download failed is a failed row, as in a live snapshot.

What a venue has no history for stays null and is named in the venue's notes.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Sequence

from perps_tracker.errors import ExchangeError, TrackerError
from perps_tracker.model.history import DAY, HOUR, VenueHistory, hour_runs, venue_at
from perps_tracker.model.market import VenueSnapshot
from perps_tracker.model.times import utc
from perps_tracker.services.snapshot import CURRENCIES, OPTIONS_VENUE

MAX_DAYS = 30


class Cancelled(Exception):
    """Raised inside a download when the run is being interrupted."""


@dataclass(frozen=True)
class VenueOutcome:
    exchange: str
    status: str  # downloaded, kept (from an interrupted run), failed
    error: str | None = None
    symbols: int = 0
    symbols_failed: int = 0
    hours: int = 0  # hours of the window this venue contributed an ok row to
    notes: tuple[str, ...] = ()
    missing: tuple[tuple[int, int], ...] = ()  # planned hours without this venue's row: (first hour, hours)


@dataclass(frozen=True)
class BackfillResult:
    days: int
    first_hour: int
    last_hour: int
    planned: int  # hours without a snapshot when the run started
    stored: int
    existing: dict[str, int]  # source → hours already stored and left alone
    without_data: int  # planned hours no venue had history for
    venues: tuple[VenueOutcome, ...] = field(default=())
    unfilled: tuple[tuple[int, int], ...] = ()  # planned hours still without a snapshot: (first hour, hours)
    coins: "CoinBackfill | None" = None  # what --coins filled (None: no coin asked for)
    dvol: tuple["DvolFill", ...] = ()  # Deribit's DVOL per currency (none without Deribit)

    @property
    def failed_venues(self) -> list[VenueOutcome]:
        return [v for v in self.venues if v.status == "failed"]

    @property
    def incomplete(self) -> bool:
        """Hours still missing, or a venue's history (or a coin's) could not be read: `backfill` exits 3."""
        return bool(self.unfilled or self.failed_venues or (self.coins and self.coins.failed_venues)
                    or any(d.error for d in self.dvol))


@dataclass(frozen=True)
class DvolFill:
    """DVOL history of one currency stored in `options_snapshots` (the chain's figures have no history)."""

    currency: str
    rows: int = 0  # hours added (hours with a row already are left alone)
    error: str | None = None


@dataclass
class Reporter:
    """Progress callbacks (the CLI draws them with rich; tests and --quiet pass nothing)."""

    venue_progress: Callable[[str, int, int], None] = lambda venue, done, total: None
    venue_done: Callable[[VenueOutcome], None] = lambda outcome: None
    store_progress: Callable[[int, int], None] = lambda done, total: None
    coin_progress: Callable[[str, int, int], None] = lambda venue, done, total: None  # markets of --coins


def window(now: datetime, days: int) -> tuple[int, int]:
    """The first and last hour to fill: `days` × 24 hours ending with the hour before the current one
    (the current hour is the live snapshot's)."""
    current = int(now.timestamp()) // HOUR * HOUR
    return current - days * DAY, current - HOUR


def backfill(rt, days: int, now: datetime, venue_ids: Sequence[str], reporter: Reporter | None = None,
             coins: Sequence[str] = ()) -> BackfillResult:
    """Fill the missing hours of the last `days` days (`rt`: the command's Runtime), then the rows of
    `coins`' markets in `instrument_snapshots` (`backfill_coins`). Raises TrackerError when no venue
    could be read at all (nothing is stored); KeyboardInterrupt leaves what was stored and downloaded."""
    if not 1 <= days <= MAX_DAYS:
        raise TrackerError(f"--days must be between 1 and {MAX_DAYS}")
    reporter = reporter or Reporter()
    result = _backfill_hours(rt, days, now, venue_ids, reporter)
    if coins:
        result = replace(result, coins=backfill_coins(rt, coins, days, now, venue_ids, reporter.coin_progress))
    if OPTIONS_VENUE in venue_ids:
        result = replace(result, dvol=backfill_dvol(rt, *window(now, days)))
    return result


def backfill_dvol(rt, first: int, last: int) -> tuple[DvolFill, ...]:
    """Deribit's hourly DVOL of each options currency for the hours of [first, last] without a row in
    `options_snapshots` (rows marked backfill; the chain-based figures stay empty: no public history)."""
    from perps_tracker.storage.options import add_backfilled_dvol, hours_with_dvol

    venue, db, got = rt.venue(OPTIONS_VENUE, deadline=False), rt.db(), []
    for currency in CURRENCIES:
        missing = sorted(set(range(first, last + HOUR, HOUR)) - hours_with_dvol(db, currency, first, last))
        if not missing:  # every hour has its DVOL: nothing to download (a rerun)
            got.append(DvolFill(currency))
            continue
        try:
            series = venue.dvol_history(currency, missing[0] - HOUR, missing[-1])
        except ExchangeError as e:
            got.append(DvolFill(currency, error=e.reason))
            continue
        wanted = set(missing)
        got.append(DvolFill(currency, add_backfilled_dvol(db, currency, {t: v for t, v in series.items()
                                                                          if t in wanted})))
    return tuple(got)


def _backfill_hours(rt, days: int, now: datetime, venue_ids: Sequence[str], reporter: Reporter) -> BackfillResult:
    from perps_tracker.storage import backfill as store

    first, last = window(now, days)
    db = rt.db()
    existing = store.stored_hours(db, first, last)
    planned = [h for h in range(first, last + 1, HOUR) if h not in existing]
    counts: dict[str, int] = {}
    for source in existing.values():
        counts[source] = counts.get(source, 0) + 1
    if not planned:
        return BackfillResult(days, first, last, 0, 0, counts, 0)
    # Candles opening in [H − 24 h, H) rebuild hour H; the download reaches one hour past the
    # newest planned hour so that the funding settled and open interest at that hour are in it.
    histories, outcomes = _download_all(rt, venue_ids, planned[0] - DAY, planned[-1] + HOUR, now, reporter)
    if not histories:
        reasons = "; ".join(f"{o.exchange}: {o.error}" for o in outcomes)
        raise TrackerError(f"no venue's history could be read, nothing stored ({reasons})")
    stored = _store_hours(db, planned, histories, outcomes, venue_ids, reporter)
    store.forget_histories(db)
    return _result(days, first, last, planned, counts, stored, outcomes)


@dataclass
class _Stored:
    """What storing the planned hours did: per venue the hours it gave a row to; hours left without data,
    and hours a live snapshot took meanwhile."""

    hours_ok: dict[str, set[int]]
    without: int = 0
    meanwhile: set[int] = field(default_factory=set)


def _store_hours(db, planned: list[int], histories, outcomes, venue_ids, reporter: Reporter) -> _Stored:
    """Rebuild and store each planned hour, oldest first, each in its own transaction."""
    from perps_tracker.exchanges import EXCHANGES
    from perps_tracker.model.snapshot import build_snapshot
    from perps_tracker.storage.snapshots import previous_oi, store_snapshot

    done = _Stored({v: set() for v in venue_ids})
    order = {v: i for i, v in enumerate(venue_ids)}
    failed_rows = [VenueSnapshot.failed(o.exchange, EXCHANGES[o.exchange].kind, o.error or "failed")
                   for o in outcomes if o.status == "failed"]
    for n, hour in enumerate(planned, 1):
        rows = sorted([venue_at(h, hour) for h in histories] + failed_rows, key=lambda r: order[r.exchange])
        ok = [r for r in rows if r.ok]
        if not ok:
            done.without += 1
        elif store_snapshot(db, build_snapshot(rows, utc(hour), previous_oi(db, hour)), source="backfill",
                            keep_existing=True) is None:
            done.meanwhile.add(hour)  # a live snapshot took this hour during the run
        else:
            for r in ok:
                done.hours_ok[r.exchange].add(hour)
        reporter.store_progress(n, len(planned))
    return done


def _result(days, first, last, planned, counts, stored: _Stored, outcomes) -> BackfillResult:
    filled = [h for h in planned if h not in stored.meanwhile]
    outcomes = [VenueOutcome(o.exchange, o.status, o.error, o.symbols, o.symbols_failed,
                             len(stored.hours_ok[o.exchange]), o.notes,
                             tuple(hour_runs(h for h in filled if h not in stored.hours_ok[o.exchange])))
                for o in outcomes]
    with_rows = set().union(*stored.hours_ok.values())
    unfilled = tuple(hour_runs(h for h in filled if h not in with_rows))
    return BackfillResult(days, first, last, len(planned), len(with_rows), counts, stored.without, tuple(outcomes),
                          unfilled)


def _download_all(rt, venue_ids, start, end, now, reporter):
    """Every venue's history (kept from an interrupted run, or downloaded, all at once); returns
    (histories, outcomes) in venue order. Each download is kept as soon as it finishes."""
    from concurrent.futures import as_completed

    from perps_tracker.storage import backfill as store

    db = rt.db()
    results: dict[str, VenueHistory | VenueOutcome] = {}
    kept = set()
    for venue in venue_ids:
        history = store.cached_history(db, venue, start, end)
        if history is not None:
            results[venue] = history
            kept.add(venue)
            reporter.venue_progress(venue, 1, 1)
            reporter.venue_done(_outcome(venue, history, True))
    todo = [v for v in venue_ids if v not in results]
    if todo:
        cancel = threading.Event()

        def one(venue: str) -> VenueHistory | VenueOutcome:
            def report(done: int, total: int) -> None:
                if cancel.is_set():
                    raise Cancelled()
                reporter.venue_progress(venue, done, total)

            try:
                return rt.venue(venue, deadline=False).history(start, end, report)
            except ExchangeError as e:
                return VenueOutcome(venue, "failed", e.reason)

        from perps_tracker.exchanges import EXCHANGES

        for venue in todo:  # the venues' modules imported here, not by the threads at once
            EXCHANGES[venue]
        pool = ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="backfill-")
        try:
            futures = {pool.submit(one, venue): venue for venue in todo}
            for future in as_completed(futures):
                venue = futures[future]
                results[venue] = future.result()
                if isinstance(results[venue], VenueHistory):
                    store.keep_history(db, results[venue], int(now.timestamp()))
                reporter.venue_done(_outcome(venue, results[venue], False))
        except BaseException:
            # Downloads stop at their next request; finished ones are already kept. Nothing a
            # download still running could store, so the interruption does not wait for it.
            cancel.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    histories = [results[v] for v in venue_ids if isinstance(results[v], VenueHistory)]
    outcomes = [_outcome(v, results[v], v in kept) for v in venue_ids]
    return histories, outcomes


def _outcome(venue: str, result, kept: bool) -> VenueOutcome:
    if isinstance(result, VenueOutcome):
        return result
    return VenueOutcome(venue, "kept" if kept else "downloaded", None, result.symbols, result.symbols_failed, 0,
                        result.notes)


# -- backfill --coins: the per-instrument layer -----------------------------------------------------------


@dataclass(frozen=True)
class CoinVenue:
    """What `backfill --coins` did on one venue."""

    exchange: str
    status: str  # filled, complete (every hour already stored), unlisted (no market of these coins), failed
    error: str | None = None
    markets: int = 0  # today's markets of the coins
    markets_failed: int = 0  # of those to fill, those whose candles could not be read
    rows: int = 0  # rows added
    missing: int = 0  # (hour, market) pairs still without a row: the venue has no history for them
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CoinBackfill:
    coins: tuple[str, ...]
    first_hour: int
    last_hour: int
    venues: tuple[CoinVenue, ...]
    unlisted: tuple[str, ...]  # coins no venue that answered lists today

    @property
    def rows(self) -> int:
        return sum(v.rows for v in self.venues)

    @property
    def failed_venues(self) -> list[CoinVenue]:
        return [v for v in self.venues if v.status == "failed"]


def coin_list(text: str | Sequence[str]) -> tuple[str, ...]:
    """`BTC, eth,SOL` → ('BTC', 'ETH', 'SOL'), each once, in order."""
    items = text.split(",") if isinstance(text, str) else text
    return tuple(dict.fromkeys(c.strip().upper() for c in items if c.strip()))


def backfill_coins(rt, coins: Sequence[str], days: int, now: datetime, venue_ids: Sequence[str],
                   progress: Callable[[str, int, int], None] | None = None) -> CoinBackfill:
    """Fill `instrument_snapshots` for the markets of `coins` over the hours of `window(now, days)` that have
    no row for them, from the venues' history endpoints (`exchanges.history.market_histories`), rows marked
    backfill. The markets are today's (the venue's live listing, with the snapshot's inclusion rules); an
    (hour, market) already stored, live or backfilled, is never touched, so a rerun resumes where one stopped.
    Each venue's rows are stored in one transaction as its download finishes (all venues download at once).
    `progress(venue, markets done, markets)`."""
    from concurrent.futures import as_completed

    from perps_tracker.storage.instruments import store_backfilled

    if not 1 <= days <= MAX_DAYS:
        raise TrackerError(f"--days must be between 1 and {MAX_DAYS}")
    first, last = window(now, days)
    wanted, table = frozenset(coins), rt.coins()
    listed: set[str] = set()
    outcomes: dict[str, CoinVenue] = {}
    db = rt.db()  # opened here, not by the threads at once
    from perps_tracker.exchanges import EXCHANGES

    for venue in venue_ids:  # the venues' modules imported here, not by the threads at once
        EXCHANGES[venue]
    pool = ThreadPoolExecutor(max_workers=len(venue_ids), thread_name_prefix="coins-")
    try:
        futures = {pool.submit(_coin_venue, rt, venue, wanted, table, first, last, progress): venue
                   for venue in venue_ids}
        for future in as_completed(futures):
            outcome, rows, coins_listed = future.result()
            listed |= coins_listed
            if rows:
                outcome = replace(outcome, rows=store_backfilled(db, rows))
            outcomes[outcome.exchange] = outcome
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    unlisted = tuple(c for c in coins if c not in listed)
    return CoinBackfill(tuple(coins), first, last, tuple(outcomes[v] for v in venue_ids), unlisted)


def _coin_venue(rt, venue: str, wanted: frozenset[str], table, first: int, last: int, progress):
    """One venue's part of `backfill_coins`: (outcome without the rows stored, the rows, coins listed)."""
    from perps_tracker.exchanges import EXCHANGES
    from perps_tracker.exchanges.history import market_histories
    from perps_tracker.model.history import market_at
    from perps_tracker.model.instruments import instrument_rows
    from perps_tracker.services.fetch import fetch_one
    from perps_tracker.storage.instruments import market_hours

    snap = fetch_one(EXCHANGES[venue], rt.client(), rt.settings.venue_url(venue), rt.settings["http.venue_timeout"])
    if not snap.ok:
        return CoinVenue(venue, "failed", f"market list not read: {snap.error}"), [], set()
    markets = [m for m in snap.instruments or () if table.normalise(m.base, venue)[0] in wanted]
    listed = {table.normalise(m.base, venue)[0] for m in markets}
    if not markets:
        return CoinVenue(venue, "unlisted"), [], listed
    stored = market_hours(rt.db(), venue, [m.symbol for m in markets], first, last)
    todo = {m.symbol: [h for h in range(first, last + HOUR, HOUR) if h not in stored.get(m.symbol, ())]
            for m in markets}
    todo_markets = [m for m in markets if todo[m.symbol]]
    if not todo_markets:
        return CoinVenue(venue, "complete", markets=len(markets)), [], listed
    start = min(todo[m.symbol][0] for m in todo_markets) - DAY  # the 24 h before the first hour: its volume
    end = max(todo[m.symbol][-1] for m in todo_markets) + HOUR  # the funding settled at the last hour
    report = None if progress is None else lambda done, total: progress(venue, done, total)
    try:
        results, notes = market_histories(rt.venue(venue, deadline=False), todo_markets, start, end, report)
    except ExchangeError as e:
        return CoinVenue(venue, "failed", e.reason, len(markets)), [], listed
    rows, missing, failures = [], 0, []
    for market, got in zip(todo_markets, results):
        if isinstance(got, ExchangeError):
            failures.append(f"{market.symbol}: {got.reason}")
            missing += len(todo[market.symbol])
            continue
        for hour in todo[market.symbol]:
            rebuilt = market_at(got, hour)
            if rebuilt is None:
                missing += 1
            else:
                rows += instrument_rows(venue, [rebuilt], hour, table, source="backfill")
    if len(failures) == len(todo_markets):
        return CoinVenue(venue, "failed", f"history not read ({failures[0]})", len(markets), len(failures),
                         missing=missing, notes=notes), [], listed
    if failures:
        notes += (f"history of {len(failures)} of {len(todo_markets)} markets not read ({failures[0]})",)
    return CoinVenue(venue, "filled", None, len(markets), len(failures), 0, missing, notes), rows, listed
