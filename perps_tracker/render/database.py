"""`init`, `stats`, `cleanup` and `config`: what the database and the settings hold."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from perps_tracker.config import OPTIONS, Settings
from perps_tracker.model.times import iso
from perps_tracker.render.format import (
    NO_SNAPSHOTS_HINT,
    fmt_clock,
    fmt_score,
    fmt_time,
    human_bytes,
)
from perps_tracker.render.output import Col, Grid, keep, listed, paint, say
from perps_tracker.storage.db import display_url
from perps_tracker.storage.queries import CleanupResult, Stats

# -- init --------------------------------------------------------------------------------


def render_init(db) -> None:
    state = {
        "created": "created",
        "upgraded": f"upgraded from {db.previous_revision}",
        "current": "already up to date",
    }[db.action]
    say(f"Database: {db.display_url}", hang=2)
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
            "taken_at": iso(s.latest.taken_at),
            "exchanges": [{"exchange": e, "status": st, "taken_at": iso(t)} for e, st, t in s.latest.venues],
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
                "backfill_hours": c.backfill_hours,
            }
            for c in s.coverage
        ],
        "backfill": None if s.backfill is None else {
            "snapshots": s.backfill.snapshots, "first": iso(s.backfill.first), "last": iso(s.backfill.last)},
        "gaps": {
            "since": iso(s.gap_window_start),
            "missing_hours": s.missing_hours,
            "ranges": [{"from": iso(g.start), "to": iso(g.end), "hours": g.hours} for g in s.gaps],
        },
        "capture": _capture_json(s),
        "hint": NO_SNAPSHOTS_HINT if s.empty else None,
    }


def _capture_json(s: Stats) -> dict[str, Any]:
    return {
        "gaps": [{"exchange": g.exchange, "channel": g.channel, "gaps_24h": g.count_24h,
                  "missing_seconds_24h": g.ms_24h / 1000, "gaps": g.count, "missing_seconds": g.ms / 1000,
                  "first_gap": iso(g.first_ms // 1000) if g.first_ms is not None else None}
                 for g in s.capture_gaps],
        "files": None if s.capture_files is None else [
            {"channel": f.channel, "exchange": f.exchange, "files": f.files, "rows": f.rows, "bytes": f.bytes,
             "first_date": f.first_date, "last_date": f.last_date} for f in s.capture_files],
    }


def render_stats(s: Stats) -> None:
    say(f"Database: {s.database}", keep(f"  ({human_bytes(s.size_bytes)}, schema {s.revision})"), hang=2)
    rows = Grid(Col("table", "left"), Col("rows"))
    for name, count in s.rows.items():
        rows.add(name, f"{count:,}")
    rows.print()
    if s.empty:
        say(NO_SNAPSHOTS_HINT)
    else:
        _stats_latest(s)
        _stats_coverage(s)
        _stats_gaps(s)
    _stats_capture(s)


def _stats_latest(s: Stats) -> None:
    latest = s.latest
    say(f"Snapshots: {fmt_time(s.first_snapshot)} → {fmt_time(s.last_snapshot)}", hang=2)
    say(f"Latest ({fmt_time(latest.timestamp)}, {latest.source}): ",
        *listed([f"composite {fmt_score(latest.composite_score)} {latest.sentiment or '-'} ({latest.strength or '-'})",
                 f"venues ok {latest.exchanges_ok}/{latest.exchanges_ok + latest.exchanges_failed}"]), hang=2)
    if len(latest.runs) > 1:
        say(f"  merged from {len(latest.runs)} runs: ",
            *listed((f"{fmt_clock(t)} {', '.join(venues)}" for t, venues in latest.runs.items()), "; "), hang=2)
    change = s.composite_change_24h
    say(
        "Trend: no snapshot 20–28 h before the latest" if change is None
        else f"Trend: composite {fmt_score(change)} over 24 h (from {fmt_score(s.composite_24h_ago)})"
    )


def _stats_coverage(s: Stats) -> None:
    say("Coverage (hours with an ok venue row)", style="bold")
    cov = Grid(Col("venue", "left"), Col("24h"), Col("7d"), *([Col("backfilled")] if s.backfill else []))
    for c in s.coverage:
        cells = [f"{c.share[w]:.0%} ({c.hours_ok[w]})" for w in ("24h", "7d")]
        if s.backfill is not None:
            cells.append(f"{c.backfill_hours / s.backfill.snapshots:.0%} ({c.backfill_hours})")
        cov.add(c.exchange, *cells)
    cov.print()
    if s.backfill is not None:
        say(f"Backfilled: {s.backfill.snapshots} snapshots, {fmt_time(s.backfill.first)} → "
            f"{fmt_time(s.backfill.last)} (`backfilled`: of those, hours with the venue's row ok)", hang=2)


def _stats_gaps(s: Stats) -> None:
    if not s.gaps:
        say(f"Missing hours since {fmt_time(s.gap_window_start)}: none")
        return
    say(f"Missing hours since {fmt_time(s.gap_window_start)}: {s.missing_hours}")
    for g in s.gaps[:20]:
        span = fmt_time(g.start) if g.hours == 1 else f"{fmt_time(g.start)} → {fmt_time(g.end)}"
        say(f"  {span}  ({g.hours} h)", hang=2)
    if len(s.gaps) > 20:
        say(f"  … and {len(s.gaps) - 20} more gaps (see --json)")


def _seconds(ms: int) -> str:
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _stats_capture(s: Stats) -> None:
    """Real-time capture: its gaps per venue and channel, and the dataset's files (docs/capture.md)."""
    if s.capture_gaps:
        say("Capture gaps (time not read, by venue and channel)", style="bold")
        grid = Grid(Col("venue", "left"), Col("channel", "left"), Col("24h"), Col("all"), Col("since", drop=1))
        for g in s.capture_gaps:
            grid.add(g.exchange, g.channel, f"{g.count_24h} ({_seconds(g.ms_24h)})", f"{g.count} ({_seconds(g.ms)})",
                     fmt_time(g.first_ms // 1000) if g.first_ms is not None else None)
        grid.print()
    if s.capture_files:
        say("Capture dataset (Parquet files by channel and venue)", style="bold")
        grid = Grid(Col("channel", "left"), Col("venue", "left"), Col("files"), Col("rows"), Col("size"),
                    Col("dates", "left", drop=1))
        for f in s.capture_files:
            dates = f.first_date if f.first_date == f.last_date else f"{f.first_date} → {f.last_date}"
            grid.add(f.channel, f.exchange, f"{f.files:,}", f"{f.rows:,}", human_bytes(f.bytes), dates)
        grid.print()


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
    say(f"{verb} rows older than {r.days} days (before {fmt_time(r.cutoff)}):", hang=2)
    grid = Grid(Col("table", "left"), Col("rows"))
    for name, count in r.removed.items():
        grid.add(name, f"{count:,}", section=name == list(r.removed)[-1])
    grid.add("total", f"{r.total:,}", style="bold")
    grid.print()
    if r.kept_newest is not None and r.kept_newest < r.cutoff:
        say(f"Kept the newest snapshot ({fmt_time(r.kept_newest)}) although it is older.", hang=2)
    if r.size_before is not None:
        say(f"Vacuumed: {human_bytes(r.size_before)} → {human_bytes(r.size_after)}")


# -- config ------------------------------------------------------------------------------


def _shown(s: Settings, key: str) -> Any:
    """A setting as it may be printed: database passwords and webhook URLs masked."""
    return display_url(s.values[key]) if key == "db" else s.shown(key)


def config_json(s: Settings) -> dict[str, Any]:
    return {
        "config_file": str(s.config_file) if s.config_file else None,
        "searched": [str(p) for p in s.searched],
        "settings": {k: {"value": _shown(s, k), "source": s.sources[k]} for k in OPTIONS},
    }


def render_config(s: Settings) -> None:
    """Keys whole, each with its value and, under it, where it came from and its environment variable."""
    if s.config_file:
        say(f"Config file: {s.config_file}", hang=2)
    else:
        say("Config file: none (looked for ", *listed(str(p) for p in s.searched), ")", hang=2)
    grid = Grid(Col("key", "left"), Col("value (source, environment variable)", "left", wrap=True))
    for key, option in OPTIONS.items():
        value = str(_shown(s, key))
        source = s.sources[key].split(" ")[0] if s.sources[key].startswith("file ") else s.sources[key]
        origin = source if source == f"env {option.env}" or not option.env else f"{source}, env {option.env}"
        cell = paint(value) if value else paint("(not set)", "dim")
        grid.add(key, cell + Text("\n") + paint(origin, "dim"))
    grid.print()


