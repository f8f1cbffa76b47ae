"""`export instrument_snapshots` on SQLite reads the fact table alone (keyed rows, storage/export.py) and
writes them through line templates (CSV, JSON Lines) or arrays of structs (Parquet): every format must
write exactly what the view read row by row gives."""

from __future__ import annotations

import dataclasses
import sqlite3
import sys

import pytest

from perps_tracker.errors import DatabaseError
from perps_tracker.model.instruments import InstrumentRow
from perps_tracker.render.export import _write_behind, write_export
from perps_tracker.storage.db import open_database, open_for_reading
from perps_tracker.storage.export import VIEW, _kind, _kinds, exported
from perps_tracker.storage.instruments import add_backfilled, replace_venue_rows

T = 1764075600
H = 3600


def row(t, exchange, symbol, coin, multiplier=1.0, quote="USDT", price=1.5, **facts):
    values = dict(mark_price=None, index_price=None, volume_24h_usd=None, open_interest_usd=None,
                  funding_rate=None, funding_interval_h=None, funding_rate_8h=None, next_funding_time=None,
                  price_change_24h_pct=None)
    values.update(facts)
    return InstrumentRow(t, exchange, symbol, coin, multiplier, quote, price, **values)


def full(t, exchange, symbol, coin, multiplier=1.0, quote="USDT", price=84000.123456789):
    return row(t, exchange, symbol, coin, multiplier, quote, price, mark_price=price * 1.0001,
               index_price=price * 0.9999, volume_24h_usd=1.5e10, open_interest_usd=7e9, funding_rate=2.5e-05,
               funding_interval_h=1.0, funding_rate_8h=0.0002, next_funding_time=t + H,
               price_change_24h_pct=-1.25)


@pytest.fixture
def filled(db_path):
    """Three hours: multipliers, NULL columns, a backfilled hour beside live rows, an infinite price,
    and names that a template must not mistake for its own text (%, quotes, commas, "nan", ":inf")."""
    db = open_database(str(db_path))
    with db.engine.begin() as conn:
        for t in (T, T + H):
            replace_venue_rows(conn, t, {
                "binance": [full(t, "binance", "BTCUSDT", "BTC"), full(t, "binance", "1000PEPEUSDT", "PEPE", 1000.0,
                                                                      price=1.12e-05),
                            row(t, "binance", 'WEIRD,"%s%%"USDT', "WEIRD", price=None)],
                "hyperliquid": [full(t, "hyperliquid", "kPEPE", "PEPE", 1000.0, "USD", price=1.125e-05),
                                row(t, "hyperliquid", "nan:inf", "NAN", quote="USD", price=2.0)],
                "bybit": [row(t, "bybit", "ÉTHUSDT", "ÉTH", price=float("inf"), volume_24h_usd=3e9)],
            })
        add_backfilled(conn, [full(T + 2 * H, "okx", "BTC-USDT-SWAP", "BTC"),
                              full(T + 2 * H, "binance", "BTCUSDT", "BTC"),
                              row(T + H, "okx", "BTC-USDT-SWAP", "BTC", next_funding_time=T + 2 * H)])
    db.dispose()
    return db_path


@pytest.fixture(params=["engine", "sqlite3"])
def opened(request, filled):
    """The filled database as `export` may find it: opened for writing (SQLAlchemy) or read-only (sqlite3)."""
    db = open_database(str(filled)) if request.param == "engine" else open_for_reading(str(filled))
    yield db
    db.dispose()


def written(db, fmt, path, *, keyed, lo=0, hi=T + 10 * H):
    with exported(db, VIEW, lo, hi, keyed=keyed) as export:
        assert (export.keyed is not None) == keyed
        n = write_export(export, fmt, path)
    return n, path.read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_keyed_text_is_byte_for_byte_the_views(opened, tmp_path, fmt):
    n, fast = written(opened, fmt, tmp_path / f"fast.{fmt}", keyed=True)
    m, slow = written(opened, fmt, tmp_path / f"slow.{fmt}", keyed=False)
    assert n == m == 15 and fast == slow
    if fmt == "jsonl":
        assert b'"price":null' in fast and b'"price":Infinity' not in fast and b"\\u00c9TH" in fast
    else:
        assert b'"WEIRD,""%s%%""USDT"' in fast and b",inf," in fast


