"""Turn results into rich tables for people and plain JSON for scripts.

Core code never prints; the CLI hands its results to one of these functions. Tables are `Grid`s
and prose goes through `say` (perps_tracker.render.output), so every command fits the terminal's width.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.text import Text

from perps_tracker.config import OPTIONS, Settings
from perps_tracker.model.snapshot import Snapshot
from perps_tracker.render.output import (
    Col,
    Grid,
    console,
    error_console,
    keep,
    listed,
    paint,
    say,
)
from perps_tracker.render.terminal import echo_err, encodes, logging_requests
from perps_tracker.storage.db import display_url
from perps_tracker.storage.queries import CleanupResult, Stats, iso

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


def _fmt_time(ts: int | None) -> str:
    return "-" if ts is None else iso(ts).replace("T", " ").replace("Z", " UTC")


def _fmt_clock(ts: int | None) -> str:
    """`11:02 UTC` (the time of day of a run)."""
    return "-" if ts is None else _fmt_time(ts)[11:16] + " UTC"


def _fmt_score(x: float | None) -> str:
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
                "taken_at": iso(v.taken_at), "earlier_run": v in snap.earlier,
            }
            for v in snap.venues
        ],
        "failed_now": [{"exchange": v.exchange, "error": v.error} for v in snap.failed_now],
    }


def _oi_vol(oi: float | None, vol: float | None) -> str:
    return fmt_num(oi / vol) if oi is not None and vol else "-"


SNAPSHOT_COLUMNS = (Col("venue", "left"), Col("kind", "left", drop=1), Col("vol 24h"), Col("OI", drop=5),
                    Col("fund 8h", drop=6), Col("OI/vol", drop=3), Col("BTC 24h", drop=4), Col("mkts", drop=2),
                    Col("status", "left"))


def render_snapshot(snap: Snapshot) -> None:
    m = snap.market
    say(f"Perpetual futures · {_fmt_time(snap.timestamp)}", style="bold")
    grid = Grid(*SNAPSHOT_COLUMNS)
    earlier = set(snap.earlier)
    for v in snap.venues:
        status = paint("error", "red") if not v.ok else "kept" if v in earlier else "ok"
        grid.add(v.exchange, v.kind, fmt_usd_short(v.volume_24h_usd), fmt_usd_short(v.open_interest_usd),
                 fmt_pct(v.btc_funding_rate_8h, 4, fraction=True), _oi_vol(v.open_interest_usd, v.volume_24h_usd),
                 fmt_pct(v.btc_price_change_24h_pct), v.markets, status)
    markets = sum(v.markets or 0 for v in snap.venues if v.ok)
    grid.add(f"total {m.exchanges_ok}/{m.exchanges_ok + m.exchanges_failed}", "",
             fmt_usd_short(m.total_volume_usd), fmt_usd_short(m.total_oi_usd),
             fmt_pct(m.funding_rate_8h, 4, fraction=True), fmt_num(m.oi_vol_ratio), fmt_pct(m.price_change_24h_pct),
             markets, "", style="bold")
    grid.print()
    _snapshot_lines(snap)


def _snapshot_lines(snap: Snapshot) -> None:
    m, s = snap.market, snap.sentiment
    say(*listed([f"CEX {fmt_usd_short(m.cex_volume_usd)}", f"DEX {fmt_usd_short(m.dex_volume_usd)}",
                 f"BTC {'-' if m.btc_price is None else f'${m.btc_price:,.0f}'}",
                 f"OI 24h change {fmt_pct(m.oi_change_24h_pct)}",
                 f"long share {'-' if m.long_share is None else f'{m.long_share:.1%}'}"], " · "), hang=2)
    sigma = "-" if m.funding_divergence is None else f"{m.funding_divergence * 100:.4f}%"
    say(f"Funding divergence: σ {sigma} per 8 h ({s.divergence_label or 'n/a'})", hang=2)
    say("Factors: ", *listed([f"{name} {'-' if value is None else f'{value:+.2f}'}"
                              for name, value in snap.factors.as_dict().items()], "  "), hang=2)
    if s.composite_score is None:
        say("Sentiment: not enough data for a score")
    else:
        say(f"Sentiment: {s.sentiment} ({s.strength}), composite {s.composite_score:+.3f}"
            + (f" (missing: {', '.join(snap.factors.missing)}; weights rescaled)" if snap.factors.missing else ""),
            hang=2)
    line = _snapshot_liquidations_line(snap)
    say(*(line or ["Liquidations: no venue was being read in the last hour (see "
                   "`perps-tracker liquidations watch`)"]), hang=2)
    for v in snap.failed_now:
        say(f"Failed: {v.exchange}: {v.error}{_kept_note(snap, v.exchange)}", hang=2)
    kept = [v for v in snap.earlier if v.exchange not in {f.exchange for f in snap.failed_now}]
    if kept:
        say("Kept from an earlier run this hour (not asked now): ",
            *listed(f"{v.exchange} {_fmt_clock(v.taken_at)}" for v in kept), hang=2)
    for v in snap.venues:
        for note in v.notes:
            say(f"Note: {v.exchange}: {note}", hang=2)
    skipped = [f"{v.exchange} {v.records_skipped}" for v in snap.venues if v.records_skipped]
    if skipped:
        say("Skipped unusable values (missing, NaN or absurd numbers): ", *listed(skipped), hang=2)


def _snapshot_liquidations_line(snap: Snapshot) -> list | None:
    market = next((line for line in snap.liquidations if line.exchange == "all"), None)
    if market is None:
        return None
    venues = ", ".join(line.exchange for line in snap.liquidations if line.exchange != "all")
    return [f"Liquidations, last hour ({venues}{'; sampled' if market.sampled else ''}): ",
            keep(f"{fmt_usd_short(market.total_usd)} in {market.count} events"), ", ",
            keep(f"longs {_share(market.long_liq_share)}"), " · ", keep(f"cascade risk {_risk(market)}")]


def _kept_note(snap: Snapshot, venue: str) -> str:
    """`; its row of 11:02 UTC is kept` when this run's failure kept an earlier ok row."""
    row = next((v for v in snap.earlier if v.exchange == venue and v.ok), None)
    return f"; its row of {_fmt_clock(row.taken_at)} is kept" if row else ""


