"""The pure core: normalised market data and every formula, as frozen dataclasses and functions.

No I/O and no clock: whatever needs the time takes it as an argument.
"""

from dataclasses import fields
from typing import Any


def values(record: Any, *, without: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass record's fields as {name: value}, in declaration order (its columns and JSON keys
    are declared once, by the dataclass)."""
    return {f.name: getattr(record, f.name) for f in fields(record) if f.name not in without}


def kinds(record_type: Any) -> list[tuple[str, str]]:
    """(name, kind) of a dataclass's fields, kind being `int`, `float`, `str` or `bool` (`str` for
    anything else): the columns' types for typed formats (Parquet)."""
    names = ("int", "float", "str", "bool")
    return [(f.name, next((k for k in names if k in str(f.type)), "str")) for f in fields(record_type)]
