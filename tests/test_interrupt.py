"""Ctrl-C (and SIGTERM) in the real process: one `Interrupted: ...` line, exit code 130, nothing
partial stored, no click `Aborted!`, and no wait for venues still answering (issue 12 item 3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.fakes import Reply, installed_venues, wait_until


def start(args, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPS_TRACKER_")}
    env.update(env_extra)
    return subprocess.Popen([sys.executable, "-m", "perps_tracker", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def interrupt(proc, fake, sig=signal.SIGINT):
    """Send `sig` once the process is waiting on a venue; (exit code, stdout, stderr, seconds to exit)."""
    try:
        assert wait_until(lambda: len(fake.requests) > 0, timeout=20)
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        return proc.returncode, out, err, time.monotonic() - sent
    finally:
        proc.kill()


@pytest.fixture
def slow(fake):
    """Every venue answers only after 30 s."""
    fake.install()
    for venue in installed_venues():
        fake.override(venue, Reply({}, delay=30))
    return fake


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_snapshot_interrupted_stores_nothing_and_exits_130(slow, tmp_path, sig):
    db = tmp_path / "history.db"
    code, out, err, took = interrupt(start(["snapshot"], {**slow.env(), "PERPS_TRACKER_DB": str(db)}), slow, sig)
    assert (code, err) == (130, "Interrupted: nothing was stored for this hour\n")
    assert "Aborted" not in out + err and took < 5
    assert not db.exists()


def test_liquidations_poll_interrupted_exits_130(slow, tmp_path):
    db = tmp_path / "history.db"
    code, out, err, took = interrupt(start(["liquidations"], {**slow.env(), "PERPS_TRACKER_DB": str(db)}), slow)
    assert (code, err) == (130, "Interrupted: nothing partial was stored\n") and took < 5


def test_backfill_interrupted_exits_130_with_resume_hint(slow, tmp_path):
    db = tmp_path / "history.db"
    code, out, err, took = interrupt(start(["backfill", "--days", "1", "--quiet"],
                                           {**slow.env(), "PERPS_TRACKER_DB": str(db)}), slow)
    assert code == 130 and took < 10
    assert err == ("Interrupted: what was stored and downloaded is kept; run the same command again to "
                   "resume\n")
