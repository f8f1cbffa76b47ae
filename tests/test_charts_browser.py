"""The charts of render/charts.py in headless Chromium (tests/browser.py): a page with one chart of
each kind, known data, a gap, a hostile venue name. It loads with no console error, exception or
network request; every series is drawn with as many points as the data has (counted in the DOM:
the `M`/`L` vertices of each line's path, the `<rect>`s of each bar series and heatmap), at the
places the data says; hovering shows the values; the hostile name is text and never runs.

Screenshots (desktop and 375-px phone) are written to $PERPS_TEST_ARTIFACTS, else tests/artifacts/.
"""

from __future__ import annotations

import json
import math
import os
import time

import pytest

from perps_tracker.render import charts
from perps_tracker.render.charts import Series, fmt_utc, fmt_value

pytestmark = pytest.mark.browser

HOSTILE = """<script>window.__xss=1</script><img src=x onerror="window.__xss=2">"'&amp; \u2028"""
T0 = 1714521600  # 2024-05-01 00:00 UTC
HOURS = [T0 + 3600 * i for i in range(48)]
GAP = {10, 11, 12, 19, 21}  # composite score missing there: index 20 is an isolated point

SCORE = [None if i in GAP else round(0.6 * math.sin(i / 6), 4) for i in range(48)]
BTC = [60000 + 1500 * math.cos(i / 9) + 37 * i for i in range(48)]
VOLUMES = {  # venue volume; hour 30 has no venue at all (a gap in the shares)
    "binance": [None if i == 30 else 5e10 + 1e9 * (i % 7) for i in range(48)],
    "bybit": [None if i == 30 else 2e10 for i in range(48)],
    HOSTILE: [None if i in (30, 31) else 1e10 + 5e8 * i for i in range(48)],
}
OI_HOURS = [T0 + 3600 * i for i in range(3000)]  # downsampled: 3 hours a point, 1,000 points
OI = {"binance": [8e9 + 1e7 * i for i in range(3000)],
      "okx": [None if 99 <= i < 399 else 4e9 + 2e9 * math.sin(i / 200) for i in range(3000)]}
COINS, VENUES = ["BTC", "ETH", "SOL", HOSTILE], ["binance", "hyperliquid", HOSTILE]
FUNDING = [[10.95, -3.2, None], [8.1, 12.4, 5.0], [-21.9, None, 2.2], [0.0, 40.0, -40.0]]
LONGS = [None if i == 5 else 1e6 * (i % 5) for i in range(24)]
SHORTS = [2e6 if i % 3 == 0 else 0.0 for i in range(24)]
CASCADE = [None if i == 5 else 0.05 * (i % 10) for i in range(24)]


def build_page() -> str:
    return charts.page("Chart check <&>", [
        charts.line_chart("Composite score and BTC price", HOURS,
                          [Series("Composite score", SCORE), Series("BTC price", BTC, axis="right")],
                          left_unit="score", right_unit="price", left_range=(-1, 1)),
        charts.stacked_area("Volume share by venue", HOURS, [Series(n, v) for n, v in VOLUMES.items()]),
        charts.line_chart("Open interest by venue", OI_HOURS, [Series(n, v) for n, v in OI.items()],
                          left_unit="usd"),
        charts.heatmap("Funding APR", COINS, VENUES, FUNDING),
        charts.bars_with_line("Liquidations per hour", HOURS[:24],
                              [Series("Longs liquidated", LONGS), Series("Shorts liquidated", SHORTS)],
                              Series("Cascade score", CASCADE), line_unit="score"),
    ], subtitle=f"hostile: {HOSTILE}")


