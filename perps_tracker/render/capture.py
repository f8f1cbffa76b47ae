"""`capture`: the per-venue summary printed when a run ends, and its progress lines."""

from __future__ import annotations

from perps_tracker.render.output import Col, Grid, say
from perps_tracker.render.terminal import echo_err


def render_capture_summary(stats, elapsed: float) -> None:
    """One line per venue: markets, connections, frames, rows (trades kept, duplicates dropped, bbo, book
    levels), files written, gaps recorded, malformed frames, drops, the last error."""
    from perps_tracker.render.liquidations import fmt_duration

    say(f"Capture · ran {fmt_duration(elapsed)}", style="bold")
    grid = Grid(Col("venue", "left"), Col("markets", drop=5), Col("conn", drop=6), Col("messages"), Col("rows"),
                Col("trades", drop=3), Col("dupes", drop=4), Col("bbo", drop=3), Col("book", drop=3),
                Col("files"), Col("gaps"), Col("bad", drop=2), Col("drops", drop=1),
                Col("last error", "left", wrap=True, min_width=12))
    for s in stats.values():
        grid.add(s.exchange, s.markets, s.connections, s.messages, s.rows, s.trades, s.duplicates, s.bbo, s.book,
                 "-" if s.files is None else s.files, s.gaps, s.malformed, s.drops, s.last_error or "")
    grid.print()


def capture_log(line: str) -> None:
    """A timestamped progress line on stderr (systemd's journal, a terminal)."""
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
    echo_err(f"{stamp} {line}", hang=9)