@pytest.fixture(params=["adbc", "python"])
def reader(request, monkeypatch):
    """The keyed rows read by SQLite's ADBC driver (the `parquet` extra), or without it, by sqlite3."""
    import perps_tracker.storage.export as export

    if request.param == "adbc":
        if export._adbc() is None:
            pytest.skip("adbc-driver-sqlite is not installed")
        monkeypatch.setattr(export, "ARROW_BATCH", 2)  # many batches: NULL-only columns in the first ones
    else:
        monkeypatch.setattr(export, "_adbc", lambda: None)
    return request.param


def test_keyed_parquet_is_the_views(opened, tmp_path, reader):
    pq = pytest.importorskip("pyarrow.parquet")
    n, _ = written(opened, "parquet", tmp_path / "fast.parquet", keyed=True)
    m, _ = written(opened, "parquet", tmp_path / "slow.parquet", keyed=False)
    fast, slow = pq.read_table(tmp_path / "fast.parquet"), pq.read_table(tmp_path / "slow.parquet")
    assert n == m == 15 and fast.schema == slow.schema and fast.equals(slow)
    assert fast.column_names == [f.name for f in dataclasses.fields(InstrumentRow)]
    assert fast.column("source").to_pylist().count("backfill") == 3


def test_keyed_rows_are_the_views_rows_in_its_order(opened):
    with exported(opened, VIEW, T + H, T + 3 * H, keyed=False) as export:
        slow = [r for batch in export.batches for r in batch]
    with exported(opened, VIEW, T + H, T + 3 * H) as export:
        fast = [r for batch in export.batches for r in batch]
    assert fast == slow and len(fast) == 9
    assert [r[0] for r in fast] == sorted(r[0] for r in fast)


def test_a_row_without_its_instrument_is_left_out_as_the_join_does(filled, tmp_path, reader):
    con = sqlite3.connect(filled)  # foreign keys off: what another program might leave
    con.execute("INSERT INTO instrument_rows (timestamp, instrument_id, price, backfill) VALUES (?, 999, 1.0, 0)",
                (T,))
    con.execute("INSERT INTO instrument_rows (timestamp, instrument_id, price, backfill) VALUES (?, 2, 1.0, 0)",
                (T + 5 * H,))
    con.execute("DELETE FROM instruments WHERE id = 2")  # a hole below the largest id
    con.commit()
    con.close()
    db = open_for_reading(str(filled))
    try:
        for fmt in ("csv", "jsonl", "parquet"):
            if fmt == "parquet":
                pytest.importorskip("pyarrow")
            n, fast = written(db, fmt, tmp_path / f"fast.{fmt}", keyed=True)
            m, slow = written(db, fmt, tmp_path / f"slow.{fmt}", keyed=False)
            assert n == m == 13 and (fmt == "parquet" or fast == slow)
    finally:
        db.dispose()


