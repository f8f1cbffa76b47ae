"""Turn results into rich tables for people and plain JSON for scripts.

Core code never prints; the CLI hands its results to one of these functions.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from perps_tracker.config import OPTIONS, Settings
from perps_tracker.snapshot import Snapshot
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


def fmt_usd(x: float | None) -> str:
    if x is None:
        return "-"
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= size:
            return f"${x / size:,.2f}{unit}"
    return f"${x:,.0f}"


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


# -- snapshot ----------------------------------------------------------------------------

def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    m, s = snap.market, snap.sentiment
    return {
        "timestamp": iso(snap.timestamp),
        "taken_at": snap.taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "market": {
            "total_volume_usd": m.total_volume_usd, "total_oi_usd": m.total_oi_usd,
            "cex_volume_usd": m.cex_volume_usd, "dex_volume_usd": m.dex_volume_usd,
            "btc_price": m.btc_price,
            "funding_rate_8h": m.funding_rate_8h, "price_change_24h_pct": m.price_change_24h_pct,
            "funding_divergence": m.funding_divergence, "oi_vol_ratio": m.oi_vol_ratio,
            "long_share": m.long_share, "long_short_ratio": m.long_short_ratio,
            "oi_change_24h_pct": m.oi_change_24h_pct, "exchanges_ok": m.exchanges_ok,
            "exchanges_failed": m.exchanges_failed,
            "composite_score": s.composite_score, "sentiment": s.sentiment, "strength": s.strength,
            "divergence_label": s.divergence_label,
        },
        "factors": snap.factors.as_dict(),
        "missing_factors": list(snap.factors.missing),
        "liquidations": {
            "window_hours": 1.0,
            "venues": [liquidation_line_json(line) for line in snap.liquidations if line.exchange != "all"],
            "market": next((liquidation_line_json(line) for line in snap.liquidations if line.exchange == "all"),
                           None),
        },
        "exchanges": [
            {
                "exchange": v.exchange, "kind": v.kind, "status": v.status, "error": v.error,
                "latency_ms": v.latency_ms, "volume_24h_usd": v.volume_24h_usd,
                "open_interest_usd": v.open_interest_usd, "markets": v.markets,
                "num_trades_24h": v.num_trades_24h, "btc_price": v.btc_price,
                "btc_mark_price": v.btc_mark_price, "btc_index_price": v.btc_index_price,
                "btc_funding_rate_8h": v.btc_funding_rate_8h,
                "btc_price_change_24h_pct": v.btc_price_change_24h_pct,
                "long_short_ratio": v.long_short_ratio, "long_share": v.long_share,
                "records_skipped": v.records_skipped, "notes": list(v.notes),
            }
            for v in snap.venues
        ],
    }


def _oi_vol(oi: float | None, vol: float | None) -> str:
    return fmt_num(oi / vol) if oi is not None and vol else "-"


def render_snapshot(snap: Snapshot) -> None:
    m, s = snap.market, snap.sentiment
    table = Table(title=f"Perpetual futures · {_fmt_time(snap.timestamp)}", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name, justify in (("venue", "left"), ("kind", "left"), ("vol 24h", "right"), ("OI", "right"),
                          ("fund 8h", "right"), ("OI/vol", "right"), ("BTC 24h", "right"),
                          ("mkts", "right"), ("status", "left")):
        table.add_column(name, justify=justify, overflow="fold", no_wrap=name != "status")
    for v in snap.venues:
        status = "ok" if v.ok else "[red]error[/red]"
        table.add_row(v.exchange, v.kind, fmt_usd(v.volume_24h_usd), fmt_usd(v.open_interest_usd),
                      fmt_pct(v.btc_funding_rate_8h, 4, fraction=True), _oi_vol(v.open_interest_usd, v.volume_24h_usd),
                      fmt_pct(v.btc_price_change_24h_pct), "-" if v.markets is None else str(v.markets), status)
    markets = sum(v.markets or 0 for v in snap.venues if v.ok)
    table.add_row(f"total {m.exchanges_ok}/{m.exchanges_ok + m.exchanges_failed}", "",
                  fmt_usd(m.total_volume_usd), fmt_usd(m.total_oi_usd), fmt_pct(m.funding_rate_8h, 4, fraction=True),
                  fmt_num(m.oi_vol_ratio), fmt_pct(m.price_change_24h_pct), str(markets), "", style="bold")
    console.print(table)
    say(f"CEX {fmt_usd(m.cex_volume_usd)} · DEX {fmt_usd(m.dex_volume_usd)} · BTC "
        f"{'-' if m.btc_price is None else f'${m.btc_price:,.0f}'}"
        f" · OI 24h change {fmt_pct(m.oi_change_24h_pct)} · long share "
        f"{'-' if m.long_share is None else f'{m.long_share:.1%}'}")
    sigma = "-" if m.funding_divergence is None else f"{m.funding_divergence * 100:.4f}%"
    say(f"Funding divergence: σ {sigma} per 8 h ({s.divergence_label or 'n/a'})")
    factors = "  ".join(f"{name} {'-' if value is None else f'{value:+.2f}'}"
                        for name, value in snap.factors.as_dict().items())
    say(f"Factors: {factors}")
    if s.composite_score is None:
        say("Sentiment: not enough data for a score")
    else:
        say(f"Sentiment: {s.sentiment} ({s.strength}), composite {s.composite_score:+.3f}"
            + (f" (missing: {', '.join(snap.factors.missing)}; weights rescaled)" if snap.factors.missing else ""))
    line = _snapshot_liquidations_line(snap)
    say(line or "Liquidations: no venue was being read in the last hour (see `perps-tracker liquidations watch`)")
    for v in snap.failed:
        say(f"Failed: {v.exchange}: {v.error}")
    for v in snap.venues:
        for note in v.notes:
            say(f"Note: {v.exchange}: {note}")
    skipped = [f"{v.exchange} {v.records_skipped}" for v in snap.venues if v.records_skipped]
    if skipped:
        say(f"Skipped unusable records (missing or NaN numbers): {', '.join(skipped)}")


def _snapshot_liquidations_line(snap: Snapshot) -> str | None:
    market = next((line for line in snap.liquidations if line.exchange == "all"), None)
    if market is None:
        return None
    venues = ", ".join(line.exchange for line in snap.liquidations if line.exchange != "all")
    return (f"Liquidations, last hour ({venues}{'; sampled' if market.sampled else ''}): "
            f"{fmt_usd(market.total_usd)} in {market.count} events, longs {_share(market.long_liq_share)} · "
            f"cascade risk {_risk(market)}")


def render_snapshot_warnings(snap: Snapshot) -> None:
    """For --quiet: one stderr line per failed venue (cron mails stderr)."""
    for v in snap.failed:
        error_console.print(f"Warning: {v.exchange} failed: {v.error}", soft_wrap=True, markup=False, highlight=False)


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
    if s.backfill is not None:
        cov.add_column("backfilled", justify="right")
    for c in s.coverage:
        cells = [f"{c.share[w]:.0%} ({c.hours_ok[w]})" for w in ("24h", "7d")]
        if s.backfill is not None:
            cells.append(f"{c.backfill_hours / s.backfill.snapshots:.0%} ({c.backfill_hours})")
        cov.add_row(c.exchange, *cells)
    console.print(cov)
    if s.backfill is not None:
        say(f"Backfilled: {s.backfill.snapshots} snapshots, {_fmt_time(s.backfill.first)} → "
            f"{_fmt_time(s.backfill.last)} (`backfilled`: of those, hours with the venue's row ok)")

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
        table.add_row(key, str(_shown(s, key)), s.sources[key], option.env or "")
    console.print(table)


# -- liquidations --------------------------------------------------------------------------


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _risk(line) -> str:
    if line.cascade_risk_score is None:
        return "- (no volume)" if line.observed else "-"
    return f"{line.cascade_risk_score:.2f} {line.level}"


def _iso_ms(ms: int) -> str:
    return iso(ms // 1000)


def liquidation_line_json(line) -> dict[str, Any]:
    out = {"exchange": line.exchange}
    for name in ("count", "long_usd", "short_usd", "total_usd", "long_liq_share", "largest_usd",
                 "cascade_risk_score", "level", "sampled", "coverage", "volume_usd"):
        out[name] = getattr(line, name)
    return out


def liquidations_json(report) -> dict[str, Any]:
    market = None
    if report.market is not None:
        market = liquidation_line_json(report.market)
        market.pop("exchange")
    return {
        "window_hours": report.window_hours,
        "from": _iso_ms(report.start_ms),
        "to": _iso_ms(report.end_ms),
        "venues": [liquidation_line_json(line) for line in report.lines],
        "market": market,
        "volumes_from_snapshot": None if report.volumes_at is None else iso(report.volumes_at),
        "sources": report.details,
        "polls": [{"exchange": p.exchange, "events": p.events, "new": p.new, "error": p.error,
                   "notes": list(p.notes)} for p in report.polls],
    }


def render_liquidations(report) -> None:
    from perps_tracker.liquidation_report import sampled_venues

    end = _fmt_time(report.end_ms // 1000)
    table = Table(title=f"Liquidations · {report.window_hours:g} h to {end[:16]} UTC", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("venue", "events", "longs", "shorts", "total", "long%", "largest", "risk", "seen"):
        table.add_column(name, justify="left" if name in ("venue", "risk") else "right", no_wrap=True)
    for line in report.lines:
        if not line.observed:
            table.add_row(line.exchange, "-", "-", "-", "-", "-", "-", "not read", "0%", style="dim")
            continue
        table.add_row(line.exchange + ("*" if line.sampled else ""), str(line.count), fmt_usd_short(line.long_usd),
                      fmt_usd_short(line.short_usd), fmt_usd_short(line.total_usd), _share(line.long_liq_share),
                      fmt_usd_short(line.largest_usd), _risk(line), f"{line.coverage:.0%}")
    m = report.market
    if m is not None:
        table.add_row("market" + ("*" if m.sampled else ""), str(m.count), fmt_usd_short(m.long_usd),
                      fmt_usd_short(m.short_usd), fmt_usd_short(m.total_usd), _share(m.long_liq_share),
                      fmt_usd_short(m.largest_usd), _risk(m), "", style="bold")
    console.print(table)
    if m is None:
        say("No venue's liquidations were being read in this window: run `perps-tracker liquidations watch` "
            "(Binance, Bybit, OKX) or poll with `perps-tracker liquidations` (OKX, Gate.io).")
    observed = {line.exchange for line in report.lines if line.observed}
    sampled = {v: how for v, how in sampled_venues().items() if v in observed}
    if sampled:
        say("* Sampled: " + "; ".join(f"{v} sends {how}" for v, how in sampled.items())
            + ". Totals are lower bounds.")
    unread = [line.exchange for line in report.lines if not line.observed]
    if unread:
        say(f"Not read in this window: {', '.join(unread)} (unknown, not zero; left out of the market line).")
    partial = [f"{line.exchange} {line.coverage:.0%}" for line in report.lines if 0 < line.coverage < 0.995]
    if partial:
        say(f"Partly read: {', '.join(partial)} of the window; V is scaled to the time read.")
    if report.volumes_at is None:
        if m is not None and m.total_usd:
            say("Cascade risk needs volume: no snapshot in the last 24 h (run `perps-tracker snapshot`).")
    else:
        say(f"Volume V from the snapshot of {_fmt_time(report.volumes_at)}.")
    for venue, details in report.details.items():
        say(f"Source: {venue}: {'; '.join(details)}")
    for p in report.polls:
        for note in p.notes:
            say(f"Note: {p.exchange}: {note}")


def render_poll_warnings(report) -> None:
    for p in report.failed_polls:
        error_console.print(f"Warning: {p.exchange} liquidations not fetched: {p.error}", soft_wrap=True,
                            markup=False, highlight=False)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def render_watch_summary(stats, elapsed: float) -> None:
    table = Table(title=f"Liquidation streams · ran {_duration(elapsed)}", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("venue", "events", "stored", "dupes", "bad", "conn", "drops", "online", "last error"):
        table.add_column(name, justify="left" if name in ("venue", "last error") else "right",
                         no_wrap=name != "last error", overflow="fold")
    for s in stats.values():
        online = f"{min(1.0, s.connected_s / elapsed):.0%}" if elapsed > 0 else "-"
        table.add_row(s.exchange, str(s.events), str(s.stored), str(s.duplicates), str(s.malformed),
                      str(s.connects), str(s.drops), online, s.last_error or "")
    console.print(table)


def watch_log(line: str) -> None:
    """A timestamped progress line on stderr (systemd's journal, a terminal)."""
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
    error_console.print(f"{stamp} {line}", soft_wrap=True, markup=False, highlight=False)



# -- backfill ------------------------------------------------------------------------------


class BackfillProgress:
    """Rich progress bars on stderr: one per venue download (requests), then the hours stored."""

    def __init__(self, venues):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description:<12}"), BarColumn(bar_width=30),
                                 MofNCompleteColumn(), TextColumn("{task.fields[state]}"), TimeElapsedColumn(),
                                 console=error_console, transient=False)
        self.tasks = {v: self.progress.add_task(v, total=None, state="") for v in venues}
        self.store_task = None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def reporter(self):
        from perps_tracker.backfill import Reporter

        return Reporter(venue_progress=self.venue_progress, venue_done=self.venue_done,
                        store_progress=self.store_progress)

    def venue_progress(self, venue: str, done: int, total: int) -> None:
        self.progress.update(self.tasks[venue], completed=done, total=max(total, done), state="requests")

    def venue_done(self, outcome) -> None:
        state = {"downloaded": "done", "kept": "kept from the last run"}.get(outcome.status, "failed")
        task = self.tasks[outcome.exchange]
        total = self.progress.tasks[task].total or 1
        self.progress.update(task, completed=total, total=total, state=state)

    def store_progress(self, done: int, total: int) -> None:
        if self.store_task is None:
            self.store_task = self.progress.add_task("hours", total=total, state="stored")
        self.progress.update(self.store_task, completed=done)