def render_snapshot_warnings(snap: Snapshot) -> None:
    """For --quiet: one stderr line per venue that failed in this run (cron mails stderr)."""
    for v in snap.failed_now:
        warn(f"{v.exchange} failed: {v.error}{_kept_note(snap, v.exchange)}")


class FetchStatus:
    """A one-line status on stderr while the venues are fetched, on interactive terminals only
    (and not with -v: the request log says more)."""

    def __init__(self, venues, *, enabled: bool = True):
        self.waiting, self.total = list(venues), len(venues)
        shown = enabled and error_console.is_terminal and not logging_requests()
        self.status = error_console.status(self._text()) if shown else None

    def _text(self):
        from rich.text import Text

        text = f"Fetching {self.total} venues: {self.total - len(self.waiting)} answered"
        if self.waiting:
            text += ", waiting for " + ", ".join(self.waiting)
        return Text(text, no_wrap=True, overflow="ellipsis")

    def done(self, row) -> None:
        if row.exchange in self.waiting:
            self.waiting.remove(row.exchange)
        if self.status is not None:
            self.status.update(self._text())

    def __enter__(self) -> "FetchStatus":
        if self.status is not None:
            self.status.start()
            self.status.update(self._text(), spinner="dots")  # naming the spinner draws it now, not at the first tick
        return self

    def __exit__(self, *exc) -> None:
        if self.status is not None:
            self.status.stop()


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
        "hint": NO_SNAPSHOTS_HINT if s.empty else None,
    }


def render_stats(s: Stats) -> None:
    say(f"Database: {s.database}", keep(f"  ({human_bytes(s.size_bytes)}, schema {s.revision})"), hang=2)
    rows = Grid(Col("table", "left"), Col("rows"))
    for name, count in s.rows.items():
        rows.add(name, f"{count:,}")
    rows.print()
    if s.empty:
        say(NO_SNAPSHOTS_HINT)
        return
    _stats_latest(s)
    _stats_coverage(s)
    _stats_gaps(s)


