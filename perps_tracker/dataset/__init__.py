"""The capture dataset (docs/capture.md): trades, best bid/offer and book levels as hive-partitioned
Parquet files, written by `DatasetWriter` through a local journal, and read back with DuckDB (`query`).

At the storage level beside `storage/` (SQL) and `exchanges/` (HTTP, websockets), never importing
either: it is file I/O. pyarrow and DuckDB are an optional extra (`perps-tracker[capture]`),
imported only by the functions that need them, through `arrow()` and `duckdb()`, which turn a
missing library into one clear `TrackerError`.
"""

from __future__ import annotations

from perps_tracker.errors import TrackerError

EXTRA = "pip install 'perps-tracker[capture]'"
DEFAULT_ROOT = "data/ticks"  # relative to the working directory, like the database


def arrow():
    """pyarrow, with its Parquet and filesystem modules loaded; TrackerError naming the extra if missing."""
    from perps_tracker import import_pyarrow

    try:
        import_pyarrow()
        import pyarrow
        import pyarrow.fs  # noqa: F401
        import pyarrow.ipc  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise TrackerError(f"the capture dataset needs pyarrow, which is not installed: {EXTRA}") from None
    return pyarrow


def duckdb():
    """The duckdb module; TrackerError naming the extra if missing."""
    try:
        import duckdb
    except ImportError:
        raise TrackerError(f"`query` needs DuckDB, which is not installed: {EXTRA}") from None
    return duckdb
