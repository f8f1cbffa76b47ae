"""`options_snapshots`: the options market per (hour, currency) (docs/options.md).

A snapshot writes its hour's row in its own transaction (`HourWriter.write_options`), replacing the
currency's row of that hour; `backfill` adds DVOL-only rows for hours that have none. Reads are plain
SQL through `Database.reading()` (no SQLAlchemy import on SQLite).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Mapping, Sequence

from perps_tracker.model.options import OptionsMetrics
from perps_tracker.storage.db import Database, Reader, guard

if TYPE_CHECKING:
    from sqlalchemy import Connection

_FIGURES = ("dvol", "put_call_oi_ratio", "put_call_volume_ratio", "options_oi_usd", "skew_25d", "atm_iv_30d",
            "expiry", "options")
_SELECT = f"SELECT timestamp, currency, {', '.join(_FIGURES)}, smile, source FROM options_snapshots"


def _row(m: OptionsMetrics, source: str) -> dict:
    return dict(timestamp=m.timestamp, currency=m.currency, source=source,
                smile=json.dumps([[round(d, 6), iv] for d, iv in m.smile]) if m.smile else None,
                **{name: getattr(m, name) for name in _FIGURES})


def replace_options(conn: "Connection", timestamp: int, metrics: Sequence[OptionsMetrics]) -> None:
    """The hour's rows of the currencies in `metrics` (live), replacing what the hour held for them."""
    from sqlalchemy import delete

    from perps_tracker.storage.tables import options_snapshots as table
    for m in metrics:
        conn.execute(delete(table).where(table.c.timestamp == timestamp, table.c.currency == m.currency))
    if metrics:
        conn.execute(table.insert(), [_row(m, "live") for m in metrics])


def add_backfilled_dvol(db: Database, currency: str, dvol: Mapping[int, float]) -> int:
    """DVOL-only rows (source backfill) for the hours of `dvol` that have no row for `currency`; returns
    the rows added. Its own transaction."""
    from sqlalchemy import select

    from perps_tracker.storage.db import write_lock
    from perps_tracker.storage.tables import options_snapshots as table
    if not dvol:
        return 0
    with guard("storing DVOL history"), write_lock(db.engine) as conn:
        stored = set(conn.execute(select(table.c.timestamp).where(
            table.c.currency == currency, table.c.timestamp.between(min(dvol), max(dvol)))).scalars())
        rows = [dict(timestamp=t, currency=currency, dvol=v, source="backfill")
                for t, v in sorted(dvol.items()) if t not in stored]
        if rows:
            conn.execute(table.insert(), rows)
    return len(rows)


def hours_with_dvol(db: Database, currency: str, first: int, last: int) -> set[int]:
    """The hours in [first, last] whose row of `currency` has a DVOL."""
    with guard("reading options_snapshots"), db.reading() as read:
        return {int(t) for (t,) in read.rows(
            "SELECT timestamp FROM options_snapshots WHERE currency = :c AND timestamp >= :lo AND timestamp <= :hi "
            "AND dvol IS NOT NULL", {"c": currency, "lo": first, "hi": last})}


def _metrics(row: Sequence) -> tuple[OptionsMetrics, str]:
    timestamp, currency, *figures, smile, source = row
    values = dict(zip(_FIGURES, figures))
    values["options"] = values["options"] or 0
    points = tuple((float(d), float(iv)) for d, iv in json.loads(smile)) if smile else ()
    return OptionsMetrics(currency=currency, timestamp=int(timestamp), smile=points, **values), source


def latest(read: Reader, currency: str) -> tuple[OptionsMetrics, str] | None:
    """The newest row of `currency` (metrics, source), or None."""
    row = read.row(f"{_SELECT} WHERE currency = :c ORDER BY timestamp DESC LIMIT 1", {"c": currency})
    return None if row is None else _metrics(row)


def history(read: Reader, currency: str, since: int, until: int) -> list[tuple[OptionsMetrics, str]]:
    """`currency`'s rows of the hours in [since, until], oldest first."""
    rows = read.rows(f"{_SELECT} WHERE currency = :c AND timestamp >= :lo AND timestamp <= :hi ORDER BY timestamp",
                     {"c": currency, "lo": since, "hi": until})
    return [_metrics(r) for r in rows]


def read_options(db: Database, currency: str, since: int | None = None, until: int | None = None
                 ) -> tuple[tuple[OptionsMetrics, str] | None, list[tuple[OptionsMetrics, str]]]:
    """(the newest row, the rows of [since, until] when `since` is given) of `currency`."""
    with guard("reading options_snapshots"), db.reading() as read:
        newest = latest(read, currency)
        rows = history(read, currency, since, until if until is not None else since) if since is not None else []
        return newest, rows


def dvol_series(read: Reader, currency: str, since: int, until: int) -> dict[int, float]:
    """hour → DVOL of `currency` over [since, until] (for `trend`)."""
    return {int(t): float(v) for t, v in read.rows(
        "SELECT timestamp, dvol FROM options_snapshots WHERE currency = :c AND timestamp >= :lo "
        "AND timestamp <= :hi AND dvol IS NOT NULL ORDER BY timestamp", {"c": currency, "lo": since, "hi": until})}
