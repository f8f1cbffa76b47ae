"""A market snapshot: venues → aggregates → factors → sentiment, for one hour bucket.

`build_snapshot` is pure; `take_snapshot` fetches, reads the snapshot of 24 h before for
the open-interest change, builds and stores in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable, Mapping

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
    taken_at: datetime
    venues: tuple[VenueSnapshot, ...]
    market: MarketAggregates
    factors: FactorScores
    sentiment: Sentiment
    # The last hour's liquidations (§5) of the venues being read then, and the market line last.
    liquidations: tuple[LiquidationSummary, ...] = ()

    @property
    def failed(self) -> tuple[VenueSnapshot, ...]:
        return tuple(v for v in self.venues if not v.ok)


def build_snapshot(venues: Iterable[VenueSnapshot], now: datetime,
                   previous_oi: Mapping[str, float] | None = None) -> Snapshot:
    venues = tuple(venues)
    market = aggregate(venues, previous_oi)
    factors, sentiment = score(market)
    return Snapshot(hour_bucket(now), now, venues, market, factors, sentiment)


def take_snapshot(settings, venue_ids: Iterable[str], now: datetime, db=None) -> Snapshot:
    """Fetch `venue_ids` at once, score, and store the hour's snapshot (replacing one taken earlier
    in the same hour). Raises TrackerError, storing nothing, when no venue answered.

    `db`: an open Database; by default the one in `settings`.
    """
    from perps_tracker.errors import TrackerError
    from perps_tracker.fetch import fetch_venues
    from perps_tracker.http import HttpClient, HttpSettings
    from perps_tracker.storage.db import open_database
    from perps_tracker.storage.snapshots import previous_oi, store_snapshot

    own_db = db is None
    db = open_database(settings.db) if own_db else db
    client = HttpClient(HttpSettings.from_settings(settings))
    try:
        ids = list(venue_ids)
        venues = fetch_venues(ids, client, {v: settings.venue_url(v) for v in ids}, settings["http.venue_timeout"])
        if not any(v.ok for v in venues):
            reasons = "; ".join(f"{v.exchange}: {v.error}" for v in venues)
            raise TrackerError(f"no venue answered, nothing stored ({reasons})")
        snap = build_snapshot(venues, now, previous_oi(db, hour_bucket(now)))
        snap = replace(snap, liquidations=last_hour_liquidations(db, snap))
        store_snapshot(db, snap)
        return snap
    finally:
        client.close()
        if own_db:
            db.dispose()


def last_hour_liquidations(db, snap: Snapshot) -> tuple[LiquidationSummary, ...]:
    """The stored liquidations of the hour before `snap.taken_at`, against this snapshot's volumes:
    the observed venues' lines, then the market line. Empty when no venue was being read."""
    from perps_tracker.liquidation_report import LIQUIDATION_VENUES, read_report

    volumes = {v.exchange: v.volume_24h_usd for v in snap.venues if v.ok and v.volume_24h_usd is not None}
    report = read_report(db, snap.taken_at, 1.0, LIQUIDATION_VENUES, volumes, snap.timestamp)
    observed = [line for line in report.lines if line.observed]
    return tuple(observed + [report.market]) if report.market else ()