def _stats_latest(s: Stats) -> None:
    latest = s.latest
    say(f"Snapshots: {_fmt_time(s.first_snapshot)} → {_fmt_time(s.last_snapshot)}", hang=2)
    say(f"Latest ({_fmt_time(latest.timestamp)}, {latest.source}): ",
        *listed([f"composite {_fmt_score(latest.composite_score)} {latest.sentiment or '-'} ({latest.strength or '-'})",
                 f"venues ok {latest.exchanges_ok}/{latest.exchanges_ok + latest.exchanges_failed}"]), hang=2)
    if len(latest.runs) > 1:
        say(f"  merged from {len(latest.runs)} runs: ",
            *listed((f"{_fmt_clock(t)} {', '.join(venues)}" for t, venues in latest.runs.items()), "; "), hang=2)
    change = s.composite_change_24h
    say(
        "Trend: no snapshot 20–28 h before the latest" if change is None
        else f"Trend: composite {_fmt_score(change)} over 24 h (from {_fmt_score(s.composite_24h_ago)})"
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
        say(f"Backfilled: {s.backfill.snapshots} snapshots, {_fmt_time(s.backfill.first)} → "
            f"{_fmt_time(s.backfill.last)} (`backfilled`: of those, hours with the venue's row ok)", hang=2)


def _stats_gaps(s: Stats) -> None:
    if not s.gaps:
        say(f"Missing hours since {_fmt_time(s.gap_window_start)}: none")
        return
    say(f"Missing hours since {_fmt_time(s.gap_window_start)}: {s.missing_hours}")
    for g in s.gaps[:20]:
        span = _fmt_time(g.start) if g.hours == 1 else f"{_fmt_time(g.start)} → {_fmt_time(g.end)}"
        say(f"  {span}  ({g.hours} h)", hang=2)
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
    say(f"{verb} rows older than {r.days} days (before {_fmt_time(r.cutoff)}):", hang=2)
    grid = Grid(Col("table", "left"), Col("rows"))
    for name, count in r.removed.items():
        grid.add(name, f"{count:,}", section=name == list(r.removed)[-1])
    grid.add("total", f"{r.total:,}", style="bold")
    grid.print()
    if r.kept_newest is not None and r.kept_newest < r.cutoff:
        say(f"Kept the newest snapshot ({_fmt_time(r.kept_newest)}) although it is older.", hang=2)
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


# -- liquidations --------------------------------------------------------------------------


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def _coverage_pct(line) -> str:
    return f"{line.coverage:.0%}".replace("%", " %")


def _risk(line, *, short: bool = False) -> str:
    if line.insufficient:
        return f"insufficient ({line.coverage:.0%})" if short else f"insufficient coverage ({_coverage_pct(line)})"
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


LIQUIDATION_COLUMNS = (Col("venue", "left"), Col("events", drop=4), Col("longs", drop=6), Col("shorts", drop=5),
                       Col("total"), Col("long%", drop=2), Col("largest", drop=1), Col("risk", "left"),
                       Col("seen", drop=3))


def _liquidation_row(grid: Grid, line, name: str, style: str | None = None) -> None:
    grid.add(name + ("*" if line.sampled else ""), line.count, fmt_usd_short(line.long_usd),
             fmt_usd_short(line.short_usd), fmt_usd_short(line.total_usd), _share(line.long_liq_share),
             fmt_usd_short(line.largest_usd), _risk(line, short=True), f"{line.coverage:.0%}", style=style)


def render_liquidations(report) -> None:
    end = _fmt_time(report.end_ms // 1000)
    say(f"Liquidations · {report.window_hours:g} h to {end[:16]} UTC", style="bold")
    grid = Grid(*LIQUIDATION_COLUMNS)
    for line in report.lines:
        if line.observed:
            _liquidation_row(grid, line, line.exchange)
        else:
            grid.add(line.exchange, "-", "-", "-", "-", "-", "-", "not read", "0%", style="dim")
    m = report.market
    if m is not None:
        _liquidation_row(grid, m, "market", style="bold")
    grid.print()
    _liquidation_notes(report)


def _liquidation_notes(report) -> None:
    from perps_tracker.services.liquidations import sampled_venues

    m = report.market
    if m is None:
        say("No venue's liquidations were being read in this window: run `perps-tracker liquidations watch` "
            "(Binance, Bybit, OKX) or poll with `perps-tracker liquidations` (OKX, Gate.io).", hang=2)
    observed = {line.exchange for line in report.lines if line.observed}
    sampled = {v: how for v, how in sampled_venues().items() if v in observed}
    if sampled:
        say("* Sampled: " + "; ".join(f"{v} sends {how}" for v, how in sampled.items())
            + ". Totals are lower bounds.", hang=2)
    unread = [line.exchange for line in report.lines if not line.observed]
    if unread:
        say(f"Not read in this window: {', '.join(unread)} (unknown, not zero; left out of the market line).",
            hang=2)
    partial = [f"{line.exchange} {line.coverage:.0%}" for line in report.lines if 0 < line.coverage < 0.995]
    if partial:
        say(f"Partly read: {', '.join(partial)} of the window; V is scaled to the time read.", hang=2)
    thin = [line for line in report.lines + ([m] if m else []) if line.insufficient]
    if thin:
        say("No cascade risk on too little data: ", *listed(
            f"{'market' if line.exchange == 'all' else line.exchange} insufficient coverage ({_coverage_pct(line)})"
            for line in thin), "; a level needs at least half of the window read. The sums are what was seen.",
            hang=2)
    if report.volumes_at is None:
        if m is not None and m.total_usd:
            say("Cascade risk needs volume: no snapshot in the last 24 h (run `perps-tracker snapshot`).", hang=2)
    else:
        say(f"Volume V from the snapshot of {_fmt_time(report.volumes_at)}.", hang=2)
    for venue, details in report.details.items():
        say(f"Source: {venue}: {'; '.join(details)}", hang=2)
    for p in report.polls:
        for note in p.notes:
            say(f"Note: {p.exchange}: {note}", hang=2)


def render_poll_warnings(report) -> None:
    for p in report.failed_polls:
        warn(f"{p.exchange} liquidations not fetched: {p.error}")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def render_watch_summary(stats, elapsed: float) -> None:
    say(f"Liquidation streams · ran {_duration(elapsed)}", style="bold")
    grid = Grid(Col("venue", "left"), Col("events"), Col("stored"), Col("dupes", drop=3), Col("bad", drop=2),
                Col("conn", drop=4), Col("drops", drop=1), Col("online"),
                Col("last error", "left", wrap=True, min_width=12))
    for s in stats.values():
        online = f"{min(1.0, s.connected_s / elapsed):.0%}" if elapsed > 0 else "-"
        grid.add(s.exchange, s.events, s.stored, s.duplicates, s.malformed, s.connects, s.drops, online,
                 s.last_error or "")
    grid.print()


def watch_log(line: str) -> None:
    """A timestamped progress line on stderr (systemd's journal, a terminal)."""
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
    echo_err(f"{stamp} {line}", hang=9)


# -- backfill ------------------------------------------------------------------------------


class BackfillProgress:
    """Rich progress bars on stderr: one per venue download (requests), then the hours stored; none
    with -v, whose request log says more."""

    def __init__(self, venues):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = max(10, min(30, error_console.width - 42))  # the other columns take about 40
        self.progress = Progress(TextColumn("{task.description:<11}"), BarColumn(bar_width=bar),
                                 MofNCompleteColumn(), TextColumn("{task.fields[state]:<8}"), TimeElapsedColumn(),
                                 console=error_console, transient=False, disable=logging_requests())
        self.tasks = {v: self.progress.add_task(v, total=None, state="") for v in venues}
        self.store_task = None

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def reporter(self):
        from perps_tracker.services.backfill import Reporter

        return Reporter(venue_progress=self.venue_progress, venue_done=self.venue_done,
                        store_progress=self.store_progress)

    def venue_progress(self, venue: str, done: int, total: int) -> None:
        self.progress.update(self.tasks[venue], completed=done, total=max(total, done), state="requests")

    def venue_done(self, outcome) -> None:
        state = {"downloaded": "done", "kept": "kept"}.get(outcome.status, "failed")
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
        "unfilled_hours": sum(n for _, n in r.unfilled),
        "unfilled": _spans_json(r.unfilled),
        "venues": [{"exchange": v.exchange, "status": v.status, "error": v.error, "markets": v.symbols,
                    "markets_failed": v.symbols_failed, "hours": v.hours, "notes": list(v.notes),
                    "missing": _spans_json(v.missing)}
                   for v in r.venues],
    }


def _span(first_hour: int, hours: int) -> str:
    last = first_hour + (hours - 1) * 3600
    text = _fmt_time(first_hour)[:16] if hours == 1 else f"{_fmt_time(first_hour)[:16]} → {_fmt_time(last)[:16]}"
    return f"{text} UTC ({hours} h)"


def _spans_json(spans) -> list[dict[str, Any]]:
    return [{"from": iso(t), "to": iso(t + (n - 1) * 3600), "hours": n} for t, n in spans]


def _spans(spans) -> list:
    """The first three spans as `say` parts, `…` when there are more."""
    return listed(_span(t, n) for t, n in spans[:3]) + ([" …"] if len(spans) > 3 else [])


def render_backfill_warnings(r) -> None:
    """On stderr, even with --quiet: the hours still missing and, per venue, what it lacked and why."""
    def spans(items) -> str:
        return ", ".join(_span(t, n) for t, n in items[:3]) + (" …" if len(items) > 3 else "")

    if r.unfilled:
        missing = sum(n for _, n in r.unfilled)
        warn(f"stored {r.stored} of {r.planned} missing hours; {missing} stay missing: {spans(r.unfilled)}")
    for v in r.venues:
        if v.status == "failed":
            warn(f"{v.exchange}: history not read: {v.error}")
        elif v.missing and r.unfilled:
            warn(f"{v.exchange}: no history for {sum(n for _, n in v.missing)} of the hours: {spans(v.missing)}")


def render_backfill(r) -> None:
    span = f"{_fmt_time(r.first_hour)} → {_fmt_time(r.last_hour)}"
    kept = ", ".join(f"{n} {source}" for source, n in sorted(r.existing.items())) or "none"
    if not r.planned:
        say(f"Nothing to backfill: every hour of {span} already has a snapshot ({kept}).", hang=2)
        return
    say(f"Backfilled {r.stored} of {r.planned} missing hours, {span}; already stored and left alone: {kept}.",
        hang=2)
    if r.without_data:
        say(f"{r.without_data} hours had no venue with history for them and stay missing.", hang=2)
    grid = Grid(Col("venue", "left"), Col("download", "left"), Col("markets", drop=2), Col("failed", drop=1),
                Col("hours ok"))
    for v in r.venues:
        read = v.status != "failed"
        grid.add(v.exchange, v.status, v.symbols if read else "-", v.symbols_failed if read else "-", v.hours)
    grid.print()
    _backfill_notes(r)


def _backfill_notes(r) -> None:
    read = [v for v in r.venues if v.status != "failed"]
    shared = [n for n in (read[0].notes if read else ()) if all(n in v.notes for v in read)] if len(read) > 1 else []
    for note in shared:
        say(f"All venues: {note}", hang=2)
    for v in r.venues:
        if v.status == "failed":
            say(f"{v.exchange}: failed: {v.error}", hang=2)
        elif v.missing:
            say(f"{v.exchange}: no row for {sum(n for _, n in v.missing)} of the {r.planned} hours (no history): ",
                *_spans(v.missing), hang=2)
        for note in v.notes:
            if note not in shared:
                say(f"{v.exchange}: {note}", hang=2)


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
        "delivered_to": dict(run.delivered_to),
        "delivery_failures": [{"webhook": f.webhook, "strategy": f.strategy, "snapshot": iso(f.snapshot_timestamp),
                               "reason": f.reason, "expired": f.expired} for f in run.failures],
    }


