"""A database for the HTML report's and the dashboard's browser tests (tests/test_report_html.py,
tests/test_serve.py): two days of `backfill` and three hourly live snapshots, each after a
liquidation poll (so that it stores a liquidation line), against the loopback fakes; `plant_hostile`
adds a venue and a coin whose names are markup."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from perps_tracker.cli import cli

NOW = datetime(2026, 11, 22, 11, 0, 42, tzinfo=timezone.utc)
NEWEST = int(NOW.timestamp()) // 3600 * 3600
HOSTILE_VENUE = '<img src=x onerror="window.__xss=1">venue'
HOSTILE_COIN = "<IMG SRC=X ONERROR=Y>&AMP;"  # coins are upper case (the `coin` page upper-cases its argument)

# Every drawn series of every chart: its kind, how many series it declares, and per series its name
# and point count (the `data-points` the markup declares, and what is in the DOM: path vertices or rects).
DRAWN = r"""(() => Array.from(document.querySelectorAll("figure.chart")).map(fig => ({
  kind: fig.dataset.chart, declared: +fig.dataset.series,
  title: fig.querySelector(".chart-title").textContent,
  series: Array.from(fig.querySelectorAll("path.series, g.series")).map(el => ({
    name: el.dataset.name || null, declared: +el.dataset.points,
    drawn: el.tagName === "path" ? (el.getAttribute("d").match(/[ML]/g) || []).length
                                 : el.querySelectorAll("rect:not(.missing)").length,
    painted: el.tagName === "path" ? el.getTotalLength() > 0 || (el.getAttribute("d").match(/[ML]/g) || []).length < 2
                                   : Array.from(el.querySelectorAll("rect")).every(r => r.getBoundingClientRect().width > 0)
  }))})))()"""


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def invoke(runner, *args):
    result = runner.invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


_FILLED: list[Path] = []  # this process's first filled database, copied for the tests after it


def fill(runner, fake, monkeypatch, db_path) -> Clock:
    """The database at `db_path` (in the environment the CLI reads), filled; the CLI's clock at NOW. The
    first test of a process fills it through the CLI; the others get a copy of that file (the same
    commands against the same fakes give the same rows, and a copy takes milliseconds, not seconds)."""
    fake.install()
    for name, value in fake.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PERPS_TRACKER_DB", str(db_path))
    monkeypatch.setenv("PERPS_TRACKER_BACKOFF", "0")
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "1")
    clock = Clock(NOW - timedelta(hours=2))
    monkeypatch.setattr("perps_tracker.cli.utc_now", clock)
    if _FILLED and _FILLED[0].exists():
        shutil.copyfile(_FILLED[0], db_path)
        clock.now = NOW
        return clock
    assert invoke(runner, "backfill", "--days", "2", "-q").exit_code == 0
    for hours_back in (2, 1, 0):
        clock.now = NOW - timedelta(hours=hours_back)
        assert invoke(runner, "liquidations", "-q").exit_code == 0
        assert invoke(runner, "snapshot", "-q").exit_code == 0
    assert invoke(runner, "alerts", "-q").exit_code == 0
    with sqlite3.connect(db_path) as con:  # everything in the one file before it is copied
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    template = db_path.with_name("filled-template.db")
    shutil.copyfile(db_path, template)
    _FILLED[:] = [template]
    return clock


def plant_hostile(db_path) -> None:
    """A venue answering in the newest hour and a coin listed on it, both named with markup; the coin
    has the largest volume (first in the funding heatmap) and a funding spread against BTC's other venues."""
    from perps_tracker.model.instruments import InstrumentRow
    from perps_tracker.storage.db import open_database, write_lock
    from perps_tracker.storage.instruments import replace_venue_rows

    db = open_database(str(db_path))
    with write_lock(db.engine) as conn:
        (sid,) = conn.exec_driver_sql("SELECT id FROM market_snapshots WHERE timestamp = ?", (NEWEST,)).one()
        conn.exec_driver_sql(
            "INSERT INTO exchange_snapshots (snapshot_id, exchange, kind, status, volume_24h_usd, open_interest_usd, "
            "records_skipped) VALUES (?, ?, 'CEX', 'ok', 4.0e10, 1.0e10, 0)", (sid, HOSTILE_VENUE))
        f8 = 0.002
        rows = [InstrumentRow(NEWEST, HOSTILE_VENUE, "EVILUSDT", HOSTILE_COIN, 1.0, "USDT", 2.0, 2.0, 2.0, 5e12, 1e9,
                              f8, 8.0, f8, None, 1.0),
                InstrumentRow(NEWEST, HOSTILE_VENUE, "BTC-EVIL", "BTC", 1.0, "USDT", 90_000.0, 90_000.0, 90_000.0, 5e9,
                              1e9, f8, 8.0, f8, None, 1.0)]
        replace_venue_rows(conn, NEWEST, {HOSTILE_VENUE: rows})
    db.dispose()


def expected_points(doc: dict) -> list[list[int]]:
    """Per chart of the report (in order), per series, how many points `report --json`'s series give it."""
    s = doc["series"]

    def present(values):
        return sum(v is not None for v in values)

    hours = len(s["hours"])
    valid = sum(any(row[k] is not None for row in s["volume_share_pct"]) for k in range(hours))
    liq = s["liquidations"]
    return [
        [present(s["composite"]), present(s["btc_price"])],
        [valid] * len(s["venues"]),
        [present(row) for row in s["open_interest_usd"]],
        [sum(present(row) for row in s["funding"]["apr_pct"])],
        [len(liq), len(liq), present(p["cascade_risk_score"] for p in liq)],
    ]


def assert_drawn(drawn: list[dict], expected: list[list[int]]) -> None:
    """Each chart has as many series as expected, each drawn (in the DOM) with the expected points."""
    assert [[x["declared"] for x in c["series"]] for c in drawn] == expected
    assert [[x["drawn"] for x in c["series"]] for c in drawn] == expected
    for c in drawn:
        assert all(x["painted"] for x in c["series"]), c["title"]