def test_csv_and_jsonl_need_no_pyarrow(opened, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    for fmt in ("csv", "jsonl"):
        assert written(opened, fmt, tmp_path / f"x.{fmt}", keyed=True)[0] == 15
    from perps_tracker.errors import TrackerError

    with pytest.raises(TrackerError, match=r"pip install 'perps-tracker\[parquet\]'"):
        written(opened, "parquet", tmp_path / "x.parquet", keyed=True)
    assert not (tmp_path / "x.parquet").exists() and not list(tmp_path.glob("*.part"))


def test_the_views_kinds_are_the_tables(filled):
    from perps_tracker.storage.tables import instrument_rows, instruments

    tables = {c.name: _kind(c) for c in (*instrument_rows.columns, *instruments.columns)}
    assert _kinds(VIEW) == {name: tables.get(name, "str") for name in _kinds(VIEW)}


def test_a_failed_write_behind_is_raised_and_its_thread_ends():
    class Table:
        num_rows = 5

    seen = []

    def write(table):
        seen.append(table)
        if len(seen) == 2:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _write_behind(write, iter([Table()] * 50))
    assert len(seen) == 2
    assert _write_behind(lambda table: None, iter([Table()] * 3)) == 15


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_templates_alone_write_the_views_lines(opened, tmp_path, fmt, monkeypatch):
    """Hours without a name or value that sends a batch of JSON lines row by row: the templates write all."""
    m, slow = written(opened, fmt, tmp_path / f"slow.{fmt}", keyed=False, lo=T + 2 * H)
    monkeypatch.setattr("perps_tracker.render.export._json_lines", None)  # row by row is not used
    n, fast = written(opened, fmt, tmp_path / f"fast.{fmt}", keyed=True, lo=T + 2 * H)
    assert n == m == 2 and fast == slow


def test_a_column_null_in_the_first_batches_keeps_its_type_with_adbc(filled, tmp_path, monkeypatch):
    import perps_tracker.storage.export as export

    pq = pytest.importorskip("pyarrow.parquet")
    if export._adbc() is None:
        pytest.skip("adbc-driver-sqlite is not installed")
    con = sqlite3.connect(filled)  # index_price NULL in every row but the last hour's
    con.execute("UPDATE instrument_rows SET index_price = NULL, next_funding_time = NULL WHERE timestamp < ?",
                (T + 2 * H,))
    con.commit()
    con.close()
    monkeypatch.setattr(export, "ARROW_BATCH", 3)
    db = open_for_reading(str(filled))
    try:
        n, _ = written(db, "parquet", tmp_path / "fast.parquet", keyed=True)
        m, _ = written(db, "parquet", tmp_path / "slow.parquet", keyed=False)
    finally:
        db.dispose()
    fast, slow = pq.read_table(tmp_path / "fast.parquet"), pq.read_table(tmp_path / "slow.parquet")
    assert n == m == 15 and fast.equals(slow)
    assert fast.column("index_price").null_count < 15 and str(fast.schema.field("index_price").type) == "double"


def test_an_adbc_failure_is_one_line(filled, tmp_path, monkeypatch):
    import perps_tracker.storage.export as export

    pytest.importorskip("pyarrow.parquet")
    if export._adbc() is None:
        pytest.skip("adbc-driver-sqlite is not installed")
    db = open_for_reading(str(filled))
    try:
        with exported(db, VIEW, 0, T + 10 * H) as got:
            con = sqlite3.connect(filled)
            con.execute("DROP VIEW instrument_snapshots")
            con.execute("DROP TABLE instrument_rows")  # gone between the listing and the reading
            con.commit()
            con.close()
            with pytest.raises(DatabaseError, match="^exporting instrument_snapshots failed: .*instrument_rows"):
                write_export(got, "parquet", tmp_path / "x.parquet")
    finally:
        db.dispose()
    assert not (tmp_path / "x.parquet").exists()


def test_pyarrow_runs_without_pandas_even_where_it_is_installed():
    """The driver's DB-API module imports pyarrow.dataset, which imports pandas when it can (~0.3 s, ~35 MB
    for an export that never makes a DataFrame): `_adbc` keeps it out, and pyarrow works without it."""
    import importlib.util
    import subprocess

    if importlib.util.find_spec("pandas") is None or importlib.util.find_spec("adbc_driver_sqlite") is None:
        pytest.skip("needs pandas and adbc-driver-sqlite installed to show anything")
    code = ("import sys; from perps_tracker.storage.export import _adbc; assert _adbc() is not None; "
            "import pyarrow as pa; assert pa.table({'x': [1, 2]}).num_rows == 2; print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    # and the capture dataset's writer, whose Parquet files are made from Python lists
    code = ("import sys, tempfile; from perps_tracker.dataset.writer import DatasetWriter; "
            "from perps_tracker.model.ticks import Trade; w = DatasetWriter(tempfile.mkdtemp(), recover=False); "
            "w.add_many([Trade('binance', 'BTCUSDT', 'BTC', 1764838800000 + i, 1764838800000 + i, str(i), 'buy', "
            "1.0, 1.0, 1.0) for i in range(100)]); w.close(); assert w.counters.files == 1; "
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
