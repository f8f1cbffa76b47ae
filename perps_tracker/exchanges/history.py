"""The history engine every venue's `history()` runs on (`backfill`).

A venue declares its history endpoints (path, query parameters, parser, paging) and how to pace
them; the engine does the rest:

- `Download` is one venue's download. Every request goes through `Download.get`: paced (the
  venue's `pace` hook spends its documented limits), retried by the shared HTTP client (429,
  5xx, timeouts; `Retry-After` honoured), counted for the progress bar (`Tally`: planned up
  front, pages beyond the plan added as they come), and parsed by the venue's parser (a
  malformed row is counted in `skipped`). Its `notes` say what the history lacks.
- Paging is a declaration: `Windows` (fixed time windows, each asked with both bounds),
  `Back` (newest first: the upper bound moves down to the oldest row of each page), `Forward`
  (oldest first: the lower bound moves up past the newest row), `Cursor` (each page names the
  next). `Download.series` walks any of them, one row per time, with one guard against a page
  that makes no progress or a listing that never ends; `Download.walk` gives the rows page by page.
- The per-market fan-out (`Download.markets`), the choice of the BTC market (`Download.btc_market`),
  the optional BTC series (`Download.extras`) and the notes every venue shares (`Download.finish`).
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, NamedTuple, Sequence, TypeVar

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.pacing import Pacer, SafeSkips, Tally
from perps_tracker.exchanges.parsing import funding_series
from perps_tracker.model.history import MARKET_LIST_NOTE, HistoryBuilder, MarketSeries, Progress, VenueHistory
from perps_tracker.model.market import QUOTE_RANK, Market
from perps_tracker.model.times import DAY, HOUR, utc_minute

T = TypeVar("T")
R = TypeVar("R")
MAX_PAGES = 100  # per series: a guard against a window that never ends

utc = utc_minute  # for notes: `2026-11-22 11:00 UTC`


def time_windows(start: int, end: int, points: int) -> list[tuple[int, int]]:
    """[from, to) windows of at most `points` − 1 hours covering [start, end): asked for with both
    bounds, a window holds at most `points` hourly rows whether the venue reads `to` as inclusive
    or not, so whichever end a full page is cut from, nothing is lost."""
    step = max(points - 1, 1) * HOUR
    return [(s, min(s + step, end)) for s in range(start, end, step)]


def pages(rows: int, limit: int) -> int:
    """Requests needed for `rows` rows at `limit` a page (at least one): a series' share of the plan."""
    return max(1, math.ceil(rows / limit))


