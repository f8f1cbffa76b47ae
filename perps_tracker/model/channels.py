"""The channels of real-time capture and the `--shard i/n` notation: constants and one pure function,
apart from model/ticks.py's row types so that the command line reads them without building those."""

from __future__ import annotations

TRADES, BBO, BOOK = "trades", "bbo", "book"
CHANNELS = (TRADES, BBO, BOOK)


def parse_shard(text: str) -> tuple[int, int]:
    """(i, n) of `i/n`; ValueError naming the shape expected."""
    i, sep, n = text.strip().partition("/")
    try:
        index, count = int(i), int(n)
    except ValueError:
        raise ValueError(f"{text!r} is not a shard like 1/4") from None
    if not sep or count < 1 or not 1 <= index <= count:
        raise ValueError(f"{text!r} is not a shard like 1/4 (1 <= i <= n)")
    return index, count
