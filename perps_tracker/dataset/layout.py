"""Where things are in the dataset, and what its files hold.

    <root>/<channel>/exchange=<id>/date=<YYYY-MM-DD>/<symbol>-<HH>-<host>-<pid>-<run>-<n>.parquet

`<host>-<pid>-<run>` names the writing process (`run`: its start, so that a restarted container
whose process is pid 1 again never reuses a name of the run before); `<n>` counts its files. A
file being written is `.<name>.tmp` beside its final name (a dot file: hidden from globs ending in
`.parquet` and from Spark, Hive and Trino, which skip dot and underscore files). A root is a local
directory, a `file://` URI or any URI pyarrow's filesystems open (`s3://bucket/prefix`, `gs://...`).
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from perps_tracker.errors import TrackerError
from perps_tracker.model.ticks import BBO, BOOK, COLUMNS, TRADES, hour_parts

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

# Parquet encodings per channel: dictionary pages for the text columns and for prices and sizes
# (a few thousand distinct values an hour), deltas for the times and trade ids (increasing,
# close together), plain zstd for what is left. ~8 bytes a trade (scripts/bench.py capture).
DICTIONARY = {
    TRADES: ["exchange", "symbol", "coin", "side", "price", "qty"],
    BBO: ["exchange", "symbol", "coin", "bid_px", "ask_px"],
    BOOK: ["exchange", "symbol", "coin", "side", "level", "price"],
}
DELTA = {TRADES: ["ts_ms", "recv_ms", "trade_id"], BBO: ["ts_ms", "recv_ms"], BOOK: ["ts_ms", "recv_ms"]}
ROW_GROUP = 262_144  # rows per row group: readers parallelise over row groups


def safe(name: str) -> str:
    """`name` fit for a file or directory name: anything but letters, digits, `.`, `_`, `-` becomes `_`."""
    return _UNSAFE.sub("_", name) or "_"


def host_name() -> str:
    return safe(socket.gethostname().split(".")[0])


def directory(channel: str, exchange: str, hour: int) -> str:
    """The partition directory, relative to the root, of a channel, venue and hour (`ts_ms // HOUR_MS`)."""
    return f"{channel}/exchange={safe(exchange)}/date={hour_parts(hour)[0]}"


def file_name(symbol: str, hour: int, writer: str, n: int | str) -> str:
    return f"{safe(symbol)}-{hour_parts(hour)[1]}-{writer}-{n}.parquet"


def temporary(path: str) -> str:
    head, _, name = path.rpartition("/")
    return f"{head}/.{name}.tmp" if head else f".{name}.tmp"


@lru_cache(maxsize=None)
def schema(channel: str):
    """The Arrow schema of a channel's files (model/ticks.COLUMNS)."""
    import pyarrow as pa

    types = {"string": pa.string(), "int64": pa.int64(), "int32": pa.int32(), "float64": pa.float64()}
    return pa.schema([(name, types[kind]) for name, kind in COLUMNS[channel]])


def write_options(channel: str) -> dict[str, Any]:
    return {"compression": "zstd", "use_dictionary": DICTIONARY[channel],
            "column_encoding": {name: ("DELTA_BYTE_ARRAY" if name == "trade_id" else "DELTA_BINARY_PACKED")
                                for name in DELTA[channel]},
            "row_group_size": ROW_GROUP}


@dataclass(frozen=True)
class Root:
    """An opened root: pyarrow filesystem, the base path on it, and whether it is this machine's disk."""

    fs: Any
    base: str
    local: bool
    uri: str

    def path(self, relative: str) -> str:
        return f"{self.base.rstrip('/')}/{relative}" if self.base else relative


def open_root(root: str, filesystem: Any = None) -> Root:
    """A root by path or URI; with `filesystem` (a pyarrow FileSystem), `root` is a path on it."""
    from perps_tracker.dataset import arrow

    pa = arrow()
    if filesystem is not None:
        local = isinstance(filesystem, pa.fs.LocalFileSystem)
        return Root(filesystem, os.path.abspath(root) if local else root.rstrip("/"), local, root)
    if "://" in root and not root.startswith("file://"):
        try:
            fs, base = pa.fs.FileSystem.from_uri(root)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, ValueError) as e:
            raise TrackerError(f"cannot open dataset root {root}: {str(e).splitlines()[0]}") from None
        return Root(fs, base.rstrip("/"), isinstance(fs, pa.fs.LocalFileSystem), root)
    path = root[len("file://"):] if root.startswith("file://") else root
    return Root(pa.fs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path)), True, root)