def _delivery_text(deliveries) -> list[str]:
    return [", ".join(f"{w} {s}" for w, s in deliveries)] if deliveries else []


def _alert_block(e, when: str = "") -> None:
    head = ARROWS.get(e.direction or "", "-")
    say(*listed([f"{e.status.upper():<10} {e.strategy}", f"tier {e.tier}", head, f"confidence {e.confidence}{when}",
                 *_delivery_text(e.deliveries)], " · "), hang=11)
    for reason in e.reasons:
        say(f"           • {reason}", hang=2)
    if e.why and e.status != "not_fired":
        say(f"           {e.why}", hang=2)


def render_alerts(run, show_all: bool) -> None:
    from perps_tracker.model.alerts import STALE_AFTER

    backfilled = " (backfilled)" if run.snapshot_source != "live" else ""
    say(f"Alerts on the snapshot of {_fmt_time(run.snapshot)}{backfilled}, evaluated {_fmt_time(run.evaluated_at)}",
        hang=2)
    if run.stale_seconds > STALE_AFTER:
        say(f"Note: that snapshot is {run.stale_seconds / 3600:.0f} h old; take a new one with "
            "`perps-tracker snapshot`.", hang=2)
    shown = [e for e in run.entries if e.status in SHOWN_STATUS]
    for e in shown:
        _alert_block(e, " (decided earlier on this snapshot)" if e.earlier else "")
    if not shown:
        say("No strategy fires on this snapshot." + ("" if show_all else " `--all` shows why."))
    rest = [e for e in run.entries if e.status == "not_fired"] if show_all else []
    if rest:
        say("")
        say("Not fired:")
        for e in rest:
            say(f"  {e.strategy} (tier {e.tier}): ", *listed(e.why.split("; "), "; "), hang=2)
    if run.webhooks:
        say(delivery_summary(run), hang=2)