def backfill_json(r) -> dict[str, Any]:
    return {
        "days": r.days,
        "from": iso(r.first_hour),
        "to": iso(r.last_hour),
        "planned_hours": r.planned,
        "stored_hours": r.stored,
        "existing_hours": r.existing,
        "hours_without_data": r.without_data,
        "venues": [{"exchange": v.exchange, "status": v.status, "error": v.error, "markets": v.symbols,
                    "markets_failed": v.symbols_failed, "hours": v.hours, "notes": list(v.notes)}
                   for v in r.venues],
    }


def render_backfill(r) -> None:
    span = f"{_fmt_time(r.first_hour)} → {_fmt_time(r.last_hour)}"
    kept = ", ".join(f"{n} {source}" for source, n in sorted(r.existing.items())) or "none"
    if not r.planned:
        say(f"Nothing to backfill: every hour of {span} already has a snapshot ({kept}).")
        return
    say(f"Backfilled {r.stored} of {r.planned} missing hours, {span}; already stored and left alone: {kept}.")
    if r.without_data:
        say(f"{r.without_data} hours had no venue with history for them and stay missing.")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("venue", "download", "markets", "failed", "hours ok"):
        table.add_column(name, justify="left" if name in ("venue", "download") else "right", no_wrap=True)
    for v in r.venues:
        table.add_row(v.exchange, v.status, str(v.symbols) if v.status != "failed" else "-",
                      str(v.symbols_failed) if v.status != "failed" else "-", str(v.hours))
    console.print(table)
    for v in r.venues:
        if v.status == "failed":
            say(f"{v.exchange}: failed: {v.error}")
        for note in v.notes:
            say(f"{v.exchange}: {note}")


