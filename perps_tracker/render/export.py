"""`export`'s formats: CSV, JSON Lines and Parquet, written batch by batch (flat memory).

A file is written beside its target and renamed into place when complete, so an interrupted or
failed export never leaves a half-written file under the asked name. Parquet needs pyarrow, an
optional extra (`pip install 'perps-tracker[parquet]'`), imported only for it.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from perps_tracker import release_arrow_memory
from perps_tracker.errors import TrackerError
from perps_tracker.storage.export import Export

FORMATS = ("csv", "jsonl", "parquet")
PARQUET_MISSING = ("Parquet needs pyarrow, which is not installed: "
                   "pip install 'perps-tracker[parquet]' (or choose --format csv or jsonl)")


def _pyarrow():
    from perps_tracker import import_pyarrow

    try:
        import_pyarrow()
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise TrackerError(PARQUET_MISSING) from None
    return pyarrow


def check_format(fmt: str) -> None:
    """Fail before anything is read when the format's library is missing."""
    if fmt == "parquet":
        _pyarrow()


@contextmanager
def _target(path: Path | None, binary: bool) -> Iterator[IO]:
    """The output: stdout, or a temporary file beside `path` renamed onto it once complete."""
    if path is None:
        if binary and sys.stdout.isatty():
            raise TrackerError("Parquet is binary: write it to a file with -o FILE (or pipe it)")
        yield sys.stdout.buffer if binary else sys.stdout
        (sys.stdout.buffer if binary else sys.stdout).flush()
        return
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with open(part, "wb" if binary else "w", newline="" if not binary else None,
                  **({} if binary else {"encoding": "utf-8"})) as fh:
            yield fh
        os.replace(part, path)
    except OSError as e:
        raise TrackerError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        if part.exists():
            part.unlink()


def _cell(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_export(export: Export, fmt: str, path: Path | None) -> int:
    """Write every row of `export` as `fmt` to `path` (stdout when None); returns the rows written."""
    if fmt == "parquet":
        pa = _pyarrow()  # before any file is opened: a missing extra leaves nothing behind
        with _target(path, binary=True) as out:
            return _parquet(pa, export, out)
    with _target(path, binary=False) as out:
        if _templated(export):
            return _keyed_text(export, fmt, out)
        return _csv(export, out) if fmt == "csv" else _jsonl(export, out)


def _csv(export: Export, out: IO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(export.columns)
    n = 0
    for batch in export.batches:
        writer.writerows(batch)
        n += len(batch)
    return n


# One encoder for every line (json.dumps with separators makes one per call); it refuses a
# non-finite float, which then goes through `_cell` (JSON has no Infinity: null).
_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _json_lines(columns: list[str], rows: list[tuple]) -> str:
    lines = []
    for row in rows:
        try:
            lines.append(_ENCODE(dict(zip(columns, row))))
        except ValueError:
            lines.append(_ENCODE(dict(zip(columns, map(_cell, row)))))
    lines.append("")
    return "\n".join(lines)


def _jsonl(export: Export, out: IO) -> int:
    n = 0
    for batch in export.batches:
        out.write(_json_lines(export.columns, batch))
        n += len(batch)
    return n


# -- keyed rows (SQLite's instrument_snapshots): one line template per key ----------------------------

_NULL_TEXT = {"csv": "", "jsonl": "null"}  # what a NULL is written as, which the database puts in its place


def _templated(export: Export) -> bool:
    """Whether `export` has keyed rows whose own values are all numbers (written as `%s` is: as the
    csv and json modules write them)."""
    keyed = export.keyed
    return keyed is not None and all(kind in ("int", "float") for i, kind in enumerate(export.kinds)
                                     if i not in keyed.positions)


def _templates(export: Export, fmt: str) -> dict[int, str]:
    """key → the line of its rows, their shared columns written in, `%s` for each own value."""
    keyed, width = export.keyed, len(export.columns)
    lines = {}
    for key, shared in keyed.shared.items():
        cells: list = ["%s"] * width
        for i, value in zip(keyed.positions, shared):
            cells[i] = value.replace("%", "%%") if isinstance(value, str) else value
        if fmt == "csv":
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="\n").writerow(cells)
            lines[key] = buffer.getvalue()
        else:
            values = [v if i not in keyed.positions else json.dumps(_cell(v)) for i, v in enumerate(cells)]
            lines[key] = "{" + ",".join(json.dumps(c).replace("%", "%%") + ":" + v
                                        for c, v in zip(export.columns, values)) + "}\n"
    return lines


def _keyed_text(export: Export, fmt: str, out: IO) -> int:
    keyed, null = export.keyed, _NULL_TEXT[fmt]
    lines = _templates(export, fmt)
    if fmt == "csv":
        csv.writer(out, lineterminator="\n").writerow(export.columns)
    n = 0
    for batch in keyed.read(null):
        try:
            text = "".join([lines[row[0]] % row[1:] for row in batch])
        except KeyError:  # a row without its instrument
            batch = keyed.known(batch)
            text = "".join([lines[row[0]] % row[1:] for row in batch])
        # An infinite float (written `inf`: JSON's is null), or a name that has these letters.
        if fmt == "jsonl" and (":inf" in text or ":-inf" in text or ":nan" in text):
            own = [(row[0], *(None if v == null else v for v in row[1:])) for row in batch]
            text = _json_lines(export.columns, keyed.full(own, len(export.columns)))
        out.write(text)
        n += len(batch)
    return n


def _parquet(pa, export: Export, out: IO) -> int:
    import pyarrow.parquet as pq

    release_arrow_memory(pa)
    types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind in zip(export.columns, export.kinds)])
    # Dictionary pages for the text columns (a few distinct values each) only: tried on the numbers too,
    # they are given up after a megabyte of distinct values, which costs time and bytes.
    text = [name for name, kind in zip(export.columns, export.kinds) if kind == "str"]
    with pq.ParquetWriter(out, schema, compression="zstd", use_dictionary=text) as writer:
        if _keyed_arrow(export):
            return _write_behind(writer.write_table, _row_groups(pa, _keyed_tables(pa, export, schema)))
        n = 0
        for table in _tables(pa, export, schema):
            writer.write_table(table)
            n += table.num_rows
        return n