# Every drawn series of every chart: kind, name, the element, its points (path vertices in
# client order, or rects), plus the path's length as the browser measures it.
DRAWN = """(() => Array.from(document.querySelectorAll("figure.chart")).map(fig => ({
  kind: fig.dataset.chart, declared: +fig.dataset.series,
  series: Array.from(fig.querySelectorAll("path.series, g.series")).map(el => {
    if (el.tagName === "path") {
      const d = el.getAttribute("d");
      const pts = Array.from(d.matchAll(/[ML](-?[\\d.]+),(-?[\\d.]+)/g), m => [+m[1], +m[2]]);
      return {name: el.dataset.name, el: "path", points: pts, subpaths: (d.match(/M/g) || []).length,
              length: el.getTotalLength(), stroke: getComputedStyle(el).stroke,
              visible: getComputedStyle(el).visibility === "visible" && el.getBBox().width > 0};
    }
    const rects = Array.from(el.querySelectorAll("rect"));
    return {name: el.dataset.name || null, el: "g", points: rects.map(r => [+r.getAttribute("x"),
            +r.getAttribute("y"), +r.getAttribute("height")]),
            missing: el.querySelectorAll("rect.missing").length,
            painted: rects.filter(r => r.getBoundingClientRect().width > 0).length};
  })})))()"""


@pytest.fixture
def report(page, tmp_path):
    path = tmp_path / "charts.html"
    path.write_text(build_page(), encoding="utf-8")
    page.goto(path.as_uri())
    return page


def present(values):
    return sum(v is not None for v in values)


def assert_linear(points, xs, ys):
    """The drawn (x, y) are one linear map each of the data's (time, value), to the 0.1 unit the
    markup rounds to: the chart is the data."""
    assert len(points) == len(xs) == len(ys)
    for coord, data in ((0, list(xs)), (1, list(ys))):
        drawn = [p[coord] for p in points]
        n = len(data)
        mx, my = sum(data) / n, sum(drawn) / n
        var = sum((v - mx) ** 2 for v in data)
        if var == 0:
            continue
        slope = sum((v - mx) * (d - my) for v, d in zip(data, drawn)) / var
        for v, d in zip(data, drawn):
            assert d == pytest.approx(my + slope * (v - mx), abs=0.12)


def test_page_loads_clean_and_draws_every_series_with_every_point(report):
    drawn = report.evaluate(DRAWN)
    report.assert_clean()
    assert [c["kind"] for c in drawn] == ["line", "stacked", "line", "heatmap", "bars"]
    assert [c["declared"] for c in drawn] == [2, 3, 2, 4, 3]

    score, btc = drawn[0]["series"]
    assert (score["name"], btc["name"]) == ("Composite score", "BTC price")
    assert len(score["points"]) == present(SCORE) == 43 and len(btc["points"]) == 48
    assert score["subpaths"] == 4  # the gaps split the line: 0-9, 13-18, the lone 20, 22-47 → 4 runs
    kept = [(t, v) for t, v in zip(HOURS, SCORE) if v is not None]
    assert_linear(score["points"], [t for t, _ in kept], [-v for _, v in kept])
    assert_linear(btc["points"], HOURS, [-v for v in BTC])
    assert score["length"] > 100 and btc["length"] > 100 and score["visible"]

    shares = drawn[1]["series"]
    assert [s["name"] for s in shares] == list(VOLUMES)
    assert [len(s["points"]) for s in shares] == [47, 47, 47]  # hour 30 is a gap; 31 is a 0 share
    assert [s["subpaths"] for s in shares] == [2, 2, 2]
    assert all(p[1] == pytest.approx(drawn[1]["series"][2]["points"][0][1]) for p in shares[2]["points"])  # top: 100%

    oi = drawn[2]["series"]
    assert [len(s["points"]) for s in oi] == [1000, 900]  # 3,000 hours in 3-hour buckets; okx misses 100
    assert [s["subpaths"] for s in oi] == [1, 2]

    (cells,) = drawn[3]["series"]
    assert len(cells["points"]) == cells["painted"] == 12 and cells["missing"] == 2

    longs, shorts, cascade = drawn[4]["series"]
    assert (longs["el"], shorts["el"], cascade["el"]) == ("g", "g", "path")
    assert len(longs["points"]) == present(LONGS) == 23 and len(shorts["points"]) == 24
    assert longs["painted"] == 23 and shorts["painted"] == 24
    assert len(cascade["points"]) == 23 and cascade["subpaths"] == 2
    heights = [h for _, _, h in longs["points"]]
    assert_linear([(0, h) for h in heights], range(23), [v for v in LONGS if v is not None])


