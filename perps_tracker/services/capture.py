"""`capture`: read trades, best bid/offer and books of chosen markets from the venues' websockets into a
row sink (the Parquet dataset writer), with every interruption recorded as a gap (docs/capture-venues.md).

The plan (`plan_capture`): each venue's market listing (REST, `Exchange.capture_listing`) resolved
against `--symbols` or `--coins` (through the per-market layer's coin normalisation, `Coins`), then
`--shard i/n` keeps the markets whose CRC-32 of `exchange:symbol` modulo n is i - 1
(`model.ticks.shard`): n processes with 1/n … n/n read every market once between them.

The run (`Capturer`): one asyncio task per connection a venue's protocol needs (`VenueCapture.sessions`),
each connecting, sending the venue's opening and subscribe frames, its heartbeat, and feeding every
frame to a `Reader` (JSON decode, the venue's `handle`, trade deduplication by id in a bounded window
per market); a malformed frame is counted and skipped. After a drop a connection waits with the
`liquidations watch` backoff (services/watch.py) and reconnects with the same subscriptions, its books
starting anew from the venue's snapshots; the venue's other connections go on.

Gaps: a drop opens a gap for every (symbol, channel) of the connection from the last frame it
received; it closes when the new connection has subscribed. A sequence gap in Bybit's or OKX's
incremental book opens one for that book from the previous frame, sends the venue's resubscribe
frames, and closes at the fresh snapshot. Gaps still open at the end close then. Each closed gap
(`model.ticks.Gap`) goes to the `on_gap` callback (capture_gaps), called off the event loop.

Every `book_interval` seconds (on the wall clock's multiples, so processes sample alike) the books of
the connections that are up give their best `depth` levels a side as `BookLevel` rows: `ts_ms` the
venue's time of the book's last update, `recv_ms` the sampling time. A writer task hands the rows to
the sink (`RowSink.add_many`) every `flush_every` seconds in a thread; at the end it flushes and
closes the sink, whose counters (files per venue) join the summary.

Memory stays flat: the rows of at most one flush interval, a bounded id window per market (`RECENT_TRADES`
ids), one book per market.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from perps_tracker.errors import ExchangeError, TrackerError
from perps_tracker.exchanges.capture import PARSE_ERRORS, Connection, Session, VenueCapture
from perps_tracker.model.ticks import (
    ASK,
    BID,
    CHANNELS,
    Bbo,
    BookLevel,
    Gap,
    Instrument,
    Row,
    Trade,
    shard,
)
from perps_tracker.services.watch import Backoff, RecentKeys, _reason

FLUSH_EVERY = 1.0  # seconds between hand-overs to the sink
RECENT_TRADES = 2048  # trade ids remembered per market: a reconnect's replay is far shorter
HEALTHY_AFTER = 30.0  # a connection that lasted this long resets the backoff
MAX_SINK_FAILURES = 30  # consecutive failed hand-overs before the run stops
DEFAULT_DEPTH, MAX_DEPTH = 10, 20  # Binance, Deribit and Hyperliquid give 20 levels at most


class RowSink(Protocol):
    """Where captured rows go: the dataset writer (part 1 of issue 17) or, in tests, a list.
    Called from one thread at a time, never from the event loop."""

    def add_many(self, rows: Sequence[Row]) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> Mapping[str, Mapping[str, int]] | None:
        """Flush, compact and close; counters per venue ({"binance": {"files": 3, ...}}), or None."""


def now_ms() -> int:
    return int(time.time() * 1000)


_scan = json.scanner.make_scanner(json.JSONDecoder())  # the C scanner behind json.loads, without its wrappers


def decode(frame: str) -> Any:
    """`json.loads(frame)` for a frame that is one JSON value, ~1 µs a frame faster (json.loads strips
    whitespace with regular expressions first); ValueError for anything else."""
    try:
        value, end = _scan(frame, 0)
    except StopIteration:  # leading whitespace, or not JSON at all
        return json.loads(frame)
    if end != len(frame):
        return json.loads(frame)  # trailing whitespace is fine, anything else a ValueError
    return value


@dataclass
class CaptureStats:
    """What one venue's capture did; printed as the summary."""

    exchange: str
    markets: int = 0
    connections: int = 0  # the connections its protocol needs
    connects: int = 0
    drops: int = 0
    messages: int = 0  # frames received
    trades: int = 0  # distinct trades kept
    duplicates: int = 0  # trades dropped by id
    bbo: int = 0
    book: int = 0  # book-level rows sampled
    malformed: int = 0  # frames (or records inside one) that could not be read
    gaps: int = 0  # closed gaps recorded
    resyncs: int = 0  # sequence gaps that asked for a fresh snapshot
    files: int | None = None  # from the sink's counters
    last_error: str | None = None

    @property
    def rows(self) -> int:
        return self.trades + self.bbo + self.book


