"""`query` over the capture dataset, the docs' examples, and the same aggregates from DuckDB and ClickHouse."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from perps_tracker.cli import cli  # noqa: E402
from perps_tracker.dataset.writer import DatasetWriter  # noqa: E402
from perps_tracker.model.ticks import BUY, TRADES  # noqa: E402
from tests.dataset_rows import CLOCK, generated  # noqa: E402

ROOT_DIR = Path(__file__).resolve().parents[1]
ROWS = generated(per_symbol=1_500)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ticks")
    with DatasetWriter(str(root), clock=CLOCK, file_rows=1_000) as writer:  # several files per partition
        writer.add_many(ROWS)
    return root


def query(runner, root, sql, *args):
    return runner.invoke(cli, ["query", "--root", str(root), sql, *args])


def trades():
    return [r for r in ROWS if r.channel == TRADES]


def doc_examples() -> list[str]:
    text = (ROOT_DIR / "docs" / "capture.md").read_text()
    section = text.split("\n## Query\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


def test_table_csv_and_json_agree(runner, dataset):
    sql = "SELECT exchange, symbol, count(*) AS n, sum(qty) AS volume FROM trades GROUP BY ALL ORDER BY ALL"
    expected = defaultdict(lambda: [0, 0.0])
    for t in trades():
        expected[(t.exchange, t.symbol)][0] += 1
        expected[(t.exchange, t.symbol)][1] += t.qty
    out = query(runner, dataset, sql, "--format", "csv")
    assert out.exit_code == 0, out.output
    rows = list(csv.reader(io.StringIO(out.stdout)))
    assert rows[0] == ["exchange", "symbol", "n", "volume"]
    got = {(e, s): (int(n), float(q)) for e, s, n, q in rows[1:]}
    assert got.keys() == expected.keys()
    for key, (n, q) in expected.items():
        assert got[key][0] == n and got[key][1] == pytest.approx(q, rel=1e-12)
    out = query(runner, dataset, sql, "--format", "json")
    assert out.exit_code == 0
    assert [(r["exchange"], r["symbol"], r["n"]) for r in json.loads(out.stdout)] == [(e, s, n) for (e, s), (n, _) in
                                                                                       sorted(got.items())]
    out = query(runner, dataset, sql)
    assert out.exit_code == 0
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["exchange", "symbol", "n", "volume"] and "BTC-USDT-SWAP" in out.stdout
    assert lines[-1] == "4 rows."


def test_hive_columns_and_every_channel(runner, dataset):
    out = query(runner, dataset, "SELECT 'trades' AS c, count(*), min(date), count(DISTINCT exchange) FROM trades "
                                 "UNION ALL SELECT 'bbo', count(*), min(date), count(DISTINCT exchange) FROM bbo "
                                 "UNION ALL SELECT 'book', count(*), min(date), count(DISTINCT exchange) FROM book "
                                 "ORDER BY 1", "--format", "json")
    assert out.exit_code == 0, out.output
    got = {r["c"]: (r["count_star()"], r["min(date)"]) for r in json.loads(out.stdout)}
    counts = {c: sum(r.channel == c for r in ROWS) for c in ("trades", "bbo", "book")}
    assert got == {c: (n, "2025-12-04") for c, n in counts.items()}


def test_a_channel_without_files_is_an_empty_view_with_its_columns(runner, tmp_path):
    with DatasetWriter(str(tmp_path), clock=CLOCK) as writer:
        writer.add_many([r for r in ROWS[:200] if r.channel == TRADES])
    out = query(runner, tmp_path, "SELECT * FROM book", "--format", "csv")
    assert out.exit_code == 0, out.output
    assert out.stdout == "exchange,symbol,coin,ts_ms,recv_ms,side,level,price,qty,date\n"
    out = query(runner, tmp_path / "nothing-here", "SELECT count(*) AS n FROM trades", "--format", "json")
    assert json.loads(out.stdout) == [{"n": 0}]


def test_json_streams_large_results(runner, dataset):
    out = query(runner, dataset, "SELECT trade_id, price FROM trades", "--format", "json")
    assert out.exit_code == 0
    assert len(json.loads(out.stdout)) == len(trades())


def test_sql_errors_are_one_line(runner, dataset):
    for sql, message in (("SELEC 1", "Parser Error"), ("SELECT * FROM nowhere", "nowhere"),
                         ("SELECT no_such_column FROM trades", "no_such_column"), ("  ", "no SQL given")):
        out = query(runner, dataset, sql)
        assert out.exit_code == 1
        assert out.stderr.startswith("Error: ") and message in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.output


def test_missing_duckdb_names_the_extra(runner, dataset, monkeypatch):
    import builtins

    real = builtins.__import__

    def no_duckdb(name, *args, **kwargs):
        if name == "duckdb":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_duckdb)
    out = query(runner, dataset, "SELECT 1")
    assert out.exit_code == 1
    assert out.stderr.strip() == ("Error: `query` needs DuckDB, which is not installed: "
                                  "pip install 'perps-tracker[capture]'")


def test_the_root_comes_from_the_setting(runner, dataset, monkeypatch):
    monkeypatch.setenv("PERPS_TRACKER_CAPTURE_ROOT", str(dataset))
    out = runner.invoke(cli, ["query", "SELECT count(*) AS n FROM trades", "--format", "json"])
    assert json.loads(out.stdout) == [{"n": len(trades())}]


def test_doc_examples_run(runner, dataset):
    examples = doc_examples()
    assert len(examples) == 4
    for sql in examples:
        out = query(runner, dataset, sql, "--format", "json")
        assert out.exit_code == 0, f"{out.output}\n{sql}"
        assert json.loads(out.stdout), sql


def test_doc_vwap_example_is_right(runner, dataset):
    sql = doc_examples()[0]
    out = query(runner, dataset, sql, "--format", "json")
    got = {(r["exchange"], r["minute"]): r for r in json.loads(out.stdout)}
    sums = defaultdict(lambda: [0.0, 0.0, 0])
    import datetime as dt

    for t in trades():
        if t.coin != "BTC":
            continue
        minute = dt.datetime.fromtimestamp(t.ts_ms // 60_000 * 60, dt.timezone.utc).replace(tzinfo=None).isoformat()
        s = sums[(t.exchange, minute)]
        s[0] += t.usd
        s[1] += t.qty
        s[2] += 1
    assert got.keys() == sums.keys()
    for key, (usd, qty, n) in sums.items():
        assert got[key]["vwap"] == pytest.approx(usd / qty, rel=1e-12) and got[key]["trades"] == n


def test_doc_taker_imbalance_is_right(runner, dataset):
    out = query(runner, dataset, doc_examples()[1], "--format", "json")
    rows = json.loads(out.stdout)
    buys = sum(t.usd for t in trades() if t.exchange == "okx" and t.side == BUY and t.ts_ms < 1_764_839_100_000)
    total = sum(t.usd for t in trades() if t.exchange == "okx" and t.ts_ms < 1_764_839_100_000)
    (first,) = [r for r in rows if r["exchange"] == "okx" and r["t"] == "2025-12-04T09:00:00"]
    assert first["taker_imbalance"] == pytest.approx((2 * buys - total) / total, rel=1e-9)


def test_stats_counts_the_dataset(runner, dataset, tmp_path):
    db = tmp_path / "db.sqlite"
    assert runner.invoke(cli, ["init", "--db", str(db)]).exit_code == 0
    out = runner.invoke(cli, ["stats", "--db", str(db), "--root", str(dataset), "--json"])
    assert out.exit_code == 0, out.output
    files = {(f["channel"], f["exchange"]): f for f in json.loads(out.stdout)["capture"]["files"]}
    for channel in ("trades", "bbo", "book"):
        for exchange in ("binance", "okx", "hyperliquid"):
            n = sum(r.channel == channel and r.exchange == exchange for r in ROWS)
            assert files[(channel, exchange)]["rows"] == n
    assert files[("trades", "binance")]["files"] > 2  # file_rows 1,000
    assert files[("trades", "binance")]["first_date"] == "2025-12-04"
    out = runner.invoke(cli, ["stats", "--db", str(db), "--root", str(dataset)], env={"COLUMNS": "120"})
    assert "Capture dataset" in out.stdout and "hyperliquid" in out.stdout
    out = runner.invoke(cli, ["stats", "--db", str(db), "--root", str(tmp_path / "none"), "--json"])
    assert json.loads(out.stdout)["capture"] == {"gaps": [], "files": None}


# -- the same files from ClickHouse ----------------------------------------------------------------

DUCKDB_AGGREGATES = """
SELECT exchange, symbol, count(*) AS n, sum(qty) AS volume, sum(usd) / sum(qty) AS vwap, CAST(min(date) AS VARCHAR) AS day
FROM trades GROUP BY exchange, symbol ORDER BY exchange, symbol"""
CLICKHOUSE_AGGREGATES = """
SELECT extract(_path, 'exchange=([^/]+)') AS exchange, symbol, count() AS n, sum(qty) AS volume,
       sum(usd) / sum(qty) AS vwap, min(extract(_path, 'date=([0-9-]+)')) AS day
