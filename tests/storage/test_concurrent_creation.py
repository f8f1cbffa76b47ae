"""Two first runs at once (cron and a person, two cron lines) create the schema once: the
migration runs under the database's write lock, and the second run waits, then finds it current
(issue 12 item 9: 4 × `init` on a fresh path failed 10 times in 40)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROUNDS, AT_ONCE = 3, 4


def test_concurrent_first_runs_all_succeed(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPS_TRACKER_")}
    failures, created = [], []
    for round_ in range(ROUNDS):
        path = tmp_path / f"fresh-{round_}.db"
        procs = [subprocess.Popen([sys.executable, "-m", "perps_tracker", "init", "--db", str(path)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for _ in range(AT_ONCE)]
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            if proc.returncode != 0:
                failures.append(err.strip())
            created.append("(created)" in out)
    assert failures == []
    assert sum(created) == ROUNDS  # exactly one creator per fresh database


@pytest.mark.parametrize("backend", ["postgresql"])
def test_concurrent_first_runs_on_postgresql(backend):
    from tests.conftest import postgres_url

    url = postgres_url()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPS_TRACKER_")}
    procs = [subprocess.Popen([sys.executable, "-m", "perps_tracker", "init", "--db", url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(AT_ONCE)]
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    assert [r[0] for r in results] == [0] * AT_ONCE, [r[2] for r in results]
    assert sum("(created)" in r[1] for r in results) == 1
