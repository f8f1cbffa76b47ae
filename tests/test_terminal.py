"""Every command as a person sees it (issue 12 item 7): within 60, 72 and 80 columns with numbers
and units whole, colour only on a terminal and never with NO_COLOR, ASCII where the locale is
ASCII, and nothing at all on stdout with --quiet."""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from perps_tracker.cli import cli
from perps_tracker.storage.db import open_database
from tests.conftest import ts
from tests.fakes.ws import FakeStreams, liquidation_sessions
from tests.synthetic_history import market_history, store_history
from tests.test_alerts import store

H = 3600
NOW = datetime(2026, 11, 22, 10, 30, 42, tzinfo=timezone.utc)  # the fakes serve history up to 2026-11-23
HOUR = ts(2026, 11, 22, 10)
COMMANDS = [  # in this order: alerts decide on the stored snapshot before `snapshot` adds a newer one
    ["alerts", "--all"], ["alerts", "--since", "30d", "--all"], ["stats"], ["trend"], ["backtest"],
    ["predict", "funding"], ["config"], ["cleanup", "--days", "5", "--dry-run"], ["liquidations"],
    ["liquidations", "--no-fetch"], ["snapshot"], ["snapshot", "--alerts"], ["init"], ["backfill", "--days", "1"],
    ["cleanup", "--days", "9"],
]
HELP = [[], *[[name] for name in cli.commands], ["liquidations", "watch"], ["predict", "funding"]]
MONEY = re.compile(r"\$\d[\d,]*(?:\.\d+)?[KMBT]?")
COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-8]|9[0-7])(?:;\d+)*m")  # a foreground colour, not bold or dim


