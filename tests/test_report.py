"""`perps-tracker report` end to end: on a database filled by `backfill` and a live `snapshot` against the
loopback fakes (SQLite and PostgreSQL), its numbers are those of `trend`, `funding`, `coin`,
`liquidations` and `alerts` for the same database; each section says what it could not compute;
Markdown escapes hostile names; `--save` writes a timestamped file."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from pytest import approx

from perps_tracker.cli import cli
from tests.conftest import add_snapshot, ts
from tests.synthetic_history import market_history, store_history, store_newest_hour_extras, with_venue_markets

NOW = datetime(2026, 11, 22, 11, 0, 42, tzinfo=timezone.utc)
NEWEST = int(NOW.timestamp()) // 3600 * 3600
SECTIONS = ("headline", "market", "positioning", "coins", "liquidations", "anomalies", "alerts", "options")
TOP_KEYS = ["newest_snapshot", "age_hours", "hours", "window_start", "source", *SECTIONS, "series"]


def run(runner, *args, width: int = 80):
    result = runner.invoke(cli, list(args), terminal_width=width)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def as_json(runner, *args) -> dict:
    result = run(runner, *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def filled(runner, venues_env, monkeypatch):
    """8 days of backfill, a live snapshot, a liquidation poll and the alerts, at NOW, against the fakes."""
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    assert run(runner, "backfill", "--days", "8", "-q").exit_code == 0
    assert run(runner, "snapshot", "-q").exit_code == 0
    assert run(runner, "liquidations", "-q").exit_code == 0
    assert run(runner, "alerts", "-q").exit_code == 0
    return venues_env


def test_report_agrees_with_the_tables(runner, filled, monkeypatch):
    doc = as_json(runner, "report")
    assert list(doc) == TOP_KEYS
    assert doc["newest_snapshot"] == "2026-11-22T11:00:00Z" and doc["source"] == "live" and doc["hours"] == 24
    for name in SECTIONS:
        assert isinstance(doc[name]["missing"], list), name

    # headline = trend
    trend = as_json(runner, "trend")
    h = doc["headline"]
    assert h["composite_24h"]["now"] == approx(trend["composite_score"]) and h["sentiment"] == trend["sentiment"]
    assert (h["trend_24h"], h["trend_7d"]) == (trend["trend"]["24h"]["direction"], trend["trend"]["7d"]["direction"])
    assert h["regime"] == trend["regime"]["regime"] and h["vol_pct_day"] == approx(trend["regime"]["vol_pct_day"])

    # market: shares sum to 100, HHI = Σ share², CEX + DEX = 100
    m = doc["market"]
    shares = [v["volume_share_pct"]["now"] for v in m["venues"]]
    assert sum(shares) == approx(100) and m["hhi"]["now"] == approx(sum(s * s for s in shares))
    assert m["cex_share_pct"]["now"] + m["dex_share_pct"]["now"] == approx(100)
    assert m["hhi"]["change"] == approx(m["hhi"]["now"] - m["hhi"]["before"])
    snapshot_volumes = dict(_query(filled, "SELECT e.exchange, e.volume_24h_usd FROM exchange_snapshots e JOIN "
                                           "market_snapshots m ON m.id = e.snapshot_id WHERE m.timestamp = :t AND "
                                           "e.status = 'ok'", t=NEWEST))
    assert {v["exchange"]: v["volume_24h_usd"] for v in m["venues"]} == approx(snapshot_volumes)

    # per-coin layer = funding and coin
    funding = as_json(runner, "funding", "--no-fetch", "--top", "5")
    assert doc["coins"]["timestamp"] == funding["timestamp"]
    assert [(o["coin"], o["short"]["exchange"], o["long"]["exchange"], approx(o["apr_pct"]))
            for o in doc["coins"]["opportunities"]] == \
        [(o["coin"], o["short"]["exchange"], o["long"]["exchange"], o["apr_pct"]) for o in funding["opportunities"]]
    btc = as_json(runner, "coin", "BTC", "--no-fetch")["total"]
    (watch_btc,) = [w for w in doc["coins"]["watchlist"] if w["coin"] == "BTC"]
    assert watch_btc["price"] == approx(btc["price"]) and watch_btc["volume_24h_usd"] == approx(btc["volume_24h_usd"])

    # liquidations = `liquidations --hours 24` at the moment the newest snapshot was taken
    ((taken,),) = _query(filled, "SELECT taken_at FROM market_snapshots WHERE timestamp = :t", t=NEWEST)
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: datetime.fromtimestamp(taken, timezone.utc))
    liq = as_json(runner, "liquidations", "--no-fetch", "--hours", "24")
    assert doc["liquidations"]["from"] == liq["from"] and doc["liquidations"]["to"] == liq["to"]
    for ours, theirs in zip(doc["liquidations"]["venues"], liq["venues"]):
        assert ours == approx(theirs)
    assert doc["liquidations"]["market"] == approx(liq["market"])
    assert any("less than half the window" in line for line in doc["liquidations"]["missing"])  # 1 h of 24 polled

    # alerts = the raised ones of `alerts --since`
    since = as_json(runner, "alerts", "--since", "2026-11-20")["alerts"]
    raised = [(a["strategy"], a["confidence"]) for a in since if a["status"] in ("fired", "sent")]
    assert [(a["strategy"], a["confidence"]) for a in doc["alerts"]["raised"]] == raised and raised

    # series: aligned on the window's hours
    s = doc["series"]
    assert s["hours"][-1] == doc["newest_snapshot"] and len(s["hours"]) == 24
    assert len(s["composite"]) == len(s["btc_price"]) == 24
    assert all(len(row) == 24 for row in s["volume_share_pct"]) and len(s["volume_share_pct"]) == len(s["venues"])
    assert s["funding"]["coins"][0] == "BTC" and len(s["funding"]["apr_pct"]) == len(s["funding"]["coins"])

    # the text and Markdown tell the same story
    text = run(runner, "report").stdout
    assert all(len(line) <= 80 for line in text.splitlines())
    for heading in ("HEADLINE", "MARKET", "POSITIONING", "LIQUIDATIONS", "ANOMALIES", "ALERTS"):
        assert heading in text
    assert f"{h['composite_24h']['now']:+.3f}" in text
    markdown = run(runner, "report", "--format", "markdown").stdout
    assert markdown.startswith("# Market report") and "## Anomalies" in markdown
    assert raised[0][0] in markdown


def _query(database, sql, **params):
    from sqlalchemy import text

    with database.engine.connect() as conn:
        return conn.execute(text(sql), params).all()


# -- on constructed histories (SQLite) -------------------------------------------------------------------------


@pytest.fixture
def history(db_path, monkeypatch):
    """9 days of synthetic hours ending at NEWEST; the database in the environment; returns its path."""
    from perps_tracker.storage.db import open_database

    db = open_database(str(db_path))
    n = 9 * 24
    store_history(db, with_venue_markets(market_history(NEWEST - (n - 1) * 3600, n, 3), 3))
    db.dispose()
    monkeypatch.setenv("PERPS_TRACKER_DB", str(db_path))
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    return db_path


def test_each_section_says_what_it_could_not_compute(runner, history):
    doc = as_json(runner, "report")
    assert any("no per-market rows" in line for line in doc["coins"]["missing"])
    assert doc["coins"]["opportunities"] == [] and doc["coins"]["timestamp"] is None
    assert any("no venue was being read" in line for line in doc["liquidations"]["missing"])
    assert doc["liquidations"]["market"] is None
    assert set(doc["anomalies"]["checked"]) == {"venue_volume", "venue_oi_volume", "oi_jump", "volume_spike"}
    assert any("extreme funding" in line for line in doc["anomalies"]["missing"])
    assert doc["alerts"]["raised"] == [] and doc["alerts"]["missing"]
    assert doc["options"]["currencies"] == [] and doc["options"]["missing"]
    assert doc["anomalies"]["items"] == []  # the synthetic venues are clean
    text = run(runner, "report").stdout
    assert "could not compute funding arbitrage" in " ".join(text.split())


def test_with_every_section_filled_nothing_is_missing_but_what_is_true(runner, history):
    from perps_tracker.storage.db import open_database

    db = open_database(str(history))
    store_newest_hour_extras(db, NEWEST, 3)
    db.dispose()
    doc = as_json(runner, "report")
    assert doc["coins"]["missing"] == [] and len(doc["coins"]["opportunities"]) == 5
    assert doc["liquidations"]["market"]["coverage"] == approx(1.0)
    assert doc["liquidations"]["market"]["count"] == 1000
    assert doc["alerts"]["raised"][0]["reasons"] == ["|P| > 5", "X > 0.45"]
    assert doc["options"]["currencies"][0]["dvol"]["now"] == 52.0
    assert doc["anomalies"]["missing"] == [] and len(doc["anomalies"]["checked"]) == 6


def test_a_planted_venue_volume_anomaly_is_reported(runner, db_path, monkeypatch):
    from perps_tracker.storage.db import open_database

    n = 9 * 24
    snaps = with_venue_markets(market_history(NEWEST - (n - 1) * 3600, n, 4), 4)
    snaps[-1]["venues"]["okx"]["volume_24h_usd"] *= 6  # a wash-trading hour on OKX
    db = open_database(str(db_path))
    store_history(db, snaps)
    db.dispose()
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    items = as_json(runner, "report", "--db", str(db_path))["anomalies"]["items"]
    kinds = {(a["kind"], a["subject"]) for a in items}
    assert ("venue_volume", "okx") in kinds and ("volume_spike", "okx") in kinds
    assert all(a["subject"] == "okx" for a in items)
    (a,) = [a for a in items if a["kind"] == "venue_volume"]
    assert a["timestamp"] == "2026-11-22T11:00:00Z" and a["value"] > a["high"]


def test_markdown_escapes_a_hostile_venue_name(runner, db_path, monkeypatch):
    from perps_tracker.storage.db import open_database

    db = open_database(str(db_path))
    hostile = "ev|l*[x](http://a)<b>"
    add_snapshot(db, NEWEST, venues={hostile: "ok", "bybit": "ok"})
    db.dispose()
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    markdown = run(runner, "report", "--db", str(db_path), "--format", "markdown").stdout
    assert r"ev\|l\*\[x\](http://a)\<b\>" in markdown
    for line in markdown.splitlines():
        if line.startswith("|"):  # every table row has as many unescaped cell bars as its header
            assert len(re.findall(r"(?<!\\)\|", line)) in (8, 6)
    assert "<b>" not in markdown


def test_save_writes_a_timestamped_file_under_data_reports(runner, history, isolated, monkeypatch):
    monkeypatch.delenv("PERPS_TRACKER_DB")
    (isolated / "data").mkdir()
    history.rename(isolated / "data" / "market_history.db")
    result = run(runner, "report", "--save", "--format", "markdown", "-q")
    assert result.exit_code == 0 and result.stdout == ""
    path = isolated / "data" / "reports" / "report-20261122-1100.md"
    assert path.read_text().startswith("# Market report")
    result = run(runner, "report", "--save", "--json")
    assert json.loads(result.stdout)["hours"] == 24
    saved = isolated / "data" / "reports" / "report-20261122-1100.json"
    assert f"Wrote {saved}" in result.stderr
    assert json.loads(saved.read_text())["hours"] == 24


def test_output_file_format_from_its_suffix(runner, history, tmp_path):
    out = tmp_path / "r.json"
    result = run(runner, "report", "-o", str(out))
    assert result.exit_code == 0 and json.loads(out.read_text())["newest_snapshot"] == "2026-11-22T11:00:00Z"
    text = tmp_path / "r.txt"
    run(runner, "report", "-o", str(text), "--hours", "48")
    content = text.read_text()
    assert content.startswith("Market report · 48 h") and "\x1b[" not in content
    assert all(len(line) <= 80 for line in content.splitlines())


def test_no_snapshots_is_one_error_line(runner, db_path, monkeypatch):
    from perps_tracker.storage.db import open_database

    open_database(str(db_path)).dispose()
    result = run(runner, "report", "--db", str(db_path))
    assert result.exit_code == 1 and result.stderr.startswith("Error: no snapshots yet")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--hours", "0"], ["--format", "html"], ["--hours", "x"]])
def test_bad_flags_are_usage_errors(runner, history, args):
    result = run(runner, "report", *args)
    assert result.exit_code == 2 and "Error:" in result.stderr and "Traceback" not in result.stderr


def test_the_format_table_and_the_choices_agree():
    from perps_tracker.cli.report import FORMAT_CHOICES
    from perps_tracker.render.report import FORMATS
    from perps_tracker.storage.alerts import REASON_SEPARATOR as STORED
    from perps_tracker.storage.report import REASON_SEPARATOR

    assert set(FORMAT_CHOICES) == set(FORMATS) - {"json"}
    assert REASON_SEPARATOR == STORED


def test_report_reads_only_the_window(runner, db_path, monkeypatch):
    """A long history and a short one give the same report: nothing before the window and its lookback counts."""
    from perps_tracker.storage.db import open_database

    n = 40 * 24
    snaps = with_venue_markets(market_history(NEWEST - (n - 1) * 3600, n, 5), 5)
    long_db, short_db = db_path.with_name("long.db"), db_path.with_name("short.db")
    for path, rows in ((long_db, snaps), (short_db, snaps[-(24 + 193):])):
        db = open_database(str(path))
        store_history(db, rows)
        db.dispose()
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    assert as_json(runner, "report", "--db", str(long_db)) == as_json(runner, "report", "--db", str(short_db))
    assert ts(2026, 11, 22, 11) == NEWEST


def test_the_liquidation_venues_are_those_of_the_liquidations_command():
    from perps_tracker.services import liquidations
    from perps_tracker.services.report import LIQUIDATION_VENUES, SAMPLED_VENUES

    assert list(LIQUIDATION_VENUES) == liquidations.LIQUIDATION_VENUES
    assert set(SAMPLED_VENUES) == set(liquidations.sampled_venues())
