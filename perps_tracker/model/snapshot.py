"""A market snapshot: venues → aggregates → factors → sentiment, for one hour bucket.

`build_snapshot` scores a set of venue rows; `merge_venues` merges a new run's rows into an hour
that already has some (a stored hour never gets worse). Taking one is services/snapshot.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from perps_tracker.model.liquidation import LiquidationSummary
from perps_tracker.model.market import VenueSnapshot
from perps_tracker.model.scoring import (
    FactorScores,
    MarketAggregates,
    Sentiment,
    aggregate,
    score,
)
from perps_tracker.model.times import HOUR, hour_bucket  # noqa: F401 - hour_bucket is part of this module's API


@dataclass(frozen=True)
class Snapshot:
    timestamp: int  # hour bucket, Unix seconds UTC
    taken_at: datetime  # when the newest run that went into it was taken
    venues: tuple[VenueSnapshot, ...]  # the stored rows, merged over the hour's runs
    market: MarketAggregates
    factors: FactorScores
    sentiment: Sentiment
    # The last hour's liquidations (docs/design.md#cascade-risk) of the venues being read, the market line last.
    liquidations: tuple[LiquidationSummary, ...] = ()
    # The venues this run asked for that failed (some may have kept a row of an earlier run).
    failed_now: tuple[VenueSnapshot, ...] = ()
    # The options market per currency (model.options.OptionsMetrics) read with Deribit in this run, and
    # why a currency's could not be read ("BTC: HTTP 503").
    options: tuple = ()
    options_failed: tuple[str, ...] = ()

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
    """The venue rows of an hour that already has some (docs/design.md#database): a venue that answered now
    replaces its earlier row; one that failed now, or was not asked, keeps its earlier row (a
    newer failure replaces an earlier failure). In `order`, unknown venues last."""
    rows = {v.exchange: v for v in earlier}
    for v in fresh:
        old = rows.get(v.exchange)
        if v.ok or old is None or not old.ok:
            rows[v.exchange] = v
    rank = {venue: i for i, venue in enumerate(order)}
    return tuple(sorted(rows.values(), key=lambda v: (rank.get(v.exchange, len(rank)), v.exchange)))
