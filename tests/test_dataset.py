"""The capture dataset: DatasetWriter's files, journal, recovery after SIGKILL, and other filesystems."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import astuple
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
duckdb = pytest.importorskip("duckdb")

from perps_tracker.dataset import journal as jr  # noqa: E402
from perps_tracker.dataset import writer as writer_module  # noqa: E402
from perps_tracker.dataset.writer import DatasetWriter  # noqa: E402
from perps_tracker.model.ticks import BBO, BOOK, COLUMNS, TRADES, HOUR_MS  # noqa: E402
from tests.dataset_rows import CLOCK, START_MS, generated, trade  # noqa: E402

ROOT_DIR = Path(__file__).resolve().parents[1]


def W(*args, **kwargs) -> DatasetWriter:
    """A writer whose clock is ten minutes into the generated rows' first hour."""
    kwargs.setdefault("clock", CLOCK)
    return DatasetWriter(*args, **kwargs)


def read_back(root: Path, channel: str) -> list[tuple]:
    names = ", ".join(name for name, _ in COLUMNS[channel])
    return duckdb.sql(f"SELECT {names} FROM read_parquet('{root}/{channel}/**/*.parquet', hive_partitioning=true) "
                      f"ORDER BY ALL").fetchall()


def parquet_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "_spool" not in p.parts)


def dead(writer: DatasetWriter) -> None:
    """Make `writer` as a killed process leaves it: journal and spool on disk, its lock free."""
    writer._lockfile.close()
    writer.journal._fh.close()


def test_round_trip_every_channel(tmp_path):
    rows = generated(per_symbol=400)
    with W(str(tmp_path)) as writer:
        writer.add_many(rows)
    assert writer.counters.written == len(rows) and writer.counters.duplicates == 0
    for channel in (TRADES, BBO, BOOK):
        expected = sorted(astuple(r) for r in rows if r.channel == channel)
        assert read_back(tmp_path, channel) == expected
    hive = duckdb.sql(f"SELECT DISTINCT exchange, date FROM read_parquet('{tmp_path}/trades/**/*.parquet', "
                      "hive_partitioning=true) ORDER BY ALL").fetchall()
    assert [(e, str(d)) for e, d in hive] == [(e, "2025-12-04") for e in ("binance", "hyperliquid", "okx")]
    names = {p.name for p in parquet_files(tmp_path)}
    assert all(n.endswith(".parquet") and "-09-" in n or "-10-" in n for n in names)
    assert not (tmp_path / "_spool" / writer.name).exists()  # the journal is gone once everything is in files


def test_file_layout_names_partition_host_and_process(tmp_path):
    with W(str(tmp_path)) as writer:
        writer.add(trade(1, exchange="okx", symbol="BTC-USDT-SWAP"))
    (path,) = parquet_files(tmp_path)
    relative = path.relative_to(tmp_path)
    assert relative.parts[:3] == ("trades", "exchange=okx", "date=2025-12-04")
    assert relative.name == f"BTC-USDT-SWAP-09-{writer.name}-1.parquet"
    assert writer.name.split("-")[-2] == str(os.getpid())
    meta = pq.ParquetFile(path).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_files_are_sorted_by_ts_ms(tmp_path):
    with W(str(tmp_path)) as writer:
        writer.add_many([trade(i, ts_ms=START_MS + (i * 7919) % 1000) for i in range(1000)])
    (path,) = parquet_files(tmp_path)
    ts = pq.read_table(path).column("ts_ms").to_pylist()
    assert ts == sorted(ts) and len(ts) == 1000


def test_duplicate_trade_ids_are_dropped_per_venue_and_symbol(tmp_path):
    with W(str(tmp_path), dedup_ids=100) as writer:
        writer.add_many([trade(i) for i in range(50)])
        writer.add_many([trade(i) for i in range(40, 60)])  # 40-49 again
        writer.add(trade(5, exchange="okx", symbol="BTC-USDT-SWAP"))  # the same id elsewhere is another trade
        writer.add(trade(5, symbol="ETHUSDT"))
    assert writer.counters.duplicates == 10
    ids = [r[5] for r in read_back(tmp_path, TRADES) if r[1] == "BTCUSDT"]
    assert sorted(ids, key=int) == [str(i) for i in range(60)]
    assert len(read_back(tmp_path, TRADES)) == 62


