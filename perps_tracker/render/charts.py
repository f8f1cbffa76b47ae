"""Charts for the HTML report and the `serve` dashboard: generated inline SVG, no dependency.

Why generated SVG rather than a vendored charting library (docs/architecture.md#charts): a page
stays one small self-contained file that opens offline (no CDN, no build step, nothing to update
when a library moves on), SVG and the ~100 lines of vanilla JS below have been stable in every
browser for a decade, and the markup is plain text that unit tests and a headless browser can
both inspect.

Each chart function takes plain data (UTC times in unix seconds, values as floats with None or NaN
for missing) and returns an HTML fragment: a `<figure class="chart">` holding a title, a legend,
an `<svg>` that scales to the page's width through its viewBox, a caption and the chart's data as
JSON for the hover tooltip. `page(...)` wraps fragments into a whole HTML document with the CSS and
the one shared script (`chart_css()`, `chart_script()` for a page assembled elsewhere).

- `line_chart`: time series, one or more, on a left and optionally a right axis.
- `stacked_area`: each time's values as shares of their sum (100%), stacked.
- `heatmap`: rows × columns of values, a diverging colour scale around 0, missing cells grey.
- `bars_with_line`: stacked bars per time (long and short liquidations) and a line on the right
  axis (the cascade score).

Every string that reaches the markup (titles, names, labels) is HTML-escaped, attributes included;
the JSON is escaped so that it cannot close its `<script>` element. Missing values leave gaps.
A series longer than `max_points` is downsampled into buckets of consecutive points: the mean of a
bucket's values (the sum for bars, so a bucket's bar is its total), plotted at the bucket's first
time; the caption says so.

For tests, each figure carries `data-chart` (its kind) and `data-series` (how many series), and each
drawn series a `data-points` count; a line is one `<path class="series">` whose `M`/`L` commands are
its points (a gap starts a new `M`), bars are one `<rect>` per point in a `<g class="series">`, a
stacked band's top edge is a `<path class="series">` like a line, a heatmap cell is one
`<rect class="cell">` (`class="cell missing"` when it has no value).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import Iterable, Sequence

W = 480  # viewBox width of every chart; the SVG scales to the page's width
H = 250  # viewBox height of the time charts
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 54, 54, 14, 26
MAX_POINTS = 1000  # per series of a line or area chart; longer ones are downsampled
MAX_BARS = 240  # bars get thinner than a pixel beyond this on a phone

# Tableau 10: distinct, colour-blind tolerant and readable on white.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
LONG_COLOR, SHORT_COLOR, LINE_COLOR = "#e15759", "#59a14f", "#3b3b3b"

UNITS = ("usd", "price", "pct", "signed_pct", "score", "num")


@dataclass(frozen=True)
class Series:
    """One named series: `values` aligned with the chart's times (None or NaN: missing).
    `axis` ("left" or "right") for a line chart; `color` (a CSS colour) or the palette's next."""

    name: str
    values: Sequence[float | None]
    axis: str = "left"
    color: str | None = None


# -- numbers ---------------------------------------------------------------------------------

def clean(x) -> float | None:
    """A finite float, or None for None, NaN and ±inf (missing: never drawn as 0)."""
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _fixed(x: float, digits: int) -> str:
    s = f"{x:.{digits}f}"
    return "0" if float(s) == 0 and digits == 0 else s


def _trim(s: str) -> str:
    return s.rstrip("0").rstrip(".") if "." in s else s


def _compact(a: float, tick: bool) -> str:
    """a ≥ 0 with three significant digits and K/M/B/T: 1.23B (ticks: trailing zeros dropped)."""
    for size, unit in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= size * 0.9995:
            v = a / size
            s = f"{v:.{2 if v < 9.995 else 1 if v < 99.95 else 0}f}"
            return (_trim(s) if tick else s) + unit
    s = f"{a:.{2 if a < 9.995 else 1 if a < 99.95 else 0}f}"
    return _trim(s) if tick else s


def fmt_value(v: float | None, unit: str) -> str:
    """How the tooltip writes a value; the page's script writes it the same way (`fmt` there)."""
    v = clean(v)
    if v is None:
        return "–"
    a = abs(v)
    neg = "-" if v < 0 else ""
    if unit == "usd":
        return f"{neg}${_compact(a, False)}"
    if unit == "price":
        if a >= 1000:
            return f"{neg}${a:,.0f}"
        return f"{neg}${a:.{2 if a >= 1 else 4}f}"
    if unit == "pct":
        return f"{neg}{a:.2f}%"
    if unit == "signed_pct":
        return f"{neg or '+'}{a:.2f}%"
    if unit == "score":
        return f"{neg or '+'}{a:.3f}"
    return f"{neg}{_compact(a, False)}"


