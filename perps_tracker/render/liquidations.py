"""`liquidations` and `liquidations watch`: the window's table, cascade risk, sources, the stream summary."""

from __future__ import annotations

from typing import Any

from perps_tracker.model.times import iso
from perps_tracker.render.format import fmt_time, fmt_usd_short, warn
from perps_tracker.render.output import Col, Grid, listed, say
from perps_tracker.render.terminal import echo_err

# -- liquidations --------------------------------------------------------------------------


def fmt_share(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def coverage_pct(line) -> str:
    return f"{line.coverage:.0%}".replace("%", " %")


def risk_text(line, *, short: bool = False) -> str:
    if line.insufficient:
        return f"insufficient ({line.coverage:.0%})" if short else f"insufficient coverage ({coverage_pct(line)})"
    if line.cascade_risk_score is None:
        return "- (no volume)" if line.observed else "-"
    return f"{line.cascade_risk_score:.2f} {line.level}"


def iso_ms(ms: int) -> str:
    return iso(ms // 1000)


def liquidation_line_json(line) -> dict[str, Any]:
    out = {"exchange": line.exchange}
    for name in ("count", "long_usd", "short_usd", "total_usd", "long_liq_share", "largest_usd",
                 "cascade_risk_score", "level", "sampled", "coverage", "volume_usd"):
        out[name] = getattr(line, name)
    return out


def market_line_json(line) -> dict[str, Any] | None:
    """The market line: a venue line's fields but `exchange` (the same in `liquidations` and `snapshot`)."""
    if line is None:
        return None
    out = liquidation_line_json(line)
    out.pop("exchange")
    return out


def liquidations_json(report) -> dict[str, Any]:
    market = market_line_json(report.market)
    return {
        "window_hours": report.window_hours,
        "from": iso_ms(report.start_ms),
        "to": iso_ms(report.end_ms),
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
             fmt_usd_short(line.short_usd), fmt_usd_short(line.total_usd), fmt_share(line.long_liq_share),
             fmt_usd_short(line.largest_usd), risk_text(line, short=True), f"{line.coverage:.0%}", style=style)


def render_liquidations(report) -> None:
    end = fmt_time(report.end_ms // 1000)
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
            f"{'market' if line.exchange == 'all' else line.exchange} insufficient coverage ({coverage_pct(line)})"
            for line in thin), "; a level needs at least half of the window read. The sums are what was seen.",
            hang=2)
    if report.volumes_at is None:
        if m is not None and m.total_usd:
            say("Cascade risk needs volume: no snapshot in the last 24 h (run `perps-tracker snapshot`).", hang=2)
    else:
        say(f"Volume V from the snapshot of {fmt_time(report.volumes_at)}.", hang=2)
    for venue, details in report.details.items():
        say(f"Source: {venue}: {'; '.join(details)}", hang=2)
    for p in report.polls:
        for note in p.notes:
            say(f"Note: {p.exchange}: {note}", hang=2)


def render_poll_warnings(report) -> None:
    for p in report.failed_polls:
        warn(f"{p.exchange} liquidations not fetched: {p.error}")


def fmt_duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


def render_watch_summary(stats, elapsed: float) -> None:
    say(f"Liquidation streams · ran {fmt_duration(elapsed)}", style="bold")
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