def test_dedup_memory_is_bounded(tmp_path):
    with W(str(tmp_path), dedup_ids=100) as writer:
        writer.add_many([trade(i) for i in range(1000)])
        ids = writer._seen[("binance", "BTCUSDT")]
        assert 100 <= len(ids[0]) + len(ids[1]) <= 200
        writer.add(trade(999))  # recent: dropped
        writer.add(trade(1))  # long forgotten: kept (the venue's own id order makes this a replay of history)
    assert writer.counters.duplicates == 1 and writer.counters.written == 1001


def test_hour_rollover_writes_the_finished_hour(tmp_path):
    now = [START_MS / 1000 + 1800]
    writer = W(str(tmp_path), clock=lambda: now[0], grace=10)
    writer.add_many([trade(i, ts_ms=START_MS + i * 1000) for i in range(100)])  # 09:00-09:01
    writer.add_many([trade(1000 + i, ts_ms=START_MS + HOUR_MS + i) for i in range(10)])  # 10:00
    writer.tick(flush=True)
    assert parquet_files(tmp_path) == []  # the hour is not over
    now[0] = START_MS / 1000 + 3600 + 5
    writer.tick(flush=True)
    assert parquet_files(tmp_path) == []  # within the grace for late rows
    now[0] = START_MS / 1000 + 3600 + 11
    writer.tick(flush=True)
    (first,) = parquet_files(tmp_path)
    assert first.name.startswith("BTCUSDT-09-") and pq.read_metadata(first).num_rows == 100
    writer.add(trade(2000, ts_ms=START_MS + 10))  # a late row of the finished hour: a file of its own
    writer.tick(flush=True)
    writer.close()
    names = sorted(p.name.split("-")[1] for p in parquet_files(tmp_path))
    assert names == ["09", "09", "10"]
    assert len(read_back(tmp_path, TRADES)) == 111


def test_a_partition_reaching_file_rows_is_written(tmp_path):
    writer = W(str(tmp_path), file_rows=500)
    writer.add_many([trade(i) for i in range(499)])
    writer.tick(flush=True)
    assert parquet_files(tmp_path) == []
    writer.add(trade(499))
    writer.tick(flush=True)
    assert [pq.read_metadata(p).num_rows for p in parquet_files(tmp_path)] == [500]
    writer.close()


def test_buffered_rows_are_bounded_largest_partition_first(tmp_path):
    writer = W(str(tmp_path), max_buffered_rows=1000, file_rows=10_000)
    writer.add_many([trade(i) for i in range(800)])
    writer.add_many([trade(i, symbol="ETHUSDT") for i in range(300)])
    writer.tick(flush=True)
    (path,) = parquet_files(tmp_path)
    assert path.name.startswith("BTCUSDT-") and writer._buffered == 300
    writer.close()


def test_a_reader_never_sees_a_partial_file(tmp_path):
    """While a background writer compacts, every name a reader lists is a whole Parquet file or a dot file."""
    writer = W(str(tmp_path), file_rows=2_000, background=True, flush_interval=0.05)
    stop = threading.Event()
    seen: set[str] = set()
    problems: list[str] = []

    def read() -> None:
        while not stop.is_set():
            for path in tmp_path.glob("trades/**/*.parquet"):
                try:
                    pq.read_metadata(path)
                    seen.add(path.name)
                except FileNotFoundError:
                    pass
                except Exception as e:  # a torn file
                    problems.append(f"{path.name}: {e}")
            for path in tmp_path.glob("trades/**/*"):
                if path.is_file() and not (path.name.endswith(".parquet") or path.name.startswith(".")):
                    problems.append(path.name)

    reader = threading.Thread(target=read)
    reader.start()
    for k in range(30):
        writer.add_many([trade(k * 1000 + i) for i in range(1000)])
        time.sleep(0.01)
    writer.close()
    stop.set()
    reader.join()
    assert problems == []
    assert len(seen) >= 5 and not list(tmp_path.rglob(".*.tmp"))
    assert len(read_back(tmp_path, TRADES)) == 30_000


CHILD = r"""
import sys, time
from perps_tracker.dataset.writer import DatasetWriter
from tests.dataset_rows import CLOCK, trade
background = sys.argv[2] == "background"  # as `capture` runs it: a thread journals and writes the files
writer = DatasetWriter(sys.argv[1], file_rows=20_000, recover=False, clock=CLOCK, background=background)
i = 0
print("ready", writer.name, flush=True)
while True:
    writer.add_many([trade(i + k) for k in range(50)])
    i += 50
    if not background:
        writer.tick()
    c = writer.counters
    print("ack", time.monotonic(), c.journaled, i, c.written, flush=True)
    time.sleep(0.002)
"""


