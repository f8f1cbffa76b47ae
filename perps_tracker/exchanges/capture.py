"""The venue side of `capture` (docs/capture-venues.md): what every venue's capture protocol is built from.

A venue declares a `VenueCapture` subclass in its own module (`binance.BinanceCapture`, ...): the
connections it needs for a list of instruments and channels (`sessions`: URL, subscribe frames, the
(symbol, channel) pairs read), its heartbeat, and `handle`, which turns one decoded frame into rows
and book updates through a `Receiver` (the engine in services/capture.py implements it). Frames
are parsed by small `parse_*` functions in the venue module, with a sample in their docstrings.

Books: venues that push whole books (Binance partial depth, Deribit grouped book, Hyperliquid
l2Book, OKX books5) replace a `Snapshot`; Bybit's and OKX's incremental books are a `Book` kept
from a snapshot and deltas, with the venue's sequence checks in its `handle`. A failed check calls
`Receiver.gap`: the engine records the gap and sends the venue's `resubscribe` frames, and the book
is not sampled until the venue's next snapshot (`Receiver.synced`).

Units: a `Snapshot`/`Book` holds the venue's own prices and sizes; `BookView.top` gives them per
one coin and in coins (`Instrument`), so only the sampled levels are converted.
"""

from __future__ import annotations

import heapq
import math
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, NamedTuple, Protocol, Sequence

from perps_tracker.model.ticks import Bbo, Instrument, Trade

Level = tuple[float, float]  # (price, size) in the venue's units
PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


class Listed(NamedTuple):
    """One market a venue lists for capture: its symbol, base as listed (1000PEPE, kPEPE) and venue base
    units per contract (OKX `ctVal`; 1 where sizes are in the base)."""

    symbol: str
    base: str
    contract: float = 1.0


class Receiver(Protocol):
    """What a venue's `handle` reports to (services/capture.py)."""

    def trade(self, row: Trade) -> None: ...

    def bbo(self, row: Bbo) -> None: ...

    def skipped(self) -> None:
        """A malformed record inside a frame that was otherwise read: counted, the rest kept."""

    def gap(self, symbol: str, channel: str, reason: str) -> None:
        """The venue's sequence broke for (symbol, channel): record it, resubscribe, stop sampling the book."""

    def synced(self, symbol: str, channel: str) -> None:
        """A fresh snapshot for (symbol, channel): whatever gap was open for it closes now."""

    def send(self, frame: str) -> None:
        """A frame to send on this connection (Deribit answers `test_request` with `public/test`)."""


@dataclass(frozen=True)
class Session:
    """One connection: where it goes, what it sends after connecting, and the (symbol, channel) pairs it
    reads (for the gaps of a drop)."""

    url: str
    subscribe: tuple[str, ...]
    topics: tuple[tuple[str, str], ...]


class BookView(ABC):
    """A book the engine samples every `--book-interval`: `ts_ms` the venue's time of its last update."""

    ts_ms: int = 0
    valid: bool = False

    @abstractmethod
    def levels(self, depth: int) -> tuple[Sequence[Level], Sequence[Level]]:
        """The best `depth` (price, size) of each side in the venue's units, best first."""

    def top(self, depth: int, instrument: Instrument) -> tuple[list[Level], list[Level]]:
        """The best `depth` levels per side per one coin and in coins."""
        bids, asks = self.levels(depth)
        m, q = instrument.multiplier, instrument.coins_per_unit
        return [(p / m, s * q) for p, s in bids], [(p / m, s * q) for p, s in asks]


class Snapshot(BookView):
    """A whole book as the venue pushed it, each side best first."""

    __slots__ = ("bids", "asks", "ts_ms", "valid")

    def __init__(self) -> None:
        self.bids: Sequence[Level] = ()
        self.asks: Sequence[Level] = ()
        self.ts_ms, self.valid = 0, False

    def replace(self, ts_ms: int, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        self.bids, self.asks, self.ts_ms, self.valid = bids, asks, ts_ms, True

    def levels(self, depth: int) -> tuple[Sequence[Level], Sequence[Level]]:
        return self.bids[:depth], self.asks[:depth]


class Book(BookView):
    """An incremental book: price → (size, and the price and size as the venue wrote them, for OKX's
    checksum). A size of 0 removes the level; a side past `limit` levels (the venue's book depth) loses
    its worst, as a level leaving the venue's window is not always deleted explicitly: memory stays
    bounded. `seq` is the venue's sequence number of the last update."""

    __slots__ = ("bids", "asks", "ts_ms", "valid", "seq", "limit")

    def __init__(self, limit: int = 500) -> None:
        self.bids: dict[float, tuple[float, str, str]] = {}
        self.asks: dict[float, tuple[float, str, str]] = {}
        self.ts_ms, self.valid, self.seq = 0, False, 0
        self.limit = limit

    def reset(self, ts_ms: int, seq: int, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]]) -> None:
        self.bids.clear()
        self.asks.clear()
        self.apply(ts_ms, seq, bids, asks)
        self.valid = True

    def apply(self, ts_ms: int, seq: int, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]]) -> None:
        """Set each `[price, size, ...]` of each side (size 0: remove the level)."""
        for side, rows in ((self.bids, bids), (self.asks, asks)):
            for row in rows:
                px, sz = row[0], row[1]
                price, size = float(px), float(sz)
                if not (math.isfinite(price) and math.isfinite(size)) or size < 0:
                    raise ValueError(f"bad book level {row!r}")
                if size == 0:
                    side.pop(price, None)
                else:
                    side[price] = (size, px, sz)
        if len(self.bids) > self.limit:
            for price in heapq.nsmallest(len(self.bids) - self.limit, self.bids):
                del self.bids[price]
        if len(self.asks) > self.limit:
            for price in heapq.nlargest(len(self.asks) - self.limit, self.asks):
                del self.asks[price]
        self.ts_ms, self.seq = ts_ms, seq

    def invalidate(self) -> None:
        self.valid = False
        self.bids.clear()
        self.asks.clear()

    def levels(self, depth: int) -> tuple[list[Level], list[Level]]:
        bids = heapq.nlargest(depth, self.bids)
        asks = heapq.nsmallest(depth, self.asks)
        return [(p, self.bids[p][0]) for p in bids], [(p, self.asks[p][0]) for p in asks]

    def okx_checksum(self) -> int:
        """OKX's CRC-32 of the best 25 levels (https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel,
        "Checksum"): `bid px:bid sz:ask px:ask sz:...` interleaved from the best, as the venue wrote them, the
        longer side's remaining levels appended alone; as a signed 32-bit integer."""
        bids = [self.bids[p] for p in heapq.nlargest(25, self.bids)]
        asks = [self.asks[p] for p in heapq.nsmallest(25, self.asks)]
        parts: list[str] = []
        for i in range(max(len(bids), len(asks))):
            if i < len(bids):
                parts += (bids[i][1], bids[i][2])
            if i < len(asks):
                parts += (asks[i][1], asks[i][2])
        crc = zlib.crc32(":".join(parts).encode())
        return crc - (1 << 32) if crc >= 1 << 31 else crc


