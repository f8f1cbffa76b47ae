"""What the CLI sets up before a command runs, and the plain-text helpers it needs on stderr.

- Words: `break_points` is where a line of prose is broken to fit a width (at spaces; a word
  longer than the line, such as a path or a URL, stays whole).
- Logging: `setup_logging` sends the `perps_tracker` logger to stderr for `-v`. Core code only
  logs; this is the one place that configures it.

Imports nothing heavy: it runs for every command.
"""

from __future__ import annotations

import logging
import re
import sys


# -- words ----------------------------------------------------------------------------------

# What is never broken across lines: a `quoted command` (it stays copyable), a date with its
# time, a number with its unit (`8 h`, `676.0 KB`), and any run of non-spaces.
WORD = re.compile(r"`[^`]*`\S*"
                  r"|\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})?(?: UTC)?\S*"
                  r"|[(\[]?\d[\d.,]* (?:h|s|ms|d|%|B|KB|MB|GB)(?![\w-])\S*"
                  r"|\S+")


def break_points(plain: str, width: int, hang: int = 0) -> list[int]:
    """Offsets at which to break `plain` so that its first line is at most `width` characters and
    the others, indented by `hang`, too. Breaks fall before a word; a word wider than a line keeps
    a line of its own, whole."""
    offsets, start, limit = [], 0, width
    for word in WORD.finditer(plain):
        if word.end() - start > limit and plain[start:word.start()].strip():
            offsets.append(word.start())
            start, limit = word.start(), max(width - hang, 1)
    return offsets


def wrap(text: str, width: int, hang: int = 0) -> str:
    """`text` broken at spaces to `width` columns, continuation lines indented by `hang` (each of its
    lines on its own, with `hang` added to the line's own indentation)."""
    out = []
    for line in text.split("\n"):
        indent = hang + len(line) - len(line.lstrip(" "))
        cuts = [0, *break_points(line, width, indent), len(line)]
        pieces = [line[a:b].rstrip() for a, b in zip(cuts, cuts[1:])]
        out.append(("\n" + " " * indent).join(pieces))
    return "\n".join(out)


def echo_err(text: str, hang: int = 2) -> None:
    """A message for stderr, broken at spaces on a terminal (logs and cron mail keep one line per
    message)."""
    import shutil

    import click

    if sys.stderr.isatty():
        text = wrap(text, shutil.get_terminal_size().columns, hang)
    click.echo(text, err=True)


# -- logging --------------------------------------------------------------------------------


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
