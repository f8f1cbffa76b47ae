"""Small, strict helpers every venue parser uses.

Numbers may arrive as JSON strings or numbers, with fractions anywhere; `""`, `"NaN"`,
null and non-finite values mean *missing* (None), never 0.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping, TypeVar

from perps_tracker.model.history import HOUR

T = TypeVar("T")
MAX_FUNDING_INTERVAL_H = 8.0  # the longest funding interval of any venue: a longer spacing is a gap


def num(value: Any) -> float | None:
    """A finite float from a JSON string or number, else None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            result = float(text)
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def required(value: Any, skipped: "Skips") -> float | None:
    """`num(value)` of a value every included market should have (its 24 h volume, its price): a
    missing or malformed one is None and counted; the market keeps its other values."""
    result = num(value)
    if result is None:
        skipped()
    return result


def integer(value: Any) -> int | None:
    """An int from a JSON string or number (a whole-valued float is fine), else None."""
    result = num(value)
    if result is None or result != int(result):
        return None
    return int(result)


def ms_to_s(value: Any) -> int | None:
    """Unix seconds from a millisecond timestamp (string or number), else None."""
    ms = integer(value)
    return ms // 1000 if ms is not None else None


def listed(payload: Any, *keys: str) -> list:
    """The list at `keys` in a venue's answer (OKX `data`, Bybit `result`, `list`), or the answer itself
    without keys (Binance, Gate); ValueError naming the shape expected (`expected {result: {list: [...]}}`,
    `expected a list, got dict`) when the answer is not shaped like that."""
    value = payload
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, list):
        if not keys:
            raise ValueError(f"expected a list, got {type(payload).__name__}")
        shape = "[...]"
        for key in reversed(keys):
            shape = f"{{{key}: {shape}}}"
        raise ValueError(f"expected {shape}")
    return value


def ms_at(row: Any, key: str) -> int | None:
    """Unix seconds of the millisecond timestamp `row[key]` of an object row; None for another row."""
    return ms_to_s(row.get(key)) if isinstance(row, dict) else None


def ms_first(row: Any, width: int) -> int | None:
    """Unix seconds of the millisecond timestamp that opens an array row of at least `width` fields;
    None for another row."""
    return ms_to_s(row[0]) if isinstance(row, list) and len(row) >= width else None


def stamped_rows(rows: Iterable[Any], skipped: "Skips", time_of: Callable[[Any], int | None],
                 values_of: Callable[[Any], Any], keep: Callable[[Any], bool] | None = None, *,
                 optional: int = 0) -> list[tuple]:
    """(time, *values) of each row of a history page, in the order given: `time_of(row)` is None for a
    malformed row; `values_of(row)` gives a number or a tuple of them, None (or a tuple holding one) for
    a malformed row. A malformed row is skipped and counted; a timed row `keep` refuses (a candle still
    open) is dropped, not counted. The last `optional` values of a tuple may be None (a trade count a
    row may lack)."""
    out = []
    for row in rows:
        t = time_of(row)
        if t is not None and keep is not None and not keep(row):
            continue
        got = values_of(row) if t is not None else None
        values = got if isinstance(got, tuple) else (got,)
        if got is None or None in values[:len(values) - optional]:
            skipped()
            continue
        out.append((t, *values))
    return out


def ms_rows(rows: Iterable[Any], skipped: Skips, width: int, values_of: Callable[[list], Any], *,
            confirm: int | None = None, optional: int = 0) -> list[tuple]:
    """`stamped_rows` of array rows opening with a millisecond timestamp, `[ts, ...]` of at least `width`
    fields (`ms_first`: the candles of OKX, Bybit, Binance, Bitget). A row whose `confirm` field is "0" (OKX:
    a candle still open) is dropped."""
    def closed(row: list) -> bool:
        return len(row) <= confirm or str(row[confirm]) != "0"

    return stamped_rows(rows, skipped, lambda row: ms_first(row, width), values_of,
                        None if confirm is None else closed, optional=optional)


def funding_8h(rate: float | None, interval_hours: float | None) -> float | None:
    """A funding rate paid every `interval_hours` as its 8-hour equivalent (rate × 8 / interval)."""
    if rate is None or interval_hours is None or interval_hours <= 0:
        return None
    return rate * 8.0 / interval_hours


def seconds(value: Any) -> int | None:
    """Unix seconds from a timestamp in seconds (string or number; a fraction is cut off), else None."""
    s = num(value)
    return int(s) if s is not None else None


