"""`liquidations watch`: read the venues' liquidation websockets and store every distinct event once.

One asyncio task per venue fetches its feed (`Exchange.live_feed`: may call REST for the symbol
list) and runs one task per connection the feed needs (`LiveFeed.sessions`: one for Binance
and OKX, as many as Bybit's subscription limits need when it reads every perpetual). Each
connection connects, subscribes, answers the server's pings (the websockets library does),
sends the venue's own heartbeat, and turns each frame into events; a malformed frame is counted
and skipped. After a drop a connection waits with exponential backoff, fetches the venue's feed
again and reconnects with its own share of it, while the venue's other connections go on; a
symbol the venue lists meanwhile is subscribed when its connection next reconnects. Should the
fresh feed need a different number of connections, all of the venue's connections start anew.

A writer task flushes the events every second in one transaction, deduplicated twice: a
bounded set of recently seen keys in memory (so memory stays flat for days), and the table's
unique key (so replays after a reconnect or a restart are never stored twice).

Coverage: a venue is being read only while all its connections are up. A `liquidation_coverage`
row opens when the last of them has subscribed, is extended at every flush, and closes when any
of them drops; the next opens when all are up again. So a report reading the table counts a
venue read over several connections exactly as one read over one, and never counts a stretch
in which part of its symbols went unread. The row's detail says what was read: "all symbols",
"all 538 linear perpetuals over 3 connections", "top 50 by volume".
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Mapping, TypeVar

from perps_tracker.errors import DatabaseError, ExchangeError
from perps_tracker.exchanges.base import LiveFeed
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.liquidation import LiquidationEvent

FLUSH_EVERY = 1.0  # seconds between writes
RECENT_KEYS = 50_000  # in-memory dedup window (events); the database catches the rest
HEALTHY_AFTER = 30.0  # a connection that lasted this long resets the backoff
MAX_DB_FAILURES = 60  # consecutive failed flushes (≈ a minute) before giving up
PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)

T = TypeVar("T")
FeedSource = Callable[[], LiveFeed]  # may block (REST calls): run in a thread


async def in_daemon_thread(func: Callable[[], T]) -> T:
    """`func()` in a daemon thread: a REST call still in flight when the run stops does not
    hold up the exit (it is bounded by the HTTP timeouts anyway)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(result, error) -> None:
        if not future.done():
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

    def target() -> None:
        try:
            result, error = func(), None
        except BaseException as e:  # handed to the awaiting task
            result, error = None, e
        try:
            loop.call_soon_threadsafe(settle, result, error)
        except RuntimeError:  # the loop closed meanwhile: nobody is waiting
            pass

    threading.Thread(target=target, name="feed-setup", daemon=True).start()
    return await future


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class FeedStats:
    """What one venue's collector did; printed as the summary."""

    exchange: str
    description: str = ""
    connects: int = 0
    drops: int = 0
    frames: int = 0
    events: int = 0  # events received (before deduplication)
    stored: int = 0  # new rows written
    duplicates: int = 0
    malformed: int = 0  # frames or records that could not be read
    connected_s: float = 0.0  # time all the venue's connections were up at once
    complete: int = 0  # times all of them came up (for one connection: its connects)
    last_error: str | None = None
    pending: int = 0  # received, not yet written (non-zero only when the run ended on a database failure)


class Backoff:
    """0.5, 1, 2, 4 … up to `cap` seconds, ±20 % jitter; back to the start after a healthy connection."""

    def __init__(self, base: float = 0.5, cap: float = 60.0, rng: random.Random | None = None):
        self.base, self.cap = base, cap
        self.attempt = 0
        self.rng = rng or random.Random()

    def reset(self) -> None:
        self.attempt = 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2 ** self.attempt)
        self.attempt += 1
        return delay * self.rng.uniform(0.8, 1.2)


class RecentKeys:
    """A set of the last `size` keys: membership for deduplication, with bounded memory."""

    def __init__(self, size: int = RECENT_KEYS):
        self.size = size
        self._keys: OrderedDict = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def seen(self, key) -> bool:
        """True if `key` was added recently; otherwise remember it and return False."""
        if key in self._keys:
            return True
        self._keys[key] = None
        if len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return False


@dataclass
class Span:
    """One connection's stretch in `liquidation_coverage`."""

    exchange: str
    detail: str
    start_ms: int
    end_ms: int
    open: bool = True
    id: int | None = None


