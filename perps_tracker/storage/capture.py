"""`capture_gaps`: every interruption of real-time capture (docs/capture.md), and their sums for `stats`.

`capture` calls `record_gap` when a venue's stream of a channel stops being read (a disconnect, a
sequence gap, a restart) and comes back, with the span that was missed; `gaps` reads them back and
`gap_lines` sums them per venue and channel, in plain SQL through a `Reader` like the rest of `stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

from perps_tracker.model.ticks import CHANNELS
from perps_tracker.storage.db import Database, Reader, guard

ALL_SYMBOLS = "*"  # the symbol of a gap that concerns every symbol of the venue's connection
DAY_MS = 86_400_000


@dataclass(frozen=True)
class CaptureGap:
    exchange: str
    symbol: str
    channel: str
    from_ms: int
    to_ms: int
    reason: str

    @property
    def ms(self) -> int:
        return self.to_ms - self.from_ms


@dataclass(frozen=True)
class GapLine:
    """A venue's channel: its gaps of the last 24 h (the time within those 24 h) and of all time."""

    exchange: str
    channel: str
    count_24h: int
    ms_24h: int
    count: int
    ms: int
    first_ms: int | None


def record_gap(db: Database, exchange: str, symbol: str, channel: str, from_ms: int, to_ms: int, reason: str) -> None:
    """Store one interruption. ValueError for a channel that is not one, or a span that ends before it starts."""
    if channel not in CHANNELS:
        raise ValueError(f"channel {channel!r} is not one of {', '.join(CHANNELS)}")
    if to_ms < from_ms:
        raise ValueError(f"a gap cannot end ({to_ms}) before it starts ({from_ms})")
    from perps_tracker.storage.tables import capture_gaps

    with guard("recording a capture gap"), db.engine.begin() as conn:
        conn.execute(capture_gaps.insert().values(exchange=exchange, symbol=symbol, channel=channel,
                                                  from_ms=int(from_ms), to_ms=int(to_ms), reason=reason))


def gaps(db: Database, since_ms: int = 0) -> list[CaptureGap]:
    """The gaps that end at or after `since_ms`, oldest first."""
    with guard("reading capture gaps"), db.reading() as r:
        rows = r.rows("SELECT exchange, symbol, channel, from_ms, to_ms, reason FROM capture_gaps "
                      "WHERE to_ms >= :since ORDER BY from_ms, id", {"since": since_ms})
    return [CaptureGap(*row) for row in rows]


def gap_lines(r: Reader, now_ms: int) -> list[GapLine]:
    """Per venue and channel: gaps and the time they cover over the last 24 h (clipped to it) and in all."""
    day = now_ms - DAY_MS
    rows = r.rows(
        "SELECT exchange, channel, "
        "sum(CASE WHEN to_ms >= :day THEN 1 ELSE 0 END), "
        "sum(CASE WHEN to_ms >= :day THEN (CASE WHEN to_ms < :now THEN to_ms ELSE :now END)"
        " - (CASE WHEN from_ms > :day THEN from_ms ELSE :day END) ELSE 0 END), "
        "count(*), sum(to_ms - from_ms), min(from_ms) "
        "FROM capture_gaps WHERE from_ms <= :now GROUP BY exchange, channel ORDER BY exchange, channel",
        {"day": day, "now": now_ms})
    return [GapLine(e, c, int(n24 or 0), max(0, int(ms24 or 0)), int(n), int(ms or 0), first)
            for e, c, n24, ms24, n, ms, first in rows]
