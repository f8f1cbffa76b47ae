"""SQL over the capture dataset with DuckDB, in process: the views `trades`, `bbo` and `book`.

A local root (or `file://`) is read by DuckDB itself, `read_parquet('<root>/<channel>/**/*.parquet',
hive_partitioning = true, union_by_name = true)`; any other root (`s3://...`) through pyarrow's
filesystem as an Arrow dataset that DuckDB scans (filters and columns pushed down), so no DuckDB
extension has to be installed. A channel without files is still a view, with its columns and no rows.
Each view has the file's columns (model/ticks.COLUMNS) and the hive column `date` (a DATE).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from perps_tracker.dataset import duckdb
from perps_tracker.dataset.layout import Root, open_root
from perps_tracker.errors import TrackerError
from perps_tracker.model.ticks import CHANNELS, COLUMNS

_SQL_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "int32": "INTEGER", "float64": "DOUBLE"}
BATCH = 10_000


@dataclass
class Result:
    columns: list[str]
    types: list[str]  # DuckDB's type names
    batches: Iterator[list[tuple]]  # rows, BATCH at a time, read as they are consumed


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _empty(channel: str) -> str:
    cols = ", ".join(f"CAST(NULL AS {_SQL_TYPES[kind]}) AS {name}" for name, kind in COLUMNS[channel])
    return f"SELECT {cols}, CAST(NULL AS DATE) AS date WHERE false"


def _has_files(root: Root, channel: str) -> bool:
    from perps_tracker.dataset import arrow

    fs = arrow().fs
    if root.local:
        import os

        for _, dirs, files in os.walk(root.path(channel)):
            dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
            if any(f.endswith(".parquet") and not f.startswith(".") for f in files):
                return True
        return False
    try:
        infos = root.fs.get_file_info(fs.FileSelector(root.path(channel), recursive=True, allow_not_found=True))
    except OSError as e:
        raise TrackerError(f"cannot list {root.uri}: {str(e).splitlines()[0]}") from None
    return any(i.type == fs.FileType.File and i.base_name.endswith(".parquet") and not i.base_name.startswith(".")
               for i in infos)


def connect(root: str, filesystem: Any = None):
    """A DuckDB connection with the views `trades`, `bbo` and `book` over the dataset at `root`."""
    duck = duckdb()
    where = open_root(root, filesystem)
    con = duck.connect()
    for channel in CHANNELS:
        if not _has_files(where, channel):
            con.execute(f"CREATE VIEW {channel} AS {_empty(channel)}")
        elif where.local:
            glob = _quote(f"{where.path(channel)}/**/*.parquet")
            con.execute(f"CREATE VIEW {channel} AS SELECT * FROM read_parquet({glob}, hive_partitioning = true, "
                        "union_by_name = true, hive_types = {'exchange': VARCHAR, 'date': DATE})")
        else:
            con.register(f"_{channel}_files", _arrow_dataset(where, channel))
            con.execute(f"CREATE VIEW {channel} AS SELECT * FROM _{channel}_files")
    return con


def _arrow_dataset(root: Root, channel: str):
    import pyarrow as pa
    import pyarrow.dataset as ds

    from perps_tracker.dataset.layout import schema

    partitioning = ds.partitioning(pa.schema([("date", pa.date32())]), flavor="hive")
    full = pa.schema([*schema(channel), ("date", pa.date32())])
    return ds.dataset(root.path(channel), filesystem=root.fs, format="parquet", partitioning=partitioning,
                      schema=full)


def run(root: str, sql: str, filesystem: Any = None) -> Result:
    """Run `sql` over the dataset; a DuckDB error becomes a one-line TrackerError (its first line)."""
    duck = duckdb()
    con = connect(root, filesystem)
    try:
        cursor = con.execute(sql)
    except duck.Error as e:
        con.close()
        raise TrackerError(_first_line(e)) from None
    if cursor.description is None:
        con.close()
        return Result([], [], iter(()))
    columns = [d[0] for d in cursor.description]
    types = [str(d[1]) for d in cursor.description]

    def batches() -> Iterator[list[tuple]]:
        try:
            while True:
                try:
                    rows = cursor.fetchmany(BATCH)
                except duck.Error as e:
                    raise TrackerError(_first_line(e)) from None
                if not rows:
                    return
                yield rows
        finally:
            con.close()

    return Result(columns, types, batches())


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