def delivery_summary(run) -> str:
    """What this run delivered, naming only the webhooks that took a notification."""
    done = ", ".join(f"{webhook} {n}" for webhook, n in run.delivered_to)
    failed = sorted({f.webhook for f in run.failures if not f.expired})
    text = f"Delivered {run.delivered} notification(s)" + (f": {done}." if done else ".")
    if failed:
        text += f" Not delivered to {', '.join(failed)} (retried on the next run; see the warnings)."
    return text


def render_delivery_warnings(run) -> None:
    for f in run.failures:
        what = "given up" if f.expired else "will retry on the next run"
        warn(f"{f.webhook} webhook: {f.strategy} ({_fmt_time(f.snapshot_timestamp)}) not delivered, {what}: "
             f"{f.reason}")


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
        + (f" ({hidden} suppressed not shown; `--all` shows them)" if hidden else ""), hang=2)
    if not shown:
        return
    grid = Grid(Col("snapshot", "left"), Col("strategy", "left", wrap=True, min_width=12), Col("t", drop=1),
                Col("conf", drop=2), Col("dir", "left"), Col("status", "left", wrap=True, min_width=9))
    for a in shown:
        pending = [f"{w} {s}" for w, s in a.deliveries if s != "delivered"]
        status = a.status + (f" ({', '.join(pending)})" if pending else "")
        grid.add(_fmt_time(a.snapshot_timestamp)[:16], a.strategy, a.tier, a.confidence,
                 ARROWS.get(a.direction or "", "-"), status)
    grid.print()


