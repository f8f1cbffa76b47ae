"""`capture` into the real dataset writer and database: the loopback venues' trades end up in Parquet
files exactly once (read back with DuckDB through `query`), every gap in `capture_gaps`, and `stats` shows
both."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from perps_tracker.cli import cli  # noqa: E402
from tests.fakes.capture import CaptureFakes  # noqa: E402
from tests.fakes.ws import FakeStreams  # noqa: E402
from tests.test_capture import SYMBOLS, VENUES  # noqa: E402


@pytest.fixture
def streams():
    with FakeStreams() as server:
        yield server


def test_capture_writes_the_dataset_and_records_gaps(runner, fake, streams, monkeypatch, tmp_path):
    fake.install()
    for name, value in {**fake.env(), **streams.env(*VENUES)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "0")
    db, root = tmp_path / "db.sqlite", tmp_path / "ticks"
    monkeypatch.setenv("PERPS_TRACKER_DB", str(db))
    monkeypatch.setenv("PERPS_TRACKER_CAPTURE_ROOT", str(root))
    fakes = CaptureFakes(streams, steps=24, pause=0.02)
    fakes.install()
    result = runner.invoke(cli, ["capture", "--symbols", ",".join(sorted({s for _, s in SYMBOLS})), "--duration",
                                 "4s", "--book-interval", "0.2s"], catch_exceptions=False, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output

    out = runner.invoke(cli, ["query", "SELECT exchange, symbol, trade_id FROM trades", "--format", "json"])
    assert out.exit_code == 0, out.output
    stored = json.loads(out.stdout)
    for venue, symbol in SYMBOLS:
        ids = [r["trade_id"] for r in stored if (r["exchange"], r["symbol"]) == (venue, symbol)]
        assert sorted(ids) == sorted(fakes.sent_trades(venue, symbol)), (venue, symbol)  # each once
    out = runner.invoke(cli, ["query", "SELECT count(*) AS n FROM book", "--format", "json"])
    assert json.loads(out.stdout)[0]["n"] > 0
    assert not (root / "_spool").exists() or list((root / "_spool").iterdir()) == []  # all in files

    out = runner.invoke(cli, ["stats", "--json"])
    assert out.exit_code == 0, out.output
    capture = json.loads(out.stdout)["capture"]
    topics = {(v, s, c) for v, s in SYMBOLS for c in ("trades", "bbo", "book")}
    assert sum(g["gaps"] for g in capture["gaps"]) == len(topics) + 1  # every drop and Bybit's sequence gap
    assert {g["exchange"] for g in capture["gaps"]} == set(VENUES)
    files = {(f["channel"], f["exchange"]): f["rows"] for f in capture["files"]}
    assert sum(n for (c, _), n in files.items() if c == "trades") == len(stored)