def tick_label(v: float, unit: str, step: float) -> str:
    """An axis label: as short as the tick step allows (ticks are round numbers)."""
    a = abs(v)
    neg = "-" if v < 0 else ""
    if a < step * 1e-9:
        return "0" if unit not in ("pct", "signed_pct") else "0%"
    digits = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and not math.isclose(round(step, digits), step):  # 2.5, 0.25: one more
        digits += 1
    if unit in ("usd", "price"):
        return f"{neg}${_compact(a, True)}"
    if unit in ("pct", "signed_pct"):
        return f"{neg or ('+' if unit == 'signed_pct' else '')}{_trim(_fixed(a, digits))}%"
    if unit == "score":
        return f"{neg or '+'}{_trim(_fixed(a, digits))}"
    return f"{neg}{_compact(a, True)}" if a >= 1000 else f"{neg}{_trim(_fixed(a, digits))}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> tuple[float, float, float, list[float]]:
    """Round ticks covering [lo, hi]: (start, end, step, ticks) with steps of 1, 2, 2.5 or 5 × 10^k."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"no ticks for [{lo}, {hi}]")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    n = round((end - start) / step)
    ticks = [round(start + i * step, 12) + 0.0 for i in range(n + 1)]
    return ticks[0], ticks[-1], step, ticks


# -- time ------------------------------------------------------------------------------------

_HOUR, _DAY = 3600, 86400
_TIME_STEPS = [h * _HOUR for h in (1, 2, 3, 6, 12)] + [d * _DAY for d in (1, 2, 7, 14)]
_MONTH_STEPS = (1, 2, 3, 6, 12)


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


def fmt_utc(t: float) -> str:
    """`2024-05-01 13:00 UTC` (the tooltip's time; the script writes the same)."""
    return _utc(t).strftime("%Y-%m-%d %H:%M UTC")


def time_ticks(t0: float, t1: float, count: int = 6) -> list[tuple[float, str]]:
    """UTC ticks between t0 and t1 at a round step (hours, days, weeks, months), about `count` of them."""
    span = max(t1 - t0, 1)
    for step in _TIME_STEPS:
        if span / step <= count:
            first = math.ceil(t0 / step) * step
            if step == 7 * _DAY or step == 14 * _DAY:  # weeks start on Monday (the epoch was a Thursday)
                first = math.ceil((t0 - 4 * _DAY) / step) * step + 4 * _DAY
            out = []
            t = first
            while t <= t1:
                d = _utc(t)
                if step < _DAY and (d.hour or d.minute):
                    out.append((t, d.strftime("%H:%M")))
                else:
                    out.append((t, f"{d:%b} {d.day}"))
                t += step
            return out
    d0 = _utc(t0)
    for months in _MONTH_STEPS:
        if span / (months * 30.44 * _DAY) <= count:
            break
    out = []
    y, m = d0.year, d0.month
    if (d0.day, d0.hour, d0.minute, d0.second) != (1, 0, 0, 0):
        m += 1
    while True:
        y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
        if (m - 1) % months == 0:
            d = datetime(y, m, 1, tzinfo=timezone.utc)
            t = d.timestamp()
            if t > t1:
                return out
            out.append((t, str(y) if m == 1 else f"{d:%b}"))
        m += 1


# -- data preparation ------------------------------------------------------------------------

def _aligned(times: Sequence[float], series: Sequence[Series]) -> list[int]:
    ts = [int(t) for t in times]
    if any(b <= a for a, b in zip(ts, ts[1:])):
        raise ValueError("times must be strictly increasing")
    for s in series:
        if len(s.values) != len(ts):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(ts)} times")
        if s.axis not in ("left", "right"):
            raise ValueError(f"series {s.name!r}: axis must be 'left' or 'right', not {s.axis!r}")
    return ts


def downsample(times: Sequence[int], columns: Sequence[Sequence[float | None]], max_points: int,
               how: str = "mean") -> tuple[list[int], list[list[float | None]], int]:
    """Buckets of `size` consecutive points (size = ceil(n / max_points)), each at its first time:
    per column the mean (`how="mean"`) or sum (`"sum"`) of the bucket's values that are present,
    None when none is. Returns (times, columns, size); size 1 means the data is unchanged."""
    n = len(times)
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    size = max(1, math.ceil(n / max_points))
    cols = [[clean(v) for v in col] for col in columns]
    if size == 1:
        return list(times), cols, 1
    out_t = [times[i] for i in range(0, n, size)]
    out_cols = []
    for col in cols:
        out = []
        for i in range(0, n, size):
            present = [v for v in col[i:i + size] if v is not None]
            if not present:
                out.append(None)
            else:
                total = math.fsum(present)
                out.append(total if how == "sum" else total / len(present))
        out_cols.append(out)
    return out_t, out_cols, size