def render_new_alerts(run) -> None:
    """For `snapshot --alerts --quiet` without webhooks: only the alerts raised now (cron mails them)."""
    fresh = [e for e in run.entries if e.status in ("fired", "sent") and not e.earlier]
    for e in fresh:
        _alert_block(e, f" ({_fmt_time(run.snapshot)[:16]} snapshot)")


# -- history analysis ----------------------------------------------------------------------
# `trend`, `backtest`, `predict funding` (docs/history.md).

CHART_WIDTH = 70  # characters; each is 2 × 4 braille dots
CHART_HEIGHT = 8
_BRAILLE = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [dot row][dot column]


def braille_chart(points, start: int, end: int, lo: float, hi: float,
                  width: int = CHART_WIDTH, height: int = CHART_HEIGHT) -> list[str]:
    """A line chart of (hour, value) points (None: missing) as `height` strings of `width`
    braille characters; time runs from `start` to `end`, values from `lo` (bottom) to `hi`.
    Hours one apart are joined by a line; a gap stays a gap."""
    cols, rows = 2 * width, 4 * height
    grid = [[False] * cols for _ in range(rows)]
    span = max(end - start, 1)

    def xy(t, v):
        x = (t - start) / span * (cols - 1)
        y = (hi - min(max(v, lo), hi)) / ((hi - lo) or 1.0) * (rows - 1)
        return x, y

    pts = [(t, v) for t, v in points if v is not None]
    for k, (t, v) in enumerate(pts):
        x, y = xy(t, v)
        grid[round(y)][round(x)] = True
        if k and t - pts[k - 1][0] == 3600:
            px, py = xy(*pts[k - 1])
            steps = int(max(abs(x - px), abs(y - py)) * 2) + 1
            for s in range(steps + 1):
                f = s / steps
                grid[round(py + (y - py) * f)][round(px + (x - px) * f)] = True
    out = []
    for r in range(height):
        line = []
        for c in range(width):
            bits = sum(_BRAILLE[dr][dc] for dr in range(4) for dc in range(2) if grid[4 * r + dr][2 * c + dc])
            line.append(chr(0x2800 + bits) if bits else " ")
        out.append("".join(line))
    return out


def _labelled(lines: list[str], labels: dict[int, str], label_width: int) -> list[str]:
    return [f"{labels.get(k, ''):>{label_width}}┤{line}".rstrip() for k, line in enumerate(lines)]


def _fmt_price(p: float) -> str:
    return f"{p:,.0f}" if abs(p) >= 100 else f"{p:.4g}"


def chart_lines(report, width: int = 80) -> list[str]:
    """Composite score (−1 … +1) and BTC price over the chart window, in fewer than `width`
    columns (the chart itself at most CHART_WIDTH)."""
    w = 8  # label width: "+1.0", "106,234"
    cols = max(min(CHART_WIDTH, width - w - 2), 34)  # room for both dates under it
    end = report.newest
    start = end - (report.chart_hours - 1) * 3600
    mid = CHART_HEIGHT // 2
    out = [f"Composite score, last {report.chart_hours} h (−1 … +1):"]
    score = braille_chart([(t, s) for t, s, _ in report.chart], start, end, -1.0, 1.0, width=cols)
    out += _labelled(score, {0: "+1.0", mid: "0.0", CHART_HEIGHT - 1: "-1.0"}, w)
    prices = [p for _, _, p in report.chart if p is not None]
    if prices:
        lo, hi = min(prices), max(prices)
        if hi == lo:
            lo, hi = lo * 0.99, hi * 1.01
        out.append(f"BTC price, last {report.chart_hours} h:")
        lines = braille_chart([(t, p) for t, _, p in report.chart], start, end, lo, hi, width=cols)
        out += _labelled(lines, {0: _fmt_price(hi), CHART_HEIGHT - 1: _fmt_price(lo)}, w)
    else:
        out.append("BTC price: no snapshot in the window has one.")
    left, right = _fmt_time(start)[:16], _fmt_time(end)[:16]
    out.append(" " * (w + 1) + left + right.rjust(cols - len(left)))
    return out


