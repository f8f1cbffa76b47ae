"""What the CLI sets up before a command runs.

- Logging: `setup_logging` sends the `perps_tracker` logger to stderr for `-v`. Core code only
  logs; this is the one place that configures it.

Imports nothing heavy: it runs for every command.
"""

from __future__ import annotations

import logging
import sys


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (a test runner's, rich's progress proxy)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(verbosity: int) -> None:
    """`perps_tracker` logs to stderr: warnings only, `-v` each request, retry, wait and database
    open, `-vv` more detail (timeouts, request bodies, every pacing wait)."""
    logger = logging.getLogger("perps_tracker")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(message)s", datefmt="%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG)
    logger.propagate = False
