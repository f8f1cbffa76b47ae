"""Synthetic market history that every venue fake serves from its history endpoints.

Each quantity is a smooth, deterministic function of (venue, base asset, time), so tests and
`backfill` runs against the fake can compute the exact values a venue's history should
produce without fixtures: `candle("binance", "BTC", t)` is the one-hour candle that opened at
`t`, `open_interest_usd("bybit", "ETH", t)` the open interest at `t`, and so on. Prices
depend only on the base asset (the same BTC price on every venue), volumes and open interest
on the venue too. The fakes convert to each venue's units and field names.

History exists from `FIRST_HOUR` (60 days before 2026-11-23) to `NOW_HOUR`; nothing later.
"""

from __future__ import annotations

import math
import zlib

HOUR = 3600
NOW_HOUR = 1795392000  # 2026-11-23 00:00 UTC; the fakes serve no candle that opens at or after it
FIRST_HOUR = NOW_HOUR - 60 * 24 * HOUR


def _seed(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode())


def base_price(base: str) -> float:
    fixed = {"BTC": 84000.0, "ETH": 3000.0, "SOL": 140.0, "DOGE": 0.11, "1000PEPE": 0.0111, "PEPE": 0.0000111}
    return fixed.get(base, 1.0 + _seed(base) % 500)


SIZES = (("1000000", 1e6), ("10000", 1e4), ("1000", 1e3), ("1M", 1e6), ("K", 1e3))  # longest first


def price(base: str, t: int) -> float:
    """The price at time `t` (seconds): a slow swing of ±3 % plus a faster ±0.5 %. A base with a size
    prefix (1000PEPE, kPEPE, 1MBABYDOGE) is that many coins: the coin's price times the size, so that
    per one coin every venue agrees."""
    for prefix, size in SIZES:
        rest = base[len(prefix):]
        if base.upper().startswith(prefix) and rest[:1].isalpha() and rest.upper() == rest:
            return size * price(rest, t)
    n = t / HOUR
    phase = _seed(base) % 100
    return base_price(base) * (1 + 0.03 * math.sin((n + phase) / 29) + 0.005 * math.sin(n / 3))


def candle(venue: str, base: str, open_time: int) -> dict:
    """The one-hour candle opening at `open_time`: open, high, low, close, base and quote volume, trades."""
    o, c = price(base, open_time), price(base, open_time + HOUR)
    n = open_time / HOUR
    quote = 1.0e6 * (1 + _seed(venue, base) % 50) * (1.5 + math.sin(n / 5 + _seed(base) % 7))
    return {
        "open": o, "close": c, "high": max(o, c) * 1.001, "low": min(o, c) * 0.999,
        "quote_volume": quote, "base_volume": quote / ((o + c) / 2), "trades": int(quote // 1000),
    }


def open_interest_usd(venue: str, base: str, t: int) -> float:
    n = t / HOUR
    return 5.0e6 * (1 + _seed(venue, base, "oi") % 40) * (1 + 0.1 * math.cos(n / 11 + _seed(base) % 5))


def funding_8h(venue: str, settle_time: int) -> float:
    """The settled funding rate per 8 h of the BTC perpetual, for the period ending at `settle_time`."""
    n = settle_time / HOUR
    return 0.0001 * (1 + math.sin(n / 13 + _seed(venue) % 3)) + 0.00002


def long_share(venue: str, t: int) -> float:
    """Long accounts' share of the BTC perpetual at `t`."""
    return 0.55 + 0.1 * math.sin(t / HOUR / 17 + _seed(venue) % 4)


def mark(base: str, open_time: int) -> float:
    """Close of the mark-price candle opening at `open_time`."""
    return price(base, open_time + HOUR) * 1.0002


def index(base: str, open_time: int) -> float:
    """Close of the index-price candle opening at `open_time`."""
    return price(base, open_time + HOUR) * 0.9999


def hours_between(start: int, end: int) -> list[int]:
    """Hour starts served for a request covering [start, end], clipped to the history that exists."""
    first = max(FIRST_HOUR, start - start % HOUR + (HOUR if start % HOUR else 0))
    last = min(end, NOW_HOUR - HOUR)
    return list(range(first, last + 1, HOUR))
