"""The status line shown while venues are fetched: apart from the snapshot's tables, so the commands
that read the stored hour (`coin`, `funding`, `sectors`) need not load those to show it."""

from __future__ import annotations

from rich.text import Text

from perps_tracker.render.output import error_console
from perps_tracker.render.terminal import logging_requests


class FetchStatus:
    """A one-line status on stderr while the venues are fetched, on interactive terminals only
    (and not with -v: the request log says more)."""

    def __init__(self, venues, *, enabled: bool = True):
        self.waiting, self.total = list(venues), len(venues)
        shown = enabled and error_console.is_terminal and not logging_requests()
        self.status = error_console.status(self._text()) if shown else None

    def _text(self):

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