class Gaps:
    """The gaps open now, by (exchange, symbol, channel), and those closed but not yet handed on."""

    def __init__(self, stats: Mapping[str, CaptureStats], log: Callable[[str], None] = lambda _: None):
        self.stats = stats
        self.log = log
        self.open: dict[tuple[str, str, str], tuple[int, str]] = {}
        self.closed: list[Gap] = []

    def start(self, exchange: str, symbol: str, channel: str, from_ms: int, reason: str) -> None:
        self.open.setdefault((exchange, symbol, channel), (from_ms, reason))  # the earliest stays

    def end(self, exchange: str, symbol: str, channel: str, to_ms: int) -> None:
        got = self.open.pop((exchange, symbol, channel), None)
        if got is not None:
            from_ms, reason = got
            self.closed.append(Gap(exchange, symbol, channel, from_ms, max(to_ms, from_ms), reason))
            self.stats[exchange].gaps += 1

    def end_all(self, to_ms: int) -> None:
        for key in list(self.open):
            self.end(*key, to_ms)

    def take(self) -> list[Gap]:
        closed, self.closed = self.closed, []
        return closed


class Reader:
    """One connection's frames → rows: the per-frame path (`feed`), and the `Receiver` a venue's `handle`
    reports to."""

    __slots__ = ("capture", "conn", "stats", "rows", "recent", "gaps", "outbox", "exchange", "recv_ms", "last_ms",
                 "ignore")

    def __init__(self, capture: VenueCapture, conn: Connection, stats: CaptureStats, rows: list,
                 recent: dict[str, RecentKeys], gaps: Gaps):
        self.capture, self.conn, self.stats, self.rows = capture, conn, stats, rows
        self.recent, self.gaps = recent, gaps
        self.outbox: list[str] = []  # frames to send: resubscriptions, heartbeat answers
        self.exchange = capture.exchange
        self.ignore = capture.ignore
        self.recv_ms = self.last_ms = now_ms()

    def feed(self, frame: str | bytes, recv_ms: int) -> None:
        """One received frame: decoded, handled by the venue; malformed frames are counted and skipped.
        ExchangeError (a refusal) propagates."""
        self.stats.messages += 1
        self.last_ms, self.recv_ms = self.recv_ms, recv_ms
        if type(frame) is bytes:
            frame = frame.decode("utf-8", "replace")
        if len(frame) < 16 and frame in self.ignore:
            return
        try:
            self.capture.handle(decode(frame), recv_ms, self.conn, self)
        except PARSE_ERRORS:
            self.stats.malformed += 1

    # -- Receiver -------------------------------------------------------------------------------

    def trade(self, row: Trade) -> None:
        recent = self.recent.get(row.symbol)
        if recent is None:
            recent = self.recent[row.symbol] = RecentKeys(RECENT_TRADES)
        if recent.seen(row.trade_id):
            self.stats.duplicates += 1
            return
        self.rows.append(row)
        self.stats.trades += 1

    def bbo(self, row: Bbo) -> None:
        self.rows.append(row)
        self.stats.bbo += 1

    def skipped(self) -> None:
        self.stats.malformed += 1

    def gap(self, symbol: str, channel: str, reason: str) -> None:
        self.gaps.start(self.exchange, symbol, channel, self.last_ms, reason)
        self.stats.resyncs += 1
        self.outbox += self.capture.resubscribe(symbol, channel)
        self.gaps.log(f"{self.exchange} {symbol} {channel}: {reason}; resubscribing")

    def synced(self, symbol: str, channel: str) -> None:
        self.gaps.end(self.exchange, symbol, channel, self.recv_ms)

    def send(self, frame: str) -> None:
        self.outbox.append(frame)


