"""`options`: the options market of one currency (Deribit's chain), stored hourly in `options_snapshots`
by every `snapshot` that asks Deribit (docs/options.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from perps_tracker.errors import TrackerError
from perps_tracker.model.options import OptionsMetrics
from perps_tracker.model.times import HOUR
from perps_tracker.services.snapshot import CURRENCIES


@dataclass(frozen=True)
class OptionsReport:
    """The `options` command: the newest figures of a currency, their history, and where they came from."""

    currency: str
    now: OptionsMetrics
    source: str  # live or backfill
    history: tuple[OptionsMetrics, ...] = ()
    hours: int | None = None
    fetched: bool = False
    failed: tuple[str, ...] = ()  # a fresh read that failed ("BTC: why")


NO_ROWS = ("no options figures stored yet: take a snapshot with `perps-tracker snapshot` (Deribit among its "
           "venues), or run this without --no-fetch")


def options_report(rt, currency: str, now: datetime, *, hours: int | None, no_fetch: bool) -> OptionsReport:
    """The newest stored figures of `currency`; a fresh snapshot first when they are an hour old or more
    (or there are none), unless `no_fetch`. With `hours`, the hourly rows of that many hours up to them."""
    from perps_tracker.storage.options import read_options

    currency = currency.strip().upper()
    if currency not in CURRENCIES:
        raise TrackerError(f"--currency must be one of {', '.join(CURRENCIES)}")
    newest, failed, fetched = None, (), False
    if no_fetch or rt.has_database():
        newest, _ = read_options(rt.reader(), currency)
    if not no_fetch and (newest is None or now.timestamp() - newest[0].timestamp >= HOUR):
        from perps_tracker.exchanges import EXCHANGES
        from perps_tracker.services.snapshot import take_snapshot

        rt.reopen_for_writing()
        snap = take_snapshot(rt, list(EXCHANGES), now)
        failed, fetched = tuple(f for f in snap.options_failed if f.startswith(f"{currency}:")), True
        newest, _ = read_options(rt.db(), currency)
    if newest is None:
        raise TrackerError(NO_ROWS if not failed else f"options not read: {failed[0]}")
    rows = ()
    if hours:
        until = newest[0].timestamp
        _, got = read_options(rt.reader() if not fetched else rt.db(), currency, until - (hours - 1) * HOUR, until)
        rows = tuple(m for m, _ in got)
    return OptionsReport(currency, newest[0], newest[1], rows, hours, fetched, failed)