def hour_pages(start: int | None, end: int, limit: int) -> int:
    """`pages` of the hourly rows of [start, end) (at least one hour); none from a `start` of None (a
    series that is not asked for)."""
    return 0 if start is None else pages(max(1, (end - start) // HOUR), limit)


def settlement_hour(time_ms: int) -> int:
    """The whole hour (Unix seconds) a funding settlement stamped `time_ms` belongs to: the nearest one
    (venues stamp it a few ms, or a block, after the hour)."""
    return int(round(time_ms / 1000 / HOUR)) * HOUR


def pick_btc_symbol(bases: Mapping[str, tuple[str, str]], volumes: Mapping[str, float],
                    failures: Mapping[str, ExchangeError]) -> str | None:
    """The BTC perpetual `pick_btc` would choose: BTC base, USDT before USDC before USD, then the most
    volume over the window. `bases`: symbol → (base, quote). Raises the error of a best-ranked BTC
    market whose candles failed (the choice would be a guess)."""
    btc = [s for s, (base, _) in bases.items() if base == "BTC"]
    if not btc:
        return None
    best = min(QUOTE_RANK.get(bases[s][1], 9) for s in btc)
    top = [s for s in btc if QUOTE_RANK.get(bases[s][1], 9) == best]
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




def failed_note(failures: Mapping[str, ExchangeError], total: int, noun: str = "markets") -> list[str]:
    """The note on markets (the venue's `noun` for them) whose history failed, left out of the totals
    (none if none failed)."""
    if not failures:
        return []
    first = min(failures)
    return [f"history of {len(failures)} of {total} {noun} unavailable, left out of the totals "
            f"({first}: {failures[first].reason})"]


def hourly_funding(settlements: Iterable[tuple[int, float]], start: int, end: int) -> dict[int, float]:
    """Hourly settled rates (settlement time ms, rate) as {settlement hour: rate per 8 h} in [start, end)."""
    hours = ((settlement_hour(t), rate) for t, rate in settlements)
    return {hour: rate * 8.0 for hour, rate in hours if start <= hour < end}


def open_interest_usd(points: Iterable[tuple[int, float]],
                      candles: Iterable[tuple[int, float, float, float]]) -> list[tuple[int, float]]:
    """Open interest in base coin × the price at that time, from the market's one-hour candles
    (open time, open, close, ...): at a whole hour H, the close of the candle that opened at H − 1 h,
    else the open of the one opening at H; within an hour, that hour's close. A point without a price
    is dropped."""
    opens, closes = {}, {}
    for t, o, c, *_ in candles:
        opens[t], closes[t] = o, c
    usd = []
    for t, amount in points:
        hour = t - t % HOUR
        price = closes.get(hour - HOUR if t == hour else hour)
        if price is None and t == hour:
            price = opens.get(hour)
        if price is not None:
            usd.append((t, amount * price))
    return usd


class MarketHistory(NamedTuple):
    """One market's download: candles and open interest (or why the latter is missing)."""

    candles: list[tuple]  # (open time s, open, close, quote volume USD[, trades or None, ...])
    open_interest: list[tuple[int, float]] | Exception  # (time s, USD), or the ExchangeError

    @classmethod
    def read(cls, candles: list[tuple], open_interest: Callable[[], list[tuple[int, float]]] | None) -> MarketHistory:
        """`candles` with the points `open_interest()` reads (none without it); its ExchangeError stands in
        for them: like live, the market stays and `collect_markets` counts it."""
        try:
            return cls(candles, [] if open_interest is None else open_interest())
        except ExchangeError as e:
            return cls(candles, e)


def collect_markets(ids: Iterable[str], results: Iterable[MarketHistory | Exception], *,
                    keep_volume: bool = False) -> tuple[HistoryBuilder, dict[str, list], dict[str, Exception]]:
    """Sum per-market downloads into a HistoryBuilder. A market whose candles or open interest
    failed is left out of every sum (counted in `failed`); its candles are still returned, for
    the BTC series. With `keep_volume`, a market whose open interest alone failed keeps its candles
    in the sums (as live keeps a market without OI), still counted in `failed`. A candle's fifth
    element, where there is one, is its trade count.
    Returns (builder, candles by market, failure by market)."""
    builder, candles_of, failures = HistoryBuilder(), {}, {}
    for market, got in zip(ids, results):
        if isinstance(got, Exception):
            failures[market] = got
            continue
        candles_of[market] = got.candles
        oi_failed = isinstance(got.open_interest, Exception)
        if oi_failed:
            failures[market] = got.open_interest
        if not oi_failed or keep_volume:
            builder.add_candles((t, volume, rest[0] if rest else None) for t, _, _, volume, *rest in got.candles)
        if not oi_failed:
            builder.add_open_interest(got.open_interest)
    builder.failed = len(failures)
    return builder, candles_of, failures


def kept_volume_notes(failures: Mapping[str, ExchangeError], candles_of: Mapping[str, list], total: int) -> list[str]:
    """The notes of a `collect_markets(keep_volume=True)` download: the markets whose candles failed (left
    out) and those whose open interest alone failed (their volume kept), each with the first one's reason."""
    failed = [e for market, e in failures.items() if market not in candles_of]
    oi_failed = [e for market, e in failures.items() if market in candles_of]
    notes = [f"history missing for {len(failed)} of {total} markets: {failed[0].reason}"] if failed else []
    if oi_failed:
        notes.append(f"open interest history missing for {len(oi_failed)} of {len(candles_of)} markets: "
                     f"{oi_failed[0].reason}")
    return notes


# -- paging ------------------------------------------------------------------------------------------
# `Download.series(..., lo, hi)` takes its bounds in the unit the venue's parameters use; a pager's
# `scale` turns a row's time (the first element of what the parser gives, seconds unless said
# otherwise) into that unit: rows keyed in seconds, parameters in milliseconds: `scale=1000`.

Query = Callable[[int, int], dict]


@dataclass(frozen=True)
class Windows:
    """Fixed windows of at most `hours` hourly rows (`hours` − 1 hours wide, so a venue reading the upper
    bound as inclusive still fits them in one page), each asked with both bounds by `query(lo, hi)`; a
    row belongs to the window it falls in, [lo, hi)."""

    hours: int
    query: Query
    scale: int = 1

    def windows(self, lo: int, hi: int) -> list[tuple[int, int]]:
        step = max(self.hours - 1, 1) * HOUR * self.scale
        return [(s, min(s + step, hi)) for s in range(lo, hi, step)]


@dataclass(frozen=True)
class Back:
    """Newest first, `limit` rows a page: each next page ends `step` before the oldest row so far (0 for
    a venue whose upper bound is exclusive). A page shorter than `limit` (raw rows, `size(payload)`) or
    reaching `lo` is the last."""

    limit: int | None
    query: Query  # (lo, hi) in seconds × scale
    step: int = 1
    scale: int = 1
    size: Callable[[Any], int] = len


@dataclass(frozen=True)
class Forward:
    """Oldest first, `limit` rows a page: each next page starts `step` after the newest row so far."""

    limit: int | None
    query: Query
    step: int = 1
    scale: int = 1
    size: Callable[[Any], int] = len


@dataclass(frozen=True)
class Cursor:
    """Each page names the next (`next(payload)`, None on the last); `query(cursor)` with None first."""

    query: Callable[[str | None], dict]
    next: Callable[[Any], str | None]
    size: Callable[[Any], int] = len
    limit: int | None = None  # rows a page, for the plan (`Download.hourly`)
    scale = 1  # no bounds are asked for: the cursor names each page


Pager = Windows | Back | Forward | Cursor


# -- one venue's download ---------------------------------------------------------------------------


class Download:
    """A venue's history download: paced, counted, parsed requests; paging; per-market fan-out; notes.

    `pace(path, params)` runs before each request and spends the venue's limits (sleeping as needed);
    by default one `Pacer` at `rate` requests a second. `charge(path, payload)` books cost known only
    from a response (Hyperliquid's per-row weight). Threads of one download share it.
    """

    def __init__(self, exchange, progress: Progress | None = None, *, rate: float | None = None,
                 pace: Callable[[str, dict], Any] | None = None,
                 charge: Callable[[str, Any], Any] | None = None, method: str = "GET"):
        self.exchange = exchange
        self.tally = Tally(progress)
        self.skipped = SafeSkips()
        self.notes: list[str] = []
        self.method = method
        pacer = Pacer(rate, burst=1)
        self._pace = pace or (lambda path, params: pacer.take())
        self._charge = charge
        self._lock = threading.Lock()

    # -- requests ------------------------------------------------------------------------------------

    def plan(self, n: int = 1) -> None:
        """Add `n` requests to the progress total (negative: drop planned ones that will not be sent)."""
        self.tally.plan(n)

    def get(self, path: str, params: dict | None = None, *, unplanned: bool = False) -> Any:
        """One paced, counted request (GET with `params`, or POST with them as the JSON body)."""
        params = params or {}
        if unplanned:
            self.tally.plan(1)
        self._pace(path, params)
        try:
            payload = (self.exchange.post(path, params) if self.method == "POST"
                       else self.exchange.get(path, params))
        finally:
            self.tally.finished()
        if self._charge is not None:
            self._charge(path, payload)
        return payload

    def counted(self, call: Callable[[], T]) -> T:
        """`call()` (the venue's own listing: its requests, unpaced) as one request of the progress bar."""
        self.tally.plan(1)
        try:
            return call()
        finally:
            self.tally.finished()

    def listing(self, call: Callable[[], T]) -> T:
        """The venue's listing of its included markets (`counted`); an empty one is an error."""
        markets = self.counted(call)
        if not markets:
            raise self.exchange.error("no included markets in the response")
        return markets

    def retained_from(self, what: str, days: int, now: float, start: int, end: int, *, margin: float = 0,
                      offered: bool = True) -> int | None:
        """The first whole hour of [start, end) a series the venue keeps for the last `days` days still has
        at `now` (Unix seconds; `margin` seconds kept clear of that edge, for clock skew against the venue).
        None, with a note, when the window is past it all or the venue has no such endpoint (not `offered`);
        a window it cuts short is noted too."""
        if not offered:
            self.note(f"no {what} history: the venue has no such endpoint")
            return None
        first = max(start, math.ceil((now - days * DAY + margin) / HOUR) * HOUR)
        if first >= end:
            self.note(f"{what} history covers only the last {days} days: none in this window")
            return None
        if first > start:
            self.note(f"{what} history covers only the last {days} days: none before {utc(first)}")
        return first

    def parse(self, what: str, parser: Callable, payload: Any) -> list[tuple]:
        """The rows of `payload` (a parser may give a list of tuples or a {time: value} mapping)."""
        rows = self.exchange.parse(what, parser, payload, self.skipped)
        return list(rows.items()) if isinstance(rows, Mapping) else list(rows)

    # -- paging ----------------------------------------------------------------------------------------

    def series(self, what: str, path: str, parser: Callable, pager: Pager, lo: int, hi: int, *,
               planned: int | None = 1) -> list[tuple]:
        """Every row `pager` finds between `lo` and `hi` (in the venue's parameter unit), oldest first, one
        per time (the first seen wins). `planned`: pages already in the progress total (None: every window
        of a `Windows` pager); more are added."""
        if planned is None:
            planned = len(pager.windows(lo, hi))
        got: dict[Any, tuple] = {}
        for row in self.walk(what, path, parser, pager, lo, hi, planned=planned):
            got.setdefault(row[0], row)
        return [got[t] for t in sorted(got)]

    def hourly(self, path: str, parser: Callable, pager: Pager, start: int, end: int, *, what: str | None = None,
               closed: bool = False, planned: int | None = None, complete_until: float | None = None) -> list[tuple]:
        """The rows of an hourly series timed in [start, end) (Unix seconds), oldest first, one per time: `series`
        from `start` to `end` in the pager's unit, the upper bound one unit less where the venue reads it as
        `closed` (inclusive). `planned` defaults to a page per `limit` hours (per window of a `Windows` pager).
        Rows timed after `complete_until` (a candle not closed yet) are dropped. `what`, the series' name in
        errors, defaults to the path's last part (`/fapi/v1/klines`: klines)."""
        if planned is None:
            per_page = max(pager.hours - 1, 1) if isinstance(pager, Windows) else pager.limit
            planned = hour_pages(start, end, per_page) if per_page else 1
        rows = self.series(what or path.rsplit("/", 1)[-1], path, parser, pager, start * pager.scale,
                           end * pager.scale - closed, planned=planned)
        return [row for row in rows if start <= row[0] < end and (complete_until is None or row[0] <= complete_until)]

    def funding(self, path: str, parser: Callable, pager: Pager, start: int, end: int,
                interval_hours: float | None = None, *, what: str | None = None, closed: bool = False) -> dict[int, float]:
        """Settlement time → settled rate per 8 h over [start, end) (`parsing.funding_series`: over the spacing
        of the settlements, else `interval_hours`), read from a day before `start` so that the first settlement
        in the window has its spacing. `what` and `closed` as in `hourly`."""
        rows = self.series(what or path.rsplit("/", 1)[-1], path, parser, pager, (start - DAY) * pager.scale,
                           end * pager.scale - closed)
        return funding_series(rows, interval_hours, start, end)

    def walk(self, what: str, path: str, parser: Callable, pager: Pager, lo: int, hi: int, *,
             planned: int = 1) -> Iterator[tuple]:
        """The rows of `series` page by page as they come, repeats included: for a venue that keeps the
        rows read before a later page fails (`series` gives all or nothing)."""
        walk = {Windows: self._windows, Back: self._paged, Forward: self._paged, Cursor: self._cursor}[type(pager)]
        return walk(what, path, parser, pager, lo, hi, planned)

    def kept(self, what: str, path: str, parser: Callable, pager: Pager, lo: int, hi: int, start: int, end: int, *,
             planned: int = 1) -> tuple[dict[int, Any], bool]:
        """{time: value} of the (time, value) rows `walk` finds with time in [start, end) (the first seen
        wins), and whether a page failed after some of them were read: what was read is kept (a venue
        refusing ranges past its retention). A failure before any is raised."""
        got: dict[int, Any] = {}
        try:
            for t, value in self.walk(what, path, parser, pager, lo, hi, planned=planned):
                if start <= t < end:
                    got.setdefault(t, value)
        except ExchangeError:
            if not got:
                raise
            return got, True
        return got, False

    def _windows(self, what, path, parser, pager: Windows, lo, hi, planned) -> Iterable[tuple]:
        for page, (a, b) in enumerate(pager.windows(lo, hi)):
            payload = self.get(path, pager.query(a, b), unplanned=page >= planned)
            yield from (row for row in self.parse(what, parser, payload) if a <= row[0] * pager.scale < b)

    def _paged(self, what, path, parser, pager: Back | Forward, lo_q, hi_q, planned) -> Iterable[tuple]:
        """Back (newest first, the upper bound moves down) or Forward (oldest first, the lower bound
        moves up) until a short or empty page, or the range is covered."""
        for page in range(MAX_PAGES):
            payload = self.get(path, pager.query(lo_q, hi_q), unplanned=page >= planned)
            rows = self.parse(what, parser, payload)
            yield from rows
            if not rows or (pager.limit and pager.size(payload) < pager.limit):
                return
            if isinstance(pager, Back):
                oldest = min(row[0] for row in rows) * pager.scale
                if oldest <= lo_q:
                    return
                if oldest - pager.step >= hi_q:
                    raise self.exchange.error(f"unexpected {what} payload: a full page outside the range asked for")
                hi_q = oldest - pager.step
            else:
                newest = max(row[0] for row in rows) * pager.scale
                if newest < lo_q:
                    return
                lo_q = newest + pager.step
                if lo_q >= hi_q:
                    return
        raise self.exchange.error(f"unexpected {what} payload: more than {MAX_PAGES} pages")

    def _cursor(self, what, path, parser, pager: Cursor, lo, hi, planned) -> Iterable[tuple]:
        cursor: str | None = None
        for page in range(MAX_PAGES):
            payload = self.get(path, pager.query(cursor), unplanned=page >= planned)
            yield from self.parse(what, parser, payload)
            cursor = self.exchange.parse(what, pager.next, payload)
            if cursor is None or not pager.size(payload):
                return
        raise self.exchange.error(f"unexpected {what} payload: more than {MAX_PAGES} pages")

    # -- fan-out, optional series, notes -----------------------------------------------------------------

    def markets(self, func: Callable[[T], R], items: Sequence[T], workers: int, *,
                first: T | None = None) -> list[R | ExchangeError]:
        """`func` over `items`, at most `workers` at a time; a failed item gives its ExchangeError.
        `first` (one of `items`) runs alone before the others, and its failure is raised: the market
        the venue's history is worthless without, or the one that finds out what the rest may ask."""
        if first is None:
            return self.exchange.fan_out(func, items, workers)
        head = func(first)
        rest = iter(self.exchange.fan_out(func, [item for item in items if item != first], workers))
        return [head if item == first else next(rest) for item in items]

    def btc_market(self, candidates: Sequence[str], candles_of: Mapping[str, list],
                   failures: Mapping[str, ExchangeError]) -> str | None:
        """The BTC market among `candidates` (the best-ranked ones `pick_btc` would choose among) with the
        most quote volume over the window; a candidate whose candles failed fails the venue (the choice
        would be a guess). `candles_of` as `collect_markets` gives it."""
        for symbol in candidates:
            if symbol not in candles_of:
                raise self.exchange.error(f"BTC candles of {symbol} unavailable: {failures[symbol].reason}")
        return max(candidates, key=lambda s: sum(c[3] for c in candles_of[s]), default=None)

    def optional(self, what: str, call: Callable[[], T]) -> T | None:
        """`call()`, or None with a note when the venue fails it (`what` unavailable: why)."""
        try:
            return call()
        except ExchangeError as e:
            self.note(f"{what} unavailable: {e.reason}")
            return None

    def extras(self, calls: Mapping[str, tuple[str, Callable[[], Any]]]) -> dict[str, Any]:
        """Optional series at once: {name: (what, call)} → {name: value or None}."""
        if not calls:
            return {}
        with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix=f"{self.exchange.id}-x") as pool:
            futures = {name: pool.submit(self.optional, what, call) for name, (what, call) in calls.items()}
            return {name: future.result() for name, future in futures.items()}

    def venue_history(self, start: int, end: int, builder: HistoryBuilder, candles_of: Mapping[str, list],
                      btc: str | None, series: Mapping[str, Any], symbols: int, notes: Sequence[str], *,
                      trades: bool = False, open_interest: bool = True) -> VenueHistory:
        """The VenueHistory of a per-market download (`collect_markets`): the sums (the trade counts only
        with `trades`; open interest None when `open_interest` is False: no market's was read), the BTC
        market's opens and closes from its candles (open time, open, close, ...), its other series from
        `series` ("mark", "index", "funding", "long_share"; None where absent) and the notes (`finish`)."""
        btc_candles = candles_of.get(btc, [])
        return VenueHistory(
            exchange=self.exchange.id, kind=self.exchange.kind, start=start, end=end,
            volume_usd=builder.volume, markets=builder.markets, trades=builder.trades if trades else None,
            open_interest_usd=builder.oi if open_interest else None,
            btc_symbol=btc, btc_open={c[0]: c[1] for c in btc_candles}, btc_close={c[0]: c[2] for c in btc_candles},
            btc_mark=series.get("mark"), btc_index=series.get("index"), btc_funding=series.get("funding"),
            long_share=series.get("long_share"), symbols=symbols, symbols_failed=builder.failed,
            notes=self.finish(notes=notes),
        )

    def note(self, *texts: str) -> None:
        """Add notes (one already made is not repeated: per-market downloads share them)."""
        with self._lock:
            self.notes.extend(t for t in texts if t not in self.notes)

    def finish(self, *, notes: Sequence[str] = (), market_list: bool = True) -> tuple[str, ...]:
        """Settle the progress total and return the run's notes: today's-market-list first (unless the
        venue's history is not from today's list), the venue's own, what was noted along the way, the
        skipped rows last."""
        self.tally.settle()
        head = [MARKET_LIST_NOTE] if market_list else []
        return tuple(head + list(notes) + self.notes + skipped_note(self.skipped.count))


# -- per-market history (`backfill --coins`) ----------------------------------------------------------


def market_histories(exchange, markets: Sequence[Market], start: int, end: int, progress: Progress | None = None
                     ) -> tuple[list[MarketSeries | ExchangeError], tuple[str, ...]]:
    """Each of `markets` (today's, as the venue's `fetch` lists them) over [start, end): its candles and
    open interest (`exchange.market_history`) and its mark, index and funding (`exchange.market_extras`,
    each None with a note when it fails), `exchange.history_workers` markets at a time on one paced
    `exchange.history_download()`. A market whose candles fail is its ExchangeError. `progress(done,
    total)` counts markets. Returns (the results in `markets` order, the venue's notes)."""
    d = exchange.history_download()
    lock, done = threading.Lock(), [0]

    def one(market: Market) -> MarketSeries:
        try:
            got = exchange.market_history(d, market, start, end)
            extras = d.extras(exchange.market_extras(d, market, start, end))
        finally:
            with lock:
                done[0] += 1
                if progress is not None:
                    progress(done[0], len(markets))
        points = got.open_interest
        if isinstance(points, ExchangeError):
            d.note(f"open interest history of {market.symbol} unavailable: {points.reason}")
            points = []
        candles = got.candles
        return MarketSeries(
            exchange=exchange.id, symbol=market.symbol, base=market.base, quote=market.quote,
            opens={c[0]: c[1] for c in candles}, closes={c[0]: c[2] for c in candles},
            volume_usd={c[0]: c[3] for c in candles}, open_interest_usd=dict(points) or None,
            mark=extras.get("mark"), index=extras.get("index"), funding=extras.get("funding"),
            funding_interval_h=market.funding_interval_h, funding_settled=exchange.funding_history_settled)

    results = exchange.fan_out(one, markets, exchange.history_workers)
    read = [r for r in results if isinstance(r, MarketSeries)]
    for name, what in (("open_interest_usd", "open interest"), ("mark", "mark price"), ("index", "index price"),
                       ("funding", "funding")):
        if read and all(getattr(r, name) is None for r in read):
            d.note(f"no {what} history for these markets: left empty")
    return results, d.finish(market_list=False)