def tooltip_at(page, fig_index: int, series_selector: str, vertex: int) -> str:
    """Hover the `vertex`th drawn point of a series of the `fig_index`th chart; the tooltip's text."""
    point = page.evaluate(f"""(() => {{
        const fig = document.querySelectorAll("figure.chart")[{fig_index}];
        fig.scrollIntoView({{block: "center"}});
        const el = fig.querySelector({json.dumps(series_selector)});
        const m = Array.from(el.getAttribute("d").matchAll(/[ML](-?[\\d.]+),(-?[\\d.]+)/g))[{vertex}];
        const svg = fig.querySelector("svg"), p = svg.createSVGPoint();
        p.x = +m[1]; p.y = +m[2];
        const c = p.matrixTransform(svg.getScreenCTM());
        return [c.x, c.y];
    }})()""")
    page.mouse_move(*point)
    return page.evaluate(f"""(() => {{
        const t = document.querySelectorAll("figure.chart")[{fig_index}].querySelector(".tooltip");
        return t && t.style.display !== "none" ? t.textContent : null;
    }})()""")


def test_hover_shows_the_values_under_the_pointer(report):
    # the lone point of the composite score: the 20th hour, 17th drawn vertex (after 0-9 and 13-18)
    text = tooltip_at(report, 0, "path.series", 16)
    assert text == (f"{fmt_utc(HOURS[20])}Composite score: {fmt_value(SCORE[20], 'score')}"
                    f"BTC price: {fmt_value(BTC[20], 'price')}")
    assert "score: -0.114" in text and "$59,831" in text  # the Python and JS formats agree, and are right

    text = tooltip_at(report, 0, "path.series:nth-of-type(2)", 11)  # BTC's vertex at hour 11: score gap
    assert text == f"{fmt_utc(HOURS[11])}Composite score: –BTC price: {fmt_value(BTC[11], 'price')}"

    cursor = report.evaluate("document.querySelector('figure.chart .cursor').getAttribute('visibility')")
    assert cursor == "visible"

    text = tooltip_at(report, 1, "path.series", 30)  # vertex 30 is hour 31 (30 is a gap): the hostile venue has no volume → 0 share
    total = VOLUMES["binance"][31] + VOLUMES["bybit"][31]
    assert text == (f"{fmt_utc(HOURS[31])}binance: {fmt_value(VOLUMES['binance'][31] / total * 100, 'pct')}"
                    f"bybit: {fmt_value(2e10 / total * 100, 'pct')}{HOSTILE}: 0.00%")

    text = tooltip_at(report, 4, "path.series", 0)
    assert text == f"{fmt_utc(HOURS[0])}Longs liquidated: $0.00Shorts liquidated: $2.00MCascade score: +0.000"

    report.hover_element("figure.chart rect.cell[data-r='3'][data-c='2']")
    heat = report.evaluate("document.querySelectorAll('figure.chart')[3].querySelector('.tooltip').textContent")
    assert heat == f"{HOSTILE} · {HOSTILE}-40.00%"
    report.hover_element("figure.chart rect.cell[data-r='2'][data-c='1']")
    heat = report.evaluate("document.querySelectorAll('figure.chart')[3].querySelector('.tooltip').textContent")
    assert heat == "SOL · hyperliquid–"

    report.mouse_move(2, 2)  # off the charts: the tooltips hide
    shown = report.evaluate("Array.from(document.querySelectorAll('.tooltip')).filter(t => t.style.display !== 'none').length")
    assert shown == 0
    report.assert_clean()


