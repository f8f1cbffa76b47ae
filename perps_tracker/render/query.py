"""`query`'s output: a table (the first TABLE_ROWS rows), or CSV or JSON streamed batch by batch."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import math
import sys
from typing import IO, Any

from perps_tracker.render.output import Col, Grid, say

FORMATS = ("table", "csv", "json")
TABLE_ROWS = 1_000
_NUMBERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "FLOAT", "DOUBLE", "DECIMAL")


def _plain(value: Any) -> Any:
    """A value as JSON and CSV write it: times in ISO 8601, decimals as numbers, NaN and infinities null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.10g}" if math.isfinite(value) else None
    value = _plain(value)
    return value if isinstance(value, str) else json.dumps(value)


def write_result(result, fmt: str, out: IO | None = None) -> int:
    """Write `result` (dataset.query.Result) as `fmt`; returns the rows written."""
    out = sys.stdout if out is None else out
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        n = 0
        for batch in result.batches:
            writer.writerows([[("" if v is None else _plain(v)) for v in row] for row in batch])
            n += len(batch)
        return n
    if fmt == "json":
        encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
        out.write("[")
        n = 0
        for batch in result.batches:
            for row in batch:
                out.write(("," if n else "") + "\n" + encode({c: _plain(v) for c, v in zip(result.columns, row)}))
                n += 1
        out.write("\n]\n" if n else "]\n")
        return n
    return _table(result)


def _table(result) -> int:
    if not result.columns:
        say("Done (the statement returns no rows).")
        return 0
    grid = Grid(*(Col(c, "right" if t.split("(")[0] in _NUMBERS else "left") for c, t in zip(result.columns, result.types)))
    n = 0
    for batch in result.batches:
        for row in batch:
            if n < TABLE_ROWS:
                grid.add(*map(_cell, row))
            n += 1
    grid.print()
    if n > TABLE_ROWS:
        say(f"{n:,} rows; the first {TABLE_ROWS:,} shown (--format csv or json for all of them).", style="dim")
    else:
        say(f"{n:,} row{'s' if n != 1 else ''}.", style="dim")
    return n
