"""The one console pair and the shared ways every command prints to it.

- `say(...)`: prose for people, broken at spaces to the console's width; a word wider than a line
  (a path, a URL) keeps a line of its own, whole; `keep(...)` pieces stay on one line.
- `Grid`: a table of declared columns; when the console is too narrow for all of them, the
  columns are dropped in their declared order (numbers and units are never cut) and a line says
  which.
- `paint`, `tint`: colour. Numbers written with a sign are green (+) or red (-); BULLISH, BEARISH,
  cascade levels and alert directions have their colours. Colour only repeats what the text
  says; rich prints none when `NO_COLOR` is set or stdout is not a terminal.
- `glyphs`: ASCII stand-ins for `→ σ ± ▲` and braille where the output's encoding lacks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence, Union

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from perps_tracker.render.terminal import WORD, break_points, encodes, to_ascii

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)

NOBREAK = "\ue000"  # stands for a space inside a `keep` piece while a line is being broken
SIGNED = re.compile(r"(?<![\w.+-])[+-](?=[\d.,]*[1-9])\d+(?:[.,]\d+)*%?")  # +0.01, -3.76%, -1,234
LABELS = {"BULLISH": "green", "BEARISH": "red", "LOW": "green", "MODERATE": "yellow", "HIGH": "red",
          "CRITICAL": "bold red", "LONG": "green", "SHORT": "red", "UP": "green", "DOWN": "red",
          "EDGE": "bold green"}
LABEL = re.compile(r"\b(?:" + "|".join(LABELS) + r")\b")


def glyphs(text: str) -> str:
    """`text` as the console can print it: unchanged, or with ASCII stand-ins for what its encoding lacks."""
    return text if encodes(console.encoding) else to_ascii(text)


def tint(text: Text) -> Text:
    """Colour the signed numbers and the labels in `text` (in place; returned for chaining)."""
    for match in SIGNED.finditer(text.plain):
        text.stylize("red" if match.group().startswith("-") else "green", match.start(), match.end())
    for match in LABEL.finditer(text.plain):
        text.stylize(LABELS[match.group()], match.start(), match.end())
    return text


def paint(text: str, style: str | None = None) -> Text:
    """`text` (stand-ins applied) in `style`."""
    return Text(glyphs(text), style=style or "")


class keep(str):
    """A piece of a `say` line that is not broken across lines (unless it is wider than a line)."""


def listed(pieces, sep: str = ", ") -> list:
    """`pieces` as `say` parts: each kept on one line, `sep` between them."""
    out: list = []
    for k, piece in enumerate(pieces):
        out += [sep, keep(piece)] if k else [keep(piece)]
    return out


Part = Union[str, Text]


def _assemble(parts: Sequence[Part], width: int, style: str | None) -> Text:
    text = Text(style=style or "")
    for part in parts:
        if isinstance(part, Text):
            text.append_text(part)
            continue
        plain = glyphs(str(part))
        if isinstance(part, keep) and cell_len(plain) <= width:
            plain = plain.replace(" ", NOBREAK)
        text.append(plain)
    return tint(text)


def say(*parts: Part, hang: int = 0, style: str | None = None) -> None:
    """Prose on stdout, broken at spaces to the console's width; continuation lines are indented
    by `hang` more than the line's own indentation."""
    width = console.width
    first = str(parts[0]) if parts and not isinstance(parts[0], Text) else ""
    text = _assemble(parts, width - hang - (len(first) - len(first.lstrip(" "))), style)
    for paragraph in text.split("\n", allow_blank=True) if text.plain else [text]:
        plain = paragraph.plain
        indent = hang + len(plain) - len(plain.lstrip(" "))
        for k, line in enumerate(paragraph.divide(break_points(plain, width, indent))):
            line.rstrip()
            if k:
                line = Text(" " * indent) + line
            line.plain = line.plain.replace(NOBREAK, " ")
            console.print(line, soft_wrap=True)


# -- tables ---------------------------------------------------------------------------------

GAP = 2  # columns between two table columns (padding and divider)
ASCII_HEAD = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)  # SIMPLE_HEAD in ASCII


@dataclass(frozen=True)
class Col:
    """A table column. `drop`: its place in the order columns are dropped when the console is too
    narrow (1 goes first; None: always shown). `wrap`: text that may break at spaces, down to
    `min_width` (other cells are never broken or cut)."""

    header: str
    justify: str = "right"
    drop: int | None = None
    wrap: bool = False
    min_width: int = 0


