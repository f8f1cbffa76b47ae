"""The shared ways of printing (perps_tracker.render.output, perps_tracker.render.terminal): tables that drop
columns to fit, prose broken at spaces, colour that repeats the text, ASCII stand-ins."""

from __future__ import annotations

import pytest
from rich.console import Console

from perps_tracker.render import output
from perps_tracker.render.output import Col, Grid, keep, paint, say, tint
from perps_tracker.render.terminal import break_points, encodes, to_ascii, wrap


@pytest.fixture
def screen(monkeypatch):
    """The stdout console recorded at a chosen width: `screen(60)` returns a function reading it."""
    def at(width: int, encoding: str = "utf-8", colour: bool = False) -> Console:
        con = Console(width=width, record=True, file=open("/dev/null", "w", encoding=encoding),  # noqa: SIM115
                      force_terminal=colour, color_system="standard" if colour else None, highlight=False)
        monkeypatch.setattr(output, "console", con)
        return con
    return at


def lines(con: Console) -> list[str]:
    return con.export_text().splitlines()


def venue_grid() -> Grid:
    grid = Grid(Col("venue", "left"), Col("kind", "left", drop=1), Col("vol 24h"), Col("OI/vol", drop=2),
                Col("status", "left", wrap=True, min_width=6))
    grid.add("hyperliquid", "DEX", "$24.6B", "0.59", "ok")
    grid.add("okx", "CEX", "$485M", "1.03", "error: connection refused")
    return grid


def test_a_grid_drops_columns_in_their_declared_order_and_says_so(screen):
    con = screen(80)
    venue_grid().print()
    assert lines(con)[0].split() == ["venue", "kind", "vol", "24h", "OI/vol", "status"]
    con = screen(40)
    venue_grid().print()
    assert lines(con)[-1] == "Hidden at 40 columns: kind."
    con = screen(36)
    venue_grid().print()
    out = lines(con)
    assert out[0].split() == ["venue", "vol", "24h", "status"]  # kind went first, then OI/vol
    assert out[-1] == "Hidden at 36 columns: kind, OI/vol."
    assert all(len(line) <= 36 for line in out)
    assert "$24.6B" in out[2] and "$485M" in out[3]  # numbers and units whole


def test_a_grid_never_drops_undroppable_columns():
    grid = venue_grid()
    assert grid.fit(10) == [0, 2, 4]  # too narrow for anything: still venue, volume and status
    assert grid.need(4) == len("connection")  # wrapped text needs its widest word
    assert grid.need(0) == len("hyperliquid")


@pytest.mark.parametrize("width", [80, 46, 44, 39, 38, 30])
@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
@pytest.mark.parametrize("colour", [False, True])
def test_a_grid_laid_out_directly_reads_exactly_as_richs_table(screen, width, encoding, colour):
    """Grid.print lays simple tables out itself (rich's layout is slow); the text must be rich's, at
    every width, section, style, wide character and ASCII console, and rich must still do the rest."""
    def grid() -> Grid:
        g = Grid(Col("venue", "left"), Col("price"), Col("σ chg", drop=1), Col("note", "left", wrap=True, min_width=5),
                 Col("n", min_width=4))
        g.add("binance", "84,000.1", "+1.2%", "a note", 3)
        g.add("hyperliquid", None, "-0.5%", "BULLISH up", 12, style="bold", section=True)
        g.add("okx", paint("12", "red"), "", "日本語 →", None)
        g.add("total", "1", "2", "", "", style="dim")
        return g

    con = screen(width, encoding, colour)
    g = grid()
    shown = g.fit(width)
    direct = g.lines(shown, width) is not None
    if width in (80, 46, 30):  # 46: just wide enough; 30: the note column must wrap, which rich lays out
        assert direct == (width != 30)
    g.print()
    ours = con.export_text()
    con = screen(width, encoding, colour)
    g = grid()
    con.print(g.table(g.fit(width)))
    if g.fit(width) != list(range(5)):
        say(f"Hidden at {width} columns: σ chg.", style="dim")
    assert ours == con.export_text()