def _spacing(times: Sequence[int]) -> int | None:
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    return gaps[len(gaps) // 2] if gaps else None


def _duration(seconds: float) -> str:
    if seconds % _DAY == 0:
        return f"{seconds // _DAY:.0f} day" + ("s" if seconds != _DAY else "")
    if seconds % _HOUR == 0:
        return f"{seconds // _HOUR:.0f} hour" + ("s" if seconds != _HOUR else "")
    return f"{seconds / 60:.0f} min"


def _sample_note(n: int, kept: int, size: int, spacing: int | None, how: str) -> str:
    if size == 1:
        return ""
    what = f"{size} consecutive points" if spacing is None else _duration(size * spacing)
    verb = "the sum" if how == "sum" else "the mean"
    return f"Downsampled for size: each point is {verb} of {what} ({n:,} → {kept:,} points)."


def _r(v: float | None) -> float | None:
    """Six significant digits for the page's JSON (the tooltip writes at most four)."""
    return None if v is None else float(f"{v:.6g}")


def _json(obj) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>`, `&`, U+2028 or U+2029 in it."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    for ch, rep in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, rep)
    return text


def _n(x: float) -> str:
    """A coordinate with one decimal, no trailing `.0`."""
    s = f"{x:.1f}"
    return s[:-2] if s.endswith(".0") else s


# -- pieces of markup ------------------------------------------------------------------------

def _figure(kind: str, title: str, n_series: int, body: str, *, legend: str = "", caption: str = "",
            data: dict | None = None, unit_note: str = "") -> str:
    t = escape(title)
    parts = [f'<figure class="chart" data-chart="{kind}" data-series="{n_series}">',
             f'<div class="chart-title">{t}</div>']
    if legend:
        parts.append(legend)
    parts.append(body)
    if unit_note or caption:
        parts.append(f'<figcaption>{" ".join(escape(c) for c in (unit_note, caption) if c)}</figcaption>')
    if data is not None:
        parts.append(f'<script type="application/json" class="chart-data">{_json(data)}</script>')
    parts.append("</figure>")
    return "\n".join(parts)


def _legend(items: Iterable[tuple[str, str, str]]) -> str:
    """(name, colour, mark) per item; mark "line", "box"."""
    out = ['<ul class="legend">']
    for name, color, mark in items:
        out.append(f'<li><span class="mark {mark}" style="background:{escape(color)}"></span>{escape(name)}</li>')
    out.append("</ul>")
    return "".join(out)


def _svg_open(title: str, height: float, width: float = W, style: str = "") -> str:
    t = escape(title)
    st = f' style="{style}"' if style else ""
    return (f'<svg viewBox="0 0 {_n(width)} {_n(height)}" role="img" aria-label="{t}"{st} '
            f'xmlns="http://www.w3.org/2000/svg"><title>{t}</title>')


def _no_data(kind: str, title: str, caption: str) -> str:
    return _figure(kind, title, 0, '<p class="no-data">No data for this chart.</p>', caption=caption)


class _Frame:
    """The plot area of a time chart: x from times, a left and an optional right y scale."""

    def __init__(self, t0: float, t1: float, *, right: bool, height: float = H):
        self.x0, self.x1 = MARGIN_L, W - (MARGIN_R if right else 14)
        self.y0, self.y1 = MARGIN_T, height - MARGIN_B
        self.height = height
        self.t0, self.t1 = t0, t1 if t1 > t0 else t0 + 1

    def x(self, t: float) -> float:
        return self.x0 + (t - self.t0) / (self.t1 - self.t0) * (self.x1 - self.x0)

    @staticmethod
    def scale(lo: float, hi: float, y0: float, y1: float):
        return lambda v: y1 - (v - lo) / (hi - lo) * (y1 - y0)

    def y_axis(self, ticks: Sequence[float], step: float, unit: str, side: str, y) -> list[str]:
        out = []
        for v in ticks:
            py = _n(y(v))
            if side == "left":
                out.append(f'<line class="grid" x1="{self.x0}" x2="{self.x1}" y1="{py}" y2="{py}"/>')
                out.append(f'<text class="tick" x="{self.x0 - 5}" y="{py}" text-anchor="end" dy="0.32em">'
                           f'{escape(tick_label(v, unit, step))}</text>')
            else:
                out.append(f'<text class="tick" x="{self.x1 + 5}" y="{py}" dy="0.32em">'
                           f'{escape(tick_label(v, unit, step))}</text>')
        return out

    def x_axis(self) -> list[str]:
        out = [f'<line class="axis" x1="{self.x0}" x2="{self.x1}" y1="{self.y1}" y2="{self.y1}"/>']
        for k, (t, label) in enumerate(time_ticks(self.t0, self.t1)):
            px = _n(self.x(t))
            out.append(f'<line class="axis" x1="{px}" x2="{px}" y1="{self.y1}" y2="{self.y1 + 4}"/>')
            anchor = "start" if self.x(t) - self.x0 < 16 else "end" if self.x1 - self.x(t) < 16 else "middle"
            out.append(f'<text class="tick{" odd" if k % 2 else ""}" x="{px}" y="{self.y1 + 16}" '
                       f'text-anchor="{anchor}">{escape(label)}</text>')
        return out

    def overlay(self) -> list[str]:
        """The hover target and the cursor line the script moves."""
        return [f'<line class="cursor" x1="0" x2="0" y1="{self.y0}" y2="{self.y1}" visibility="hidden"/>',
                f'<rect class="hover" x="{self.x0}" y="{self.y0}" width="{_n(self.x1 - self.x0)}" '
                f'height="{_n(self.y1 - self.y0)}" fill="transparent"/>']


def _dots(d: str, color: str) -> str:
    """A visible dot on each isolated point of path data `d` (its `h0`): a round cap alone is tiny."""
    return "".join(f'<circle class="dot" cx="{x}" cy="{y}" r="2.5" fill="{escape(color)}"/>'
                   for x, y in re.findall(r"M(-?[\d.]+),(-?[\d.]+)h0", d))


def _polyline(xs: Sequence[float], ys: Sequence[float | None]) -> tuple[str, int]:
    """Path data through the points that are present: `M` after a gap, `L` otherwise; `h0` makes an
    isolated point a round dot. Returns (d, number of points)."""
    parts, run, count = [], 0, 0
    for x, y in zip(xs, ys):
        if y is None:
            if run == 1:
                parts.append("h0")
            run = 0
            continue
        parts.append(f'{"L" if run else "M"}{_n(x)},{_n(y)}')
        run += 1
        count += 1
    if run == 1:
        parts.append("h0")
    return "".join(parts), count


def _range(values: Iterable[float | None], fixed: tuple[float, float] | None, zero: bool = False):
    if fixed is not None:
        return fixed
    present = [v for v in values if v is not None]
    if not present:
        return (0.0, 1.0)
    lo, hi = min(present), max(present)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    return lo, hi


def _caption(times: Sequence[int], note: str, caption: str) -> str:
    span = f"{fmt_utc(times[0])} → {fmt_utc(times[-1])}." if times else ""
    return " ".join(p for p in (span, note, caption) if p)


def _series_json(name: str, color: str, unit: str, values: Sequence[float | None]) -> dict:
    return {"n": name, "c": color, "u": unit, "v": [_r(v) for v in values]}


def _check_unit(*units: str | None) -> None:
    for u in units:
        if u is not None and u not in UNITS:
            raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {u!r}")


# -- the charts ------------------------------------------------------------------------------

def line_chart(title: str, times: Sequence[int], series: Sequence[Series], *, left_unit: str = "num",
               right_unit: str | None = None, left_range: tuple[float, float] | None = None,
               right_range: tuple[float, float] | None = None, caption: str = "",
               max_points: int = MAX_POINTS) -> str:
    """Lines over time: `times` (unix seconds, increasing) and `series` aligned with them; those with
    `axis="right"` on a right axis in `right_unit`. `left_range`/`right_range` fix an axis (e.g. the
    composite score's (-1, 1)); otherwise it spans the data at round ticks. Units: see `fmt_value`."""
    _check_unit(left_unit, right_unit)
    ts = _aligned(times, series)
    if any(s.axis == "right" for s in series) and right_unit is None:
        raise ValueError("a series on the right axis needs right_unit")
    if not ts or not series:
        return _no_data("line", title, caption)
    ts2, cols, size = downsample(ts, [s.values for s in series], max_points)
    right = right_unit is not None
    f = _Frame(ts2[0], ts2[-1], right=right)
    svg = [_svg_open(title, H)]
    scales = {}
    for side, unit, fixed in (("left", left_unit, left_range), ("right", right_unit, right_range)):
        if side == "right" and not right:
            continue
        vals = [v for s, col in zip(series, cols) if s.axis == side for v in col]
        lo, hi, step, ticks = nice_ticks(*_range(vals, fixed))
        y = f.scale(lo, hi, f.y0, f.y1)
        scales[side] = y
        svg += f.y_axis(ticks, step, unit, side, y)
    svg += f.x_axis()
    xs = [f.x(t) for t in ts2]
    legend, data_series = [], []
    for i, (s, col) in enumerate(zip(series, cols)):
        color = s.color or PALETTE[i % len(PALETTE)]
        unit = right_unit if s.axis == "right" else left_unit
        y = scales[s.axis]
        d, count = _polyline(xs, [None if v is None else y(v) for v in col])
        svg.append(f'<path class="series" data-name="{escape(s.name)}" data-points="{count}" '
                   f'stroke="{escape(color)}" d="{d}"/>' + _dots(d, color))
        name = s.name + (" (right axis)" if s.axis == "right" and len(series) > 1 else "")
        legend.append((name, color, "line"))
        data_series.append(_series_json(s.name, color, unit, col))
    svg += f.overlay()
    svg.append("</svg>")
    note = _sample_note(len(ts), len(ts2), size, _spacing(ts), "mean")
    data = {"kind": "time", "x0": f.x0, "x1": f.x1, "t0": f.t0, "t1": f.t1, "t": ts2, "series": data_series}
    return _figure("line", title, len(series), "".join(svg), legend=_legend(legend),
                   caption=_caption(ts, note, caption), data=data)


def stacked_area(title: str, times: Sequence[int], series: Sequence[Series], *, caption: str = "",
                 max_points: int = MAX_POINTS) -> str:
    """Each time's values (≥ 0, e.g. venue volumes) as percentage shares of their sum, stacked to
    100%. A time where no series has a value (or all are 0) is a gap; at other times a missing
    value counts as a 0 share (the shares are of the series that have a value)."""
    ts = _aligned(times, series)
    if not ts or not series:
        return _no_data("stacked", title, caption)
    cols = [[clean(v) for v in s.values] for s in series]
    for s, col in zip(series, cols):
        if any(v is not None and v < 0 for v in col):
            raise ValueError(f"series {s.name!r} has a negative value: shares need values ≥ 0")
    shares: list[list[float | None]] = [[] for _ in series]
    for k in range(len(ts)):
        total = math.fsum(col[k] or 0.0 for col in cols)
        for j, col in enumerate(cols):
            shares[j].append(None if total <= 0 else (col[k] or 0.0) / total * 100)
    ts2, shares, size = downsample(ts, shares, max_points)
    f = _Frame(ts2[0], ts2[-1], right=False)
    y = f.scale(0.0, 100.0, f.y0, f.y1)
    svg = [_svg_open(title, H)]
    svg += f.y_axis([0, 25, 50, 75, 100], 25, "pct", "left", y)
    svg += f.x_axis()
    xs = [f.x(t) for t in ts2]
    valid = [shares[0][k] is not None for k in range(len(ts2))]
    lower = [0.0] * len(ts2)
    bands, edges, legend, data_series = [], [], [], []
    for i, (s, col) in enumerate(zip(series, shares)):
        color = s.color or PALETTE[i % len(PALETTE)]
        upper = [lo + (v or 0.0) for lo, v in zip(lower, col)]
        if i == len(series) - 1:
            upper = [100.0 if ok else u for ok, u in zip(valid, upper)]  # no sliver from rounding
        # the band: each run of valid times, along the upper edge and back along the lower one
        d, k = [], 0
        while k < len(ts2):
            if not valid[k]:
                k += 1
                continue
            j = k
            while j < len(ts2) and valid[j]:
                j += 1
            top = [f"{_n(xs[m])},{_n(y(upper[m]))}" for m in range(k, j)]
            bottom = [f"{_n(xs[m])},{_n(y(lower[m]))}" for m in range(j - 1, k - 1, -1)]
            d.append("M" + "L".join(top + bottom) + "Z")
            k = j
        bands.append(f'<path class="band" fill="{escape(color)}" d="{"".join(d)}"/>')
        edge, count = _polyline(xs, [y(u) if ok else None for ok, u in zip(valid, upper)])
        edges.append(f'<path class="series edge" data-name="{escape(s.name)}" data-points="{count}" '
                     f'stroke="{escape(color)}" d="{edge}"/>')
        legend.append((s.name, color, "box"))
        data_series.append(_series_json(s.name, color, "pct", col))
        lower = upper
    svg += bands + edges + f.overlay()
    svg.append("</svg>")
    note = _sample_note(len(ts), len(ts2), size, _spacing(ts), "mean")
    data = {"kind": "time", "x0": f.x0, "x1": f.x1, "t0": f.t0, "t1": f.t1, "t": ts2, "series": data_series}
    return _figure("stacked", title, len(series), "".join(svg), legend=_legend(legend),
                   caption=_caption(ts, note, caption), data=data)


def bars_with_line(title: str, times: Sequence[int], bars: Sequence[Series], line: Series | None = None, *,
                   bar_unit: str = "usd", line_unit: str = "num",
                   line_range: tuple[float, float] | None = (0.0, 1.0), caption: str = "",
                   max_bars: int = MAX_BARS) -> str:
    """Stacked bars per time (e.g. long and short liquidations per hour, in that order from the
    axis up) and an optional line on the right axis (e.g. the cascade score, 0 … 1 by default;
    `line_range=None` fits the data). Longer than `max_bars`: bars are summed and the line averaged
    over buckets. Bar values must be ≥ 0; a missing value draws no bar (0 draws an empty one)."""
    _check_unit(bar_unit, line_unit)
    everything = [*bars, *([line] if line else [])]
    ts = _aligned(times, everything)
    if not ts or not bars:
        return _no_data("bars", title, caption)
    ts2, bar_cols, size = downsample(ts, [s.values for s in bars], max_bars, how="sum")
    for s, col in zip(bars, bar_cols):
        if any(v is not None and v < 0 for v in col):
            raise ValueError(f"series {s.name!r} has a negative value: bars stack values ≥ 0")
    line_col = downsample(ts, [line.values], max_bars)[1][0] if line else []
    # bars are centred on their times: the axis runs half a bar's spacing beyond both ends
    spacing = (ts2[-1] - ts2[0]) / (len(ts2) - 1) if len(ts2) > 1 else (_spacing(ts) or _HOUR) * size
    f = _Frame(ts2[0] - spacing / 2, ts2[-1] + spacing / 2, right=line is not None)
    totals = [math.fsum(col[k] or 0.0 for col in bar_cols) for k in range(len(ts2))]
    lo, hi, step, ticks = nice_ticks(*_range(totals, None, zero=True))
    y = f.scale(lo, hi, f.y0, f.y1)
    svg = [_svg_open(title, H)]
    svg += f.y_axis(ticks, step, bar_unit, "left", y)
    width = max((f.x1 - f.x0) / len(ts2) * 0.8, 0.4)
    base = [0.0] * len(ts2)
    legend, data_series, groups = [], [], []
    defaults = (LONG_COLOR, SHORT_COLOR)
    for i, (s, col) in enumerate(zip(bars, bar_cols)):
        color = s.color or (defaults[i] if i < 2 else PALETTE[i % len(PALETTE)])
        rects = []
        for k, v in enumerate(col):
            if v is None:
                continue
            top = y(base[k] + v)
            rects.append(f'<rect x="{_n(f.x(ts2[k]) - width / 2)}" y="{_n(top)}" width="{_n(width)}" '
                         f'height="{_n(y(base[k]) - top)}"/>')
            base[k] += v
        groups.append(f'<g class="series" data-name="{escape(s.name)}" data-points="{len(rects)}" '
                      f'fill="{escape(color)}">{"".join(rects)}</g>')
        legend.append((s.name, color, "box"))
        data_series.append(_series_json(s.name, color, bar_unit, col))
    svg += groups
    if line is not None:
        l_lo, l_hi, l_step, l_ticks = nice_ticks(*_range(line_col, line_range))
        ly = f.scale(l_lo, l_hi, f.y0, f.y1)
        svg += f.y_axis(l_ticks, l_step, line_unit, "right", ly)
        d, count = _polyline([f.x(t) for t in ts2], [None if v is None else ly(v) for v in line_col])
        color = line.color or LINE_COLOR
        svg.append(f'<path class="series" data-name="{escape(line.name)}" data-points="{count}" '
                   f'stroke="{escape(color)}" d="{d}"/>' + _dots(d, color))
        legend.append((line.name + " (right axis)", color, "line"))
        data_series.append(_series_json(line.name, color, line_unit, line_col))
    svg += f.x_axis() + f.overlay()
    svg.append("</svg>")
    note = _sample_note(len(ts), len(ts2), size, _spacing(ts), "sum")
    if note and line is not None:
        note = note[:-1] + f"; {line.name}: the mean."
    data = {"kind": "time", "x0": f.x0, "x1": f.x1, "t0": f.t0, "t1": f.t1, "t": ts2, "series": data_series}
    return _figure("bars", title, len(everything), "".join(svg), legend=_legend(legend),
                   caption=_caption(ts, note, caption), data=data)


def _mix(a: str, b: str, f: float) -> str:
    ca = [int(a[i:i + 2], 16) for i in (1, 3, 5)]
    cb = [int(b[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(ca, cb))


NEG_COLOR, MID_COLOR, POS_COLOR, MISSING_COLOR = "#2166ac", "#f7f7f7", "#b2182b", "#d9d9d9"


def diverging(v: float, limit: float) -> str:
    """Blue below 0, white at 0, red above, full colour at ±limit (and beyond)."""
    f = max(-1.0, min(1.0, v / limit)) if limit > 0 else 0.0
    return _mix(MID_COLOR, POS_COLOR if f > 0 else NEG_COLOR, abs(f))


def heatmap(title: str, rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]],
            *, unit: str = "signed_pct", limit: float | None = None, caption: str = "") -> str:
    """A grid of `values[row][column]` (e.g. funding APR % of coins × venues): blue below 0, red above,
    white at 0, full colour at ±`limit` (default: the largest magnitude); a missing value is a grey
    cell with a dash."""
    _check_unit(unit)
    if len(values) != len(rows) or any(len(r) != len(columns) for r in values):
        raise ValueError(f"values must be {len(rows)} rows of {len(columns)} columns")
    if not rows or not columns:
        return _no_data("heatmap", title, caption)
    grid = [[clean(v) for v in row] for row in values]
    present = [abs(v) for row in grid for v in row if v is not None]
    if limit is None:
        limit = max(present, default=1.0) or 1.0
    # The grid is drawn at its natural size (cells 56 wide, text 11): it shrinks to fit a narrow
    # screen down to 85% and scrolls sideways inside its box below that, grows at most 40%.
    label_w = min(max(len(r) for r in rows), 16) * 7 + 12
    cell_w, cell_h = 56.0, 22
    longest = max(len(_short(c)) for c in columns)
    slanted = longest * 6.5 > cell_w - 4  # then the labels slant down to their columns (40°)
    if slanted:
        label_w = max(label_w, round(longest * 6 * 0.77 - cell_w / 2 + 4))
    top = round(longest * 6 * 0.64 + 12) if slanted else 20
    width = label_w + cell_w * len(columns) + 4
    height = top + cell_h * len(rows) + 4
    svg = [_svg_open(title, height, width, f"min-width:{width * 0.85:.0f}px;max-width:{width * 1.4:.0f}px")]
    for j, c in enumerate(columns):
        cx = label_w + (j + 0.5) * cell_w
        text = escape(_short(c))
        if slanted:
            svg.append(f'<text class="label" text-anchor="end" transform="translate({_n(cx)},{top - 5}) rotate(40)">'
                       f'{text}</text>')
        else:
            svg.append(f'<text class="label" x="{_n(cx)}" y="{top - 6}" text-anchor="middle">{text}</text>')
    cells, count = [], 0
    for i, (r, row) in enumerate(zip(rows, grid)):
        ry = top + i * cell_h
        svg.append(f'<text class="label" x="{label_w - 6}" y="{_n(ry + cell_h / 2)}" text-anchor="end" '
                   f'dy="0.32em">{escape(_short(r))}</text>')
        for j, v in enumerate(row):
            x = label_w + j * cell_w
            fill = MISSING_COLOR if v is None else diverging(v, limit)
            cls = "cell missing" if v is None else "cell"
            cells.append(f'<rect class="{cls}" data-r="{i}" data-c="{j}" x="{_n(x + 0.5)}" y="{_n(ry + 0.5)}" '
                         f'width="{_n(cell_w - 1)}" height="{cell_h - 1}" fill="{fill}"/>')
            count += v is not None
            strong = v is not None and abs(v) / limit > 0.6
            label = "–" if v is None else _cell_label(v, unit)
            cells.append(f'<text class="val{" strong" if strong else ""}" x="{_n(x + cell_w / 2)}" '
                         f'y="{_n(ry + cell_h / 2)}" text-anchor="middle" dy="0.32em">{escape(label)}</text>')
    svg.append(f'<g class="series" data-points="{count}">{"".join(cells)}</g>')
    svg.append("</svg></div>")
    svg.insert(0, '<div class="scroll">')
    step = 10 ** math.floor(math.log10(limit)) / 100  # three significant digits at most: 44.3%
    scale = (f'<div class="scale"><span>{escape(tick_label(-limit, unit, step))}</span>'
             f'<span class="bar" style="background:linear-gradient(90deg,{NEG_COLOR},{MID_COLOR},{POS_COLOR})">'
             f'</span><span>{escape(tick_label(limit, unit, step))}</span>'
             f'<span class="mark box" style="background:{MISSING_COLOR}"></span>no value</div>')
    data = {"kind": "heatmap", "rows": list(rows), "cols": list(columns), "u": unit,
            "v": [[_r(v) for v in row] for row in grid]}
    return _figure("heatmap", title, len(rows), "".join(svg), legend=scale, caption=caption, data=data)


def _short(label: str, most: int = 16) -> str:
    """A row or column label cut to fit (the tooltip has it whole)."""
    return label if len(label) <= most else label[:most - 1] + "…"


def _cell_label(v: float, unit: str) -> str:
    a = abs(v)
    sign = "-" if v < 0 else "+" if unit in ("signed_pct", "score") else ""
    return sign + (f"{a:.0f}" if a >= 99.5 else f"{a:.1f}" if a >= 9.95 else f"{a:.2f}")


# -- the page --------------------------------------------------------------------------------

_CSS = """
.chart{margin:0;padding:10px 12px 8px;border:1px solid #ddd;border-radius:8px;background:#fff;
 position:relative;min-width:0;overflow:hidden}
.chart-title{font-weight:600;font-size:15px;margin:0 0 4px}
.chart svg{display:block;width:100%;height:auto;overflow:visible;font-size:11px;touch-action:pan-y}
.chart figcaption{color:#666;font-size:12px;margin-top:4px}
.legend{list-style:none;margin:0 0 4px;padding:0;display:flex;flex-wrap:wrap;gap:2px 12px;font-size:12px}
.legend li{display:flex;align-items:center;gap:4px;overflow-wrap:anywhere}
.mark{display:inline-block;width:12px;height:12px;border-radius:2px;flex:none}
.mark.line{height:3px;border-radius:1px}
.scale{display:flex;align-items:center;gap:6px;font-size:12px;margin:0 0 4px;flex-wrap:wrap}
.scale .bar{display:inline-block;width:120px;height:10px;border-radius:2px}
.chart .grid{stroke:#e5e5e5;stroke-width:1}
.chart .axis{stroke:#888;stroke-width:1}
.chart .tick{fill:#555}
.chart path.series{fill:none;stroke-width:1.6;stroke-linejoin:round;stroke-linecap:round}
.chart path.edge{stroke-width:1}
.chart path.band{stroke:none;opacity:.85}
.chart .cursor{stroke:#333;stroke-width:1;stroke-dasharray:3 3;pointer-events:none}
.chart .val{fill:#222;font-size:10px;pointer-events:none}
.chart .val.strong{fill:#fff}
.chart rect.cell.hot{stroke:#000;stroke-width:1.5}
.chart .no-data{color:#666}
.chart .tooltip{position:absolute;z-index:2;pointer-events:none;background:rgba(255,255,255,.96);
 border:1px solid #bbb;border-radius:4px;padding:4px 6px;font-size:12px;line-height:1.35;
 box-shadow:0 1px 4px rgba(0,0,0,.15);white-space:nowrap;max-width:calc(100% - 16px);overflow:hidden}
.chart .tooltip b{display:block;font-weight:600}
.chart .tooltip .mark{width:9px;height:9px;margin-right:4px;vertical-align:-1px}
.chart .dot{pointer-events:none}
.chart .scroll{overflow-x:auto}
.chart .label{fill:#333;font-size:11px}
@media (max-width:600px){.chart{padding:8px 8px 6px}.chart svg{font-size:15px}
 .chart .tick.odd{display:none}}
"""

_SCRIPT = r"""
(function () {
  "use strict";
  function grp(s) { return s.replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function fix(a, d) { return a.toFixed(d); }
  function compact(a) {
    var units = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (var i = 0; i < units.length; i++) {
      if (a >= units[i][0] * 0.9995) {
        var v = a / units[i][0];
        return fix(v, v < 9.995 ? 2 : v < 99.95 ? 1 : 0) + units[i][1];
      }
    }
    return fix(a, a < 9.995 ? 2 : a < 99.95 ? 1 : 0);
  }
  function fmt(v, u) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2013";
    var a = Math.abs(v), neg = v < 0 ? "-" : "";
    if (u === "usd") return neg + "$" + compact(a);
    if (u === "price") return neg + "$" + (a >= 1000 ? grp(fix(a, 0)) : fix(a, a >= 1 ? 2 : 4));
    if (u === "pct") return neg + fix(a, 2) + "%";
    if (u === "signed_pct") return (neg || "+") + fix(a, 2) + "%";
    if (u === "score") return (neg || "+") + fix(a, 3);
    return neg + compact(a);
  }
  function utc(t) { return new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC"; }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function line(tip, color, label) {
    var row = el("div"), m = el("span", "mark box");
    m.style.background = color;
    row.appendChild(m);
    row.appendChild(document.createTextNode(label));
    tip.appendChild(row);
  }
  function place(fig, tip, cx, cy) {
    var fr = fig.getBoundingClientRect();
    tip.style.visibility = "hidden";
    tip.style.display = "block";
    var w = tip.offsetWidth, h = tip.offsetHeight, x = cx - fr.left, y = cy - fr.top;
    var left = x + 12 + w > fr.width - 4 ? x - 12 - w : x + 12;
    tip.style.left = Math.max(4, left) + "px";
    tip.style.top = Math.max(4, Math.min(y - h / 2, fr.height - h - 4)) + "px";
    tip.style.visibility = "visible";
  }
  function toSvg(svg, ev) {
    var p = svg.createSVGPoint();
    p.x = ev.clientX; p.y = ev.clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  function timeChart(fig, svg, d, tip) {
    var cursor = svg.querySelector(".cursor");
    function hide() { tip.style.display = "none"; cursor.setAttribute("visibility", "hidden"); }
    function show(ev) {
      var p = toSvg(svg, ev);
      if (p.x < d.x0 - 2 || p.x > d.x1 + 2) { hide(); return; }
      var t = d.t0 + (p.x - d.x0) / (d.x1 - d.x0) * (d.t1 - d.t0), lo = 0, hi = d.t.length - 1;
      while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (d.t[mid] <= t) lo = mid; else hi = mid; }
      var k = Math.abs(d.t[hi] - t) < Math.abs(t - d.t[lo]) ? hi : lo;
      var x = d.x0 + (d.t[k] - d.t0) / (d.t1 - d.t0) * (d.x1 - d.x0);
      cursor.setAttribute("x1", x); cursor.setAttribute("x2", x);
      cursor.setAttribute("visibility", "visible");
      tip.textContent = "";
      tip.appendChild(el("b", "", utc(d.t[k])));
      d.series.forEach(function (s) { line(tip, s.c, s.n + ": " + fmt(s.v[k], s.u)); });
      place(fig, tip, ev.clientX, ev.clientY);
    }
    svg.addEventListener("pointermove", show);
    svg.addEventListener("pointerdown", show);
    svg.addEventListener("pointerleave", hide);
  }
  function heatChart(fig, svg, d, tip) {
    var hot = null;
    function hide() { tip.style.display = "none"; if (hot) hot.classList.remove("hot"); hot = null; }
    function show(ev) {
      var cell = ev.target.closest ? ev.target.closest("rect.cell") : null;
      if (!cell) { hide(); return; }
      var r = +cell.getAttribute("data-r"), c = +cell.getAttribute("data-c");
      if (hot) hot.classList.remove("hot");
      hot = cell; cell.classList.add("hot");
      tip.textContent = "";
      tip.appendChild(el("b", "", d.rows[r] + " \u00b7 " + d.cols[c]));
      tip.appendChild(el("div", "", fmt(d.v[r][c], d.u)));
      place(fig, tip, ev.clientX, ev.clientY);
    }
    svg.addEventListener("pointermove", show);
    svg.addEventListener("pointerdown", show);
    svg.addEventListener("pointerleave", hide);
  }
  function init(fig) {
    var svg = fig.querySelector("svg"), src = fig.querySelector("script.chart-data");
    if (!svg || !src || fig.getAttribute("data-ready")) return;
    var d = JSON.parse(src.textContent), tip = el("div", "tooltip");
    tip.style.display = "none";
    tip.setAttribute("role", "status");
    fig.appendChild(tip);
    (d.kind === "heatmap" ? heatChart : timeChart)(fig, svg, d, tip);
    fig.setAttribute("data-ready", "1");
  }
  window.perpsCharts = { fmt: fmt, utc: utc, init: function () {
    Array.prototype.forEach.call(document.querySelectorAll("figure.chart"), init);
  } };
  window.perpsCharts.init();
})();
"""


def chart_css() -> str:
    """The charts' stylesheet (goes in a `<style>` element once per page)."""
    return _CSS.strip()


def chart_script() -> str:
    """The one shared script (once per page, after the charts): hover cursor and tooltips for every
    `figure.chart` on the page; `window.perpsCharts.init()` wires charts added later."""
    return _SCRIPT.strip()


def script_hash(script: str) -> str:
    """The CSP source that allows exactly this inline script."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


_PAGE_CSS = """
*{box-sizing:border-box}
body{margin:0;padding:12px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;
 background:#f6f6f4}
main{max-width:1200px;margin:0 auto}
h1{font-size:20px;margin:4px 0 2px}
.subtitle{color:#555;margin:0 0 12px}
@media (max-width:600px){body{padding:8px}}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));gap:14px}
"""


def page(title: str, body: str | Sequence[str], *, subtitle: str = "", head: str = "",
         connect_src: str = "") -> str:
    """A whole self-contained HTML document: `title` (text, escaped) as its <title> and heading, an
    optional `subtitle` (text), then `body`: markup (chart fragments, and anything the caller has
    escaped); a sequence is laid out as a grid of charts, one column on a phone. The page loads
    nothing: its Content-Security-Policy allows no network request (`connect_src`, e.g. "'self'",
    for a dashboard that fetches data) and no script but the chart script. `head`: extra trusted
    markup for <head> (a <style> block)."""
    script = chart_script()
    csp = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src {script_hash(script)}"
           + (f"; connect-src {connect_src}" if connect_src else ""))
    if not isinstance(body, str):
        body = '<div class="charts">\n' + "\n".join(body) + "\n</div>"
    t = escape(title)
    sub = f'<p class="subtitle">{escape(subtitle)}</p>' if subtitle else ""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">\n'
            f'<title>{t}</title>\n<style>{_PAGE_CSS.strip()}\n{chart_css()}</style>\n{head}</head>\n'
            f'<body>\n<main>\n<h1>{t}</h1>\n{sub}\n{body}\n</main>\n<script>{script}</script>\n</body>\n</html>\n')
