"""The rows of real-time capture (`capture`, docs/capture.md): trades, best bid/offer and book
levels, normalised at the edge. Pure: no I/O, no clock.

Every row names its venue (`exchange`), the venue's own `symbol` and the `coin` it resolves to
(the per-market layer's normalisation), the venue's time `ts_ms` and the time the frame was
received `recv_ms` (both unix milliseconds, UTC). Quantities are in coins (a contract of ×N coins
is N coins per contract), prices per one coin, `usd` = price × qty.

A row belongs to one partition of the dataset:
`<root>/<channel>/exchange=<id>/date=<YYYY-MM-DD>/<symbol>-<HH>-<host>-<pid>-<n>.parquet`, chosen by
`partition(row)` from its channel, venue, symbol and the UTC hour of `ts_ms`.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence, TypeVar, Union

from perps_tracker.model.channels import BBO, BOOK, CHANNELS, TRADES, parse_shard  # noqa: F401 - re-exported
BUY, SELL = "buy", "sell"  # a trade's taker side
BID, ASK = "bid", "ask"  # a book level's side

# The columns of each channel, in order, with their Arrow type names (the dataset's schema; the
# hive partition columns `exchange` and `date` come from the path as well).
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    TRADES: (("exchange", "string"), ("symbol", "string"), ("coin", "string"), ("ts_ms", "int64"),
             ("recv_ms", "int64"), ("trade_id", "string"), ("side", "string"), ("price", "float64"),
             ("qty", "float64"), ("usd", "float64")),
    BBO: (("exchange", "string"), ("symbol", "string"), ("coin", "string"), ("ts_ms", "int64"),
          ("recv_ms", "int64"), ("bid_px", "float64"), ("bid_qty", "float64"), ("ask_px", "float64"),
          ("ask_qty", "float64")),
    BOOK: (("exchange", "string"), ("symbol", "string"), ("coin", "string"), ("ts_ms", "int64"),
           ("recv_ms", "int64"), ("side", "string"), ("level", "int32"), ("price", "float64"),
           ("qty", "float64")),
}


@dataclass(frozen=True, slots=True)
class Trade:
    exchange: str
    symbol: str
    coin: str
    ts_ms: int
    recv_ms: int
    trade_id: str  # the venue's id, unique per (exchange, symbol): duplicates are dropped by it
    side: str  # the taker's side: BUY or SELL
    price: float
    qty: float  # coins
    usd: float

    channel = TRADES


@dataclass(frozen=True, slots=True)
class Bbo:
    exchange: str
    symbol: str
    coin: str
    ts_ms: int
    recv_ms: int
    bid_px: float | None
    bid_qty: float | None  # coins
    ask_px: float | None
    ask_qty: float | None  # coins

    channel = BBO


@dataclass(frozen=True, slots=True)
class BookLevel:
    exchange: str
    symbol: str
    coin: str
    ts_ms: int  # the venue time of the book as sampled (its last update)
    recv_ms: int  # the sampling tick (every --book-interval)
    side: str  # BID or ASK
    level: int  # 0 = best
    price: float
    qty: float  # coins

    channel = BOOK


Row = Union[Trade, Bbo, BookLevel]


def trade(exchange: str, symbol: str, coin: str, ts_ms: int, recv_ms: int, trade_id, side: str,
          price: float, contracts: float, coins_per_contract: float = 1.0) -> Trade:
    """A checked trade: ValueError unless the side is buy/sell and price and quantity are positive."""
    if side not in (BUY, SELL):
        raise ValueError(f"{symbol}: taker side {side!r} is not buy or sell")
    qty = contracts * coins_per_contract
    if not price > 0 or not qty > 0:
        raise ValueError(f"{symbol}: price {price!r} or quantity {qty!r} is not positive")
    return Trade(exchange, symbol, coin, int(ts_ms), int(recv_ms), str(trade_id), side, price, qty, price * qty)


HOUR_MS = 3_600_000


def hour_of(ts_ms: int) -> str:
    """`2026-12-04 09` of a UTC time in milliseconds: a partition's date and hour."""
    return " ".join(hour_parts(ts_ms // HOUR_MS))


@lru_cache(maxsize=4096)
def hour_parts(hour: int) -> tuple[str, str]:
    """(`2026-12-04`, `09`) of an hour counted from the epoch (`ts_ms // HOUR_MS`): cached, as a writer
    asks it for every partition of every row and a few hours cover all of them."""
    day, hh = time.strftime("%Y-%m-%d %H", time.gmtime(hour * 3600)).split(" ")
    return day, hh


def partition(row: Row) -> tuple[str, str, str, str, str]:
    """(channel, exchange, date, hour, symbol): where `row` is stored."""
    day, hour = hour_parts(row.ts_ms // HOUR_MS)
    return (row.channel, row.exchange, day, hour, row.symbol)


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch in which `channel` of (`exchange`, `symbol`) was not read: [from_ms, to_ms] in unix ms
    (`from_ms` the last frame received before it, `to_ms` when reading resumed or the run ended) and why
    ("connection dropped", "sequence gap: u 42 after 40", ...). The rows of `capture_gaps`."""

    exchange: str
    symbol: str
    channel: str
    from_ms: int
    to_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class Instrument:
    """A market being captured and how its numbers become coins: `multiplier` coins per unit of the venue's
    base (1000PEPE: 1000; a price / multiplier is per one coin) and `contract` venue base units per contract
    (OKX's `ctVal`; 1 where quantities are in the base): quantity × contract × multiplier = coins."""

    exchange: str
    symbol: str
    coin: str
    multiplier: float = 1.0
    contract: float = 1.0

    @property
    def coins_per_unit(self) -> float:
        """Coins in one unit of the venue's quantity field."""
        return self.contract * self.multiplier


def shard_of(exchange: str, symbol: str, n: int) -> int:
    """The shard (0 … n-1) of a market for `capture --shard i/n`: CRC-32 of `exchange:symbol` modulo n.
    Deterministic across processes and machines (not Python's salted hash), and a market keeps its shard
    whatever else is listed."""
    return zlib.crc32(f"{exchange}:{symbol}".encode()) % n


M = TypeVar("M", bound=Instrument)


def shard(instruments: Iterable[M], index: int, count: int) -> list[M]:
    """The instruments of shard `index` of `count` (1-based, `--shard 2/3`): over all indexes a partition."""
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: expected 1 <= i <= n")
    return [i for i in instruments if shard_of(i.exchange, i.symbol, count) == index - 1]


def vwap(trades: Sequence[Trade]) -> float | None:
    """The volume-weighted average price of `trades` (None without volume)."""
    qty = sum(t.qty for t in trades)
    return sum(t.usd for t in trades) / qty if qty > 0 else None