@dataclass
class Links:
    """One venue's connections in a run: which are up, and the coverage span open while all of them are."""

    venue: str
    size: int  # the connections the venue's feed needs
    detail: str  # what they read together: "all 538 linear perpetuals over 3 connections"
    up: set[int] = field(default_factory=set)
    span: Span | None = None
    since: float = 0.0  # when the last of them came up (time.monotonic)
    resized: LiveFeed | None = None  # a fresh feed that needs a different number of connections

    def label(self, i: int) -> str:
        """How the log names connection `i`: the venue alone when it has one connection."""
        return self.venue if self.size == 1 else f"{self.venue} {i + 1}/{self.size}"


def describe(feed: LiveFeed) -> str:
    """What a feed reads, and over how many connections when more than one: the coverage detail."""
    n = len(feed.sessions)
    if n == 1:
        return feed.description
    return f"{feed.description} over {n} connections" if feed.description else f"{n} connections"


@dataclass
class Batch:
    events: list[LiquidationEvent] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)


class EventSink:
    """Collects events and connection spans in the event loop; `write` stores a batch (in a thread)."""

    def __init__(self, db, stats: Mapping[str, FeedStats], recent: int = RECENT_KEYS):
        self.db = db
        self.stats = stats
        self.recent = RecentKeys(recent)
        self.pending: list[LiquidationEvent] = []
        self.spans: list[Span] = []

    def add(self, events: list[LiquidationEvent]) -> None:
        for event in events:
            if self.recent.seen(event.key()):
                self.stats[event.exchange].duplicates += 1
            else:
                self.pending.append(event)

    def open_span(self, exchange: str, detail: str) -> Span:
        t = now_ms()
        span = Span(exchange, detail, t, t)
        self.spans.append(span)
        return span

    def close_span(self, span: Span) -> None:
        if span.open:
            span.end_ms, span.open = now_ms(), False

    def take(self) -> Batch:
        """The events to write and the spans to record, extending open spans to now."""
        t = now_ms()
        for span in self.spans:
            if span.open:
                span.end_ms = t
        batch = Batch(self.pending, list(self.spans))
        self.pending = []
        self.spans = [s for s in self.spans if s.open]  # closed spans are written one last time
        return batch

    def give_back(self, batch: Batch) -> None:
        """A failed write: keep its events (and closed spans) for the next flush."""
        self.pending[:0] = batch.events
        self.spans[:0] = [s for s in batch.spans if not s.open and s not in self.spans]

    def write(self, batch: Batch) -> dict[str, int]:
        """Store a batch in one transaction; new rows per venue. Raises DatabaseError (nothing stored:
        spans opened in it stay unopened, to be opened by the next write)."""
        from perps_tracker.storage.liquidations import store_stream_batch

        new, ids = store_stream_batch(self.db, batch.events, [(s.id, s.exchange, s.start_ms, s.end_ms, s.detail)
                                                              for s in batch.spans])
        for span, span_id in zip(batch.spans, ids):
            span.id = span_id
        return new


def _reason(e: BaseException) -> str:
    """A one-line reason for a dropped or refused connection."""
    from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

    if isinstance(e, ExchangeError):
        return e.reason
    if isinstance(e, InvalidStatus):
        return f"handshake refused (HTTP {e.response.status_code})"
    if isinstance(e, ConnectionClosed):
        code = e.rcvd.code if e.rcvd else None
        return "connection dropped" if code is None else f"closed by the venue (code {code})"
    if isinstance(e, InvalidURI):
        return f"invalid websocket URL {e.uri}"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]