@pytest.mark.parametrize("mode", ["ticked", "background"])
def test_sigkill_loses_at_most_the_last_second_and_no_file_breaks(tmp_path, mode):
    """A writer killed mid-run (driven by its caller, or by its own thread as `capture` runs it): the next
    writer recovers its journal; every row journaled (and every row added a second before the kill) is in
    the dataset once, and every file opens."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), mode], cwd=ROOT_DIR, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": str(ROOT_DIR)})
    acks: list[tuple[float, int, int]] = []
    assert child.stdout.readline().startswith("ready")
    start = time.monotonic()
    while True:  # killed after 2.5 s, once it has written files and journaled rows that are in none yet
        line = child.stdout.readline().split()
        acks.append((float(line[1]), int(line[2]), int(line[3])))
        journaled, written = int(line[2]), int(line[4])
        if time.monotonic() - start > 2.5 and 0 < written < journaled or time.monotonic() - start > 20:
            break
    os.kill(child.pid, signal.SIGKILL)
    killed = time.monotonic()
    child.wait()
    child.stdout.close()
    before_recovery = parquet_files(tmp_path)
    assert before_recovery, "the child wrote files before it was killed"
    for path in before_recovery:  # every file there is whole: temporary files only ever under dot names
        if not path.name.startswith("."):
            pq.read_metadata(path)

    recovering = W(str(tmp_path))
    recovered = recovering.counters.recovered_rows
    recovering.close()
    ids = [int(r[5]) for r in read_back(tmp_path, TRADES)]
    assert len(ids) == len(set(ids)), "a row was written twice"
    journaled = max(j for _, j, _ in acks)
    added_a_second_before = max(added for t, _, added in acks if t <= killed - 1.0)
    assert recovered > 0 and len(ids) >= journaled >= added_a_second_before
    assert set(range(added_a_second_before)) <= set(ids)
    assert ids == list(range(len(ids)))  # and the rows lost, if any, are the newest
    for path in parquet_files(tmp_path):
        pq.read_metadata(path)
    assert not any(p.name.startswith(".") for p in parquet_files(tmp_path))
    assert list((tmp_path / "_spool").iterdir()) == []


def test_recovery_skips_rows_already_in_published_files(tmp_path):
    writer = W(str(tmp_path), file_rows=100)
    for k in range(2):  # 200 rows published as they came, 50 journaled only
        writer.add_many([trade(k * 100 + i) for i in range(100)])
        writer.tick(flush=True)
    writer.add_many([trade(200 + i) for i in range(50)])
    writer.flush()
    assert len(parquet_files(tmp_path)) == 2
    dead(writer)
    assert len(list(jr.segments(str(tmp_path / "_spool" / writer.name)))) >= 1
    again = W(str(tmp_path))
    assert again.counters.recovered_rows == 50
    again.close()
    assert sorted(int(r[5]) for r in read_back(tmp_path, TRADES)) == list(range(250))


def test_recovery_when_killed_between_journaling_a_file_and_renaming_it(tmp_path, monkeypatch):
    writer = W(str(tmp_path))
    writer.add_many([trade(i) for i in range(100)])
    writer.flush()
    real = os.replace

    def killed(src, dst):
        raise KeyboardInterrupt  # the process stops between the PUBLISHED record and the rename

    monkeypatch.setattr(writer_module.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        writer.compact()
    monkeypatch.setattr(writer_module.os, "replace", real)
    dead(writer)
    assert parquet_files(tmp_path) == []  # nor a temporary file left
    half = tmp_path / "trades/exchange=binance/date=2025-12-04" / f".BTCUSDT-09-{writer.name}-2.parquet.tmp"
    half.write_bytes(b"PAR1 half a file")  # as a kill in the middle of the next file would leave it
    other = half.with_name(".BTCUSDT-09-otherhost-1-x0-1.parquet.tmp")
    other.write_bytes(b"another writer's, alive")
    again = W(str(tmp_path))
    assert again.counters.recovered_rows == 100
    again.close()
    assert len(read_back(tmp_path, TRADES)) == 100
    assert not half.exists() and other.exists()


def test_recovering_twice_writes_the_same_files(tmp_path):
    writer = W(str(tmp_path))
    writer.add_many([trade(i) for i in range(100)])
    writer.flush()
    dead(writer)
    spool = tmp_path / "_spool" / writer.name
    copy = {p.name: p.read_bytes() for p in spool.iterdir() if p.suffix == ".seg"}
    W(str(tmp_path)).close()
    spool.mkdir()  # as if the recovery had been killed before it deleted the journal
    for name, blob in copy.items():
        (spool / name).write_bytes(blob)
    W(str(tmp_path)).close()
    assert len(parquet_files(tmp_path)) == 1 and len(read_back(tmp_path, TRADES)) == 100


def test_a_torn_journal_record_is_skipped_and_counted(tmp_path):
    writer = W(str(tmp_path))
    for k in range(3):
        writer.add_many([trade(k * 10 + i) for i in range(10)])
        writer.flush()
    dead(writer)
    (segment,) = jr.segments(str(tmp_path / "_spool" / writer.name))
    blob = Path(segment).read_bytes()
    Path(segment).write_bytes(blob[:-7])  # the last record half written
    again = W(str(tmp_path))
    assert (again.counters.torn_records, again.counters.recovered_rows) == (1, 20)
    again.close()
    assert sorted(int(r[5]) for r in read_back(tmp_path, TRADES)) == list(range(20))


def test_a_corrupt_record_in_the_middle_is_skipped(tmp_path):
    writer = W(str(tmp_path))
    for k in range(3):
        writer.add_many([trade(k * 10 + i) for i in range(10)])
        writer.flush()
    dead(writer)
    (segment,) = jr.segments(str(tmp_path / "_spool" / writer.name))
    records, torn = jr.read_segment(segment)
    assert (len(records), torn) == (3, 0)
    blob = bytearray(Path(segment).read_bytes())
    blob[len(jr.MAGIC) + 8 + 40] ^= 0xFF  # a byte of the first record's body
    Path(segment).write_bytes(bytes(blob))
    again = W(str(tmp_path))
    assert (again.counters.torn_records, again.counters.recovered_rows) == (1, 20)
    again.close()


def test_a_living_writers_spool_is_left_alone(tmp_path):
    first = W(str(tmp_path))
    first.add_many([trade(i) for i in range(10)])
    first.flush()
    second = W(str(tmp_path))
    assert second.counters.recovered_rows == 0 and (tmp_path / "_spool" / first.name).is_dir()
    second.close()
    first.close()
    assert len(read_back(tmp_path, TRADES)) == 10


def test_file_uri_root(tmp_path):
    with W(f"file://{tmp_path}/ticks") as writer:
        writer.add_many([trade(i) for i in range(10)])
    assert len(read_back(tmp_path / "ticks", TRADES)) == 10


@pytest.mark.parametrize("direct", [False, True], ids=["temporary-then-move", "whole-object-put"])
def test_an_object_store_through_pyarrow_filesystems(tmp_path, monkeypatch, direct):
    """A filesystem that is not this machine's disk (pyarrow's in-memory mock): the journal stays in a
    local spool, files are written whole (moved from a temporary name, or put under the final key as
    S3 and GCS take an object)."""
    from pyarrow.fs import FileSelector, _MockFileSystem

    if direct:
        monkeypatch.setattr(writer_module, "DIRECT_PUT", {"mock"})
    fs = _MockFileSystem()
    spool = tmp_path / "spool"
    writer = W("bucket/ticks", filesystem=fs, spool=str(spool))
    assert not writer.root.local
    rows = generated(per_symbol=100)
    writer.add_many(rows)
    writer.flush()
    assert list(spool.iterdir()) == [spool / writer.name]
    writer.close()
    names = [i.path for i in fs.get_file_info(FileSelector("bucket/ticks", recursive=True)) if i.is_file]
    assert names and all(n.endswith(".parquet") and "/." not in n for n in names)
    table = pa.concat_tables([pq.read_table(n, filesystem=fs) for n in names if n.startswith("bucket/ticks/trades/")])
    assert table.num_rows == sum(r.channel == TRADES for r in rows)
    assert "bucket/ticks/trades/exchange=binance/date=2025-12-04" in {n.rpartition("/")[0] for n in names}


def test_missing_pyarrow_names_the_extra(monkeypatch):
    import builtins

    from perps_tracker.dataset import arrow
    from perps_tracker.errors import TrackerError

    real = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.split(".")[0] == "pyarrow":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(TrackerError, match=r"pip install 'perps-tracker\[capture\]'"):
        arrow()