FROM file('{glob}', Parquet) GROUP BY exchange, symbol ORDER BY exchange, symbol"""
DUCKDB_BARS = """
SELECT exchange, symbol, ts_ms // 60000 AS minute, count(*) AS n, sum(qty) AS volume, sum(usd) / sum(qty) AS vwap,
       min(price) AS low_price, max(price) AS high_price
FROM trades GROUP BY ALL ORDER BY exchange, symbol, minute"""
CLICKHOUSE_BARS = """
SELECT extract(_path, 'exchange=([^/]+)') AS exchange, symbol, intDiv(ts_ms, 60000) AS minute, count() AS n,
       sum(qty) AS volume, sum(usd) / sum(qty) AS vwap, min(price) AS low_price, max(price) AS high_price
FROM file('{glob}', Parquet) GROUP BY exchange, symbol, minute ORDER BY exchange, symbol, minute"""


def _typed(rows):
    out = []
    for row in rows:
        typed = []
        for v in row:
            if not isinstance(v, str):
                typed.append(v)
                continue
            try:
                typed.append(int(v))
            except ValueError:
                try:
                    typed.append(float(v))
                except ValueError:
                    typed.append(v)
        out.append(typed)
    return out


def _same(a, b):
    assert len(a) == len(b) and a
    for x, y in zip(a, b):
        assert len(x) == len(y)
        for u, v in zip(x, y):
            if isinstance(u, float) or isinstance(v, float):
                assert float(u) == pytest.approx(float(v), rel=1e-9)
            else:
                assert u == v


def test_duckdb_and_clickhouse_read_the_same_aggregates(dataset):
    chdb = pytest.importorskip("chdb")
    from perps_tracker.dataset.query import run

    glob = f"{dataset}/trades/*/*/*.parquet"
    for duck_sql, click_sql in ((DUCKDB_AGGREGATES, CLICKHOUSE_AGGREGATES), (DUCKDB_BARS, CLICKHOUSE_BARS)):
        duck = [list(r) for batch in run(str(dataset), duck_sql).batches for r in batch]
        click = list(csv.reader(io.StringIO(str(chdb.query(click_sql.format(glob=glob), "CSV")))))
        _same(_typed(duck), _typed(click))
    assert len(duck) > 100  # the bars: every minute of two hours with trades, per symbol