def test_say_breaks_at_spaces_and_keeps_long_words_whole(screen):
    con = screen(30)
    path = "/var/lib/perps-tracker/a/long/path/history.db"
    say(f"Note: binance: the database {path} is big and old", hang=2)
    assert lines(con) == ["Note: binance: the database", f"  {path}", "  is big and old"]


def test_say_keeps_pieces_together_unless_they_are_wider_than_a_line(screen):
    con = screen(30)
    say("Factors: ", keep("funding +0.01"), "  ", keep("price -0.30"), "  ", keep("long_short -0.45"), hang=2)
    assert lines(con) == ["Factors: funding +0.01", "  price -0.30", "  long_short -0.45"]
    con = screen(20)
    say(keep("a piece much wider than twenty columns"))
    assert all(len(line) <= 20 for line in lines(con))


def test_a_kept_piece_counts_the_line_indentation(screen):
    con = screen(60)
    piece = "fs and ps beyond ±0.5, same sign (fs = +0.01, ps = -0.30)"  # 57 columns: fits 60, not 60 - 4
    say("  Momentum Breakout (tier 1): ", keep("2 of 4 conditions hold"), "; ", keep(piece), hang=2)
    out = lines(con)
    assert all(len(line) <= 60 for line in out) and out[-1].startswith("    ")


def test_a_quoted_command_is_one_word(screen):
    con = screen(40)
    say("Run it again later with `perps-tracker liquidations watch` please")
    assert "`perps-tracker liquidations watch`" in lines(con)[1]


def test_signs_and_labels_are_coloured_and_the_text_unchanged(screen):
    con = screen(100, colour=True)
    say("composite +0.412 BULLISH, change -3.76%, 0.00 flat, date 2026-11-22, cascade 0.71 HIGH")
    text = con.export_text(styles=True, clear=False)
    assert "\x1b[32m+0.412\x1b[0m" in text and "\x1b[32mBULLISH" in text and "\x1b[31m-3.76%" in text
    assert "\x1b[31mHIGH" in text
    assert "0.00 flat" in text and "2026-11-22" in text  # no colour for zero or a date
    assert con.export_text() == ("composite +0.412 BULLISH, change -3.76%, 0.00 flat, date 2026-11-22, "
                                 "cascade 0.71 HIGH\n")


def test_tint_finds_only_explicit_signs():
    text = "z = -0.77, 1-2, x-1, -0.00, +5%, v1.2-3, -1,234."
    found = [text[s.start:s.end] for s in tint(paint(text)).spans]
    assert found == ["-0.77", "+5%", "-1,234"]


def test_ascii_stand_ins_keep_the_meaning():
    assert to_ascii("σ 0.0008% → ±0.1 r² ▲ LONG ▼ SHORT ● … — · ✓") == \
        "sigma 0.0008% -> +/-0.1 r^2 ^ LONG v SHORT o ... - - ok"
    assert to_ascii("⠉⠒⣀⡇ ") == "'-.| "  # braille dots: top, middle, bottom, a steep line
    assert to_ascii("日本") == "??"
    assert encodes("utf-8") and not encodes("ascii") and not encodes("latin-1")


def test_ascii_console_prints_stand_ins_and_ascii_tables(screen):
    con = screen(60, encoding="ascii")
    grid = Grid(Col("signal", "left"), Col("", "left"), Col("r²"))
    grid.add("bullish label", "▲", "+0.45")
    grid.print()
    say("σ 0.0008% → done")
    out = con.export_text()
    assert out.isascii() and "r^2" in out and "^" in out and "sigma 0.0008% -> done" in out


def test_wrap_for_stderr_indents_continuations():
    assert wrap("Warning: a b c d e f", 12, 2) == "Warning: a b\n  c d e f"
    assert wrap("  one two three", 9, 2) == "  one two\n    three"
    assert break_points("short", 80) == []
