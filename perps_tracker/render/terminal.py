"""What the CLI sets up before a command runs, and the plain-text helpers it needs on stderr.

- Characters: where the output's encoding cannot carry what we print (`LC_ALL=C`: ASCII), each
  character has an ASCII stand-in (`→` `->`, `σ` `sigma`, braille chart dots `.` `-` `'` `|`);
  `setup_streams` makes stdout and stderr use them instead of raising `UnicodeEncodeError`.
- Words: `break_points` is where a line of prose is broken to fit a width (at spaces; a word
  longer than the line, such as a path or a URL, stays whole).
- Logging: `setup_logging` sends the `perps_tracker` logger to stderr for `-v`. Core code only
  logs; this is the one place that configures it.

Imports nothing heavy: it runs for every command.
"""

from __future__ import annotations

import codecs
import logging
import re
import sys
from functools import lru_cache

_STAND_INS = {
    "→": "->", "←": "<-", "σ": "sigma", "Σ": "sum", "±": "+/-", "²": "^2", "…": "...", "—": "-", "–": "-",
    "−": "-", "·": "-", "•": "*", "✓": "ok", "▲": "^", "▼": "v", "●": "o", "≥": ">=", "≤": "<=", "≠": "!=",
    "≈": "~", "×": "x", "§": "S", "Ⓢ": "S", "┤": "|", "─": "-", "━": "-", "│": "|", "┃": "|",
    "\u00a0": " ",
}
PROBE = "".join(_STAND_INS) + "\u2800"  # every special character we print, and braille


def _braille(bits: int) -> str:
    """An ASCII character for a braille cell (dots 1-8 as bits): where its dots sit, top to bottom."""
    rows = [r for r, mask in enumerate((0x09, 0x12, 0x24, 0xC0)) if bits & mask]
    if not rows:
        return " "
    if rows[-1] - rows[0] >= 2:
        return "|"
    middle = (rows[0] + rows[-1]) / 2
    return "'" if middle < 1 else "-" if middle < 2 else "."


@lru_cache(maxsize=1)
def _table() -> dict[int, str]:
    table = {ord(k): v for k, v in _STAND_INS.items()}
    table.update({0x2800 + bits: _braille(bits) for bits in range(256)})
    return table


def to_ascii(text: str) -> str:
    """`text` with every character we print that ASCII lacks replaced by its stand-in (`?` for others)."""
    return text.translate(_table()).encode("ascii", "replace").decode("ascii")


@lru_cache(maxsize=None)
def encodes(encoding: str | None) -> bool:
    """Whether `encoding` can carry every character we print (UTF-8 can; ASCII, Latin-1 cannot)."""
    try:
        PROBE.encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _stand_in(error: UnicodeEncodeError) -> tuple[str, int]:
    return to_ascii(error.object[error.start:error.end]), error.end


def setup_streams() -> None:
    """Make stdout and stderr print stand-ins for what their encoding lacks, instead of raising."""
    try:
        codecs.lookup_error("perps-ascii")
    except LookupError:
        codecs.register_error("perps-ascii", _stand_in)
    for stream in (sys.stdout, sys.stderr):
        if not encodes(getattr(stream, "encoding", None)) and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="perps-ascii")


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
    """A message for stderr: in ASCII where stderr needs it, broken at spaces on a terminal (logs
    and cron mail keep one line per message)."""
    import shutil

    import click

    stream = sys.stderr
    if not encodes(getattr(stream, "encoding", None)):
        text = to_ascii(text)
    if stream.isatty():
        text = wrap(text, shutil.get_terminal_size().columns, hang)
    click.echo(text, err=True)


# -- logging --------------------------------------------------------------------------------


TIME_WIDTH = len("12:00:00.000 ")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (a test runner's). On a terminal a
    record is broken at spaces like every other message, its continuation lines under the text;
    a URL stays whole. Logs and pipes keep one line per record."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass

    def format(self, record: logging.LogRecord) -> str:
        import shutil

        text = super().format(record)
        return wrap(text, shutil.get_terminal_size().columns, TIME_WIDTH) if self.stream.isatty() else text


def logging_requests() -> bool:
    """Whether `-v` is on. Live displays (the fetch status line, backfill's bars) stay off then:
    the log lines would be drawn through them, folded."""
    return logging.getLogger("perps_tracker").isEnabledFor(logging.INFO)


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
