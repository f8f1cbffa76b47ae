"""REST liquidation polling shared by the venues (`liquidations`, docs/design.md#cascade-risk).

A venue whose liquidation history is read per group of markets (OKX: per instrument family), newest
first, declares how to ask for one page and how to read it; the shared part pages back (`read_back`),
reads the groups a few at a time and merges what they read into one `Polled` (`poll_groups`).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.base import Exchange, Polled
from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.liquidation import LiquidationEvent


class Page(NamedTuple):
    """What one page of a newest-first liquidation history held: its events, how many records it
    counted against the venue's page size, and the oldest event time among them (ms; None: none read)."""

    events: list[LiquidationEvent]
    count: int
    oldest: int | None


class GroupRead(NamedTuple):
    """One group's events (some repeated), how many records were malformed, and a note when its
    history could not be read back as far as asked."""

    events: list[LiquidationEvent]
    skipped: int
    note: str | None


def skipped_note(count: int) -> list[str]:
    """The note on malformed liquidation records (none if none was skipped)."""
    return [f"{count} malformed liquidation record{'s' if count != 1 else ''} skipped"] if count else []


def read_back(read_page: Callable[[int, Skips], Page], group: str, start_ms: int, end_ms: int, *,
              page_size: int, max_pages: int) -> GroupRead:
    """A group's events from `end_ms` back past `start_ms`, the malformed records counted, and a note when
    they stop short of it.

    `read_page(before, skipped)` asks for the newest `page_size` records older than `before` (ms, exclusive).
    Each next page asks again for the oldest millisecond of the last, so records sharing it are not
    lost (the caller drops repeats); a short page, or one reaching before `start_ms`, is the last.
    A full page within one millisecond, or `max_pages` pages, ends the read with a note.
    """
    events: list[LiquidationEvent] = []
    skipped, before = Skips(), end_ms + 1
    for _ in range(max_pages):
        page = read_page(before, skipped)
        events += page.events
        if page.count < page_size or (page.oldest is not None and page.oldest < start_ms):
            return GroupRead(events, skipped.count, None)
        if page.oldest is None or page.oldest + 1 >= before:  # a full page within one millisecond: no way back
            return GroupRead(events, skipped.count, f"liquidation history of {group} cut at one crowded millisecond")
        before = page.oldest + 1
    return GroupRead(events, skipped.count, f"liquidation history of {group} cut at {max_pages} pages")


def poll_groups(exchange: Exchange, groups: Sequence[str], read: Callable[[str], GroupRead], start_ms: int,
                end_ms: int, *, limit: int, kind: str) -> Polled:
    """Liquidations with event time in [start_ms, end_ms] of every group in `groups` (`kind` names
    them: "instrument families"), `read(group)` at most `limit` at a time; repeats are dropped.

    A group that fails is noted and left out; when all fail, the first error is raised.
    """
    results = exchange.fan_out(read, groups, limit=limit)
    got = [r for r in results if not isinstance(r, ExchangeError)]
    failed = [r for r in results if isinstance(r, ExchangeError)]
    if failed and not got:
        raise failed[0]
    notes = [f"liquidations missing for {len(failed)} of {len(groups)} {kind}: {failed[0].reason}"] if failed else []
    notes += [r.note for r in got if r.note]
    notes += skipped_note(sum(r.skipped for r in got))
    events = {e.key(): e for r in got for e in r.events if start_ms <= e.event_time_ms <= end_ms}
    return Polled(sorted(events.values(), key=lambda e: e.event_time_ms), f"top {len(groups)} {kind} by volume",
                  tuple(notes))
