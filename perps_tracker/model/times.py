"""Time as perps-tracker stores and shows it: Unix seconds, UTC, hour buckets.

One place for the units (`HOUR`, `DAY`, `HOUR_MS`) and the formats: `iso` for JSON
(`2026-11-22T11:00:00Z`), `utc_minute` for notes and messages (`2026-11-22 11:00 UTC`),
`utc_second` (`2026-11-22 11:00:42 UTC`), `iso_ms` for venues that take ISO times with
milliseconds. Pure: nothing here reads the clock.
"""

from __future__ import annotations

from datetime import datetime, timezone

HOUR = 3600
DAY = 24 * HOUR
HOUR_MS = HOUR * 1000


def utc(ts: float) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, timezone.utc)


def hour_bucket(moment: datetime) -> int:
    """Unix seconds of the UTC hour that contains `moment`."""
    return int(moment.timestamp()) // HOUR * HOUR


def iso(ts: int | None) -> str | None:
    """Unix seconds as `2026-11-22T11:00:00Z` (None stays None)."""
    return None if ts is None else utc(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_minute(ts: int) -> str:
    """Unix seconds as `2026-11-22 11:00 UTC`."""
    return utc(ts).strftime("%Y-%m-%d %H:%M UTC")


def utc_second(ts: int) -> str:
    """Unix seconds as `2026-11-22 11:00:42 UTC`."""
    return utc(ts).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso_ms(ts_ms: int) -> str:
    """Unix milliseconds as `2026-11-22T11:00:00.250Z`."""
    return utc(ts_ms / 1000).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"
