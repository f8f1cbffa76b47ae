"""`serve`: the dashboard's pages over a database filled by `backfill` and live snapshots against the
loopback fakes, served in a thread on a free loopback port. In headless Chromium each page loads with
no console error and its charts drawn; the open overview reloads by itself when a new `snapshot` is
stored. Without a browser: bad queries and unknown coins are small error pages, webhook URLs never
appear, serving never writes to the database, and the command's errors are one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from perps_tracker.cli.serve import dashboard_pages
from perps_tracker.config import load_settings
from perps_tracker.services.runtime import Runtime
from perps_tracker.services.serve import open_server, run, url_of
from tests.dashboard_data import (
    DRAWN,
    HOSTILE_COIN,
    HOSTILE_VENUE,
    NEWEST,
    NOW,
    fill,
    invoke,
    plant_hostile,
)

WEBHOOK = "https://discord.com/api/webhooks/1234/super-secret-token"
PAGES = ["/", "/coin/BTC", "/funding", "/liquidations"]
CHARTS = {"/": ["line", "stacked", "line", "heatmap", "bars"], "/coin/BTC": ["line", "line", "line"],
          "/funding": ["heatmap"], "/liquidations": ["bars"]}


@pytest.fixture
def filled(runner, fake, monkeypatch, db_path):
    return fill(runner, fake, monkeypatch, db_path)


@pytest.fixture
def served(filled, monkeypatch):
    """The dashboard in a daemon thread (its runtime opened and closed there: SQLite connections stay
    on their thread), pages asking for a new snapshot every 0.3 s; yields (base URL, clock)."""
    monkeypatch.setenv("PERPS_TRACKER_DISCORD_WEBHOOK", WEBHOOK)
    rt = Runtime(load_settings(None))
    assert rt.settings.webhook_urls() == {"discord": WEBHOOK}
    server = open_server("127.0.0.1", 0, dashboard_pages(rt, filled, refresh_seconds=0.3))
    stop = threading.Event()

    def serve():
        try:
            run(server, stop)
        finally:
            rt.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield url_of(server).rstrip("/"), filled
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def get(url: str) -> requests.Response:
    return requests.get(url, timeout=10)


@pytest.mark.browser
def test_every_page_loads_clean_with_its_charts_drawn(served, page, runner):
    base, _ = served
    for path in PAGES:
        page.goto(base + path)
        drawn = page.evaluate(DRAWN)
        page.assert_clean()
        assert [c["kind"] for c in drawn] == CHARTS[path], path
        for chart in drawn:
            rows = chart["kind"] == "heatmap"  # a heatmap declares its rows, drawn as one group of cells
            assert len(chart["series"]) == 1 if rows else chart["declared"] == len(chart["series"]) >= 1, path
            assert all(s["declared"] == s["drawn"] and s["painted"] for s in chart["series"]), (path, chart)
        assert any(s["drawn"] > 0 for c in drawn for s in c["series"]), path
        assert page.evaluate("document.querySelector('header.nav a.here') !== null") or path.startswith("/coin/")
        name = "serve-" + (path.strip("/").replace("/", "-") or "overview")
        page.screenshot(name)
    # the coin page's history is the `coin` command's: every stored hour of BTC's markets in the window
    history = json.loads(invoke(runner, "coin", "BTC", "--no-fetch", "--hours", "30", "--json").stdout)["history"]
    page.goto(base + "/coin/BTC?hours=30")
    price, volume, funding = page.evaluate(DRAWN)
    assert price["series"][0]["drawn"] == sum(h["price"] is not None for h in history) >= 24
    assert [s["drawn"] for s in volume["series"]] == [sum(h[k] is not None for h in history)
                                                      for k in ("volume_24h_usd", "open_interest_usd")]
    # a coin name in the funding table links to its page
    page.goto(base + "/funding")
    href = page.evaluate("document.querySelector('table.data a').getAttribute('href')")
    assert href.startswith("/coin/")
    page.set_viewport(375, 800, mobile=True)
    for path in PAGES:
        page.goto(base + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    page.goto(base + "/")
    page.screenshot("serve-overview-phone")
    page.assert_clean()


@pytest.mark.browser
def test_the_open_overview_reloads_when_a_new_snapshot_is_stored(served, page, runner):
    base, clock = served
    page.goto(base + "/")
    assert "2026-11-22 11:00" in page.evaluate("document.querySelector('h1').textContent")
    page.evaluate("window.__before = 1")
    time.sleep(1)  # it polls: nothing changed, no reload
    assert page.evaluate("window.__before") == 1
    clock.now = NOW + timedelta(hours=1)
    assert invoke(runner, "snapshot", "-q").exit_code == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if page.evaluate("window.__before === undefined && document.readyState === 'complete'"):
                break
        except AssertionError:  # the page was navigating
            pass
        time.sleep(0.1)
    assert "2026-11-22 12:00" in page.evaluate("document.querySelector('h1').textContent")
    assert len(page.evaluate(DRAWN)) == 5
    page.assert_clean()
    newest = get(base + "/api/newest").json()
    assert newest["snapshot"] == NEWEST + 3600


def test_pages_answer_errors_as_small_pages(served):
    base, _ = served
    for path in PAGES:
        r = get(base + path)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), path
    newest = get(base + "/api/newest")
    assert newest.headers["Content-Type"] == "application/json"
    assert newest.json()["snapshot"] == NEWEST and newest.json()["version"].startswith(f"{NEWEST}-")
    for path in ("/?hours=x", "/?hours=0", "/liquidations?hours=99999", "/coin/BTC?hours=-1"):
        r = get(base + path)
        assert r.status_code == 400 and "hours must be a whole number" in r.text and "Traceback" not in r.text, path
    r = get(base + "/coin/%3Cb%3Enope")
    assert r.status_code == 404 and "&lt;B&gt;NOPE is not listed" in r.text and "<B>" not in r.text
    assert get(base + "/nowhere").status_code == 404
    assert get(base + "/coin/").status_code == 404


def test_hostile_names_are_escaped_on_every_page(served, db_path):
    base, _ = served
    plant_hostile(db_path)
    from urllib.parse import quote

    bodies = {path: get(base + path).text for path in [*PAGES, "/coin/" + quote(HOSTILE_COIN, safe="")]}
    assert all(HOSTILE_VENUE not in b and HOSTILE_COIN not in b and "<img" not in b.lower() for b in bodies.values())
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;venue" in bodies["/"]
    assert "&lt;IMG SRC=X ONER" in bodies["/funding"]  # the heatmap row, cut to 16 characters
    assert "&lt;IMG SRC=X ONERROR=Y&gt;&amp;AMP;" in bodies["/coin/" + quote(HOSTILE_COIN, safe="")]
    assert get(base + "/coin/" + quote(HOSTILE_COIN, safe="")).status_code == 200


def test_no_page_shows_a_webhook_and_serving_writes_nothing(served, db_path):
    base, _ = served
    wal = db_path.with_name(db_path.name + "-wal")

    def state():  # the file, byte for byte and its mtime; the write-ahead log's content (SQLite may
        # make an empty one when a reader opens a WAL database: no page is written to it)
        return db_path.read_bytes(), db_path.stat().st_mtime_ns, wal.read_bytes() if wal.exists() else b""

    before = state()
    for path in [*PAGES, "/api/newest", "/?hours=168", "/coin/ETH", "/liquidations?hours=168", "/nowhere"]:
        body = get(base + path).text
        assert WEBHOOK not in body and "super-secret-token" not in body, path
    assert state() == before


def test_a_taken_port_and_a_missing_database_are_one_error_line(runner, db_path, tmp_path):
    from perps_tracker.storage.db import open_database

    open_database(str(db_path)).dispose()
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        result = invoke(runner, "serve", "--db", str(db_path), "--port", str(port))
    finally:
        holder.close()
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: port {port} on 127.0.0.1 is already in use")
    assert len(result.stderr.strip().splitlines()) == 1
    missing = tmp_path / "nothing.db"
    result = invoke(runner, "serve", "--db", str(missing), "--port", "0")
    assert result.exit_code == 1 and result.stderr.startswith("Error: no database at") and not missing.exists()
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_command_serves_until_sigterm_then_stops_cleanly(db_path, tmp_path):
    from perps_tracker.storage.db import open_database

    open_database(str(db_path)).dispose()
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERPS_TRACKER_")}
    proc = subprocess.Popen([sys.executable, "-m", "perps_tracker", "serve", "--port", "0", "--db", str(db_path)],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("Serving ") and "read-only at http://127.0.0.1:" in line, line
        url = line.split(" at ", 1)[1].split()[0]
        r = get(url)
        assert r.status_code == 503 and "no snapshots yet" in r.text  # an empty database: nothing to show yet
        assert json.loads(get(url + "api/newest").text)["snapshot"] is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and out.strip() == "Stopped." and err == ""