# -- alerts --------------------------------------------------------------------------------

ARROWS = {"long": "▲ LONG", "short": "▼ SHORT", "neutral": "● NEUTRAL"}
SHOWN_STATUS = ("sent", "fired", "suppressed")


def _alert_entry_json(e) -> dict[str, Any]:
    return {
        "strategy": e.strategy, "tier": e.tier, "confidence": e.confidence, "direction": e.direction,
        "reasons": list(e.reasons), "status": e.status, "why": e.why,
        "alert_time": iso(e.alert_time), "deliveries": dict(e.deliveries),
    }


def alerts_json(run, show_all: bool) -> dict[str, Any]:
    return {
        "evaluated_at": iso(run.evaluated_at),
        "snapshot": iso(run.snapshot),
        "snapshot_source": run.snapshot_source,
        "alerts": [_alert_entry_json(e) for e in run.entries if show_all or e.status in SHOWN_STATUS],
        "notified": list(run.webhooks),
        "delivered": run.delivered,
        "delivery_failures": [{"webhook": f.webhook, "strategy": f.strategy, "snapshot": iso(f.snapshot_timestamp),
                               "reason": f.reason, "expired": f.expired} for f in run.failures],
    }


def _delivery_text(deliveries) -> str:
    if not deliveries:
        return ""
    return " · " + ", ".join(f"{w} {s}" for w, s in deliveries)


