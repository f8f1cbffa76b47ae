"""Fetch venues concurrently; one venue failing or hanging never stops the others.

Each venue runs in its own thread under a `Deadline` (`http.venue_timeout`), so the
slowest possible venue costs at most that long, and its failure becomes a
`VenueSnapshot` with status "error" and a one-line reason.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable, Iterable

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges import EXCHANGES
from perps_tracker.exchanges.base import Exchange
from perps_tracker.exchanges.http import Deadline, HttpClient
from perps_tracker.model.market import VenueSnapshot
from perps_tracker.services.concurrency import in_daemon_threads


def fetch_one(cls: type[Exchange], client: HttpClient, url: str, timeout: float | None,
              clock: Callable[[], float] = time.monotonic) -> VenueSnapshot:
    """One venue's snapshot, or a failed one carrying the reason; never raises."""
    start = clock()
    exchange = cls(client, url, Deadline(timeout, clock))

    def elapsed() -> int:
        return round((clock() - start) * 1000)

    try:
        snap = exchange.fetch()
    except ExchangeError as e:
        return VenueSnapshot.failed(cls.id, cls.kind, e.reason, elapsed())
    except Exception as e:  # a payload shape no parser expected: report it, keep the other venues
        return VenueSnapshot.failed(cls.id, cls.kind, f"could not read the response ({type(e).__name__}: {e})"[:300],
                                    elapsed())
    return replace(snap, latency_ms=elapsed())


def fetch_venues(venue_ids: Iterable[str], client: HttpClient, urls: dict[str, str],
                 timeout: float | None, on_venue: Callable[[VenueSnapshot], None] | None = None
                 ) -> list[VenueSnapshot]:
    """Snapshots of `venue_ids`, fetched at once (daemon threads: Ctrl-C is not held up by a slow
    venue), in registry order; `on_venue(row)` as each finishes."""
    ids = [v for v in EXCHANGES if v in set(venue_ids)]
    classes = {v: EXCHANGES[v] for v in ids}  # the venues' modules imported here, not in the timed threads
    return in_daemon_threads(lambda v: fetch_one(classes[v], client, urls[v], timeout), ids,
                             name=lambda v: f"venue-{v}",
                             on_result=None if on_venue is None else lambda _, row: on_venue(row))