class Collector:
    """Runs the feeds until `stop` is set; see the module docstring."""

    def __init__(self, sources: Mapping[str, FeedSource], db, *, log: Callable[[str], None] = lambda _: None,
                 backoff: Callable[[], Backoff] = Backoff, flush_every: float = FLUSH_EVERY,
                 recent: int = RECENT_KEYS, open_timeout: float = 10.0, ping_interval: float = 20.0):
        self.sources = dict(sources)
        self.stats = {venue: FeedStats(venue) for venue in self.sources}
        self.sink = EventSink(db, self.stats, recent)
        self.log = log
        self.backoff = backoff
        self.flush_every = flush_every
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.stop = asyncio.Event()
        self.fatal: DatabaseError | None = None
        self.interrupted = False  # stopped by Ctrl-C (SIGTERM is a service's normal stop)

    # -- one venue ------------------------------------------------------------------------

    def handle(self, feed: LiveFeed, stats: FeedStats, frame) -> None:
        """One received frame → events into the sink; bad frames are counted. ExchangeError propagates."""
        stats.frames += 1
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
        if text in feed.ignore:
            return
        skipped = Skips()
        try:
            events = feed.parse(json.loads(text), skipped)
        except PARSE_ERRORS:
            stats.malformed += 1
            return
        stats.malformed += skipped.count
        stats.events += len(events)
        self.sink.add(events)

    async def _heartbeat(self, ws, feed: LiveFeed) -> None:
        while True:
            await asyncio.sleep(feed.heartbeat_every)
            await ws.send(feed.heartbeat)

    def _up(self, links: Links, i: int) -> None:
        """Connection `i` has subscribed; once all of the venue's have, it is being read: a span opens."""
        links.up.add(i)
        if len(links.up) < links.size:
            self.log(f"{links.label(i)}: connected")
            return
        self.stats[links.venue].complete += 1
        links.span = self.sink.open_span(links.venue, links.detail)
        links.since = time.monotonic()
        self.log(f"{links.venue}: connected, {links.detail}" if links.detail else f"{links.venue}: connected")

    def _down(self, links: Links, i: int) -> None:
        """Connection `i` has ended: the venue is not read again until all of its connections are up."""
        links.up.discard(i)
        if links.span is not None:
            self.sink.close_span(links.span)
            links.span = None
            self.stats[links.venue].connected_s += time.monotonic() - links.since

    async def _session(self, links: Links, i: int, feed: LiveFeed) -> tuple[float, str]:
        """Connection `i` of `feed`, until the venue closes it: how long it lasted (seconds) and why it
        ended. A dropped connection raises."""
        from websockets.asyncio.client import connect

        stats = self.stats[links.venue]
        async with connect(feed.url, open_timeout=self.open_timeout, ping_interval=self.ping_interval,
                           ping_timeout=self.ping_interval, close_timeout=2, max_size=2 ** 23,
                           max_queue=1024) as ws:
            for frame in feed.sessions[i]:
                await ws.send(frame)
            stats.connects += 1
            stats.description = links.detail
            started = time.monotonic()
            self._up(links, i)
            beat = asyncio.create_task(self._heartbeat(ws, feed)) if feed.heartbeat else None
            try:
                async for frame in ws:
                    self.handle(feed, stats, frame)
            finally:
                if beat:
                    beat.cancel()
                self._down(links, i)
            code = ws.protocol.close_code  # (ws.close_code only from websockets 15)
            return time.monotonic() - started, "closed by the venue" + (f" (code {code})" if code else "")

    async def _pause(self, label: str, stats: FeedStats, backoff: Backoff, reason: str) -> None:
        """Count a drop (or a failed attempt), log it, and wait the backoff's next delay (less if the run stops)."""
        stats.drops += 1
        stats.last_error = reason
        delay = backoff.next()
        self.log(f"{label}: {reason}; reconnecting in {delay:.1f} s")
        try:
            await asyncio.wait_for(self.stop.wait(), delay)
        except asyncio.TimeoutError:
            pass

    async def _connection(self, links: Links, i: int, feed: LiveFeed | None) -> None:
        """Connection `i` of a venue until `stop`, reconnecting with backoff and fetching the venue's feed
        again first. Returns early when the fresh feed needs a different number of connections."""
        source, stats, backoff = self.sources[links.venue], self.stats[links.venue], self.backoff()
        while not self.stop.is_set():
            lasted = 0.0
            try:
                if feed is None:
                    feed = await in_daemon_thread(source)
                    if len(feed.sessions) != links.size:
                        links.resized = feed
                        return
                    links.detail = describe(feed)
                lasted, reason = await self._session(links, i, feed)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # any failure of one connection: log it and reconnect; the others go on
                reason = _reason(e)
            feed = None
            if self.stop.is_set():
                return
            if lasted >= HEALTHY_AFTER:
                backoff.reset()
            await self._pause(links.label(i), stats, backoff, reason)

    async def _connections(self, venue: str, feed: LiveFeed) -> LiveFeed | None:
        """Every connection `feed` needs, until `stop` (None) or until a fresh feed needs a different number
        of them: that feed, once they are all closed."""
        links = Links(venue, len(feed.sessions), describe(feed))
        tasks = [asyncio.create_task(self._connection(links, i, feed), name=f"feed-{venue}-{i}")
                 for i in range(links.size)]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if links.resized is not None:
            self.log(f"{venue}: {describe(links.resized)} now; reconnecting all of its connections")
        return links.resized

    async def run_feed(self, venue: str) -> None:
        """One venue until `stop`: fetch its feed and run its connections; all of them anew when a fresh
        feed needs a different number."""
        stats, backoff = self.stats[venue], self.backoff()
        feed: LiveFeed | None = None
        while not self.stop.is_set():
            if feed is None:
                try:
                    feed = await in_daemon_thread(self.sources[venue])
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # the symbol list failed: retry with backoff; the other venues go on
                    await self._pause(venue, stats, backoff, _reason(e))
                    continue
                backoff.reset()
            feed = await self._connections(venue, feed)

    # -- writing --------------------------------------------------------------------------------

    async def flush(self) -> None:
        batch = self.sink.take()
        if not batch.events and not batch.spans:
            return
        try:
            new = await asyncio.to_thread(self.sink.write, batch)
        except DatabaseError:
            self.sink.give_back(batch)
            raise
        per_venue: dict[str, int] = {}
        for event in batch.events:
            per_venue[event.exchange] = per_venue.get(event.exchange, 0) + 1
        for venue, n in per_venue.items():
            stored = new.get(venue, 0)
            self.stats[venue].stored += stored
            self.stats[venue].duplicates += n - stored

    async def _writer(self) -> None:
        from perps_tracker.services.concurrency import flush_periodically

        fatal = await flush_periodically(self.stop, self.flush_every, self.flush, DatabaseError,
                                         lambda e, n: self.log(f"database: {e} (attempt {n}, kept in memory)"),
                                         MAX_DB_FAILURES)
        if fatal is not None:
            self.fatal = fatal
            self.stop.set()

    # -- the run ----------------------------------------------------------------------------------

    def _on_signal(self, sig: int) -> None:
        self.interrupted = self.interrupted or sig == signal.SIGINT
        self.stop.set()

    async def run(self, duration: float | None = None) -> dict[str, FeedStats]:
        """Collect until `duration` seconds pass or `stop` is set; then flush and return the stats."""
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # Windows loops lack it; not the main thread
                pass
        feeds = [asyncio.create_task(self.run_feed(v), name=f"feed-{v}") for v in self.sources]
        writer = asyncio.create_task(self._writer(), name="writer")
        try:
            try:
                await asyncio.wait_for(self.stop.wait(), duration)
            except asyncio.TimeoutError:
                pass
            self.stop.set()
            for task in feeds:
                task.cancel()
            await asyncio.gather(*feeds, return_exceptions=True)
            await writer
            if self.fatal is None:
                try:
                    await self.flush()  # what arrived since the writer's last flush, and the closed spans
                except DatabaseError as e:
                    self.fatal = e
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
        if self.fatal is not None:
            for event in self.sink.pending:
                self.stats[event.exchange].pending += 1
        return self.stats


def venue_sources(rt, venues, symbols: int | None) -> dict[str, FeedSource]:
    """Each venue's `live_feed` through the runtime's client and the configured URLs; `symbols`
    None reads every symbol, N the N with the largest volume (where a venue subscribes per symbol)."""

    from perps_tracker.exchanges import EXCHANGES

    def source(venue: str) -> FeedSource:
        return lambda: rt.venue(venue).live_feed(rt.settings.venue_ws_url(venue), symbols)

    for venue in venues:  # import the venues' modules now: inside the event loop the import would block
        EXCHANGES[venue]  # it and eat into --duration before the first connection
    return {venue: source(venue) for venue in venues}


def watch(rt, venues, duration: float | None, symbols: int | None,
          log: Callable[[str], None] = lambda _: None) -> tuple[dict[str, FeedStats], DatabaseError | None, bool]:
    """Run `liquidations watch`; returns the per-venue stats, the database error that ended it, if
    any, and whether Ctrl-C stopped it."""
    collector = Collector(venue_sources(rt, venues, symbols), rt.db(), log=log)
    try:
        stats = asyncio.run(collector.run(duration))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return collector.stats, collector.fatal, True
    return stats, collector.fatal, collector.interrupted