def book_rows(exchange: str, instrument: Instrument, book, depth: int, sampled_ms: int) -> list[BookLevel]:
    """The best `depth` levels a side of a book as rows (level 0 = best), per one coin and in coins."""
    bids, asks = book.top(depth, instrument)
    symbol, coin, ts = instrument.symbol, instrument.coin, book.ts_ms
    return ([BookLevel(exchange, symbol, coin, ts, sampled_ms, BID, i, p, q) for i, (p, q) in enumerate(bids)]
            + [BookLevel(exchange, symbol, coin, ts, sampled_ms, ASK, i, p, q) for i, (p, q) in enumerate(asks)])


class Capturer:
    """Runs every venue's connections until `stop` is set or `duration` passes; see the module docstring."""

    def __init__(self, venues: Mapping[str, tuple[VenueCapture, str]], sink: RowSink, *,
                 on_gap: Callable[[Gap], None] | None = None, depth: int = DEFAULT_DEPTH, book_interval: float = 1.0,
                 log: Callable[[str], None] = lambda _: None, backoff: Callable[[], Backoff] = Backoff,
                 flush_every: float = FLUSH_EVERY, open_timeout: float = 10.0, ping_interval: float = 20.0):
        self.venues = {v: (capture, capture.sessions(url)) for v, (capture, url) in venues.items()}
        self.stats = {v: CaptureStats(v, markets=len(capture.instruments), connections=len(sessions))
                      for v, (capture, sessions) in self.venues.items()}
        self.sink, self.on_gap = sink, on_gap
        self.depth, self.book_interval = depth, book_interval
        self.log, self.backoff = log, backoff
        self.flush_every, self.open_timeout, self.ping_interval = flush_every, open_timeout, ping_interval
        self.rows: list[Row] = []
        self.recent: dict[str, dict[str, RecentKeys]] = {v: {} for v in self.venues}
        self.gaps = Gaps(self.stats, log)
        self.up: dict[tuple[str, int], Connection] = {}  # the connections subscribed now: their books are sampled
        self.stop = asyncio.Event()
        self.fatal: TrackerError | None = None
        self.interrupted = False  # Ctrl-C (SIGTERM is a service's normal stop)
        self.started_ms = now_ms()

    # -- one connection ----------------------------------------------------------------------------

    def label(self, venue: str, i: int) -> str:
        n = self.stats[venue].connections
        return venue if n == 1 else f"{venue} {i + 1}/{n}"

    async def _heartbeat(self, ws, capture: VenueCapture) -> None:
        while True:
            await asyncio.sleep(capture.heartbeat_every)
            await ws.send(capture.heartbeat)

    async def _session(self, venue: str, i: int, reader_of: Callable[[Connection], Reader]) -> tuple[float, str, int]:
        """Connection `i` until the venue closes it: how long it lasted, why it ended, its last frame's time.
        A dropped connection raises (the exception carries the time on `last_ms`)."""
        from websockets.asyncio.client import connect

        capture, sessions = self.venues[venue]
        session: Session = sessions[i]
        stats = self.stats[venue]
        conn = Connection(session)
        reader = reader_of(conn)
        async with connect(session.url, open_timeout=self.open_timeout, ping_interval=self.ping_interval,
                           ping_timeout=self.ping_interval, close_timeout=2, max_size=2 ** 23,
                           max_queue=4096) as ws:
            for frame in capture.opened(conn) + list(session.subscribe):
                await ws.send(frame)
            subscribed = now_ms()
            reader.recv_ms = reader.last_ms = subscribed
            stats.connects += 1
            for symbol, channel in session.topics:
                self.gaps.end(venue, symbol, channel, subscribed)
            self.up[(venue, i)] = conn
            started = time.monotonic()
            beat = asyncio.create_task(self._heartbeat(ws, capture)) if capture.heartbeat else None
            try:
                async for frame in ws:
                    reader.feed(frame, now_ms())
                    if reader.outbox:
                        frames, reader.outbox = reader.outbox, []
                        for out in frames:
                            await ws.send(out)
            except BaseException as e:
                e.last_ms = reader.recv_ms  # type: ignore[attr-defined]
                raise
            finally:
                self.up.pop((venue, i), None)
                if beat:
                    beat.cancel()
            code = ws.protocol.close_code
            return time.monotonic() - started, "closed by the venue" + (f" (code {code})" if code else ""), reader.recv_ms

    async def _connection(self, venue: str, i: int) -> None:
        """Connection `i` of a venue until `stop`, reconnecting with backoff; each interruption a gap."""
        capture, sessions = self.venues[venue]
        stats, backoff = self.stats[venue], self.backoff()
        rows, recent = self.rows, self.recent[venue]

        def reader_of(conn: Connection) -> Reader:
            return Reader(capture, conn, stats, rows, recent, self.gaps)

        while not self.stop.is_set():
            lasted, attempt_ms = 0.0, now_ms()
            try:
                lasted, reason, last_ms = await self._session(venue, i, reader_of)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # one connection's failure: a gap, a pause, a reconnect; the others go on
                reason, last_ms = _reason(e), getattr(e, "last_ms", attempt_ms)
            if self.stop.is_set():
                return
            for symbol, channel in sessions[i].topics:
                self.gaps.start(venue, symbol, channel, last_ms, reason)
            if lasted >= HEALTHY_AFTER:
                backoff.reset()
            stats.drops += 1
            stats.last_error = reason
            delay = backoff.next()
            self.log(f"{self.label(venue, i)}: {reason}; reconnecting in {delay:.1f} s")
            try:
                await asyncio.wait_for(self.stop.wait(), delay)
            except asyncio.TimeoutError:
                pass

    # -- books and writing -------------------------------------------------------------------------

    def sample(self, sampled_ms: int) -> None:
        """The best `depth` levels of every valid book of every connection that is up, as rows."""
        for (venue, _), conn in list(self.up.items()):
            capture = self.venues[venue][0]
            instruments, stats = capture.instruments, self.stats[venue]
            for symbol, book in conn.books.items():
                if book.valid:
                    got = book_rows(venue, instruments[symbol], book, self.depth, sampled_ms)
                    self.rows += got
                    stats.book += len(got)

    async def _sampler(self) -> None:
        while not self.stop.is_set():
            now = time.time()
            wait = self.book_interval - now % self.book_interval
            try:
                await asyncio.wait_for(self.stop.wait(), wait)
                return
            except asyncio.TimeoutError:
                pass
            self.sample(now_ms())

    async def flush(self) -> None:
        rows = self.rows[:]  # the readers append to this very list: emptied in place
        self.rows.clear()
        gaps = self.gaps.take()
        try:
            if rows:
                await asyncio.to_thread(self.sink.add_many, rows)
            if gaps and self.on_gap is not None:
                await asyncio.to_thread(lambda: [self.on_gap(g) for g in gaps])
        except (TrackerError, OSError) as e:
            self.rows[:0] = rows
            self.gaps.closed[:0] = gaps
            raise TrackerError(f"writing captured rows failed: {e}") from e

    async def _writer(self) -> None:
        from perps_tracker.services.concurrency import flush_periodically

        fatal = await flush_periodically(self.stop, self.flush_every, self.flush, TrackerError,
                                         lambda e, n: self.log(f"{e} (attempt {n}, kept in memory)"),
                                         MAX_SINK_FAILURES)
        if fatal is not None:
            self.fatal = fatal
            self.stop.set()

    # -- the run -------------------------------------------------------------------------------------

    def _on_signal(self, sig: int) -> None:
        self.interrupted = self.interrupted or sig == signal.SIGINT
        self.stop.set()

    async def run(self, duration: float | None = None) -> dict[str, CaptureStats]:
        """Capture until `duration` seconds pass or `stop` is set (SIGINT, SIGTERM); then close the gaps
        still open, hand everything to the sink, flush and close it."""
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass
        self.started_ms = now_ms()
        tasks = [asyncio.create_task(self._connection(v, i), name=f"capture-{v}-{i}")
                 for v, (_, sessions) in self.venues.items() for i in range(len(sessions))]
        sampler = asyncio.create_task(self._sampler(), name="book-sampler")
        writer = asyncio.create_task(self._writer(), name="capture-writer")
        try:
            try:
                await asyncio.wait_for(self.stop.wait(), duration)
            except asyncio.TimeoutError:
                pass
            self.stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(sampler, writer)
            self.gaps.end_all(now_ms())
            if self.fatal is None:
                try:
                    await self.flush()
                    await asyncio.to_thread(self.sink.flush)
                except (TrackerError, OSError) as e:
                    self.fatal = e if isinstance(e, TrackerError) else TrackerError(f"writing captured rows failed: {e}")
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
        return self.stats