def funding(rate: float | None, interval_hours: float | None, next_time_ms: Any = None, *,
            next_time_s: Any = None) -> dict[str, Any]:
    """A market's funding fields (`Market(**funding(...))`): the rate as paid, its interval, the
    8-hour equivalent and the next settlement in Unix seconds, from `next_time_ms` (milliseconds) or
    `next_time_s` (seconds: Gate.io). A time of 0 or less is a venue's "none" (Binance sends 0 for a
    contract without funding): None, not a bad value."""
    hours = interval_hours if interval_hours is not None and interval_hours > 0 else None
    next_time = ms_to_s(next_time_ms) if next_time_ms is not None else seconds(next_time_s)
    return {"funding_rate": rate, "funding_interval_h": hours, "funding_rate_8h": funding_8h(rate, hours),
            "next_funding_time": next_time if next_time is not None and next_time > 0 else None}


def funding_per_8h(settlements: Iterable[tuple[int, float]], interval_hours: float | None, *,
                   whole_hours: bool = False, next_spacing: bool = True) -> dict[int, float]:
    """Settled rates (settlement time s, rate) as {settlement time: rate per 8 h} (`funding_8h`).

    A settled rate covers the period since the previous settlement, so the spacing of the settlements
    is the interval (intervals change over time). The spacing is taken when it is at most 8 h (and,
    with `whole_hours`, a whole number of hours); otherwise (the oldest settlement, one after a gap)
    `interval_hours`, the symbol's interval today as live scales by; if that is None too, the spacing
    to the next settlement (unless `next_spacing` is off). A rate left without an interval is dropped.
    """
    rows = sorted(dict(settlements).items())
    out = {}
    for i, (t, rate) in enumerate(rows):
        spacing = (t - rows[i - 1][0]) / HOUR if i > 0 else None
        usable = (spacing is not None and 0 < spacing <= MAX_FUNDING_INTERVAL_H
                  and (not whole_hours or spacing == int(spacing)))
        hours = spacing if usable else interval_hours
        if hours is None and next_spacing and i + 1 < len(rows):
            hours = (rows[i + 1][0] - t) / HOUR
        value = funding_8h(rate, hours)
        if value is not None:
            out[t] = value
    return out


def funding_series(settlements: Iterable[tuple[int, float]], interval_hours: float | None, start: int, end: int,
                   *, whole_hours: bool = False, next_spacing: bool = True) -> dict[int, float]:
    """`funding_per_8h` of the settlements in [start, end); the spacings use every settlement given, so
    pass the one before `start` too."""
    per_8h = funding_per_8h(settlements, interval_hours, whole_hours=whole_hours, next_spacing=next_spacing)
    return {t: rate for t, rate in per_8h.items() if start <= t < end}


def long_share_of(ratio: float | None) -> float | None:
    """Long accounts' share R / (1 + R) of a long/short account ratio R; None for a missing or negative R."""
    return ratio / (1 + ratio) if ratio is not None and ratio >= 0 else None


def pct_change(last: float | None, reference: float | None) -> float | None:
    """(last / reference − 1) × 100, or None unless both prices are there and positive."""
    if last is None or reference is None or last <= 0 or reference <= 0:
        return None
    return (last / reference - 1.0) * 100.0


def newest(rows: Iterable[Any], time_of) -> Any | None:
    """The row with the largest timestamp (`time_of(row)` → number or None); order is not trusted."""
    best, best_t = None, None
    for row in rows:
        t = num(time_of(row))
        if t is not None and (best_t is None or t > best_t):
            best, best_t = row, t
    return best


def field(row: Mapping[str, Any], *names: str) -> Any:
    """The first of `names` present in `row` with a non-empty value."""
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return value
    return None


def join_markets(tickers: Mapping[str, dict], included: Mapping[str, T],
                 build: Callable[[dict, T], Any], skipped: "Skips") -> list:
    """`build(ticker, instrument)` for each included instrument, joined by symbol.

    Tickers of symbols that are not included are ignored; an included instrument without a
    ticker is skipped and counted. A bad value inside a ticker is `build`'s to count: the market stays.
    """
    markets = []
    for symbol, instrument in included.items():
        ticker = tickers.get(symbol)
        if ticker is None:
            skipped()
        else:
            markets.append(build(ticker, instrument))
    return markets


class Skips:
    """Counts records that could not be used (missing or malformed fields)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, n: int = 1) -> None:
        self.count += n


def venue_message(payload: Any) -> str | None:
    """The human message inside a venue's error body, if any: also a JSON-RPC error object
    (Deribit `{"jsonrpc": "2.0", "error": {"code": 10028, "message": "too_many_requests"}}`)."""
    if isinstance(payload, Mapping):
        if isinstance(payload.get("error"), Mapping):
            return venue_message(payload["error"])
        for key in ("msg", "retMsg", "message", "error", "label"):
            value = payload.get(key)
            if isinstance(value, str) and value.strip():
                code = payload.get("code", payload.get("retCode", payload.get("label")))
                return f"{value.strip()} (code {code})" if code not in (None, "", value) else value.strip()
        errors = payload.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
            return venue_message(errors[0])
    return None
