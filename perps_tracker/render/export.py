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

from perps_tracker.errors import TrackerError
from perps_tracker.storage.export import Export

FORMATS = ("csv", "jsonl", "parquet")
PARQUET_MISSING = ("Parquet needs pyarrow, which is not installed: "
                   "pip install 'perps-tracker[parquet]' (or choose --format csv or jsonl)")


def _pyarrow():
    try:
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
        return _csv(export, out) if fmt == "csv" else _jsonl(export, out)


def _csv(export: Export, out: IO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(export.columns)
    n = 0
    for batch in export.batches:
        writer.writerows(batch)
        n += len(batch)
    return n


def _jsonl(export: Export, out: IO) -> int:
    n, columns = 0, export.columns
    for batch in export.batches:
        buffer = io.StringIO()
        for row in batch:
            buffer.write(json.dumps(dict(zip(columns, map(_cell, row))), separators=(",", ":")))
            buffer.write("\n")
        out.write(buffer.getvalue())
        n += len(batch)
    return n


def _parquet(pa, export: Export, out: IO) -> int:
    import pyarrow.parquet as pq

    types = {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind in zip(export.columns, export.kinds)])
    n = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in export.batches:
            columns = list(zip(*batch))
            arrays = [pa.array([None if v is None else bool(v) for v in col] if kind == "bool" else col,
                               type=field.type, from_pandas=True)
                      for col, field, kind in zip(columns, schema, export.kinds)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            n += len(batch)
    return n
