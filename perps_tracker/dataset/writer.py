"""`DatasetWriter`: rows in, Parquet files out, through a journal that survives SIGKILL.

    writer = DatasetWriter("data/ticks")          # or "s3://bucket/ticks", "file:///srv/ticks"
    writer.add(trade); writer.add_many(rows)      # any thread; never blocks on I/O with background=True
    ...
    writer.close()                                # every buffered row to a file, the journal removed

The life of a row:

1. `add` drops a trade whose id was seen lately for its (exchange, symbol) (`DEDUP_IDS` of them, the
   writer being the one place that deduplicates), then puts the row in its partition's pending list
   (channel, exchange, symbol, UTC hour of `ts_ms`).
2. At least every `flush_interval` (1 s) `flush` turns each pending list into an Arrow record batch,
   appends it to the journal as one record and fsyncs: from then on the row survives a SIGKILL.
   The batches stay in memory, compact (~80 bytes a trade), until:
3. `compact` writes a partition's batches, sorted by `ts_ms`, to one Parquet file when the partition
   holds `file_rows` rows, when its hour is over (`grace` seconds after it, for late rows), when all
   partitions together hold more than `max_buffered_rows` (the largest go first), when the journal
   outgrows `max_spool_bytes`, or at `close`. The file is written under a temporary name and renamed
   (local: fsync, `os.replace`, fsync of the directory), or on S3 and GCS put whole under its final
   key (an object appears complete or not at all); a PUBLISHED record in the journal names it first.
4. Once published, the journal's oldest segments whose rows are all in files are deleted.

`recover` (run by the constructor) finds the spool directories of writers that died on this machine
(their lock file is free), writes their journaled rows that no published file holds, and deletes them.

Threading: every method may be called from any thread (one lock). With `background=True` a daemon
thread flushes and compacts; `add` then only appends to a list, and a Parquet file is written with
the lock released (adds go on meanwhile). With `background=False` (the default) the caller drives:
`add` flushes and compacts itself once `flush_interval` has passed, and so should a quiet caller
call `tick()` (e.g. every 250 ms) so that the last rows are journaled within the second.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import Any, Callable, Iterable

from perps_tracker import release_arrow_memory
from perps_tracker.dataset import DEFAULT_ROOT, arrow
from perps_tracker.dataset import journal as jr
from perps_tracker.dataset.layout import (
    Root,
    directory,
    file_name,
    host_name,
    open_root,
    schema,
    temporary,
    write_options,
)
from perps_tracker.errors import TrackerError
from perps_tracker.model.ticks import HOUR_MS, Trade

log = logging.getLogger(__name__)

MAX_PENDING = 16_384  # rows held as Python objects before they are journaled (and made compact) anyway
# Trade ids remembered per (exchange, symbol), between this and twice this many: a reconnect's replay
# of the last trades (a venue's REST page of recent trades is at most 1,000) is caught, and memory
# stays bounded (~90 bytes an id).
DEDUP_IDS = 2_000
DIRECT_PUT = {"s3", "gcs"}  # filesystems whose objects appear whole on close: written under their final key

Key = tuple  # (channel, exchange, symbol, hour)
_WRITERS = itertools.count()


@dataclass
class Counters:
    rows: int = 0  # accepted by add (duplicates excluded)
    journaled: int = 0  # synced to the journal
    written: int = 0  # in published files (recovered rows included)
    files: int = 0
    bytes: int = 0  # of the published files
    duplicates: int = 0
    recovered_rows: int = 0
    recovered_files: int = 0
    torn_records: int = 0  # torn journal records skipped by recovery


def default_spool(root: Root) -> str:
    """A local root keeps its spool inside it (`<root>/_spool`, skipped by readers of `<root>/<channel>`);
    any other under the user's cache directory, one per root."""
    if root.local:
        return os.path.join(root.base, "_spool")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    from perps_tracker.dataset.layout import safe

    return os.path.join(cache, "perps-tracker", "spool", safe(root.uri))


