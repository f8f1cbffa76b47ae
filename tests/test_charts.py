"""render/charts.py without a browser: numbers and ticks, gaps, downsampling, escaping, sizes.
(tests/test_charts_browser.py draws the same charts in headless Chromium.)"""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from html import unescape
from html.parser import HTMLParser

import pytest

from perps_tracker.render import charts
from perps_tracker.render.charts import Series, fmt_value, nice_ticks, tick_label, time_ticks

T0 = 1714521600  # 2024-05-01 00:00 UTC
HOSTILE = """<script>alert(1)</script>"'&amp;\u2028</script><!--"""
VENUES = ["binance", "bybit", "okx", "bitget", "gateio", "hyperliquid", "asterdex", "dydx", "deribit"]
COINS = ["BTC", "ETH", "SOL", "XRP", "DOGE", "BNB", "ADA", "AVAX", "LINK", "SUI", "PEPE", "WIF"]


def hours(n: int, start: int = T0) -> list[int]:
    return [start + 3600 * i for i in range(n)]


def two_year_charts(n: int = 2 * 8760, seed: int = 1) -> list[str]:
    """The report's chart set over two years of hourly snapshots, nine venues, twelve coins."""
    rnd = random.Random(seed)
    ts = hours(n)
    score, btc, price = [], [], 60000.0
    for i in range(n):
        price *= math.exp(rnd.gauss(0, 0.004))
        btc.append(price)
        score.append(None if rnd.random() < 0.01 else max(-1.0, min(1.0, math.sin(i / 300) * 0.7 + rnd.gauss(0, 0.1))))
    volumes = [Series(v, [None if rnd.random() < 0.02 else rnd.uniform(1e9, 6e10) / (k + 1) for _ in ts])
               for k, v in enumerate(VENUES)]
    oi = [Series(v, [None if rnd.random() < 0.02 else 1e10 / (k + 1) * (1 + 0.3 * math.sin(i / 500 + k))
                     for i in range(n)]) for k, v in enumerate(VENUES)]
    funding = [[None if rnd.random() < 0.1 else rnd.gauss(8, 15) for _ in VENUES] for _ in COINS]
    longs = [rnd.expovariate(1 / 5e6) for _ in ts]
    shorts = [rnd.expovariate(1 / 4e6) for _ in ts]
    cascade = [min(1.0, rnd.expovariate(1 / 0.15)) for _ in ts]
    return [
        charts.line_chart("Composite score and BTC price", ts,
                          [Series("Composite score", score), Series("BTC price", btc, axis="right")],
                          left_unit="score", right_unit="price", left_range=(-1, 1)),
        charts.stacked_area("Venue volume share", ts, volumes),
        charts.line_chart("Open interest by venue", ts, oi, left_unit="usd"),
        charts.heatmap("Funding by coin and venue (APR)", COINS, VENUES, funding),
        charts.bars_with_line("Liquidations", ts, [Series("Longs", longs), Series("Shorts", shorts)],
                              Series("Cascade score", cascade), line_unit="score"),
    ]


# -- numbers, ticks, times ---------------------------------------------------------------------

@pytest.mark.parametrize("value, unit, text", [
    (1.234e9, "usd", "$1.23B"), (-5.5e6, "usd", "-$5.50M"), (999.4, "usd", "$999"), (0.5, "usd", "$0.50"),
    (67234.56, "price", "$67,235"), (12.345, "price", "$12.35"), (0.123456, "price", "$0.1235"),
    (45.678, "pct", "45.68%"), (-3.2, "signed_pct", "-3.20%"), (10.95, "signed_pct", "+10.95%"),
    (0.1234, "score", "+0.123"), (-0.5, "score", "-0.500"), (0.0, "score", "+0.000"),
    (1500, "num", "1.50K"), (None, "usd", "–"), (float("nan"), "pct", "–"), (float("inf"), "num", "–"),
])
def test_fmt_value(value, unit, text):
    assert fmt_value(value, unit) == text


