"""Read commands never write (issue 12 item 2): a read-only connection, no migration, no WAL
switch; they work on a file and directory the user may only read; a schema too old to read is
refused with a message naming `perps-tracker init`, the file untouched."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from perps_tracker.cli import cli
from perps_tracker.errors import DatabaseError
from perps_tracker.storage.db import (
    READABLE_SINCE,
    REVISIONS,
    display_url,
    locate,
    open_database,
    open_for_reading,
)
from tests.conftest import ts
from tests.storage.test_migrations import upgrade_to
from tests.synthetic_history import market_history, store_history

READ_COMMANDS = [
    ["stats", "--json"],
    ["trend", "--json"],
    ["backtest", "--json"],
    ["predict", "funding", "--json"],
    ["alerts", "--since", "7d", "--json"],
    ["liquidations", "--no-fetch", "--json"],
    ["cleanup", "--dry-run", "--json"],
]


def digest(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.fixture
def history(tmp_path) -> Path:
    """A directory holding one database with a few snapshots, checkpointed (no -wal file)."""
    directory = tmp_path / "shared"
    directory.mkdir()
    path = directory / "history.db"
    db = open_database(str(path))
    store_history(db, market_history(ts(2026, 11, 1), 300, seed=7))
    db.dispose()
    return directory


def run_read_only(directory: Path, args: list[str]) -> subprocess.CompletedProcess:
    """`perps-tracker ARGS --db DIR/history.db` where DIR and the file cannot be written: as a
    normal user by permissions; as root (whom permissions do not stop) on a read-only bind mount
    in a private mount namespace."""
    command = [sys.executable, "-m", "perps_tracker", *args, "--db", "DB"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPS_TRACKER_")}
    if os.geteuid() != 0:
        (directory / "history.db").chmod(0o444)
        directory.chmod(0o555)
        try:
            command[-1] = str(directory / "history.db")
            return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        finally:
            directory.chmod(0o755)
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: cannot make a read-only location")
    mount = directory.parent / "ro"
    mount.mkdir(exist_ok=True)
    command[-1] = str(mount / "history.db")
    script = (f"mount --bind '{directory}' '{mount}' && mount -o remount,bind,ro '{mount}' && "
              + " ".join(f"'{c}'" for c in command))
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs none /mnt"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no private mount namespace here (unshare -m): cannot make a read-only location")
    return subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env,
                          timeout=60)


@pytest.mark.parametrize("args", READ_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_read_commands_work_on_a_read_only_file_and_directory(history, args):
    before = digest(history)
    result = run_read_only(history, args)
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)
    assert digest(history) == before


def test_reading_does_not_migrate_switch_wal_or_change_the_file(history):
    path = history / "history.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = DELETE")  # as if another tool had switched it off
    con.close()
    before = digest(history)
    result = CliRunner().invoke(cli, ["stats", "--db", str(path)])
    assert result.exit_code == 0, result.stderr
    assert digest(history)["history.db"] == before["history.db"]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()


def test_read_only_connection_refuses_writes(history):
    with open_for_reading(str(history / "history.db")) as db:
        assert db.read_only
        with pytest.raises(Exception, match="readonly|read-only|query_only|attempt to write"):
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM market_snapshots")


def test_older_schema_is_refused_with_init_named_and_left_untouched(tmp_path):
    path = tmp_path / "old.db"
    older = REVISIONS[REVISIONS.index(READABLE_SINCE) - 1]
    upgrade_to(f"sqlite:///{path}", older)
    before = path.read_bytes()
    result = CliRunner().invoke(cli, ["stats", "--db", str(path)])
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {path} has schema revision {older}, older than this perps-tracker reads "
                             f"({READABLE_SINCE}): run `perps-tracker init` to upgrade it\n")
    assert path.read_bytes() == before
    assert CliRunner().invoke(cli, ["init", "--db", str(path)]).exit_code == 0
    assert CliRunner().invoke(cli, ["stats", "--db", str(path)]).exit_code == 0


def test_empty_file_is_refused_for_reading(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    with pytest.raises(DatabaseError, match=r"holds no perps-tracker schema yet \(run `perps-tracker init`\)"):
        open_for_reading(str(path))
    assert path.read_bytes() == b""


def test_readable_revisions_are_known_and_ordered():
    assert READABLE_SINCE in REVISIONS and list(REVISIONS) == sorted(REVISIONS)


@pytest.mark.parametrize("url", ["sqlite:////tmp/a b%20c.db", "sqlite:///rel.db", "sqlite://", "sqlite:///",
                                 "sqlite:///:memory:", "sqlite+pysqlite:////t/x@y:z%25.db",
                                 "sqlite:////tmp/x.db?mode=ro", "postgresql+psycopg://u:secret@h:5/db"])
def test_sqlite_urls_are_read_without_sqlalchemy_as_sqlalchemy_reads_them(url):
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    path = parsed.database if parsed.get_backend_name() == "sqlite" else None
    assert locate(url).path == (Path(path) if path not in (None, "", ":memory:") else None)
    assert display_url(url) == parsed.render_as_string(hide_password=True)
