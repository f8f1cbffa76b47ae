"""What the `serve` dashboard reads beside the commands' own reads, in plain SQL through
`Database.reading()` (a read-only connection): the newest snapshot (the pages' refresh asks for it
every few seconds: one step down the unique index on `market_snapshots.timestamp`) and the stored
hourly liquidation lines of a window (for the liquidations page's chart)."""

from __future__ import annotations

from perps_tracker.model.report import LiquidationHour
from perps_tracker.storage.db import Database, guard
from perps_tracker.storage.report import _LIQUIDATION_HOURS, _float

_NEWEST = "SELECT timestamp, taken_at FROM market_snapshots ORDER BY timestamp DESC LIMIT 1"


def newest_snapshot(db: Database) -> tuple[int, int] | None:
    """(hour, taken_at) of the newest stored snapshot, None when there is none. `taken_at` changes when
    the hour's snapshot is taken again (venues merged into it)."""
    with guard("reading the newest snapshot"), db.reading() as read:
        row = read.row(_NEWEST)
    return None if row is None else (int(row[0]), int(row[1]))


def liquidation_hours(db: Database, lo: int, hi: int) -> list[LiquidationHour]:
    """The market liquidation line of each stored snapshot with lo < hour ≤ hi, oldest first."""
    with guard("reading the hourly liquidation lines"), db.reading() as read:
        return [LiquidationHour(int(t), int(n), float(lo_), float(sh), float(tot), _float(score), level, _float(cov))
                for t, n, lo_, sh, tot, score, level, cov in read.rows(_LIQUIDATION_HOURS, {"lo": lo, "hi": hi})]