@pytest.mark.parametrize("lo, hi, ticks", [
    (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]),
    (-1, 1, [-1, -0.5, 0, 0.5, 1]),
    (0.13, 0.87, [0, 0.2, 0.4, 0.6, 0.8, 1]),
    (59000, 63000, [59000, 60000, 61000, 62000, 63000]),
    (0, 3.7e10, [0, 1e10, 2e10, 3e10, 4e10]),
    (5, 5, [4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]),
    (0, 0, [-1, -0.5, 0, 0.5, 1]),
])
def test_nice_ticks_are_round_and_cover_the_data(lo, hi, ticks):
    start, end, step, got = nice_ticks(lo, hi)
    assert got == pytest.approx(ticks) and start <= lo and end >= hi
    assert all(t == round(t / step) * step or math.isclose(t, round(t / step) * step) for t in got)


@pytest.mark.parametrize("value, unit, step, text", [
    (2.5e9, "usd", 5e8, "$2.5B"), (3e10, "usd", 1e10, "$30B"), (0, "usd", 1e9, "0"), (62500, "price", 500, "$62.5K"),
    (0.5, "score", 0.5, "+0.5"), (-1, "score", 0.5, "-1"), (0, "score", 0.5, "0"), (75, "pct", 25, "75%"),
    (-12.5, "signed_pct", 2.5, "-12.5%"), (0.25, "num", 0.05, "0.25"), (2000, "num", 500, "2K"),
])
def test_tick_labels_are_short(value, unit, step, text):
    assert tick_label(value, unit, step) == text


def test_time_ticks_pick_a_round_utc_step():
    day = time_ticks(T0, T0 + 86400)
    assert [label for _, label in day] == ["May 1", "06:00", "12:00", "18:00", "May 2"]
    week = time_ticks(T0, T0 + 7 * 86400)
    assert [label for _, label in week] == ["May 1", "May 3", "May 5", "May 7"]
    two_years = time_ticks(T0, T0 + 2 * 365 * 86400)
    assert [label for _, label in two_years] == ["Jul", "2025", "Jul", "2026"]
    assert all(t % 3600 == 0 for t, _ in day + week + two_years)
    assert charts.fmt_utc(T0 + 13 * 3600) == "2024-05-01 13:00 UTC"


# -- gaps and downsampling ------------------------------------------------------------------

def paths(html: str) -> list[str]:
    return re.findall(r'<path class="series[^"]*" [^>]*d="([^"]*)"', html)


def test_missing_values_leave_gaps_never_zeros():
    values = [1.0, 2.0, None, float("nan"), 5.0, None, 7.0, 8.0]
    html = charts.line_chart("t", hours(8), [Series("s", values)])
    (d,) = paths(html)
    assert d.count("M") == 3 and d.count("L") == 2  # runs [1, 2], [5] alone, [7, 8]
    assert "h0" in d and html.count('class="dot"') == 1  # the lone point is a visible dot
    data = json.loads(re.search(r'<script type="application/json" class="chart-data">(.*?)</script>', html).group(1))
    assert data["series"][0]["v"] == [1.0, 2.0, None, None, 5.0, None, 7.0, 8.0]
    bars = charts.bars_with_line("b", hours(4), [Series("long", [1.0, None, 0.0, 2.0])])
    assert bars.count("<rect x=") == 3  # no bar for the missing hour; 0 draws an empty one


def test_downsample_buckets_means_and_sums():
    ts = hours(10)
    col = [1, 2, 3, None, None, None, 7, 8, 9, 10]
    t2, (mean,), size = charts.downsample(ts, [col], 4)
    assert size == 3 and t2 == [ts[0], ts[3], ts[6], ts[9]]
    assert mean == [2.0, None, 8.0, 10.0]
    assert charts.downsample(ts, [col], 4, how="sum")[1][0] == [6.0, None, 24.0, 10.0]
    assert charts.downsample(ts, [col], 10) == (ts, [[float(v) if v else None for v in col]], 1)


@pytest.mark.parametrize("n", [999, 1000, 1001, 17520])
def test_long_series_are_downsampled_to_at_most_max_points(n):
    html = charts.line_chart("t", hours(n), [Series("s", [float(i) for i in range(n)])])
    (d,) = paths(html)
    points = d.count("M") + d.count("L")
    assert points <= charts.MAX_POINTS and points == math.ceil(n / math.ceil(n / charts.MAX_POINTS))
    assert ("Downsampled" in html) == (n > charts.MAX_POINTS)
    if n == 17520:
        assert "each point is the mean of 18 hours (17,520 → 974 points)" in html
    bars = charts.bars_with_line("b", hours(n), [Series("x", [1.0] * n)])
    assert bars.count("<rect x=") <= charts.MAX_BARS