# -- the plan -----------------------------------------------------------------------------------------


@dataclass
class CapturePlan:
    """What a run reads: each venue's instruments (after --symbols/--coins and --shard), and what was not
    found or failed."""

    instruments: dict[str, list[Instrument]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # venue → why its listing was not read
    unlisted: tuple[str, ...] = ()  # symbols or coins no venue lists
    shard: tuple[int, int] = (1, 1)
    total: int = 0  # markets before --shard


def split_list(text: str | None) -> list[str]:
    return [] if text is None else list(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))


def select(listing: Mapping[str, Sequence[Any]], coins_table, *, symbols: Sequence[str] = (),
           coins: Sequence[str] = ()) -> tuple[dict[str, list[Instrument]], tuple[str, ...]]:
    """Each venue's instruments among its listing (`Listed` rows) by venue symbol (`symbols`, exact or in any
    case; `venue:SYMBOL` for one venue) or by coin (`coins`, through `coins_table.normalise`), and the
    symbols or coins no venue lists."""
    chosen: dict[str, list[Instrument]] = {}
    found: set[str] = set()
    for venue, listed in listing.items():
        rows = []
        for item in listed:
            coin, multiplier = coins_table.normalise(item.base, venue)
            if coins:
                if coin not in coins:
                    continue
                found.add(coin)
            else:
                wanted = next((s for s in symbols if s.rpartition(":")[2].upper() == item.symbol.upper()
                               and s.rpartition(":")[0].lower() in ("", venue)), None)
                if wanted is None:
                    continue
                found.add(wanted)
            rows.append(Instrument(venue, item.symbol, coin, multiplier, item.contract))
        chosen[venue] = rows
    return chosen, tuple(x for x in (coins or symbols) if x not in found)