class DatasetWriter:
    def __init__(self, root: str = DEFAULT_ROOT, *, filesystem: Any = None, spool: str | None = None,
                 file_rows: int = 250_000, max_buffered_rows: int = 250_000, flush_interval: float = 1.0,
                 grace: float = 10.0, max_spool_bytes: int = 256 * 2 ** 20, segment_bytes: int = 32 * 2 ** 20,
                 dedup_ids: int = DEDUP_IDS, background: bool = False, recover: bool = True,
                 clock: Callable[[], float] = time.time):
        self.pa = arrow()
        release_arrow_memory(self.pa)
        self.root = open_root(root, filesystem)
        self.spool = spool or default_spool(self.root)
        self.file_rows, self.max_buffered_rows = file_rows, max_buffered_rows
        self.flush_interval, self.grace = flush_interval, grace
        self.max_spool_bytes, self.segment_bytes = max_spool_bytes, segment_bytes
        self.dedup_ids = dedup_ids
        self.clock = clock
        self.counters = Counters()
        self.venues: dict[str, dict[str, int]] = {}  # the counters per venue (close() returns them)
        self.host = host_name()
        # <host>-<pid>-<run>: the run is the start second and the writer's number in this process
        self.name = f"{self.host}-{os.getpid()}-{_base36(int(time.time()))}{next(_WRITERS)}"
        self._lock = threading.RLock()
        self._compacting = threading.Lock()  # one compaction at a time
        self._pending: dict[Key, list] = {}
        self._batches: dict[Key, list] = {}
        self._count: dict[Key, int] = {}
        self._buffered = 0
        self._pending_rows = 0
        self._seen: dict[tuple[str, str], list[set]] = {}
        self._record = 0
        self._files = 0
        self._due = time.monotonic() + flush_interval
        self._closed = False
        self._made: set[str] = set()  # directories known to exist
        os.makedirs(self.spool, exist_ok=True)
        if recover:
            recover_spool(self)
        self._dir = os.path.join(self.spool, self.name)
        self.journal = jr.Journal(self._dir)
        self._lockfile = _hold_lock(os.path.join(self._dir, "lock"))
        self._thread = None
        if background:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name="dataset-writer", daemon=True)
            self._thread.start()

    # -- rows in ------------------------------------------------------------------------------

    def add(self, row) -> None:
        """Take one row (a `model.ticks` Trade, Bbo or BookLevel)."""
        self.add_many((row,))

    def add_many(self, rows: Iterable) -> None:
        """Take rows of any channels and partitions (cheaper than `add` per row)."""
        with self._lock:
            if self._closed:
                raise TrackerError("the dataset writer is closed")
            pending, seen, limit = self._pending, self._seen, self.dedup_ids
            n = dup = 0
            for row in rows:
                if type(row) is Trade:
                    ids = seen.get((row.exchange, row.symbol))
                    if ids is None:
                        ids = seen[(row.exchange, row.symbol)] = [set(), set()]
                    tid = row.trade_id
                    if tid in ids[0] or tid in ids[1]:
                        dup += 1
                        self._venue(row.exchange)["duplicates"] += 1
                        continue
                    recent = ids[0]
                    recent.add(tid)
                    if len(recent) >= limit:
                        ids[0], ids[1] = set(), recent
                key = (row.channel, row.exchange, row.symbol, row.ts_ms // HOUR_MS)
                bucket = pending.get(key)
                if bucket is None:
                    bucket = pending[key] = []
                bucket.append(row)
                n += 1
            self._buffered += n
            self._pending_rows += n
            self.counters.rows += n
            self.counters.duplicates += dup
            full = self._pending_rows >= MAX_PENDING
        if self._thread is None:
            if full or time.monotonic() >= self._due:
                self.tick(flush=True)
        elif full:
            self.flush()

    # -- journal ------------------------------------------------------------------------------

    def flush(self) -> None:
        """Journal every pending row and fsync: they survive a SIGKILL from now on."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        self._due = time.monotonic() + self.flush_interval
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        self._pending_rows = 0
        journal, rows = self.journal, 0
        for key, bucket in pending.items():
            batch = _batch(self.pa, key, bucket)
            self._record += 1
            journal.append(jr.frame(jr.DATA, self._record, jr.key_text(key), batch.serialize()))
            journal.current.live[key] = self._record
            self._batches.setdefault(key, []).append(batch)
            self._count[key] = self._count.get(key, 0) + len(bucket)
            rows += len(bucket)
        journal.sync()
        self.counters.journaled += rows
        if journal.current.size >= self.segment_bytes:
            journal.rotate()

    # -- files out ----------------------------------------------------------------------------

    def tick(self, flush: bool = False) -> None:
        """Flush when due (or `flush`), then compact the partitions that are due (full, hour over, memory
        or spool over their bounds). Called by `add`, by the background thread, or by a quiet caller."""
        with self._lock:
            if flush or time.monotonic() >= self._due:
                self._flush()
            due = self._due_partitions()
        if due:
            self.compact(due)

    def _due_partitions(self) -> list[Key]:
        counts = self._count
        if not counts:
            return []
        if self.journal.size > self.max_spool_bytes:
            return list(counts)
        over = (self.clock() - self.grace) * 1000 // HOUR_MS  # hours before this one are over
        due = [k for k, n in counts.items() if n >= self.file_rows or k[3] < over]
        excess = self._buffered - self.max_buffered_rows
        if excess > 0:
            chosen = set(due)
            for key in sorted(counts, key=counts.__getitem__, reverse=True):
                if excess <= 0:
                    break
                if key not in chosen:
                    due.append(key)
                    excess -= counts[key]
        return due

    def compact(self, keys: Iterable[Key] | None = None) -> None:
        """Write the buffered rows of `keys` (every partition when None) to one Parquet file each."""
        with self._compacting:
            with self._lock:
                if keys is None:
                    self._flush()
                    keys = list(self._count)
                jobs = []
                for key in keys:
                    batches = self._take(key)
                    if batches:
                        jobs.append((key, batches, self._record))
            for k, (key, batches, through) in enumerate(jobs):
                try:
                    self._publish(key, batches, through, self._next_file())
                except BaseException:
                    with self._lock:  # nothing was lost: the rows go back to their partitions
                        for key_, batches_, _ in jobs[k:]:
                            self._give_back(key_, batches_)
                    raise

    def _take(self, key: Key) -> list:
        """The partition's rows (pending ones too) out of the buffers."""
        batches = self._batches.pop(key, [])
        n = self._count.pop(key, 0)
        bucket = self._pending.pop(key, None)
        if bucket:
            batches.append(_batch(self.pa, key, bucket))
            n += len(bucket)
            self._pending_rows -= len(bucket)
        self._buffered -= n
        return batches

    def _give_back(self, key: Key, batches: list) -> None:
        self._batches[key] = batches + self._batches.get(key, [])
        n = sum(b.num_rows for b in batches)
        self._count[key] = self._count.get(key, 0) + n
        self._buffered += n

    def _next_file(self) -> int:
        with self._lock:
            self._files += 1
            return self._files

    def _publish(self, key: Key, batches: list, through: int, n: int) -> None:
        """One Parquet file of `batches`; the journal names it before it appears, then forgets its rows."""
        channel, exchange, symbol, hour = key
        relative = f"{directory(channel, exchange, hour)}/{file_name(symbol, hour, self.name, n)}"

        def published() -> None:
            with self._lock:
                self.journal.append(jr.frame(jr.PUBLISHED, through, jr.key_text(key), relative.encode()))
                self.journal.sync()

        size, rows = write_file(self.pa, self.root, channel, batches, relative, before_rename=published,
                                made=self._made)
        with self._lock:
            self.journal.covered(key, through)
            self._count_file(exchange, rows, size)

    def _count_file(self, exchange: str, rows: int, size: int, recovered: bool = False) -> None:
        counters, venue = self.counters, self._venue(exchange)
        counters.files += 1
        counters.written += rows
        counters.bytes += size
        venue["files"] += 1
        venue["rows"] += rows
        venue["bytes"] += size
        if recovered:
            counters.recovered_rows += rows
            counters.recovered_files += 1
            venue["recovered_rows"] += rows

    def _venue(self, exchange: str) -> dict[str, int]:
        found = self.venues.get(exchange)
        if found is None:
            found = self.venues[exchange] = {"files": 0, "rows": 0, "bytes": 0, "duplicates": 0, "recovered_rows": 0}
        return found

    # -- the end --------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(min(0.25, self.flush_interval / 2)):
            try:
                self.tick()
            except Exception as e:  # a failed write (a full disk, an object store down) is tried again
                log.warning("dataset writer: %s", e)

    def close(self) -> dict[str, dict[str, int]]:
        """Every buffered row to a file; the journal and spool directory removed. Returns the counters per
        venue (`{"binance": {"files", "rows", "bytes", "duplicates", "recovered_rows"}}`, as capture's
        RowSink gives them); the totals are `counters`."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._closed:
                return self.venues
            self._closed = True
        self.compact()
        with self._lock:
            self.journal.close(remove=True)
            _release_lock(self._lockfile, os.path.join(self._dir, "lock"))
            try:
                os.rmdir(self._dir)
            except OSError:
                pass
        return self.venues

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- writing one file -----------------------------------------------------------------------------


def write_file(pa, root: Root, channel: str, batches: list, relative: str, *,
               before_rename: Callable[[], None] | None = None, made: set | None = None) -> tuple[int, int]:
    """Write `batches` sorted by `ts_ms` to `relative` under the root, whole or not at all: (bytes, rows)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pa.Table.from_batches(batches, schema=schema(channel))
    ts = table.column("ts_ms").to_numpy()
    if len(ts) > 1 and (ts[1:] < ts[:-1]).any():  # rows mostly come in time order: sorted only when not
        table = table.take(pc.sort_indices(table, [("ts_ms", "ascending")]))
    final = root.path(relative)
    parent = final.rpartition("/")[0]
    made = set() if made is None else made
    if root.local:
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        part = temporary(final)
        try:
            with open(part, "wb") as fh:
                pq.write_table(table, fh, **write_options(channel))
                fh.flush()
                os.fsync(fh.fileno())
                size = fh.tell()
            if before_rename is not None:
                before_rename()
            os.replace(part, final)
        finally:
            if os.path.exists(part):
                os.unlink(part)
        jr.fsync_dir(parent)
        return size, table.num_rows
    fs = root.fs
    if parent not in made:
        fs.create_dir(parent, recursive=True)
        made.add(parent)
    direct = fs.type_name in DIRECT_PUT
    target = final if direct else temporary(final)
    if direct and before_rename is not None:
        before_rename()
    with fs.open_output_stream(target) as out:
        pq.write_table(table, out, **write_options(channel))
        size = out.tell()
    if not direct:
        if before_rename is not None:
            before_rename()
        fs.move(target, final)
    return size, table.num_rows


def _batch(pa, key: Key, rows: list):
    """The rows of one partition as an Arrow record batch of its channel's schema."""
    channel, exchange, symbol, _ = key
    sch = schema(channel)
    n = len(rows)
    arrays = []
    for field in sch:
        name = field.name
        if name == "exchange":
            values = [exchange] * n
        elif name == "symbol":
            values = [symbol] * n
        else:
            values = list(map(_getter(name), rows))
        arrays.append(pa.array(values, field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=sch)


@lru_cache(maxsize=None)
def _getter(name: str):
    return attrgetter(name)


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


# -- the spool's lock files -----------------------------------------------------------------------


def _hold_lock(path: str):
    """Open and lock (flock, exclusive) the writer's lock file: the kernel frees it when the process
    dies however it dies, which is how recovery tells a dead writer's spool from a living one's."""
    fh = open(path, "a+")
    try:
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # no flock (Windows): the pid in the directory's name is checked instead
        pass
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def _release_lock(fh, path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    fh.close()


def _dead(directory: str) -> Any:
    """The lock of a writer's spool directory when its writer is gone (held now by us), else None."""
    path = os.path.join(directory, "lock")
    try:
        fh = open(path, "a+")
    except OSError:
        return None
    try:
        import fcntl
    except ImportError:
        pid = int(os.path.basename(directory).split("-")[-2])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return fh
        except OSError:
            pass
        fh.close()
        return None
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        return None
    return fh


# -- recovery -------------------------------------------------------------------------------------


def recover_spool(writer: DatasetWriter) -> None:
    """Recover every dead writer's spool directory of this host under `writer.spool`."""
    for name in sorted(os.listdir(writer.spool)):
        path = os.path.join(writer.spool, name)
        if not os.path.isdir(path) or not name.startswith(writer.host + "-") or name == writer.name:
            continue
        lock = _dead(path)
        if lock is None:
            continue
        try:
            recover_directory(writer, path, name)
        finally:
            _release_lock(lock, os.path.join(path, "lock"))
        try:
            os.rmdir(path)
        except OSError:
            pass


def recover_directory(writer: DatasetWriter, path: str, name: str) -> None:
    """Write the rows of a dead writer's journal that no published file holds, then delete the journal.
    The files are named after the dead writer and the last record they hold, so recovering the same
    journal twice (a recovery killed in turn) writes the same files again, not copies."""
    pa = writer.pa
    data: dict[Key, list] = {}
    published: dict[Key, list] = {}
    torn = 0
    files = list(jr.segments(path))
    for segment in files:
        records, bad = jr.read_segment(segment)
        torn += bad
        for record in records:
            if record.kind == jr.DATA:
                data.setdefault(record.key, []).append(record)
            elif record.kind == jr.PUBLISHED:
                published.setdefault(record.key, []).append((record.number, bytes(record.data).decode()))
    writer.counters.torn_records += torn
    for key, records in sorted(data.items()):
        covered = _covered(writer.root, published.get(key, []))
        left = [r for r in records if r.number > covered]
        if not left:
            continue
        channel = key[0]
        sch = schema(channel)
        batches = [pa.ipc.read_record_batch(pa.py_buffer(r.data), sch) for r in left]
        relative = f"{directory(channel, key[1], key[3])}/{file_name(key[2], key[3], name, f'r{left[-1].number}')}"
        size, rows = write_file(pa, writer.root, channel, batches, relative)
        writer._count_file(key[1], rows, size, recovered=True)
        log.info("recovered %d rows of %s into %s", rows, name, relative)
    _remove_temporaries(writer.root, {directory(k[0], k[1], k[3]) for k in data}, name)
    for segment in files:
        os.unlink(segment)


def _remove_temporaries(root: Root, directories: set[str], name: str) -> None:
    """Delete the dead writer's half-written files (`.<file>.tmp`) in the partitions it was writing: a
    file being written when it died is among the partitions its journal still holds rows of."""
    pa = arrow()
    for relative in sorted(directories):
        selector = pa.fs.FileSelector(root.path(relative), allow_not_found=True)
        for info in root.fs.get_file_info(selector):
            base = info.base_name
            if base.startswith(".") and base.endswith(".parquet.tmp") and f"-{name}-" in base:
                root.fs.delete_file(info.path)
                log.info("removed %s, left half-written by %s", info.path, name)


def _covered(root: Root, published: list[tuple[int, str]]) -> int:
    """The newest record number a published file (that exists) holds the partition's rows up to."""
    pa = arrow()
    for number, relative in sorted(published, reverse=True):
        if root.fs.get_file_info(root.path(relative)).type != pa.fs.FileType.NotFound:
            return number
    return 0
