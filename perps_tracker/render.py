"""Turn results into rich tables for people and plain JSON for scripts.

Core code never prints; the CLI hands its results to one of these functions.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from perps_tracker.config import OPTIONS, Settings
from perps_tracker.storage.db import display_url
from perps_tracker.storage.queries import CleanupResult, Stats, iso

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

NO_SNAPSHOTS_HINT = (
    "No snapshots yet. Take one with `perps-tracker snapshot`, "
    "or add the hourly line from crontab.example."
)


def say(text: str) -> None:
    """One line for a person, never wrapped (paths and URLs stay copyable)."""
    console.print(text, soft_wrap=True, markup=False)


def print_json(obj: Any) -> None:
    """One JSON object on stdout (plain text, no colour, no wrapping)."""
    click.echo(json.dumps(obj, indent=2, ensure_ascii=False))


def human_bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _fmt_time(ts: int | None) -> str:
    return "-" if ts is None else iso(ts).replace("T", " ").replace("Z", " UTC")


def _fmt_score(x: float | None) -> str:
    return "-" if x is None else f"{x:+.3f}"


# -- init --------------------------------------------------------------------------------


def render_init(db) -> None:
    state = {
        "created": "created",
        "upgraded": f"upgraded from {db.previous_revision}",
        "current": "already up to date",
    }[db.action]
    say(f"Database: {db.display_url}")
    say(f"Schema revision: {db.revision} ({state})")


# -- stats -------------------------------------------------------------------------------


def stats_json(s: Stats) -> dict[str, Any]:
    latest = None
    if s.latest is not None:
        latest = {
            "timestamp": iso(s.latest.timestamp),
            "source": s.latest.source,
            "composite_score": s.latest.composite_score,
            "sentiment": s.latest.sentiment,
            "strength": s.latest.strength,
            "exchanges_ok": s.latest.exchanges_ok,
            "exchanges_failed": s.latest.exchanges_failed,
        }
    return {
        "database": s.database,
        "schema_revision": s.revision,
        "size_bytes": s.size_bytes,
        "rows": s.rows,
        "first_snapshot": iso(s.first_snapshot),
        "last_snapshot": iso(s.last_snapshot),
        "latest": latest,
        "trend": {
            "composite_24h_ago": s.composite_24h_ago,
            "composite_change_24h": s.composite_change_24h,
        },
        "coverage": [
            {
                "exchange": c.exchange,
                **{f"hours_ok_{w}": c.hours_ok[w] for w in c.hours_ok},
                **{f"share_{w}": round(c.share[w], 4) for w in c.share},
            }
            for c in s.coverage
        ],
        "gaps": {
            "since": iso(s.gap_window_start),
            "missing_hours": s.missing_hours,
            "ranges": [{"from": iso(g.start), "to": iso(g.end), "hours": g.hours} for g in s.gaps],
        },
        "hint": NO_SNAPSHOTS_HINT if s.empty else None,
    }


def render_stats(s: Stats) -> None:
    say(f"Database: {s.database}  ({human_bytes(s.size_bytes)}, schema {s.revision})")
    rows = Table(title="Rows", title_justify="left")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, count in s.rows.items():
        rows.add_row(name, f"{count:,}")
    console.print(rows)
    if s.empty:
        say(NO_SNAPSHOTS_HINT)
        return

    latest = s.latest
    say(f"Snapshots: {_fmt_time(s.first_snapshot)} → {_fmt_time(s.last_snapshot)}")
    say(
        f"Latest ({_fmt_time(latest.timestamp)}, {latest.source}): composite {_fmt_score(latest.composite_score)}"
        f" {latest.sentiment or '-'} ({latest.strength or '-'}), venues ok {latest.exchanges_ok}"
        f"/{latest.exchanges_ok + latest.exchanges_failed}"
    )
    change = s.composite_change_24h
    say(
        "Trend: no snapshot 20–28 h before the latest" if change is None
        else f"Trend: composite {_fmt_score(change)} over 24 h (from {_fmt_score(s.composite_24h_ago)})"
    )

    cov = Table(title="Coverage (hours with an ok venue row)", title_justify="left")
    cov.add_column("venue")
    for window in ("24h", "7d"):
        cov.add_column(window, justify="right")
    for c in s.coverage:
        cov.add_row(c.exchange, *(f"{c.share[w]:.0%} ({c.hours_ok[w]})" for w in ("24h", "7d")))
    console.print(cov)

    if not s.gaps:
        say(f"Missing hours since {_fmt_time(s.gap_window_start)}: none")
        return
    say(f"Missing hours since {_fmt_time(s.gap_window_start)}: {s.missing_hours}")
    for g in s.gaps[:20]:
        span = _fmt_time(g.start) if g.hours == 1 else f"{_fmt_time(g.start)} → {_fmt_time(g.end)}"
        say(f"  {span}  ({g.hours} h)")
    if len(s.gaps) > 20:
        say(f"  … and {len(s.gaps) - 20} more gaps (see --json)")


# -- cleanup -----------------------------------------------------------------------------


def cleanup_json(r: CleanupResult) -> dict[str, Any]:
    return {
        "days": r.days,
        "cutoff": iso(r.cutoff),
        "dry_run": r.dry_run,
        "removed": r.removed,
        "total": r.total,
        "kept_newest_snapshot": iso(r.kept_newest),
        "size_before_bytes": r.size_before,
        "size_after_bytes": r.size_after,
    }


def render_cleanup(r: CleanupResult) -> None:
    verb = "Would delete" if r.dry_run else "Deleted"
    say(f"{verb} rows older than {r.days} days (before {_fmt_time(r.cutoff)}):")
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in r.removed.items():
        table.add_row(name, f"{count:,}")
    table.add_row("total", f"{r.total:,}", style="bold")
    console.print(table)
    if r.kept_newest is not None and r.kept_newest < r.cutoff:
        say(f"Kept the newest snapshot ({_fmt_time(r.kept_newest)}) although it is older.")
    if r.size_before is not None:
        say(f"Vacuumed: {human_bytes(r.size_before)} → {human_bytes(r.size_after)}")


# -- config ------------------------------------------------------------------------------


def _shown(key: str, value: Any) -> Any:
    return display_url(value) if key == "db" else value


def config_json(s: Settings) -> dict[str, Any]:
    return {
        "config_file": str(s.config_file) if s.config_file else None,
        "searched": [str(p) for p in s.searched],
        "settings": {k: {"value": _shown(k, s.values[k]), "source": s.sources[k]} for k in OPTIONS},
    }


def render_config(s: Settings) -> None:
    if s.config_file:
        say(f"Config file: {s.config_file}")
    else:
        say("Config file: none (looked for " + ", ".join(str(p) for p in s.searched) + ")")
    table = Table()
    table.add_column("key")
    table.add_column("value", overflow="fold")
    table.add_column("source", overflow="fold")
    table.add_column("env", overflow="fold")
    for key, option in OPTIONS.items():
        table.add_row(key, str(_shown(key, s.values[key])), s.sources[key], option.env or "")
    console.print(table)