def _widest(texts: Sequence[Text], pattern: re.Pattern) -> int:
    return max((cell_len(piece) for t in texts for piece in pattern.findall(t.plain)), default=0)


LINE = re.compile(r"[^\n]+")


class Grid:
    """Rows under declared columns, printed as a table that fits the console."""

    def __init__(self, *columns: Col):
        self.columns = list(columns)
        self.rows: list[tuple[list[Text], str | None, bool]] = []

    def add(self, *cells: Part | None, style: str | None = None, section: bool = False) -> None:
        """A row; `None` shows as `-`; `section` draws a line under it."""
        row = [tint(c if isinstance(c, Text) else paint("-" if c is None else str(c))) for c in cells]
        self.rows.append((row, style, section))

    def need(self, index: int) -> int:
        """Columns that column `index` needs: its widest cell, or for wrapped text its widest word."""
        col = self.columns[index]
        texts = [Text(glyphs(col.header)), *(row[index] for row, _, _ in self.rows)]
        return max(_widest(texts, WORD if col.wrap else LINE), col.min_width)

    def fit(self, width: int) -> list[int]:
        """The indexes of the columns shown at `width`: all, less the first to drop until they fit."""
        shown = list(range(len(self.columns)))
        order = sorted((i for i, c in enumerate(self.columns) if c.drop is not None),
                       key=lambda i: self.columns[i].drop)
        while order and sum(self.need(i) for i in shown) + GAP * (len(shown) - 1) > width:
            shown.remove(order.pop(0))
        return shown

    def table(self, shown: Sequence[int]) -> Table:
        rule = box.SIMPLE_HEAD if encodes(console.encoding) else ASCII_HEAD
        table = Table(box=rule, show_edge=False, pad_edge=False, collapse_padding=True)
        for i in shown:
            col = self.columns[i]
            table.add_column(glyphs(col.header), justify=col.justify, no_wrap=not col.wrap, overflow="fold",
                             min_width=col.min_width or None)
        for row, style, section in self.rows:
            table.add_row(*(row[i] for i in shown), style=style, end_section=section)
        return table

    def lines(self, shown: Sequence[int], width: int) -> Text | None:
        """The table laid out as rich (14.3 and later) lays it out, when it has nothing to wrap or shrink (every cell
        one line, the widest cells side by side within `width`): two columns apart, a rule under the
        headers, a blank line after a section. None otherwise. rich's own layout costs ~0.5 ms a row."""
        texts = [[Text(glyphs(self.columns[i].header), style="table.header") for i in shown]]
        texts += [[row[i] for i in shown] for row, _, _ in self.rows]
        if any("\n" in cell.plain for line in texts for cell in line):
            return None
        widths = [max(max(cell.cell_len for cell in column), self.columns[i].min_width)
                  for i, column in zip(shown, zip(*texts))]
        total = sum(widths) + GAP * (len(widths) - 1)
        if total > width:
            return None
        rule = "─" if encodes(console.encoding) else "-"
        styles = [None, *(style for _, style, _ in self.rows)]
        sections = [False, *(section for _, _, section in self.rows)]
        out = Text()
        for k, (cells, style, section) in enumerate(zip(texts, styles, sections)):
            line = Text(style=style or "")
            for n, (i, cell, w) in enumerate(zip(shown, cells, widths)):
                pad = " " * (w - cell.cell_len)
                line.append(" " * GAP if n else "")
                line.append_text(Text.assemble(pad, cell) if self.columns[i].justify == "right"
                                 else Text.assemble(cell, pad))
            out.append_text(line)
            out.append("\n")
            if k == 0:
                out.append(rule * total + "\n")
            elif section:
                out.append(" " * total + "\n")
        out.right_crop(1)
        return out

    def print(self) -> None:
        width = console.width
        shown = self.fit(width)
        laid = self.lines(shown, width)
        console.print(self.table(shown) if laid is None else laid, soft_wrap=laid is not None)
        hidden = [c.header for i, c in enumerate(self.columns) if i not in shown]
        if hidden:
            say(f"Hidden at {width} columns: {', '.join(hidden)}.", style="dim")
