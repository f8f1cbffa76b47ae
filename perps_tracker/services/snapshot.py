"""`snapshot`: fetch the venues, merge what answered into the hour's stored snapshot, score and
store it in one transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Callable, Iterable, Sequence

from perps_tracker.model.instruments import DEFAULT_MIN_VOLUME, funding_opportunities, instrument_rows
from perps_tracker.model.market import VenueSnapshot
from perps_tracker.model.snapshot import (
    Snapshot,
    build_snapshot,
    hour_bucket,
    merge_venues,
)


def take_snapshot(rt, venue_ids: Iterable[str], now: datetime,
                  on_venue: Callable[[VenueSnapshot], None] | None = None) -> Snapshot:
    """Fetch `venue_ids` at once, merge them into the hour's stored snapshot, score, and store it with
    every market of the venues that answered (`instrument_snapshots`) (`rt`: the command's Runtime). `on_venue(row)` is called as each venue finishes (progress).

    Raises TrackerError, storing nothing, when no venue answered; a database that did not exist
    is then not created (an existing one is opened first, so a bad one is refused before fetching).
    """
    from perps_tracker.errors import TrackerError
    from perps_tracker.exchanges import EXCHANGES
    from perps_tracker.services.fetch import fetch_venues
    from perps_tracker.services.liquidations import read_last_hour, snapshot_lines
    from perps_tracker.storage.snapshots import snapshot_hour

    if rt.has_database():
        rt.db()
    settings, run = rt.settings, int(now.timestamp())
    ids = list(venue_ids)
    fresh = [replace(v, taken_at=run) for v in fetch_venues(
        ids, rt.client(), {v: settings.venue_url(v) for v in ids}, settings["http.venue_timeout"], on_venue)]
    if not any(v.ok for v in fresh):
        raise TrackerError(no_venue_answered(fresh))
    db = rt.db()
    window = read_last_hour(db, now)
    timestamp, coins = hour_bucket(now), rt.coins()
    markets = {v.exchange: instrument_rows(v.exchange, v.instruments, timestamp, coins)
               for v in fresh if v.ok and v.instruments is not None}
    with snapshot_hour(db, timestamp) as hour:
        merged = merge_venues(hour.earlier_venues(), fresh, list(EXCHANGES))
        snap = build_snapshot(merged, now, hour.previous_oi())
        snap = replace(snap, liquidations=snapshot_lines(window, snap.venues),
                       failed_now=tuple(v for v in fresh if not v.ok))
        hour.write(snap, instruments=markets)
        best = funding_opportunities(hour.instrument_rows(), DEFAULT_MIN_VOLUME, top=1)
        hour.record_funding_arb(best[0] if best else None)
    return snap


def no_venue_answered(venues: Sequence[VenueSnapshot]) -> str:
    """The error of a run where every venue failed: a short header, then one line per venue."""
    text = "no venue answered, nothing stored:" + "".join(f"\n  {v.exchange}: {v.error}" for v in venues)
    if venues and all(v.error and "cannot resolve host" in v.error for v in venues):
        text += "\nNo host name could be resolved: is this machine offline?"
    return text