def _window_json(w) -> dict[str, Any]:
    return {"hours": w.hours, "points": w.points, "slope_per_hour": w.slope, "r2": w.r2,
            "direction": w.direction, "first_score": w.first_score, "last_score": w.last_score,
            "message": w.message}


def trend_json(report) -> dict[str, Any]:
    g = report.regime
    return {
        "newest_snapshot": iso(report.newest),
        "age_hours": round(report.age_seconds / 3600, 2),
        "composite_score": report.latest_score,
        "sentiment": report.latest_sentiment,
        "trend": {w.name: _window_json(w) for w in report.windows},
        "regime": {
            "regime": g.regime, "vol_pct_hour": g.vol_pct_hour, "vol_pct_day": g.vol_pct_day,
            "reference_mean_pct_hour": g.reference_mean_pct_hour,
            "reference_std_pct_hour": g.reference_std_pct_hour, "z": g.z,
            "returns_24h": g.returns, "reference_hours": g.reference_hours, "message": g.message,
        },
    }


def render_trend(report) -> None:
    say(f"Newest snapshot {_fmt_time(report.newest)[:16]} UTC: composite score "
        f"{_fmt_score(report.latest_score)} ({report.latest_sentiment or 'no label'}).", hang=2)
    if report.age_seconds >= 2 * 3600:
        say(f"It is {report.age_seconds / 3600:,.0f} h old: the windows below end there, not now.", hang=2)
    say("Composite-score trend (least-squares slope per hour):")
    grid = Grid(Col("window", "left"), Col("points"), Col("slope / h"), Col("r²"),
                Col("direction", "left", wrap=True, min_width=13))
    for w in report.windows:
        if w.direction is None:
            grid.add(w.name, w.points, "-", "-", "not enough snapshots (3 needed)")
        else:
            grid.add(w.name, w.points, f"{w.slope:+.4f}", fmt_num(w.r2), w.direction)
    grid.print()
    _render_regime(report.regime)
    console.print()
    for line in chart_lines(report, console.width):
        say(line)


def _render_regime(g) -> None:
    if g.regime is None:
        say(f"BTC volatility regime: unknown — {g.message}.", hang=2)
        return
    z = "z undefined: the week's volatility was constant" if g.z is None else f"z = {g.z:+.2f}"
    say(f"BTC volatility regime: {g.regime} ({z})", hang=2)
    say(f"  realised volatility, last 24 h: {g.vol_pct_hour:.3f}%/h ({g.vol_pct_day:.2f}%/day)", hang=2)
    say("  rolling 24 h volatility over the week before: ",
        keep(f"{g.reference_mean_pct_hour:.3f}%/h ± {g.reference_std_pct_hour:.3f}"), hang=2)


def _direction_mark(d: str) -> str:
    return {"long": "▲", "short": "▼"}.get(d, "●")


def _cell_json(c) -> dict[str, Any]:
    return {"n": c.n, "n_independent": c.n_independent, "hit_rate": c.hit_rate, "baseline_rate": c.baseline_rate,
            "mean_return_pct": c.mean_pct, "median_return_pct": c.median_pct, "mean_abs_return_pct": c.mean_abs_pct,
            "z": c.z, "p_value": c.p_value, "edge": c.edge}


def backtest_json(b) -> dict[str, Any]:
    return {
        "from": iso(b.first), "to": iso(b.last), "days": b.days, "snapshots": b.snapshots,
        "horizons_hours": list(b.horizons),
        "signals": "raw rule firings (fired, confidence >= 50) on every snapshot; no cooldown, no caps",
        "baseline": {f"{h}h": {"n": x.n, "up_rate": x.up_rate, "down_rate": x.down_rate, "mean_return_pct": x.mean_pct,
                               "median_return_pct": x.median_pct, "mean_abs_return_pct": x.mean_abs_pct}
                     for h, x in b.baselines.items()},
        "rows": [{"kind": r.kind, "name": r.name, "direction": r.direction, "signals": r.signals,
                  "horizons": {f"{h}h": _cell_json(c) for h, c in r.cells.items()}} for r in b.rows],
        "never_fired": list(b.never_fired),
    }


