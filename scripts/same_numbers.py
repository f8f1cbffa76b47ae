"""Do two versions of the code store the same numbers? For refactors that must not change results.

    python scripts/same_numbers.py BEFORE_REV [AFTER_REV]

Runs, for each version (a git revision checked out in a temporary worktree; without AFTER_REV the
working tree), against the loopback fake venues of tests/fakes, into a fresh SQLite database:
`snapshot`, `backfill --days 30`, `liquidations` (REST), `alerts` at a fixed clock (2026-11-23 00:20 UTC,
where the fakes' history ends), then `liquidations watch --duration 6s` against the fake Binance,
Bybit and OKX streams. Then compares every table row by row, leaving out what records when or how
fast a run happened (ids, run times, latencies, the watch's coverage times). Exit 0: the same
numbers; 1: a difference, printed.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VOLATILE = {"id", "snapshot_id", "alert_id", "created_at", "taken_at", "fetched_at", "latency_ms", "received_at",
            "stored_at", "last_attempt_at", "delivered_at"}
VOLATILE_IN = {"liquidation_coverage": {"start_ms", "end_ms"}}  # a live watch's spans are wall-clock times

DRIVER = r'''
import os, sys
from datetime import datetime, timezone
from click.testing import CliRunner
import perps_tracker.cli as cli_module
from perps_tracker.cli import cli
from tests.fakes import FakeVenues
from tests.fakes.ws import FakeStreams, liquidation_sessions

def run(*args):
    result = CliRunner().invoke(cli, list(args))
    print(f"  {' '.join(args)}: exit {result.exit_code}", flush=True)

with FakeVenues() as fake, FakeStreams() as streams:
    fake.install()
    for venue in ("binance", "bybit", "okx"):
        streams.script(venue, *liquidation_sessions(venue, 3, 40, 0.01, start_ms=1795391000000)[0])
    os.environ.update({**fake.env(), **streams.env("binance", "bybit", "okx"), "PERPS_TRACKER_DB": sys.argv[1],
                       "PERPS_TRACKER_BACKOFF": "0", "PERPS_TRACKER_RETRIES": "1"})
    cli_module.utc_now = lambda: datetime(2026, 11, 23, 0, 20, tzinfo=timezone.utc)
    run("snapshot", "--quiet")
    run("backfill", "--days", "30", "--quiet")
    run("liquidations", "--quiet")
    run("alerts", "--quiet")
    run("liquidations", "watch", "--duration", "6s", "--quiet")
'''


def run_tree(tree: Path, db: Path) -> None:
    print(f"{tree}:", flush=True)
    subprocess.run([sys.executable, "-c", DRIVER, str(db)], cwd=tree, check=True,
                   env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HOME": str(db.parent)})


def tables(db: Path) -> dict[str, list[str]]:
    con = sqlite3.connect(db)
    out = {}
    for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        if table == "alembic_version":
            continue
        drop = VOLATILE | VOLATILE_IN.get(table, set())
        cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")') if r[1] not in drop]
        out[table] = sorted(json.dumps(r) for r in con.execute(f'SELECT {", ".join(cols)} FROM "{table}"'))
    con.close()
    return out


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip())
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        trees = []
        for rev in sys.argv[1:]:
            tree = Path(tmp) / f"tree-{len(trees)}"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), rev], check=True)
            trees.append(tree)
        if len(trees) == 1:
            trees.append(ROOT)
        try:
            dumps = []
            for i, tree in enumerate(trees):
                db = Path(tmp) / f"run-{i}.db"
                run_tree(tree, db)
                dumps.append(tables(db))
        finally:
            for tree in trees:
                if tree != ROOT:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    before, after = dumps
    differ = False
    for table in sorted(set(before) | set(after)):
        a, b = before.get(table), after.get(table)
        if a is None or b is None:
            print(f"{table}: only {'after' if a is None else 'before'}")
            continue
        gone, new = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        same = "same" if not gone and not new and len(a) == len(b) else "DIFFERENT"
        differ |= same != "same"
        print(f"{table:<24} {len(a):6d} rows before, {len(b):6d} after: {same}")
        for row in gone[:5]:
            print(f"  - {row}")
        for row in new[:5]:
            print(f"  + {row}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