@dataclass
class Connection:
    """One connection's state, fresh at every (re)connect: its books by symbol (what the engine samples)."""

    session: Session
    books: dict[str, BookView] = field(default_factory=dict)  # the `book` channel's, sampled
    level1: dict[str, Book] = field(default_factory=dict)  # venue-private books behind `bbo` (Bybit orderbook.1)

    def snapshot(self, symbol: str) -> Snapshot:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = Snapshot()
        return book  # type: ignore[return-value]

    def book(self, symbol: str, limit: int = 500) -> Book:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = Book(limit)
        return book  # type: ignore[return-value]


class VenueCapture(ABC):
    """One venue's capture protocol for a set of instruments, channels and a book depth."""

    exchange: str = ""
    heartbeat: str | None = None  # an application-level ping, every `heartbeat_every` seconds
    heartbeat_every: float = 20.0
    ignore: frozenset[str] = frozenset()  # plain-text frames that are fine (OKX's "pong")
    max_depth: int = 20  # the deepest book the venue's channels give

    def __init__(self, instruments: Sequence[Instrument], channels: Sequence[str], depth: int):
        self.instruments: Mapping[str, Instrument] = {i.symbol: i for i in instruments}
        self.channels = tuple(channels)
        self.depth = depth

    @abstractmethod
    def sessions(self, ws_url: str) -> list[Session]:
        """The connections that read every instrument's channels, within the venue's limits. Stable: an
        instrument stays on the connection of the same index while the list is the same."""

    @abstractmethod
    def handle(self, message: Any, recv_ms: int, conn: Connection, out: Receiver) -> None:
        """One decoded frame: rows and book updates to `out` and `conn.books`. Acknowledgements and pongs
        give nothing; a frame not shaped as documented raises ValueError/KeyError/TypeError (the engine
        counts it as malformed); a venue's refusal raises ExchangeError."""

    def opened(self, conn: Connection) -> list[str]:
        """Frames to send on a new connection before its subscriptions (Deribit's `set_heartbeat`)."""
        return []

    def resubscribe(self, symbol: str, channel: str) -> list[str]:
        """Frames that get a fresh snapshot of (symbol, channel) after a sequence gap."""
        return []

    def book_of(self, conn: Connection, symbol: str) -> BookView | None:
        return conn.books.get(symbol)

    def topics(self, symbols: Iterable[str]) -> tuple[tuple[str, str], ...]:
        return tuple((s, c) for s in symbols for c in self.channels)


def split_stable(symbols: Sequence[str], weight, budget: float) -> list[list[str]]:
    """`symbols` over as few connections as keep each one's summed `weight(symbol)` within `budget`; a
    symbol's connection is its CRC-32 modulo their number (stable while the number is the same)."""
    n = max(1, math.ceil(sum(weight(s) for s in symbols) / budget))
    while True:
        shares: list[list[str]] = [[] for _ in range(n)]
        for symbol in symbols:
            shares[zlib.crc32(symbol.encode()) % n].append(symbol)
        if n >= len(symbols) or all(sum(weight(s) for s in share) <= budget for share in shares):
            return [share for share in shares if share]
        n += 1


def batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def book_depth(choices: Sequence[int], depth: int) -> int:
    """The smallest of a venue's book depths that holds `depth` levels (its deepest otherwise)."""
    return next((d for d in sorted(choices) if d >= depth), max(choices))


def levels(rows: Iterable[Sequence[Any]]) -> list[Level]:
    """`[[price, size, ...], ...]` (strings or numbers) as (price, size) floats."""
    return [(float(r[0]), float(r[1])) for r in rows]

