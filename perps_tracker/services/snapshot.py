"""`snapshot`: fetch the venues, merge what answered into the hour's stored snapshot, score and
store it in one transaction."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable, Iterable, Sequence

from perps_tracker.errors import ExchangeError
from perps_tracker.model.instruments import (
    DEFAULT_MIN_VOLUME,
    funding_opportunities,
    instrument_rows,
)
from perps_tracker.model.market import VenueSnapshot
from perps_tracker.exchanges.venues import OPTIONS_CURRENCIES as CURRENCIES
from perps_tracker.model.options import OptionsMetrics, options_metrics
from perps_tracker.model.snapshot import (
    Snapshot,
    build_snapshot,
    hour_bucket,
    merge_venues,
)

OPTIONS_VENUE = "deribit"  # the venue whose options chains a snapshot reads


@dataclass(frozen=True)
class OptionsRead:
    """What a snapshot read of the options market: the figures per currency, and the currencies it could not."""

    metrics: tuple[OptionsMetrics, ...]
    failed: tuple[str, ...]  # "BTC: why"


def read_chains(rt, now: datetime, currencies: Sequence[str] = CURRENCIES) -> OptionsRead:
    """Each currency's chain and DVOL from Deribit, at once, within the venue's time limit; the figures
    at `now`, stamped with its hour. A currency that cannot be read is named in `failed`."""
    from perps_tracker.services.concurrency import in_daemon_threads

    stamp, hour, venue = int(now.timestamp()), hour_bucket(now), rt.venue(OPTIONS_VENUE)

    def one(currency: str) -> OptionsMetrics | str:
        try:
            quotes, dvol = venue.options_chain(currency, stamp)
        except ExchangeError as e:
            return f"{currency}: {e.reason}"
        except Exception as e:  # a payload shape no parser expected: named, the snapshot goes on
            return f"{currency}: could not read the response ({type(e).__name__}: {e})"[:300]
        return options_metrics(currency, quotes, dvol, stamp, timestamp=hour)

    got = in_daemon_threads(one, currencies, name=lambda c: f"options-{c}")
    return OptionsRead(tuple(g for g in got if isinstance(g, OptionsMetrics)),
                       tuple(g for g in got if isinstance(g, str)))


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
    options: list = []  # Deribit's options chains, read while the venues are (docs/options.md)
    reader = threading.Thread(target=lambda: options.append(read_chains(rt, now)), name="options", daemon=True)
    if OPTIONS_VENUE in ids:
        reader.start()
    fresh = [replace(v, taken_at=run) for v in fetch_venues(
        ids, rt.client(), {v: settings.venue_url(v) for v in ids}, settings["http.venue_timeout"], on_venue)]
    if OPTIONS_VENUE in ids:
        reader.join()
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
        if options:
            hour.write_options(options[0].metrics)
    if options:
        snap = replace(snap, options=options[0].metrics, options_failed=options[0].failed)
    return snap


def no_venue_answered(venues: Sequence[VenueSnapshot]) -> str:
    """The error of a run where every venue failed: a short header, then one line per venue."""
    text = "no venue answered, nothing stored:" + "".join(f"\n  {v.exchange}: {v.error}" for v in venues)
    if venues and all(v.error and "cannot resolve host" in v.error for v in venues):
        text += "\nNo host name could be resolved: is this machine offline?"
    return text