@pytest.fixture
def short_dir():
    """A directory with a short path, so that paths printed whole fit a 60-column line."""
    path = Path(tempfile.mkdtemp(prefix="pt", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def world(fake, short_dir, monkeypatch):
    """The nine venues on the fake, a database with ten days of hourly history whose newest
    snapshot fires five alerts (tests/test_alerts.py's hand-made market), a fixed clock."""
    fake.install()
    env = {**fake.env(), "PERPS_TRACKER_DB": str(short_dir / "h.db"), "PERPS_TRACKER_BACKOFF": "0",
           "PERPS_TRACKER_RETRIES": "1", "PERPS_TRACKER_READ_TIMEOUT": "2", "XDG_CONFIG_HOME": str(short_dir)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    db = open_database(str(short_dir / "h.db"))
    store_history(db, market_history(HOUR - 240 * H, 238, seed=11))
    store(db, HOUR - H)
    db.dispose()
    return short_dir


def invoke(runner, args, width: int, **kwargs):
    return runner.invoke(cli, args, terminal_width=width, env={"COLUMNS": str(width)}, catch_exceptions=False,
                         **kwargs)


def check_fits(text: str, width: int, what: str) -> None:
    """No line wider than `width`; every money amount whole (`$24.6B`, never `$24.6` or `$24.6…`)."""
    for line in text.splitlines():
        assert len(line) <= width, f"{what}: {len(line)} > {width} columns:\n{line}"
        for amount in MONEY.finditer(line):
            token, after = amount.group(), line[amount.end():amount.end() + 1]
            assert "." not in token or token[-1] in "KMBT", f"{what}: {token} lost its unit:\n{line}"
            assert after not in "…", f"{what}: {token} was cut:\n{line}"


@pytest.mark.parametrize("width", [60, 72, 80])
def test_every_command_fits_the_terminal(runner, world, width):
    outputs = {}
    for args in COMMANDS:
        result = invoke(runner, args, width)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        check_fits(result.stdout, width, " ".join(args))
        outputs[" ".join(args)] = result.stdout
    snapshot = outputs["snapshot"]
    assert "status" in snapshot.splitlines()[1] and "$" in snapshot  # the status column stays
    assert "FIRED" in outputs["alerts --all"] and "SHORT" in outputs["alerts --all"]
    assert ("Hidden at" in snapshot) == (width < 75)  # 75 columns hold every column
    for line in outputs["config"].splitlines():  # every key whole
        assert "…" not in line
    assert {key for key in ("http.connect_timeout", "venues.binance.ws_url", "venues.hyperliquid.url", "webhooks.discord")} <= \
        {line.split()[0] for line in outputs["config"].splitlines() if line.strip()}
    fresh = invoke(runner, ["backfill", "--days", "2", "--db", str(world / f"new{width}.db")], width)
    assert fresh.exit_code == 0 and "hours ok" in fresh.stdout
    check_fits(fresh.stdout + fresh.stderr, width, "backfill")


@pytest.mark.parametrize("width", [60, 80])
def test_help_fits_the_terminal(runner, width):
    for args in HELP:
        result = invoke(runner, [*args, "--help"], width)
        assert result.exit_code == 0
        check_fits(result.stdout, width, " ".join(args) + " --help")
        assert result.stdout.isascii()


@pytest.mark.parametrize("width", [60, 80])
def test_watch_summary_fits_the_terminal(runner, world, monkeypatch, width):
    with FakeStreams() as streams:
        scripts, _ = liquidation_sessions("binance", sessions=2, per_session=10, interval=0.0)
        streams.script("binance", *scripts)
        monkeypatch.setenv("PERPS_TRACKER_BINANCE_WS_URL", streams.url("binance"))
        result = invoke(runner, ["liquidations", "watch", "--exchange", "binance", "--duration", "1s"], width)
    assert result.exit_code == 0, result.stderr
    assert "Liquidation streams" in result.stdout and "binance" in result.stdout
    check_fits(result.stdout, width, "liquidations watch")


@pytest.mark.parametrize("args", [
    ["init"], ["stats"], ["cleanup"], ["cleanup", "--dry-run"], ["trend"], ["backtest"], ["predict", "funding"],
    ["config"], ["snapshot"], ["alerts"], ["alerts", "--since", "7d"], ["liquidations"], ["backfill", "--days", "1"],
], ids=" ".join)
def test_quiet_prints_nothing_on_success(runner, world, args):
    result = invoke(runner, [*args, "--quiet"], 80)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    short = invoke(runner, [*args, "-q"], 80)
    assert short.exit_code == 0 and short.stdout == ""


def test_quiet_still_reports_errors(runner, short_dir):
    result = runner.invoke(cli, ["stats", "--quiet", "--db", str(short_dir / "none.db")])
    assert result.exit_code == 1 and result.stdout == "" and result.stderr.startswith("Error: no database at")


# -- a real terminal, a real process ---------------------------------------------------------


def run_in_terminal(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """`perps-tracker args` in a pseudo-terminal (stdin, stdout and stderr): exit code and what it showed."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "perps_tracker", *args], stdin=slave, stdout=slave,
                            stderr=slave, env=env)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.5)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the process is gone and its end of the terminal closed
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.kill()
    return proc.wait(), b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def terminal_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "COLUMNS")}
    return {**env, "TERM": "xterm-256color", "COLUMNS": "80", **extra}


def test_colour_on_a_terminal_none_with_no_color_or_a_pipe(world):
    code, shown = run_in_terminal(["trend"], terminal_env())
    assert code == 0, shown
    assert COLOUR.search(shown), "signs and labels are coloured on a terminal"
    code, plain = run_in_terminal(["trend"], terminal_env(NO_COLOR="1"))
    assert code == 0 and not COLOUR.search(plain)
    assert re.sub(r"\x1b\[[0-9;]*m", "", shown) == re.sub(r"\x1b\[[0-9;]*m", "", plain)  # same words
    piped = subprocess.run([sys.executable, "-m", "perps_tracker", "trend"], capture_output=True, text=True,
                           env=terminal_env(), timeout=60)
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout


def test_warnings_and_errors_wrap_on_a_terminal(world):
    # The real clock is past the fakes' history: backfill warns, at length, for every venue.
    code, shown = run_in_terminal(["backfill", "--days", "1", "--quiet"], terminal_env(COLUMNS="60"))
    assert code in (0, 3) and "Traceback" not in shown
    assert all(len(line) <= 60 for line in shown.splitlines()), shown
    code, shown = run_in_terminal(["stats", "--db", "/tmp/no/such/directory/for/perps/tracker/db.db"],
                                  terminal_env(COLUMNS="60"))
    assert code == 1 and shown.startswith("Error: no database at") and all(len(x) <= 60 for x in shown.splitlines())


def test_verbose_lines_break_at_words_on_a_terminal_and_keep_urls_whole(world):
    code, shown = run_in_terminal(["-v", "snapshot", "--exchange", "okx"], terminal_env(COLUMNS="60"))
    assert code == 0, shown
    lines = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", shown).splitlines()
    urls = [line.strip() for line in lines if "http://" in line]
    assert len(urls) >= 5 and all(re.fullmatch(r"http://127\.0\.0\.1:\d+/okx/\S+", url) for url in urls)
    assert all(len(line) <= 60 for line in lines if "http://" not in line)
    assert "Fetching" not in shown  # no status line drawn through the log


ASCII_COMMANDS = [["trend"], ["backtest"], ["predict", "funding"], ["stats"], ["alerts", "--all"],
                  ["alerts", "--since", "30d", "--all"], ["config"], ["cleanup", "--days", "5", "--dry-run"],
                  ["snapshot"], ["liquidations"], ["trend", "--json"], ["backfill", "--days", "1"],
                  ["trend", "--help"], ["-v", "stats"]]


def test_an_ascii_locale_gets_ascii(world):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "FORCE_COLOR")}
    env.update(LC_ALL="C", PYTHONUTF8="0", COLUMNS="80")
    outputs = {}
    for args in ASCII_COMMANDS:  # trend first: `snapshot` adds a snapshot of today's clock
        proc = subprocess.run([sys.executable, "-m", "perps_tracker", *args], capture_output=True, env=env,
                              timeout=120)
        out, err = proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        assert proc.returncode in ((0, 3) if args[0] == "backfill" else (0,)), (args, out, err)
        assert "Traceback" not in err and "UnicodeEncodeError" not in err, (args, err)
        assert proc.stdout.isascii() and proc.stderr.isascii(), (args, out, err)
        if "--json" not in args:
            check_fits(out, 80, " ".join(args) + " (ASCII)")
        outputs[" ".join(args)] = out
    chart = [line for line in outputs["trend"].splitlines() if "|" in line]
    assert len(chart) == 16 and any(ch in "".join(chart) for ch in ".-'")  # drawn in ASCII
    assert "(-1 ... +1)" in outputs["trend"] and "+/-" in outputs["trend"] and "sigma" not in outputs["trend"]
    assert "^" in outputs["backtest"] and "r^2" in outputs["trend"]
