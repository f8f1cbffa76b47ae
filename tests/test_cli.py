"""The commands as a user runs them: exit codes, exact error lines, JSON shapes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from freezegun import freeze_time

from perps_tracker.cli import cli
from perps_tracker.storage.db import head_revision, open_database
from tests.conftest import add_snapshot, ts


def run(runner, *args):
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_version(runner):
    result = run(runner, "--version")
    assert result.exit_code == 0 and result.output.startswith("perps-tracker, version ")


def test_init_creates_default_database_and_is_idempotent(runner, isolated):
    first = run(runner, "init")
    path = isolated / "data" / "market_history.db"
    assert first.exit_code == 0
    # The path is longer than 80 columns: it gets a line of its own, whole.
    assert " ".join(first.output.split()) == f"Database: sqlite:///{path} Schema revision: {head_revision()} (created)"
    second = run(runner, "init")
    assert second.exit_code == 0 and "(already up to date)" in second.output
    assert path.is_file()


def test_init_with_db_flag_and_env(runner, tmp_path, monkeypatch):
    result = run(runner, "init", "--db", str(tmp_path / "flag.db"))
    assert result.exit_code == 0 and (tmp_path / "flag.db").is_file()
    monkeypatch.setenv("PERPS_TRACKER_DB", str(tmp_path / "env.db"))
    assert run(runner, "init").exit_code == 0 and (tmp_path / "env.db").is_file()


def test_init_accepts_sqlalchemy_url(runner, tmp_path):
    result = run(runner, "init", "--db", f"sqlite:///{tmp_path / 'url.db'}")
    assert result.exit_code == 0 and (tmp_path / "url.db").is_file()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d, "Error: database path {p} is a directory\n"),
        (lambda d: (d / "notes.txt", (d / "notes.txt").write_text("hello"))[0],
         "Error: {p} is not a SQLite database\n"),
        (lambda d: d / "missing" / "x.db",
         "Error: cannot create database {p}: directory {parent} does not exist\n"),
        (lambda d: (d / "file", (d / "file").write_text(""))[0] / "x.db",
         "Error: cannot create database {p}: {parent} is not a directory\n"),
    ],
    ids=["directory", "text-file", "missing-parent", "parent-is-file"],
)
def test_init_bad_paths_are_one_line_errors(runner, tmp_path, make, message):
    path = make(tmp_path)
    result = runner.invoke(cli, ["init", "--db", str(path)])
    assert result.exit_code == 1
    assert result.stderr == message.format(p=path, parent=path.parent)
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_init_mkdir_creates_parent(runner, tmp_path):
    path = tmp_path / "new" / "dir" / "x.db"
    result = run(runner, "init", "--db", str(path), "--mkdir")
    assert result.exit_code == 0 and path.is_file()


def test_init_bad_url(runner):
    result = runner.invoke(cli, ["init", "--db", "nosuchdb://x/y"])
    assert result.exit_code == 1
    assert result.stderr == "Error: not a valid database path or URL: nosuchdb://x/y\n"


def test_missing_driver_is_one_line(runner):
    result = runner.invoke(cli, ["init", "--db", "mysql+nosuchdriver://u:pw@localhost/db"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "pw" not in result.stderr


def test_stats_without_database(runner, isolated):
    result = runner.invoke(cli, ["stats"])
    assert result.exit_code == 1
    path = isolated / "data" / "market_history.db"
    assert result.stderr == (
        f"Error: no database at {path} (run `perps-tracker init` or `perps-tracker snapshot` first)\n"
    )
    assert not path.exists()


def test_stats_empty_database_hint(runner):
    run(runner, "init")
    result = run(runner, "stats")
    assert result.exit_code == 0 and "No snapshots yet" in result.output
    data = json.loads(run(runner, "stats", "--json").output)
    assert data["latest"] is None and data["hint"].startswith("No snapshots yet")
    assert data["rows"]["market_snapshots"] == 0


@freeze_time("2026-11-22 12:30:00")
def test_stats_json_with_history(runner, db_path):
    db = open_database(str(db_path))
    for h in (9, 10, 12):
        add_snapshot(db, ts(2026, 11, 22, h), composite=0.55 if h == 12 else 0.1,
                     venues={"binance": "ok", "okx": "error"})
    db.dispose()
    data = json.loads(run(runner, "stats", "--db", str(db_path), "--json").output)
    assert data["last_snapshot"] == "2026-11-22T12:00:00Z" and data["first_snapshot"] == "2026-11-22T09:00:00Z"
    assert data["latest"]["composite_score"] == 0.55 and data["latest"]["exchanges_failed"] == 1
    assert data["gaps"] == {"since": "2026-11-22T09:00:00Z", "missing_hours": 1,
                            "ranges": [{"from": "2026-11-22T11:00:00Z", "to": "2026-11-22T11:00:00Z", "hours": 1}]}
    cov = {c["exchange"]: c for c in data["coverage"]}
    assert cov["binance"]["hours_ok_24h"] == 3 and cov["binance"]["share_24h"] == 0.125
    assert cov["okx"]["hours_ok_7d"] == 0
    table = run(runner, "stats", "--db", str(db_path))
    assert "Missing hours since 2026-11-22 09:00:00 UTC: 1" in table.output
    assert "composite +0.550" in table.output


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--days", "0"], re.escape("Invalid value for '--days': 0 is not in the range x>=1.")),
        (["--days", "-3"], re.escape("Invalid value for '--days': -3 is not in the range x>=1.")),
        (["--days", "1.5"], re.escape("Invalid value for '--days': '1.5' is not a valid integer range.")),
        (["--days", "abc"], re.escape("Invalid value for '--days': 'abc' is not a valid integer range.")),
        # the same error in click 8.2.0 ("No such option: --bogus") and later ("No such option '--bogus'.")
        (["--bogus"], r"No such option(: --bogus| '--bogus'\.)"),
    ],
)
def test_cleanup_usage_errors_exit_2(runner, args, pattern):
    result = runner.invoke(cli, ["cleanup", *args])
    assert result.exit_code == 2
    assert re.search(pattern, result.stderr), result.stderr


def test_cleanup_at_cli_level_with_frozen_clock(runner, db_path):
    db = open_database(str(db_path))
    add_snapshot(db, ts(2026, 8, 1))
    add_snapshot(db, ts(2026, 8, 24, 12))  # exactly 90 days before the frozen clock
    add_snapshot(db, ts(2026, 11, 22, 11))
    db.dispose()
    with freeze_time("2026-11-22 12:00:00"):
        dry = json.loads(run(runner, "cleanup", "--db", str(db_path), "--dry-run", "--json").output)
        assert dry["dry_run"] is True and dry["removed"]["market_snapshots"] == 1
        assert dry["cutoff"] == "2026-08-24T12:00:00Z"
        done = run(runner, "cleanup", "--db", str(db_path))
    assert done.exit_code == 0
    assert "Deleted rows older than 90 days" in done.output
    with freeze_time("2026-11-22 12:00:01"):
        again = json.loads(run(runner, "cleanup", "--db", str(db_path), "--json").output)
    assert again["removed"]["market_snapshots"] == 1  # the 90-day one is now a second too old
    assert again["removed"]["exchange_snapshots"] == 2


def test_cleanup_vacuum(runner, db_path):
    run(runner, "init", "--db", str(db_path))
    result = run(runner, "cleanup", "--db", str(db_path), "--vacuum")
    assert result.exit_code == 0 and "Vacuumed:" in result.output


def test_unknown_command_is_usage_error(runner):
    result = runner.invoke(cli, ["snapshoot"])
    assert result.exit_code == 2 and "No such command 'snapshoot'" in result.stderr


def test_python_dash_m(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "perps_tracker", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "Commands:" in proc.stdout


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys\n"
        "from perps_tracker.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'numpy', 'sklearn', 'pandas', 'sqlalchemy', 'alembic', 'rich', 'requests', 'websockets'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_unwritable_locations_are_refused(runner, tmp_path, monkeypatch):
    # Tests run as root, for whom permissions do not apply: stand in for a read-only mount.
    existing = tmp_path / "own.db"
    run(runner, "init", "--db", str(existing))
    monkeypatch.setattr("perps_tracker.storage.db.os.access", lambda path, mode: False)
    new = runner.invoke(cli, ["init", "--db", str(tmp_path / "new.db")])
    assert new.exit_code == 1
    assert new.stderr == f"Error: cannot create database {tmp_path / 'new.db'}: directory {tmp_path} is not writable\n"
    old = runner.invoke(cli, ["cleanup", "--db", str(existing)])
    assert old.exit_code == 1 and old.stderr == f"Error: database {existing} is not writable\n"
    # Issue 12 item 2: reading needs no write access.
    assert runner.invoke(cli, ["stats", "--db", str(existing)]).exit_code == 0


def test_corrupt_database_is_one_line_and_untouched(runner, tmp_path):
    path = tmp_path / "corrupt.db"
    payload = b"SQLite format 3\x00" + b"\xff" * 5000
    path.write_bytes(payload)
    result = runner.invoke(cli, ["stats", "--db", str(path)])
    assert result.exit_code == 1
    assert result.stderr == f"Error: cannot open database {path}: file is not a database\n"
    assert path.read_bytes() == payload