def _alert_block(e, when: str = "") -> None:
    head = ARROWS.get(e.direction or "", "-")
    say(f"{e.status.upper():<10} {e.strategy} · tier {e.tier} · {head} · confidence {e.confidence}{when}"
        f"{_delivery_text(e.deliveries)}")
    for reason in e.reasons:
        say(f"           • {reason}")
    if e.why and e.status != "not_fired":
        say(f"           {e.why}")


def render_alerts(run, show_all: bool) -> None:
    from perps_tracker.alerts import STALE_AFTER

    backfilled = " (backfilled)" if run.snapshot_source != "live" else ""
    say(f"Alerts on the snapshot of {_fmt_time(run.snapshot)}{backfilled}, evaluated {_fmt_time(run.evaluated_at)}")
    if run.stale_seconds > STALE_AFTER:
        say(f"Note: that snapshot is {run.stale_seconds / 3600:.0f} h old; take a new one with "
            "`perps-tracker snapshot`.")
    shown = [e for e in run.entries if e.status in SHOWN_STATUS]
    for e in shown:
        _alert_block(e, " (decided earlier on this snapshot)" if e.earlier else "")
    if not shown:
        say("No strategy fires on this snapshot." + ("" if show_all else " `--all` shows why."))
    if show_all:
        rest = [e for e in run.entries if e.status == "not_fired"]
        if rest:
            say("")
            say("Not fired:")
            for e in rest:
                say(f"  {e.strategy} (tier {e.tier}): {e.why}")
    if run.webhooks:
        say(f"Delivered {run.delivered} notification(s) to {', '.join(run.webhooks)}.")