def plan_capture(rt, venues: Sequence[str], *, symbols: Sequence[str] = (), coins: Sequence[str] = (),
                 shard_of: tuple[int, int] = (1, 1)) -> CapturePlan:
    """Read each venue's listing (at once, one thread each) and choose its instruments. Raises TrackerError
    when nothing is left to read."""
    from concurrent.futures import ThreadPoolExecutor

    from perps_tracker.exchanges import EXCHANGES

    for venue in venues:
        EXCHANGES[venue]  # imported here, not by the threads at once

    def listing(venue: str):
        try:
            return rt.venue(venue).capture_listing()
        except ExchangeError as e:
            return e

    with ThreadPoolExecutor(max_workers=len(venues), thread_name_prefix="capture-list-") as pool:
        got = dict(zip(venues, pool.map(listing, venues)))
    failed = {v: f"market list not read: {g.reason}" for v, g in got.items() if isinstance(g, ExchangeError)}
    readable = {v: g for v, g in got.items() if not isinstance(g, ExchangeError)}
    if not readable:
        raise TrackerError("no venue's market list could be read: "
                           + "; ".join(f"{v}: {why}" for v, why in failed.items()))
    chosen, unlisted = select(readable, rt.coins(), symbols=symbols, coins=coins)
    total = sum(len(rows) for rows in chosen.values())
    if total == 0:
        asked = ", ".join(coins or symbols)
        raise TrackerError(f"none of {asked} is listed on {', '.join(readable)}")
    index, count = shard_of
    kept = {v: sorted(shard(rows, index, count), key=lambda i: i.symbol) for v, rows in chosen.items()}
    kept = {v: rows for v, rows in kept.items() if rows}
    if not kept:
        raise TrackerError(f"shard {index}/{count} holds none of the {total} markets chosen")
    return CapturePlan(kept, failed, unlisted, shard_of, total)


def check_channels(channels: Sequence[str]) -> tuple[str, ...]:
    bad = [c for c in channels if c not in CHANNELS]
    if bad:
        raise TrackerError(f"unknown channel {bad[0]!r}: choose among {', '.join(CHANNELS)}")
    return tuple(c for c in CHANNELS if c in channels) or CHANNELS


def gap_callback(rt, log: Callable[[str], None]) -> Callable[[Gap], None]:
    """What each closed gap is handed to (off the event loop): a row of `capture_gaps` and a progress line."""
    from perps_tracker.model.times import iso_ms
    from perps_tracker.storage.capture import record_gap

    def on_gap(gap: Gap) -> None:
        record_gap(rt.db(), gap.exchange, gap.symbol, gap.channel, gap.from_ms, gap.to_ms, gap.reason)
        log(f"gap {gap.exchange} {gap.symbol} {gap.channel} {iso_ms(gap.from_ms)} "
            f"+{(gap.to_ms - gap.from_ms) / 1000:.1f} s: {gap.reason}")

    return on_gap


