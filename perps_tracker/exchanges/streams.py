"""Websocket subscriptions shared by the venues' liquidation feeds (`liquidations watch`).

A venue that subscribes per topic (one per symbol) and limits what one connection may subscribe to
declares its limits (characters of `args` per connection, topics per subscribe request) next to its
feed; `connection_frames` spreads the topics over as few connections as keep within them, each topic
on a connection that stays the same while the number of connections does (`LiveFeed.connections`).
"""

from __future__ import annotations

import json
import math
import zlib
from typing import Iterable


def args_chars(topics: Iterable[str]) -> int:
    """The characters `topics` take in subscribe requests' `args`: each with its quotes and a comma."""
    return sum(len(topic) + 3 for topic in topics)


def split_topics(topics: list[str], budget: int) -> list[list[str]]:
    """`topics` spread over as few connections as keep each within `budget` characters of args, in the
    order given. A topic's connection is its CRC-32 modulo their number: while the number stays the
    same, a topic stays on its connection however the listing changes around it (`LiveFeed`)."""
    n = max(1, math.ceil(args_chars(topics) / budget))
    while True:
        shares: list[list[str]] = [[] for _ in range(n)]
        for topic in topics:
            shares[zlib.crc32(topic.encode()) % n].append(topic)
        if n >= len(topics) or all(args_chars(share) <= budget for share in shares):
            return [share for share in shares if share]
        n += 1


def subscribe_frames(topics: list[str], batch: int) -> tuple[str, ...]:
    """`{"op": "subscribe", "args": [...]}` requests for `topics`, `batch` topics a request."""
    return tuple(json.dumps({"op": "subscribe", "args": topics[i:i + batch]})
                 for i in range(0, len(topics), batch))


def connection_frames(topics: list[str], budget: int, batch: int) -> tuple[tuple[str, ...], ...]:
    """The subscribe frames of each connection `split_topics` needs for `topics` (`LiveFeed.connections`)."""
    return tuple(subscribe_frames(share, batch) for share in split_topics(topics, budget))