def render_delivery_warnings(run) -> None:
    for f in run.failures:
        what = "given up" if f.expired else "will retry on the next run"
        error_console.print(f"Warning: {f.webhook} webhook: {f.strategy} ({_fmt_time(f.snapshot_timestamp)}) "
                            f"not delivered, {what}: {f.reason}", soft_wrap=True, markup=False, highlight=False)


def alert_history_json(alerts, since: int) -> dict[str, Any]:
    return {
        "since": iso(since),
        "alerts": [{
            "evaluated_at": iso(a.timestamp), "snapshot": iso(a.snapshot_timestamp), "strategy": a.strategy,
            "tier": a.tier, "confidence": a.confidence, "direction": a.direction, "reasons": list(a.reasons),
            "status": a.status, "why": a.why, "deliveries": dict(a.deliveries),
            "delivered_at": iso(a.delivered_at), "delivery_attempts": a.delivery_attempts,
            "delivery_error": a.delivery_error,
        } for a in alerts],
    }


def render_alert_history(alerts, since: int, show_all: bool) -> None:
    shown = [a for a in alerts if show_all or a.status != "suppressed"]
    hidden = len(alerts) - len(shown)
    say(f"Alerts since {_fmt_time(since)}: {len(shown)}"
        + (f" ({hidden} suppressed not shown; `--all` shows them)" if hidden else ""))
    if not shown:
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("snapshot", "strategy", "t", "conf", "dir", "status"):
        table.add_column(name, justify="right" if name in ("t", "conf") else "left", no_wrap=name != "strategy")
    for a in shown:
        status = a.status
        pending = [w for w, s in a.deliveries if s != "delivered"]
        if pending:
            status += " (" + ", ".join(f"{w} {s}" for w, s in a.deliveries if s != "delivered") + ")"
        table.add_row(_fmt_time(a.snapshot_timestamp)[:16], a.strategy, str(a.tier), str(a.confidence),
                      a.direction or "-", status)
    console.print(table)


def render_new_alerts(run) -> None:
    """For `snapshot --alerts --quiet` without webhooks: only the alerts raised now (cron mails them)."""
    fresh = [e for e in run.entries if e.status in ("fired", "sent") and not e.earlier]
    for e in fresh:
        _alert_block(e, f" ({_fmt_time(run.snapshot)[:16]} snapshot)")
