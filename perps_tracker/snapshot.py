"""A market snapshot: venues → aggregates → factors → sentiment, for one hour bucket.

`build_snapshot` and `merge_venues` are pure; `take_snapshot` fetches, merges what answered
into the hour's stored snapshot (a stored hour never gets worse), scores and stores it in
one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable, Iterable, Mapping, Sequence

from perps_tracker.liquidation import LiquidationSummary
from perps_tracker.market import VenueSnapshot
from perps_tracker.scoring import FactorScores, MarketAggregates, Sentiment, aggregate, score

HOUR = 3600


def hour_bucket(moment: datetime) -> int:
    """Unix seconds of the UTC hour that contains `moment`."""
    return int(moment.timestamp()) // HOUR * HOUR


@dataclass(frozen=True)
class Snapshot:
    timestamp: int  # hour bucket, Unix seconds UTC
    taken_at: datetime  # when the newest run that went into it was taken
    venues: tuple[VenueSnapshot, ...]  # the stored rows, merged over the hour's runs
    market: MarketAggregates
    factors: FactorScores
    sentiment: Sentiment
    # The last hour's liquidations (§5) of the venues being read then, and the market line last.
    liquidations: tuple[LiquidationSummary, ...] = ()
    # The venues this run asked for that failed (some may have kept a row of an earlier run).
    failed_now: tuple[VenueSnapshot, ...] = ()

    @property
    def failed(self) -> tuple[VenueSnapshot, ...]:
        """Failed rows of the stored snapshot."""
        return tuple(v for v in self.venues if not v.ok)

    @property
    def earlier(self) -> tuple[VenueSnapshot, ...]:
        """Rows kept from an earlier run in the same hour."""
        now = int(self.taken_at.timestamp())
        return tuple(v for v in self.venues if v.taken_at is not None and v.taken_at < now)


def build_snapshot(venues: Iterable[VenueSnapshot], now: datetime,
                   previous_oi: Mapping[str, float] | None = None) -> Snapshot:
    venues = tuple(venues)
    market = aggregate(venues, previous_oi)
    factors, sentiment = score(market)
    return Snapshot(hour_bucket(now), now, venues, market, factors, sentiment)


def merge_venues(earlier: Iterable[VenueSnapshot], fresh: Iterable[VenueSnapshot],
                 order: Sequence[str]) -> tuple[VenueSnapshot, ...]:
    """The venue rows of an hour that already has some (DESIGN §7): a venue that answered now
    replaces its earlier row; one that failed now, or was not asked, keeps its earlier row (a
    newer failure replaces an earlier failure). In `order`, unknown venues last."""
    rows = {v.exchange: v for v in earlier}
    for v in fresh:
        old = rows.get(v.exchange)
        if v.ok or old is None or not old.ok:
            rows[v.exchange] = v
    rank = {venue: i for i, venue in enumerate(order)}
    return tuple(sorted(rows.values(), key=lambda v: (rank.get(v.exchange, len(rank)), v.exchange)))


def take_snapshot(settings, venue_ids: Iterable[str], now: datetime, db=None,
                  on_venue: Callable[[VenueSnapshot], None] | None = None) -> Snapshot:
    """Fetch `venue_ids` at once, merge them into the hour's stored snapshot, score, and store.

    Raises TrackerError, storing nothing, when no venue answered; a database that did not exist
    is then not created. `db`: an open Database; by default the one in `settings`.
    `on_venue(row)` is called as each venue finishes (progress).
    """
    from perps_tracker.errors import TrackerError
    from perps_tracker.exchanges import EXCHANGES
    from perps_tracker.fetch import fetch_venues
    from perps_tracker.http import HttpClient, HttpSettings
    from perps_tracker.liquidation_report import read_last_hour, snapshot_lines
    from perps_tracker.storage.db import check_database, open_database
    from perps_tracker.storage.snapshots import snapshot_hour

    own_db = db is None
    if own_db and check_database(settings.db):  # an existing database: refuse a bad one before fetching
        db = open_database(settings.db)
    client = HttpClient(HttpSettings.from_settings(settings))
    try:
        ids = list(venue_ids)
        run = int(now.timestamp())
        fresh = [replace(v, taken_at=run) for v in fetch_venues(
            ids, client, {v: settings.venue_url(v) for v in ids}, settings["http.venue_timeout"], on_venue)]
        if not any(v.ok for v in fresh):
            raise TrackerError(no_venue_answered(fresh))
        if db is None:
            db = open_database(settings.db)
        window = read_last_hour(db, now)
        with snapshot_hour(db, hour_bucket(now)) as hour:
            merged = merge_venues(hour.earlier_venues(), fresh, list(EXCHANGES))
            snap = build_snapshot(merged, now, hour.previous_oi())
            snap = replace(snap, liquidations=snapshot_lines(window, snap.venues),
                           failed_now=tuple(v for v in fresh if not v.ok))
            hour.write(snap)
        return snap
    finally:
        client.close()
        if own_db and db is not None:
            db.dispose()


def no_venue_answered(venues: Sequence[VenueSnapshot]) -> str:
    """The error of a run where every venue failed: a short header, then one line per venue."""
    text = "no venue answered, nothing stored:" + "".join(f"\n  {v.exchange}: {v.error}" for v in venues)
    if venues and all(v.error and "cannot resolve host" in v.error for v in venues):
        text += "\nNo host name could be resolved: is this machine offline?"
    return text
