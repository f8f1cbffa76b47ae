"""Formatting shared by every renderer: money, percentages, times, JSON on stdout."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from perps_tracker.model.times import iso
from perps_tracker.render.terminal import echo_err, encodes

NO_SNAPSHOTS_HINT = (
    "No snapshots yet. Take one with `perps-tracker snapshot`, "
    "or add the hourly line from crontab.example."
)


def print_json(obj: Any) -> None:
    """One JSON object on stdout (plain text, no colour, no wrapping; `\\u` escapes where stdout is ASCII)."""
    ascii_only = not encodes(getattr(sys.stdout, "encoding", None))
    click.echo(json.dumps(obj, indent=2, ensure_ascii=ascii_only))


def warn(text: str) -> None:
    """A `Warning: ...` line on stderr (cron mails it), even with --quiet."""
    echo_err(f"Warning: {text}")


def human_bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def fmt_time(ts: int | None) -> str:
    return "-" if ts is None else iso(ts).replace("T", " ").replace("Z", " UTC")


def fmt_clock(ts: int | None) -> str:
    """`11:02 UTC` (the time of day of a run)."""
    return "-" if ts is None else fmt_time(ts)[11:16] + " UTC"


def fmt_score(x: float | None) -> str:
    return "-" if x is None else f"{x:+.3f}"


def fmt_usd_short(x: float | None) -> str:
    """Three significant digits: $12.5M, $882K, $3.61B (for narrow tables)."""
    if x is None:
        return "-"
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= size * 0.9995:
            v = x / size
            digits = 2 if abs(v) < 9.995 else 1 if abs(v) < 99.95 else 0
            return f"${v:,.{digits}f}{unit}"
    return f"${x:.0f}"


def fmt_pct(x: float | None, digits: int = 2, *, fraction: bool = False) -> str:
    """A percentage with sign; `fraction=True` when x is a fraction (0.0001 → +0.0100%)."""
    if x is None:
        return "-"
    return f"{x * 100 if fraction else x:+.{digits}f}%"


def fmt_num(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