def test_hostile_names_are_text_and_never_run(report):
    assert report.evaluate("window.__xss === undefined") is True
    assert report.evaluate("document.querySelectorAll('main img, main script:not(.chart-data)').length") == 0
    legend = report.evaluate("document.querySelectorAll('.legend')[1].textContent")
    assert HOSTILE in legend
    assert report.evaluate("document.querySelector('.subtitle').textContent") == f"hostile: {HOSTILE}"
    assert report.evaluate("document.title") == "Chart check <&>"
    named = report.evaluate("Array.from(document.querySelectorAll('[data-name]'), e => e.dataset.name)")
    assert named.count(HOSTILE) == 1  # the edge of its volume share, the attribute intact

    report.assert_clean()


def test_screenshots_desktop_and_phone(report):
    shot = report.screenshot("charts-desktop")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 40_000
    report.set_viewport(375, 800, mobile=True)
    report.evaluate("location.reload()")
    report.evaluate("new Promise(r => document.readyState === 'complete' ? r() : addEventListener('load', r))")
    assert report.evaluate("innerWidth") == 375
    assert report.evaluate("document.documentElement.scrollWidth") <= 375
    widths = report.evaluate("Array.from(document.querySelectorAll('figure.chart svg'), s => s.getBoundingClientRect().right)")
    assert len(widths) == 5 and all(0 < w <= 375 for w in widths)
    text = tooltip_at(report, 0, "path.series", 0)  # hover works at phone width too
    assert text.startswith(fmt_utc(HOURS[0]))
    shot = report.screenshot("charts-phone")
    assert shot.stat().st_size > 40_000
    report.assert_clean()


def test_a_page_that_misbehaves_is_caught(page, tmp_path):
    """The harness is seen to fail: console errors, exceptions and a remote request are reported."""
    path = tmp_path / "bad.html"
    path.write_text("<!DOCTYPE html><p>x</p><script>console.error('boom'); null.x;</script>"
                    "<img src='http://example.com/pixel.png'>")
    page.goto(path.as_uri())
    report = " ".join(page.problems)
    assert "console.error: boom" in report and "exception: TypeError" in report
    assert "non-loopback address: http://example.com/pixel.png" in report
    with pytest.raises(AssertionError, match="problems"):
        page.assert_clean()


def test_two_years_of_hourly_charts_load_and_draw(page, tmp_path):
    """The report's chart set over two years (tests/test_charts.py builds it): drawn downsampled,
    hover works, a screenshot to look at."""
    from tests.test_charts import two_year_charts

    path = tmp_path / "two-years.html"
    path.write_text(charts.page("Two years of hourly snapshots", two_year_charts()), encoding="utf-8")
    assert path.stat().st_size < 3_000_000
    page.goto(path.as_uri())
    drawn = page.evaluate(DRAWN)
    assert [len(c["series"]) for c in drawn] == [2, 9, 9, 1, 3]
    assert all(0 < len(s["points"]) <= charts.MAX_POINTS for c in drawn for s in c["series"])
    assert [len(s["points"]) for s in drawn[4]["series"]] == [240, 240, 240]  # 17,520 h in 73-hour buckets
    assert tooltip_at(page, 2, "path.series", 500).count(": $") == 9
    page.screenshot("charts-two-years")
    page.assert_clean()


def test_a_hung_page_fails_in_seconds(browser):
    from tests.browser import BrowserError

    tab = browser.new_page()
    started = time.monotonic()
    with pytest.raises(BrowserError, match="no answer from the browser in 2 s"):
        tab.evaluate("for (;;) {}", timeout=2)
    assert time.monotonic() - started < 5
    tab.close()


def test_the_browser_leaves_no_process_behind():
    """Closed, its whole process group is gone: no stray renderer, no zombie (a zombie is still a
    member of its group, so signal 0 to the group would find it)."""
    from tests.browser import Browser, chromium_binary

    if chromium_binary() is None:
        pytest.skip("no headless browser: install chromium")
    with Browser.start() as b:
        group = b.proc.pid
        assert b.new_page().evaluate("1 + 1") == 2
        members = [p for p in os.listdir("/proc") if p.isdigit() and _pgid(p) == group]
        assert len(members) > 2  # the reaper, the browser, its helpers
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)


def _pgid(pid: str) -> int | None:
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[2])
    except (OSError, IndexError, ValueError):
        return None
