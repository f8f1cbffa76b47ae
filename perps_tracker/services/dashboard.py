"""What the `serve` dashboard's pages need beside the commands' services (`build_report`,
`coin_report`, `funding_report`, `liquidations`): everything read-only, through `rt.reader()`."""

from __future__ import annotations

from datetime import datetime

from perps_tracker.model.report import LiquidationHour
from perps_tracker.model.times import HOUR


def newest_snapshot(rt) -> tuple[int, int] | None:
    """(hour, taken_at) of the newest stored snapshot, or None: what the pages poll to know when to reload."""
    from perps_tracker.storage.dashboard import newest_snapshot as read

    return read(rt.reader())


def liquidation_hours(rt, now: datetime, hours: int) -> list[LiquidationHour]:
    """The stored hourly market liquidation lines of the `hours` up to `now`, oldest first."""
    from perps_tracker.storage.dashboard import liquidation_hours as read

    end = int(now.timestamp())
    return read(rt.reader(), end - hours * HOUR, end)
