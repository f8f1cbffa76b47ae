"""The command line's own value types: durations, dates, horizons (click parameter types)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float | None:
    """Seconds in `30s`, `59m`, `2h`, `7d`, `1h30m` or plain seconds; None if `text` is none of these."""
    import re

    text = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text)
    if parts and "".join(n + u for n, u in parts) == text:
        return sum(float(n) * UNITS[u] for n, u in parts)
    return None


class Duration(click.ParamType):
    """A length of time: `30s`, `59m`, `2h`, `1d`, `1h30m`, or plain seconds."""

    name = "duration"

    def convert(self, value, param, ctx) -> float:
        seconds = float(value) if isinstance(value, (int, float)) else parse_duration(str(value))
        if seconds is None:
            self.fail(f"{value!r} is not a duration like 30s, 59m, 2h or 1h30m", param, ctx)
        if seconds <= 0:
            self.fail(f"{value!r} is not a positive duration", param, ctx)
        return seconds


class Upper(click.Choice):
    """One of `choices`, given in any case, named in upper case in its error (click's own
    case-insensitive Choice names them in lower case)."""

    def __init__(self, choices):
        super().__init__([c.upper() for c in choices])

    def convert(self, value, param, ctx) -> str:
        return super().convert(str(value).strip().upper(), param, ctx)


def parse_when(text: str) -> datetime | None:
    """The UTC time of an ISO date or time: `2026-11-01`, `2026-11-01T12:00`, `2026-11-01 12:00:00`,
    with `Z` or an offset (`+02:00`, `-0500`); UTC when it has none. None if `text` is not shaped so;
    ValueError for an impossible one (`2026-13-01`)."""
    import re

    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:?\d{2})?)?",
                         text.strip(), re.IGNORECASE)
    if match is None:
        return None
    day, clock, offset = match.groups()
    offset = "+00:00" if offset is None or offset.upper() == "Z" else offset
    if ":" not in offset:
        offset = offset[:3] + ":" + offset[3:]
    return datetime.fromisoformat(f"{day}T{clock or '00:00'}{offset}").astimezone(timezone.utc)


class Since(click.ParamType):
    """The start of a past period: a duration back from now (`24h`, `7d`, `1h30m`) or an ISO
    date or time (`2026-11-01`, `2026-11-01T12:00`, `2026-11-01T12:00:00Z`, `...+02:00`; UTC
    without an offset). Converts to an aware UTC datetime."""

    name = "since"

    def __init__(self, clock=None):
        self.clock = clock or utc_now  # the command line's clock (tests freeze it)

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        now = self.clock()
        seconds = parse_duration(str(value))
        if seconds is not None:
            if seconds <= 0:
                self.fail(f"{value!r} is not a positive duration", param, ctx)
            return now - timedelta(seconds=seconds)
        try:
            when = parse_when(str(value))
        except ValueError as e:
            self.fail(f"{value!r} is not a valid date: {e}", param, ctx)
        if when is None:
            self.fail(f"{value!r} is neither a duration (24h, 7d, 1h30m) nor a date (2026-11-01, "
                      "2026-11-01T12:00, 2026-11-01T12:00:00Z)", param, ctx)
        if when > now:
            self.fail(f"{value!r} is in the future", param, ctx)
        return when


class Horizons(click.ParamType):
    """Comma-separated forward horizons in whole hours: `1h,4h,24h` (or `1d`)."""

    name = "horizons"

    def convert(self, value, param, ctx) -> list[int]:
        from perps_tracker.model.analysis import parse_horizons

        if isinstance(value, list):
            return value
        try:
            hours = parse_horizons(str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)
        if hours[-1] > 30 * 24:
            self.fail(f"{value!r}: the longest horizon is 30d", param, ctx)
        return hours
