"""`backfill`: progress bars, the summary of what was stored, the warnings for hours left missing."""

from __future__ import annotations

from typing import Any

from perps_tracker.model.times import iso
from perps_tracker.render.format import fmt_time, warn
from perps_tracker.render.output import Col, Grid, error_console, listed, say
from perps_tracker.render.terminal import logging_requests

# -- backfill ------------------------------------------------------------------------------


class BackfillProgress:
    """Rich progress bars on stderr: one per venue download (requests), then the hours stored; none
    with -v, whose request log says more."""

    def __init__(self, venues, *, enabled: bool = True):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = max(10, min(30, error_console.width - 42))  # the other columns take about 40
        # A disabled bar is never started: rich before 13.8 still writes a newline when a
        # disabled Live stops, which would break --quiet's silence.
        self.enabled = enabled and not logging_requests()
        self.progress = Progress(TextColumn("{task.description:<11}"), BarColumn(bar_width=bar),
                                 MofNCompleteColumn(), TextColumn("{task.fields[state]:<8}"), TimeElapsedColumn(),
                                 console=error_console, transient=False, disable=not self.enabled)
        self.tasks = {v: self.progress.add_task(v, total=None, state="") for v in venues}
        self.store_task = None
        self.coin_task = None
        self.coin_counts: dict[str, tuple[int, int]] = {}

    def __enter__(self):
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.progress.stop()

    def reporter(self):
        from perps_tracker.services.backfill import Reporter

        return Reporter(venue_progress=self.venue_progress, venue_done=self.venue_done,
                        store_progress=self.store_progress, coin_progress=self.coin_progress)

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


    def coin_progress(self, venue: str, done: int, total: int) -> None:
        """One bar for --coins: markets downloaded over every venue."""
        self.coin_counts[venue] = (done, total)
        if self.coin_task is None:
            self.coin_task = self.progress.add_task("coins", total=None, state="markets")
        self.progress.update(self.coin_task, completed=sum(d for d, _ in self.coin_counts.values()),
                             total=sum(t for _, t in self.coin_counts.values()))


def coins_json(c) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "coins": list(c.coins),
        "from": iso(c.first_hour),
        "to": iso(c.last_hour),
        "rows_added": c.rows,
        "unlisted": list(c.unlisted),
        "venues": [{"exchange": v.exchange, "status": v.status, "error": v.error, "markets": v.markets,
                    "markets_failed": v.markets_failed, "rows_added": v.rows, "rows_missing": v.missing,
                    "notes": list(v.notes)} for v in c.venues],
    }


def render_coins(c) -> None:
    """What --coins added to instrument_snapshots, per venue."""
    say(f"instrument_snapshots for {', '.join(c.coins)}: {c.rows:,} rows added "
        f"({fmt_time(c.first_hour)} → {fmt_time(c.last_hour)}); rows already stored were left alone.", hang=2)
    if c.unlisted:
        say(f"Not listed on any venue that answered: {', '.join(c.unlisted)}.", hang=2)
    grid = Grid(Col("venue", "left"), Col("coins", "left"), Col("markets"), Col("failed", drop=1),
                Col("rows added"), Col("no history", drop=2))
    for v in c.venues:
        grid.add(v.exchange, v.status, v.markets, v.markets_failed, v.rows, v.missing)
    grid.print()
    for v in c.venues:
        if v.status == "failed":
            say(f"{v.exchange}: coins failed: {v.error}", hang=2)
        for note in v.notes:
            say(f"{v.exchange}: {note}", hang=2)


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
        "unfilled": spans_json(r.unfilled),
        "venues": [{"exchange": v.exchange, "status": v.status, "error": v.error, "markets": v.symbols,
                    "markets_failed": v.symbols_failed, "hours": v.hours, "notes": list(v.notes),
                    "missing": spans_json(v.missing)}
                   for v in r.venues],
        "coins": coins_json(r.coins),
        "dvol": [{"currency": d.currency, "rows_added": d.rows, "error": d.error} for d in r.dvol],
    }


def fmt_span(first_hour: int, hours: int) -> str:
    last = first_hour + (hours - 1) * 3600
    text = fmt_time(first_hour)[:16] if hours == 1 else f"{fmt_time(first_hour)[:16]} → {fmt_time(last)[:16]}"
    return f"{text} UTC ({hours} h)"


def spans_json(spans) -> list[dict[str, Any]]:
    return [{"from": iso(t), "to": iso(t + (n - 1) * 3600), "hours": n} for t, n in spans]


def fmt_spans(spans) -> list:
    """The first three spans as `say` parts, `…` when there are more."""
    return listed(fmt_span(t, n) for t, n in spans[:3]) + ([" …"] if len(spans) > 3 else [])


def render_backfill_warnings(r) -> None:
    """On stderr, even with --quiet: the hours still missing and, per venue, what it lacked and why."""
    def spans(items) -> str:
        return ", ".join(fmt_span(t, n) for t, n in items[:3]) + (" …" if len(items) > 3 else "")

    if r.unfilled:
        missing = sum(n for _, n in r.unfilled)
        warn(f"stored {r.stored} of {r.planned} missing hours; {missing} stay missing: {spans(r.unfilled)}")
    for v in r.venues:
        if v.status == "failed":
            warn(f"{v.exchange}: history not read: {v.error}")
        elif v.missing and r.unfilled:
            warn(f"{v.exchange}: no history for {sum(n for _, n in v.missing)} of the hours: {spans(v.missing)}")
    for v in r.coins.failed_venues if r.coins else ():
        warn(f"{v.exchange}: coins' history not read: {v.error}")
    for d in r.dvol:
        if d.error:
            warn(f"deribit: {d.currency} DVOL history not read: {d.error}")


def render_backfill(r) -> None:
    span = f"{fmt_time(r.first_hour)} → {fmt_time(r.last_hour)}"
    kept = ", ".join(f"{n} {source}" for source, n in sorted(r.existing.items())) or "none"
    if not r.planned:
        say(f"Nothing to backfill: every hour of {span} already has a snapshot ({kept}).", hang=2)
    else:
        _render_hours(r, span, kept)
    if r.coins is not None:
        render_coins(r.coins)
    if r.dvol:
        parts = [f"{d.currency} not read ({d.error})" if d.error else f"{d.rows} hours added for {d.currency}"
                 for d in r.dvol]
        say(f"Deribit DVOL: {', '.join(parts)}. The options chain's figures (skew, put/call, ATM IV) have "
            "no public history: backfilled hours have DVOL only.", hang=2)


def _render_hours(r, span: str, kept: str) -> None:
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
                *fmt_spans(v.missing), hang=2)
        for note in v.notes:
            if note not in shared:
                say(f"{v.exchange}: {note}", hang=2)


