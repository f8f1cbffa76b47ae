"""`report`: the market over a window, from the stored history alone (no venue is called).

`build_report` reads what the window needs (storage/report.py) and assembles the `Report`
(model/report.py); `save_path` names the file `report --save` writes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from perps_tracker.errors import TrackerError
from perps_tracker.exchanges.venues import VENUES
from perps_tracker.model.report import Report, assemble
from perps_tracker.model.times import utc

NO_SNAPSHOTS = ("no snapshots yet: take one with `perps-tracker snapshot` "
                "or run `perps-tracker backfill --days 8`")
# Venues with a liquidation source, in registry order, and those whose feed is a sample (their totals
# are lower bounds): as services/liquidations.py has them, without importing a venue module.
LIQUIDATION_VENUES = tuple(v for v, info in VENUES.items() if info.liquidation_sources)
SAMPLED_VENUES = ("binance", "okx")
REPORTS_DIR = "reports"


def build_report(rt, now: datetime, hours: int = 24) -> Report:
    """The report of the `hours` up to the newest stored snapshot, made at `now`."""
    from perps_tracker.storage.report import read_report_data

    data = read_report_data(rt.reader(), hours)
    if data is None:
        raise TrackerError(NO_SNAPSHOTS)
    return assemble(data, int(now.timestamp()), watchlist=rt.watchlist(), liquidation_venues=LIQUIDATION_VENUES,
                    sampled=SAMPLED_VENUES)


def reports_dir(rt) -> Path:
    """Where `--save` writes: `reports/` beside a SQLite database file (`data/reports/` by default), or
    `data/reports/` under the working directory for a database server."""
    from perps_tracker.storage.db import locate

    location = locate(rt.settings.db)
    base = location.path.parent if location.path is not None else Path("data")
    return base / REPORTS_DIR


def save_path(rt, now: datetime, extension: str) -> Path:
    """`report-YYYYmmdd-HHMM.<extension>` (UTC) in `reports_dir`; `-2`, `-3`, ... when taken."""
    directory = reports_dir(rt)
    stem = f"report-{utc(now.timestamp()).strftime('%Y%m%d-%H%M')}"
    path = directory / f"{stem}.{extension}"
    n = 2
    while path.exists():
        path = directory / f"{stem}-{n}.{extension}"
        n += 1
    return path
