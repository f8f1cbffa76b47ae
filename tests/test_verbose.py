"""`perps-tracker -v`: every request, retry, wait and database open on stderr, never a secret."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone

from perps_tracker.cli import cli
from perps_tracker.exchanges.pacing import Pacer
from perps_tracker.storage.db import SCHEMA_HEAD
from tests.fakes import Reply
from tests.test_alerts import SECRET, hooks, store  # noqa: F401 - hooks is a fixture

NOW = datetime(2026, 11, 22, 11, 0, 42, tzinfo=timezone.utc)
LINE = r"\d\d:\d\d:\d\d\.\d{3} "  # each log line starts with the time


def fake_env(fake, monkeypatch, db_path, *venues):
    fake.install(*venues)
    for name, value in fake.env(*venues).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PERPS_TRACKER_DB", str(db_path))
    monkeypatch.setenv("PERPS_TRACKER_BACKOFF", "0")
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "1")
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)


def test_each_request_with_status_and_time(runner, fake, monkeypatch, db_path):
    fake_env(fake, monkeypatch, db_path)
    result = runner.invoke(cli, ["-v", "snapshot", "--exchange", "binance"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    port = fake.port
    assert re.search(LINE + rf"binance: GET http://127\.0\.0\.1:{port}/binance/fapi/v1/ticker/24hr -> 200, \d+ ms\n",
                     result.stderr)
    assert re.search(r"binance: GET \S+/fapi/v1/openInterest\?symbol=BTCUSDT -> 200, \d+ ms", result.stderr)
    assert re.search(LINE + rf"database sqlite:///{re.escape(str(db_path))}: opening for writing\n", result.stderr)
    assert f"database schema {SCHEMA_HEAD}: created" in result.stderr
    assert "Perpetual futures" in result.stdout and "GET" not in result.stdout  # logs never go to stdout
    quiet = runner.invoke(cli, ["snapshot", "--exchange", "binance", "--quiet"], catch_exceptions=False)
    assert quiet.stderr == ""  # without -v: nothing


def test_retries_with_reason_and_wait_and_the_give_up(runner, fake, monkeypatch, db_path):
    fake_env(fake, monkeypatch, db_path, "okx")
    fake.override("okx", Reply({"msg": "busy"}, status=503))
    result = runner.invoke(cli, ["-v", "snapshot", "--exchange", "okx"], catch_exceptions=False)
    assert result.exit_code == 1
    assert re.search(r"okx: GET \S+/okx/api/v5/public/instruments\?instType=SWAP -> 503, \d+ ms", result.stderr)
    assert re.search(r"okx: retry 1 of 1 in 0\.0 s: HTTP 503 at /okx/api/v5/public/instruments", result.stderr)
    assert "okx: not retried (retries spent): HTTP 503" in result.stderr


def test_vv_adds_timeouts_and_sizes(runner, fake, monkeypatch, db_path):
    fake_env(fake, monkeypatch, db_path, "hyperliquid")
    result = runner.invoke(cli, ["-vv", "snapshot", "--exchange", "hyperliquid"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert re.search(r"hyperliquid: POST \S+/info \(timeouts 5\.0 s connect, 20\.0 s read\) body \{\"type\"",
                     result.stderr)
    assert re.search(r"hyperliquid: \d+ bytes, application/json", result.stderr)


def test_a_proxy_is_named_without_its_password(runner, fake, monkeypatch, db_path):
    fake_env(fake, monkeypatch, db_path, "binance")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://me:proxy-pass-123@127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "0")
    result = runner.invoke(cli, ["-v", "snapshot", "--exchange", "binance"], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"binance: requests to 127.0.0.1:{fake.port} go through the proxy http://me:***@127.0.0.1:9" in result.stderr
    assert re.search(r"binance: GET \S+ -> connection (refused|failed), \d+ ms", result.stderr)
    assert "proxy-pass-123" not in result.stdout + result.stderr


def test_webhooks_and_database_passwords_are_never_shown(runner, hooks, database, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PERPS_TRACKER_DB", database.url)
    monkeypatch.setenv("PERPS_TRACKER_BACKOFF", "0")
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    store(database, int(NOW.timestamp()) // 3600 * 3600)
    hooks.fail_next(1, status=500)
    result = runner.invoke(cli, ["-v", "alerts", "--notify"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert re.search(rf"discord webhook: POST http://127\.0\.0\.1:{hooks.port}/\*\*\* -> 204, \d+ ms", result.stderr)
    assert re.search(r"(discord|slack|json) webhook: retry 1 of 3 in 0\.0 s: HTTP 500", result.stderr)
    assert SECRET not in result.stderr and "SECRET" not in result.stderr and "/api/webhooks" not in result.stderr
    bad = runner.invoke(cli, ["-v", "stats", "--db", "postgresql+psycopg://me:db-pass-456@127.0.0.1:9/perps"])
    assert bad.exit_code == 1
    assert "database postgresql+psycopg://me:***@127.0.0.1:9/perps: opening read-only" in bad.stderr
    assert "db-pass-456" not in bad.stdout + bad.stderr


def test_pacing_waits_are_logged_by_length(caplog):
    naps = []
    pacer = Pacer(2.0, burst=1, clock=lambda: 0.0, sleep=naps.append)
    with caplog.at_level(logging.DEBUG, logger="perps_tracker"):
        logging.getLogger("perps_tracker").addHandler(caplog.handler)
        try:
            pacer.take()   # within the burst: no wait
            pacer.take()   # 0.5 s: -vv
            pacer.take(3)  # 2 s more: -v
        finally:
            logging.getLogger("perps_tracker").removeHandler(caplog.handler)
    assert naps == [0.5, 2.0]
    assert [(r.levelno, r.getMessage().split(": ", 1)[1]) for r in caplog.records] == [
        (logging.DEBUG, "paced, waiting 0.50 s (2 a second)"), (logging.INFO, "paced, waiting 2.00 s (2 a second)")]
