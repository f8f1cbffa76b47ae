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

# Venues with a liquidation source (DESIGN §5), in registry order.
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


def _poll_one(venue: str, settings, client, start_ms: int, end_ms: int, symbols: int, db) -> PollResult:
    from perps_tracker.exchanges.http import Deadline
    from perps_tracker.storage.liquidations import store_polled

    exchange = EXCHANGES[venue](client, settings.venue_url(venue), Deadline(settings["http.venue_timeout"]))
    try:
        polled = exchange.poll_liquidations(start_ms, end_ms, symbols)
    except ExchangeError as e:
        return PollResult(venue, error=e.reason)
    except Exception as e:  # a payload shape no parser expected: report it, keep the other venue
        return PollResult(venue, error=f"could not read the response ({type(e).__name__}: {e})"[:300])
    new = store_polled(db, venue, polled.events, start_ms, end_ms, polled.detail)
    return PollResult(venue, len(polled.events), new, notes=polled.notes)


def poll(settings, venues: Sequence[str], start_ms: int, end_ms: int, symbols: int, db) -> list[PollResult]:
    """Fetch and store the REST liquidation history of `venues` over [start_ms, end_ms], at once."""
    from perps_tracker.exchanges.http import HttpClient, HttpSettings

    venues = [v for v in POLLED_VENUES if v in venues]
    if not venues:
        return []
    client = HttpClient(HttpSettings.from_settings(settings))
    try:
        return in_daemon_threads(lambda v: _poll_one(v, settings, client, start_ms, end_ms, symbols, db), venues,
                                 name=lambda v: f"poll-{v}")
    finally:
        client.close()


def read_report(db, end: datetime, hours: float, venues: Sequence[str],
                volumes: dict[str, float] | None = None, volumes_at: int | None = None) -> Report:
    """The liquidation lines of the `hours` before `end` from the stored events and coverage.

    `volumes` (venue → 24 h USD volume) default to those of the newest snapshot of the last 24 h.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from perps_tracker.errors import DatabaseError
    from perps_tracker.storage.db import one_line
    from perps_tracker.storage.liquidations import latest_volumes, read_window

    end_ms = int(end.timestamp() * 1000)
    start_ms = end_ms - round(hours * HOUR_MS)
    venues = [v for v in LIQUIDATION_VENUES if v in venues]
    try:
        with db.engine.connect() as conn:
            if volumes is None:
                volumes_at, volumes = latest_volumes(conn, end_ms // 1000)
            data = read_window(conn, start_ms, end_ms, venues)
    except SQLAlchemyError as e:
        raise DatabaseError(f"reading liquidations failed: {one_line(e)}") from e
    lines, market = summarize_window(venues, data.totals, data.coverage, volumes, hours, sampled_venues())
    return Report(hours, start_ms, end_ms, lines, market, volumes_at, data.details)


def read_last_hour(db, end: datetime):
    """The stored events and coverage of the hour before `end` (a snapshot's liquidation window)."""
    from perps_tracker.storage.db import guard
    from perps_tracker.storage.liquidations import read_window

    end_ms = int(end.timestamp() * 1000)
    with guard("reading liquidations"), db.engine.connect() as conn:
        return read_window(conn, end_ms - HOUR_MS, end_ms, LIQUIDATION_VENUES)


def snapshot_lines(window, venues: Sequence[VenueSnapshot]) -> tuple[LiquidationSummary, ...]:
    """A snapshot's liquidation lines over `window` against its venues' volumes: the observed
    venues' lines, then the market line. Empty when no venue was being read."""
    volumes = {v.exchange: v.volume_24h_usd for v in venues if v.ok and v.volume_24h_usd is not None}
    lines, market = summarize_window(LIQUIDATION_VENUES, window.totals, window.coverage, volumes, 1.0,
                                     sampled_venues())
    observed = [line for line in lines if line.observed]
    return tuple(observed + [market]) if market else ()


def liquidations(settings, now: datetime, hours: float, venues: Sequence[str], symbols: int,
                 fetch: bool = True) -> Report:
    """Poll the REST sources among `venues` for the window (unless `fetch` is False), then report it."""
    from dataclasses import replace

    from perps_tracker.storage.db import open_database, open_for_reading

    db = open_database(settings.db) if fetch else open_for_reading(settings.db)
    try:
        end_ms = int(now.timestamp() * 1000)
        polls = poll(settings, venues, end_ms - round(hours * HOUR_MS), end_ms, symbols, db) if fetch else []
        return replace(read_report(db, now, hours, venues), polls=polls)
    finally:
        db.dispose()