def _pct0(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<1e-6" if p < 1e-6 else f"{p:.4f}" if p >= 0.0001 else f"{p:.0e}"


def _signed(x: float | None) -> str:
    return "-" if x is None else f"{x:+.2f}"


BACKTEST_COLUMNS = (Col("signal", "left", wrap=True, min_width=13), Col("", "left"), Col("n"), Col("hit"),
                    Col("base", drop=3), Col("mean"), Col("median", drop=1), Col("|r|", drop=2), Col("p"),
                    Col(""))


def render_backtest(b) -> None:
    period = "the whole history" if b.days is None else f"the last {b.days} days"
    say(f"Backtest over {period}: {b.snapshots:,} snapshots, {_fmt_time(b.first)[:16]} → "
        f"{_fmt_time(b.last)[:16]} UTC. Signals are raw rule firings (confidence ≥ 50) on every snapshot, "
        "without cooldown or caps. Returns in %.")
    say("hit: share of signals the price went their way (▲ long: up, ▼ short: down); base: that share over "
        "all snapshots. p: one-sided binomial test of hit against base (● neutral: two-sided test of mean |r| "
        "against all snapshots'), on signals that do not overlap; * edge: p < 0.01 on at least 20 of them.")
    for h in b.horizons:
        x = b.baselines[h]
        console.print()
        say(f"{h} h forward (all snapshots: up {_pct0(x.up_rate)}, down {_pct0(x.down_rate)}):")
        grid = Grid(*BACKTEST_COLUMNS)
        grid.add("all snapshots", "", x.n, "", "", _signed(x.mean_pct), _signed(x.median_pct),
                 fmt_num(x.mean_abs_pct), "", "", section=True)
        for r in b.rows:
            c = r.cells[h]
            name = r.name if r.kind == "strategy" else f"{r.name.lower()} label"
            grid.add(name, _direction_mark(r.direction), c.n, _pct0(c.hit_rate), _pct0(c.baseline_rate),
                     _signed(c.mean_pct), _signed(c.median_pct), fmt_num(c.mean_abs_pct), _p(c.p_value),
                     "*" if c.edge else "")
        grid.print()
    if b.never_fired:
        say("Never fired in the period: ", *listed(b.never_fired), ".", hang=2)


def _scores_json(s) -> dict[str, Any]:
    return {"mean": s.mean, "spread": s.spread, "folds": list(s.folds)}


def predict_json(r) -> dict[str, Any]:
    return {
        "target": "funding_rate_8h at the next hourly snapshot: up (1) or down (0)",
        "pairs": r.pairs, "up": r.ups, "down": r.pairs - r.ups, "ties_dropped": r.ties,
        "from": iso(r.first), "to": iso(r.last), "model": r.model_kind, "features": list(r.features),
        "features_never_stored": list(r.unused),
        "cv": {"method": "TimeSeriesSplit(n_splits=5), no shuffling", "tested": r.tested,
               "model": _scores_json(r.model), "persistence": _scores_json(r.persistence),
               "majority": _scores_json(r.majority)},
        "better_baseline": r.better_baseline, "margin": r.margin, "standard_error": r.standard_error,
        "edge": r.edge,
        "current": None if r.current is None else {
            "snapshot": iso(r.current), "funding_rate_8h": r.current_funding, "direction": r.direction,
            "probability": r.probability},
    }


def render_predict(r) -> None:
    from perps_tracker.model.predict import MODELS

    say("Will the market funding rate be higher or lower at the next hourly snapshot?")
    say(f"{r.pairs:,} labelled hourly pairs ({r.ups:,} up, {r.pairs - r.ups:,} down; {r.ties:,} unchanged "
        f"left out), {_fmt_time(r.first)[:16]} → {_fmt_time(r.last)[:16]} UTC. Model: {MODELS[r.model_kind]}, "
        f"{len(r.features)} features; a missing value is imputed with the median of the training fold.")
    if r.unused:
        say("Never stored, so left out: ", *listed(r.unused), ".", hang=2)
    say(f"Time-series cross-validation: 5 folds, {r.tested:,} test hours after their training:")
    grid = Grid(Col("", "left"), Col("accuracy"), Col("± spread"), Col("per fold", "left", wrap=True))
    for name, s in (("model", r.model), ("persistence", r.persistence), ("majority class", r.majority)):
        grid.add(name, f"{100 * s.mean:.1f}%", f"{100 * s.spread:.1f}", " ".join(f"{100 * a:.0f}" for a in s.folds))
    grid.print()
    verdict = "EDGE" if r.edge else "No edge"
    say(f"{verdict}: the model {'beats' if r.margin > 0 else 'trails'} {r.better_baseline} by "
        f"{100 * abs(r.margin):.1f} points (two standard errors: {200 * r.standard_error:.1f}).")
    if r.current is None:
        say("No current prediction: the newest snapshot has no funding rate.")
    else:
        say(f"Now ({_fmt_time(r.current)[:16]} UTC, funding {fmt_pct(r.current_funding, 4, fraction=True)}/8 h): "
            f"next {r.direction}, probability {r.probability:.2f}"
            + ("." if r.edge else ", but without a proven edge, treat it as a coin toss."))