def test_stacked_shares_sum_to_100_and_a_time_without_data_is_a_gap():
    html = charts.stacked_area("s", hours(3), [Series("a", [1, None, 0]), Series("b", [3, None, 0])])
    data = json.loads(re.search(r'class="chart-data">(.*?)</script>', html).group(1))
    assert [s["v"] for s in data["series"]] == [[25.0, None, None], [75.0, None, None]]
    assert [d.count("M") for d in paths(html)] == [1, 1]
    with pytest.raises(ValueError, match="negative"):
        charts.stacked_area("s", hours(1), [Series("a", [-1])])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="2 values for 3 times"):
        charts.line_chart("t", hours(3), [Series("s", [1, 2])])
    with pytest.raises(ValueError, match="increasing"):
        charts.line_chart("t", [2, 1], [Series("s", [1, 2])])
    with pytest.raises(ValueError, match="right_unit"):
        charts.line_chart("t", hours(2), [Series("s", [1, 2], axis="right")])
    with pytest.raises(ValueError, match="unit"):
        charts.line_chart("t", hours(2), [Series("s", [1, 2])], left_unit="furlongs")
    with pytest.raises(ValueError, match="rows"):
        charts.heatmap("h", ["a"], ["x", "y"], [[1.0]])
    empty = charts.line_chart("t", [], [])
    assert 'data-series="0"' in empty and "No data" in empty


# -- escaping -------------------------------------------------------------------------------

class Collector(HTMLParser):
    """Every start tag, attribute value and text node of a document, as the HTML parser reads them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text, self.scripts = [], [], [], []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [v for _, v in attrs if v]
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        (self.scripts if self._in_script else self.text).append(data)


def test_hostile_strings_stay_text_everywhere():
    html = charts.page(HOSTILE, [
        charts.line_chart(HOSTILE, hours(3), [Series(HOSTILE, [1, 2, 3])], caption=HOSTILE),
        charts.stacked_area(HOSTILE, hours(2), [Series(HOSTILE, [1, 2], color='red" onload="x')]),
        charts.heatmap(HOSTILE, [HOSTILE], [HOSTILE], [[1.0]]),
        charts.bars_with_line(HOSTILE, hours(2), [Series(HOSTILE, [1, 2])], Series(HOSTILE, [0.1, 0.2])),
    ], subtitle=HOSTILE)
    parsed = Collector()
    parsed.feed(html)
    # one <script> per chart's data and the chart script: the hostile `<script>` never became a tag
    assert parsed.tags.count("script") == 5 and "img" not in parsed.tags
    assert HOSTILE in parsed.text and HOSTILE in parsed.attrs  # shown and labelled as written
    assert 'red" onload="x' in parsed.attrs and not any(a.startswith("x") for a in parsed.attrs)
    for body in parsed.scripts[:-1]:  # the chart data: JSON that never closes its element
        assert "<" not in body and ">" not in body and "&" not in body and "\u2028" not in body
        data = json.loads(body)
        names = [s["n"] for s in data.get("series", [])] + data.get("rows", []) + data.get("cols", [])
        assert names and all(n == HOSTILE for n in names)


def test_page_allows_only_its_own_script():
    html = charts.page("p", [])
    csp = unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1))
    assert "default-src 'none'" in csp and charts.script_hash(charts.chart_script()) in csp
    assert f"<script>{charts.chart_script()}</script>" in html
    assert "connect-src 'self'" in unescape(charts.page("p", [], connect_src="'self'"))
    assert not re.search(r"(?:src|href)=\"https?:", html) and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", "")


# -- size -----------------------------------------------------------------------------------

def test_two_years_of_hourly_charts_stay_well_under_the_page_budget():
    html = charts.page("Two years", two_year_charts())
    size = len(html.encode())
    assert size < 1_500_000, f"{size:,} bytes"  # the budget is 3 MB for the whole report
    assert size > 200_000  # the data really is there: 5 charts, 24 series of ~1,000 points


def test_charts_module_is_not_imported_by_the_cli():
    code = "import sys, perps_tracker.cli; print('perps_tracker.render.charts' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