ROW_GROUP = 32_768  # rows per Parquet row group, at least, from keyed rows


def _row_groups(pa, tables: Iterator) -> Iterator:
    """`tables` gathered into tables of ROW_GROUP rows or more (the last one fewer)."""
    group: list = []
    rows = 0
    for table in tables:
        group.append(table)
        rows += table.num_rows
        if rows >= ROW_GROUP:
            yield pa.concat_tables(group)
            group, rows = [], 0
    if group:
        yield pa.concat_tables(group)


def _write_behind(write, tables: Iterator) -> int:
    """`write` each of `tables` in a second thread while the next one is made (pyarrow encodes and
    compresses without holding the GIL, so the reading goes on meanwhile); returns the rows written.
    The first failure of `write` is raised here; the thread is done when this returns."""
    import queue
    import threading

    pending: queue.Queue = queue.Queue(maxsize=1)
    failed: list[BaseException] = []

    def writer() -> None:
        while (table := pending.get()) is not None:
            if not failed:
                try:
                    write(table)
                except BaseException as e:  # raised in the caller's thread below
                    failed.append(e)

    thread = threading.Thread(target=writer, name="parquet-writer", daemon=True)
    thread.start()
    n = 0
    try:
        for table in tables:
            if failed:
                break
            pending.put(table)
            n += table.num_rows
    finally:
        pending.put(None)  # the writer takes everything until this, so this put never waits for ever
        thread.join()
    if failed:
        raise failed[0]
    return n


def _tables(pa, export: Export, schema) -> Iterator:
    for batch in export.batches:
        columns = list(zip(*batch))
        arrays = [pa.array([None if v is None else bool(v) for v in col] if kind == "bool" else col,
                           type=field.type, from_pandas=True)
                  for col, field, kind in zip(columns, schema, export.kinds)]
        yield pa.Table.from_arrays(arrays, schema=schema)


def _keyed_arrow(export: Export) -> bool:
    return export.keyed is not None and "bool" not in export.kinds


def _keyed_tables(pa, export: Export, schema) -> Iterator:
    """Each batch of keyed rows converted as one array of structs (no Python loop over its values), the
    shared columns taken by key from one array per column over every key."""
    keyed = export.keyed
    own_at = [i for i in range(len(schema)) if i not in keyed.positions]
    width = max(keyed.shared, default=-1) + 1
    by_key = [keyed.shared.get(key) for key in range(width)]
    known = pa.array([shared is not None for shared in by_key], type=pa.bool_())
    lookups = [pa.array([None if shared is None else shared[k] for shared in by_key], type=schema[i].type,
                        from_pandas=True) for k, i in enumerate(keyed.positions)]
    row_type = pa.struct([("key", pa.int64()), *((f"c{i}", schema[i].type) for i in own_at)])
    for parts in _keyed_columns(pa, keyed, row_type, known, width):
        keys = parts[0]
        arrays = [None] * len(schema)
        for i, array in zip(own_at, parts[1:]):
            arrays[i] = array
        for i, lookup in zip(keyed.positions, lookups):
            arrays[i] = lookup.take(keys)
        yield pa.Table.from_arrays(arrays, schema=schema)


def _keyed_columns(pa, keyed, row_type, known, width: int) -> Iterator[list]:
    """Each batch of keyed rows as its columns (key first), the rows without an instrument left out: from
    the ADBC driver's record batches where it is installed, else each batch of Python rows converted as one
    array of structs (no Python loop over its values)."""
    if keyed.arrow is not None:
        for batch in keyed.arrow():
            if not _all_known(pa, known, batch.column(0), width):  # a row without its instrument
                import pyarrow.compute as pc

                keys = batch.column(0)
                inside = pc.less(keys, width)
                batch = batch.filter(pc.and_(inside, known.take(pc.if_else(inside, keys, 0))))
            yield [column.cast(field.type) for column, field in zip(batch.columns, row_type)]
        return
    for batch in keyed.read(None):
        parts = pa.array(batch, type=row_type, from_pandas=True).flatten()
        if not _all_known(pa, known, parts[0], width):  # a row without its instrument
            parts = pa.array(keyed.known(batch), type=row_type, from_pandas=True).flatten()
        yield parts


def _all_known(pa, known, keys, width: int) -> bool:
    import pyarrow.compute as pc

    return len(keys) == 0 or (pc.max(keys).as_py() < width and pc.all(known.take(keys)).as_py())
