"""`liquidations`: poll the REST sources, then report a window from the stored events.

Also used by `snapshot`, which stores the last hour's lines in `liquidation_snapshots`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges import EXCHANGES
from perps_tracker.model.liquidation import LiquidationSummary, summarize_window
from perps_tracker.model.market import VenueSnapshot
from perps_tracker.model.times import HOUR_MS
from perps_tracker.services.concurrency import in_daemon_threads

# Venues with a liquidation source (docs/design.md#cascade-risk), in registry order.
LIQUIDATION_VENUES = [v for v, cls in EXCHANGES.items() if cls.liquidation_sources]
POLLED_VENUES = [v for v in LIQUIDATION_VENUES if "rest" in EXCHANGES[v].liquidation_sources]
STREAMED_VENUES = [v for v in LIQUIDATION_VENUES if "ws" in EXCHANGES[v].liquidation_sources]


def sampled_venues() -> dict[str, str]:
    """Venue → how its feed is sampled."""
    return {v: EXCHANGES[v].liquidations_sampled for v in LIQUIDATION_VENUES if EXCHANGES[v].liquidations_sampled}


@dataclass(frozen=True)
class PollResult:
    exchange: str
    events: int = 0  # events in the window the venue returned
    new: int = 0  # of which not stored before
    error: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    window_hours: float
    start_ms: int
    end_ms: int
    lines: list[LiquidationSummary]
    market: LiquidationSummary | None
    volumes_at: int | None  # the snapshot whose volumes V comes from
    details: dict[str, list[str]] = field(default_factory=dict)  # venue → sources read in the window
    polls: list[PollResult] = field(default_factory=list)

    @property
    def failed_polls(self) -> list[PollResult]:
        return [p for p in self.polls if p.error]


def _poll_one(rt, venue: str, start_ms: int, end_ms: int, symbols: int) -> PollResult:
    from perps_tracker.storage.liquidations import store_polled

    try:
        polled = rt.venue(venue).poll_liquidations(start_ms, end_ms, symbols)
    except ExchangeError as e:
        return PollResult(venue, error=e.reason)
    except Exception as e:  # a payload shape no parser expected: report it, keep the other venue
        return PollResult(venue, error=f"could not read the response ({type(e).__name__}: {e})"[:300])
    new = store_polled(rt.db(), venue, polled.events, start_ms, end_ms, polled.detail)
    return PollResult(venue, len(polled.events), new, notes=polled.notes)


def poll(rt, venues: Sequence[str], start_ms: int, end_ms: int, symbols: int) -> list[PollResult]:
    """Fetch and store the REST liquidation history of `venues` over [start_ms, end_ms], at once."""
    venues = [v for v in POLLED_VENUES if v in venues]
    rt.db()  # opened once, before the threads share it
    return in_daemon_threads(lambda v: _poll_one(rt, v, start_ms, end_ms, symbols), venues,
                             name=lambda v: f"poll-{v}")


def read_report(db, end: datetime, hours: float, venues: Sequence[str]) -> Report:
    """The liquidation lines of the `hours` before `end` from the stored events and coverage, against
    the venues' volumes in the newest snapshot of the 24 h before `end`."""
    from perps_tracker.storage.liquidations import read_report_window

    end_ms = int(end.timestamp() * 1000)
    start_ms = end_ms - round(hours * HOUR_MS)
    venues = [v for v in LIQUIDATION_VENUES if v in venues]
    volumes_at, volumes, data = read_report_window(db, start_ms, end_ms, venues)
    lines, market = summarize_window(venues, data.totals, data.coverage, volumes, hours, sampled_venues())
    return Report(hours, start_ms, end_ms, lines, market, volumes_at, data.details)


def read_last_hour(db, end: datetime):
    """The stored events and coverage of the hour before `end` (a snapshot's liquidation window)."""
    from perps_tracker.storage.liquidations import read_window_of

    end_ms = int(end.timestamp() * 1000)
    return read_window_of(db, end_ms - HOUR_MS, end_ms, LIQUIDATION_VENUES)


def snapshot_lines(window, venues: Sequence[VenueSnapshot]) -> tuple[LiquidationSummary, ...]:
    """A snapshot's liquidation lines over `window` against its venues' volumes: the observed
    venues' lines, then the market line. Empty when no venue was being read."""
    volumes = {v.exchange: v.volume_24h_usd for v in venues if v.ok and v.volume_24h_usd is not None}
    lines, market = summarize_window(LIQUIDATION_VENUES, window.totals, window.coverage, volumes, 1.0,
                                     sampled_venues())
    observed = [line for line in lines if line.observed]
    return tuple(observed + [market]) if market else ()


def liquidations(rt, now: datetime, hours: float, venues: Sequence[str], symbols: int,
                 fetch: bool = True) -> Report:
    """Poll the REST sources among `venues` for the window (unless `fetch` is False: then the
    database is only read), then report it."""
    from dataclasses import replace

    end_ms = int(now.timestamp() * 1000)
    polls = poll(rt, venues, end_ms - round(hours * HOUR_MS), end_ms, symbols) if fetch else []
    return replace(read_report(rt.db() if fetch else rt.reader(), now, hours, venues), polls=polls)