def open_sink(rt, root: str | None) -> RowSink:
    """The dataset writer at `root` (else the `capture.root` setting), recovering first what a writer
    killed on this machine left journaled. Its own thread journals every second and writes the files,
    so `add_many` from the engine's writer task only hands rows over."""
    from perps_tracker.dataset.writer import DatasetWriter

    return DatasetWriter(root or rt.settings.capture_root, background=True)


def capture(rt, plan: CapturePlan, channels: Sequence[str], depth: int, book_interval: float,
            duration: float | None, sink: RowSink, *, on_gap: Callable[[Gap], None] | None = None,
            log: Callable[[str], None] = lambda _: None, **engine: Any) -> tuple[dict[str, CaptureStats], bool,
                                                                                TrackerError | None]:
    """Run `capture` over `plan`: per-venue stats (files from the sink's counters), whether Ctrl-C stopped it,
    and the error that ended it, if any. The sink is closed in every case."""
    venues = {v: (rt.venue(v).capture(rows, tuple(channels), depth), rt.settings.venue_ws_url(v))
              for v, rows in plan.instruments.items()}
    capturer = Capturer(venues, sink, on_gap=on_gap, depth=depth, book_interval=book_interval, log=log, **engine)
    for v, (capture_, sessions) in capturer.venues.items():
        n = len(sessions)
        log(f"{v}: {len(capture_.instruments)} markets ({', '.join(list(capture_.instruments)[:6])}"
            f"{', ...' if len(capture_.instruments) > 6 else ''}) over {n} connection{'s' * (n != 1)}")
    interrupted = False
    try:
        try:
            asyncio.run(capturer.run(duration))
            interrupted = capturer.interrupted
        except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
            interrupted = True
    finally:
        counters = sink.close() or {}
    for v, stats in capturer.stats.items():
        files = (counters.get(v) or {}).get("files")
        stats.files = int(files) if files is not None else None
    return capturer.stats, interrupted, capturer.fatal


# -- the decode benchmark ---------------------------------------------------------------------------------


def frame_decoder(venue: str, instruments: Sequence[Instrument]) -> Callable[[Sequence[str]], list[Row]]:
    """The engine's own per-frame path (`Reader.feed`: JSON decode, the venue's `handle`, the checked row
    constructors, deduplication by id) on this thread, as a function from raw frames of `venue` to the
    rows they hold; for the benchmarks (no connection is made)."""
    from perps_tracker.exchanges import EXCHANGES

    protocol = EXCHANGES[venue](None).capture(list(instruments), CHANNELS, DEFAULT_DEPTH)  # no request is made
    stats = CaptureStats(venue)
    rows: list[Row] = []
    reader = Reader(protocol, Connection(protocol.sessions("ws://127.0.0.1")[0]), stats, rows, {},
                    Gaps({venue: stats}))
    feed = reader.feed

    def decode(frames: Sequence[str]) -> list[Row]:
        recv = now_ms()
        for frame in frames:
            feed(frame, recv)
        if stats.malformed:
            raise ValueError(f"{stats.malformed} {venue} frames were malformed")
        out = rows[:]
        rows.clear()
        return out

    return decode


def decode_rate(venue: str, frames: Sequence[str], instruments: Sequence[Instrument] | None = None) -> float:
    """Frames per second through `frame_decoder` for `frames` of `venue` (distinct trade ids, or they count
    as duplicates, which is cheaper). `instruments` default: BTCUSDT (Binance, Bybit), BTC-USDT-SWAP (OKX,
    ctVal 0.01), BTC_USDC-PERPETUAL, BTC."""
    default = {"binance": "BTCUSDT", "bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP", "deribit": "BTC_USDC-PERPETUAL",
               "hyperliquid": "BTC"}[venue]
    decode = frame_decoder(venue, instruments or [Instrument(venue, default, "BTC", 1.0,
                                                             0.01 if venue == "okx" else 1.0)])
    started = time.perf_counter()
    decode(frames)
    elapsed = time.perf_counter() - started
    return len(frames) / elapsed if elapsed > 0 else float("inf")
