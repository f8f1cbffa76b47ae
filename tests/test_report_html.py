"""`report --format html` in headless Chromium (tests/browser.py), on a database filled by `backfill`
and live snapshots against the loopback fakes: the file is self-contained and loads with no console
error or request; each of the five charts is drawn with as many series and points as `report --json`'s
series give it; every section of the text report is there; a venue and a coin named with markup show
as text and run nothing; on a 375-px phone the page does not scroll sideways. Screenshots (desktop and
phone) go to $PERPS_TEST_ARTIFACTS, else tests/artifacts/."""

from __future__ import annotations

import json
import re
import sys

import pytest

from perps_tracker.render.report_lines import TITLES
from tests.dashboard_data import (
    DRAWN,
    HOSTILE_COIN,
    HOSTILE_VENUE,
    assert_drawn,
    expected_points,
    fill,
    invoke,
    plant_hostile,
)

KINDS = ["line", "stacked", "line", "heatmap", "bars"]


@pytest.fixture
def filled(runner, fake, monkeypatch, db_path):
    return fill(runner, fake, monkeypatch, db_path)


def write_report(runner, tmp_path, *args) -> tuple[str, dict]:
    out = tmp_path / "report.html"
    result = invoke(runner, "report", "-o", str(out), *args)
    assert result.exit_code == 0 and result.stdout == f"Wrote {out}\n", result.stderr
    doc = json.loads(invoke(runner, "report", "--json", *args).stdout)
    return out, doc


@pytest.mark.browser
def test_the_html_report_draws_every_chart_and_section(runner, filled, tmp_path, page):
    out, doc = write_report(runner, tmp_path, "--hours", "48")
    html = out.read_text()
    assert len(html.encode()) < 3 * 2**20
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing to fetch: no CDN, no font
    page.goto(out.as_uri())
    drawn = page.evaluate(DRAWN)
    page.assert_clean()
    assert [c["kind"] for c in drawn] == KINDS
    assert [c["declared"] for c in drawn] == [2, len(doc["series"]["venues"]), len(doc["series"]["venues"]),
                                              len(doc["series"]["funding"]["coins"]), 3]
    expected = expected_points(doc)
    assert_drawn(drawn, expected)
    assert expected[0][0] >= 40 and expected[4][0] == 3  # the backfilled hours, and three liquidation lines
    text = page.evaluate("document.body.innerText")
    for title in TITLES.values():
        assert title in text
    for line in doc["headline"]["missing"] + doc["liquidations"]["missing"]:
        assert " ".join(line.split()) in " ".join(text.split())
    assert doc["market"]["venues"][0]["exchange"] in text
    assert page.evaluate("document.querySelectorAll('a').length") == 0  # a file: no links to the dashboard

    page.hover_element("figure.chart svg", 0.6, 0.5)  # hover shows the values
    tip = page.evaluate("document.querySelector('figure.chart .tooltip').textContent")
    assert "UTC" in tip and "Composite score" in tip and "BTC price" in tip
    page.screenshot("report-html-desktop")

    page.set_viewport(375, 800, mobile=True)
    page.goto(out.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot("report-html-phone")
    page.assert_clean()


@pytest.mark.browser
def test_markup_from_a_venue_is_shown_as_text_and_never_runs(runner, filled, db_path, tmp_path, page):
    plant_hostile(db_path)
    out, doc = write_report(runner, tmp_path)
    assert HOSTILE_VENUE in doc["series"]["venues"] and doc["series"]["funding"]["coins"][0] == HOSTILE_COIN
    html = out.read_text()
    assert HOSTILE_VENUE not in html and HOSTILE_COIN not in html
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;venue" in html
    page.goto(out.as_uri())
    page.assert_clean()
    assert page.evaluate("window.__xss === undefined")
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    text = page.evaluate("document.body.innerText")
    assert HOSTILE_VENUE in text and HOSTILE_COIN in text
    assert_drawn(page.evaluate(DRAWN), expected_points(doc))
    page.hover_element("figure.chart[data-chart=heatmap] rect.cell", 0.5, 0.5)
    tip = page.evaluate("document.querySelector('figure.chart[data-chart=heatmap] .tooltip').textContent")
    assert tip.startswith(HOSTILE_COIN)


def test_html_by_suffix_to_stdout_and_saved(runner, filled, isolated, db_path, monkeypatch):
    result = invoke(runner, "report", "--format", "html")
    assert result.exit_code == 0 and result.stdout.startswith("<!DOCTYPE html>") and "Composite score" in result.stdout
    out = isolated / "r.htm"
    assert invoke(runner, "report", "-o", str(out)).exit_code == 0 and out.read_text().startswith("<!DOCTYPE html>")
    monkeypatch.delenv("PERPS_TRACKER_DB")
    (isolated / "data").mkdir()
    db_path.rename(isolated / "data" / "market_history.db")
    result = invoke(runner, "report", "--save", "--format", "html", "-q")
    assert result.exit_code == 0 and result.stdout == ""
    (saved,) = (isolated / "data" / "reports").glob("report-*.html")
    assert saved.name == "report-20261122-1100.html" and "</html>" in saved.read_text()


def test_help_does_not_import_the_html_renderer():
    import subprocess

    code = ("import sys; from perps_tracker.cli import main; sys.argv = ['perps-tracker', 'report', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('perps_tracker.render')))")
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])  # this tree's package, whatever is installed
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root).stdout
    assert "perps_tracker.render" in out
    assert "perps_tracker.render.report_html" not in out and "perps_tracker.render.charts" not in out
