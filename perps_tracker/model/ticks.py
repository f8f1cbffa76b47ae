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
from dataclasses import dataclass
from functools import lru_cache
from typing import Union

TRADES, BBO, BOOK = "trades", "bbo", "book"
CHANNELS = (TRADES, BBO, BOOK)
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
    ts_ms: int  # the sampling tick (every --book-interval), venue time of the book at that tick
    recv_ms: int
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
