"""`perps-tracker trend`: score trend, BTC volatility regime and chart on constructed series
whose answers are known (docs/history.md has the definitions)."""

from __future__ import annotations

import json
import math
import random
import statistics

import pytest

from perps_tracker.cli import cli
from perps_tracker.model.analysis import (
    COMPRESSED,
    ELEVATED,
    NORMAL,
    STABLE,
    STRENGTHENING,
    WEAKENING,
    fit_line,
    hourly_returns,
    score_trend,
    trend_direction,
    volatility_regime,
)
from perps_tracker.render.history import braille_chart
from tests.conftest import ts
from tests.synthetic_history import store_history

H = 3600
T0 = ts(2026, 1, 1)


def series(values, start=T0):
    return [(start + k * H, v) for k, v in enumerate(values)]


# -- least-squares trend ---------------------------------------------------------------------


def test_linear_series_has_its_slope_and_r2_of_one():
    slope, r2 = fit_line(series([0.1 + 0.02 * k for k in range(24)]))
    assert slope == pytest.approx(0.02) and r2 == pytest.approx(1.0)


def test_noisy_series_by_hand():
    # y = 0, 1, 0, 1 at hours 0..3: x̄ = 1.5, ȳ = 0.5, Sxy = 0.75 − 0.25 − 0.25 + 0.75 = 1,
    # Sxx = 5, Syy = 1 → slope 1/5 = 0.2 per hour, r² = 1² / (5 · 1) = 0.2 (< 0.25: STABLE).
    slope, r2 = fit_line(series([0.0, 1.0, 0.0, 1.0]))
    assert slope == pytest.approx(0.2) and r2 == pytest.approx(0.2)
    assert score_trend(series([0.0, 1.0, 0.0, 1.0]), T0 + 3 * H, "24h", 24).direction == STABLE


def test_flat_series_has_no_r2_and_is_stable():
    w = score_trend(series([0.4] * 10), T0 + 9 * H, "24h", 24)
    assert (w.slope, w.r2, w.direction) == (0.0, None, STABLE)


@pytest.mark.parametrize(("values", "direction"), [
    ([0.3 + 0.02 * k for k in range(12)], STRENGTHENING),   # positive and rising away from 0
    ([0.6 - 0.02 * k for k in range(12)], WEAKENING),       # positive, falling toward 0
    ([-0.3 - 0.02 * k for k in range(12)], STRENGTHENING),  # negative and falling further
    ([-0.6 + 0.02 * k for k in range(12)], WEAKENING),      # negative, rising toward 0
    ([-0.22 + 0.02 * k for k in range(12)], STRENGTHENING),  # ends exactly at 0: the slope decides
    ([0.3 + 0.004 * k for k in range(12)], STABLE),         # r² = 1 but |slope| < 0.005
])
def test_each_direction(values, direction):
    w = score_trend(series(values), T0 + (len(values) - 1) * H, "24h", 24)
    assert w.points == 12 and w.r2 == pytest.approx(1.0)
    assert w.direction == direction


def test_direction_thresholds():
    assert trend_direction(0.005, 0.25, 0.5) == STRENGTHENING  # both bounds are inclusive for a trend
    assert trend_direction(0.00499, 1.0, 0.5) == STABLE
    assert trend_direction(-0.05, 0.2499, 0.5) == STABLE
    assert trend_direction(-0.05, 0.9, 0.0) == STRENGTHENING


def test_windows_count_only_their_points_and_skip_missing_scores():
    pts = series([0.1] * 200)
    pts[-2] = (pts[-2][0], None)
    end = pts[-1][0]
    assert score_trend(pts, end, "24h", 24).points == 23
    assert score_trend(pts, end, "7d", 168).points == 167


def test_not_enough_snapshots():
    w = score_trend(series([0.2, 0.3]), T0 + H, "24h", 24)
    assert (w.points, w.slope, w.direction) == (2, None, None)
    assert w.message == "not enough snapshots: 2 with a score in the last 24h, 3 needed"


# -- volatility regime --------------------------------------------------------------------------


def prices_from(returns, start=T0, p0=100_000.0):
    prices = {start: p0}
    p = p0
    for k, r in enumerate(returns, 1):
        p *= math.exp(r)
        prices[start + k * H] = p
    return prices


def reference_by_hand(prices, at):
    """The regime's numbers computed the long way, for comparison."""
    def vol(h):
        rs = [math.log(prices[t] / prices[t - H]) for t in range(h - 23 * H, h + H, H)]
        return statistics.stdev(rs)
    ref = [vol(at - k * H) for k in range(1, 169)]
    now = vol(at)
    return now, statistics.mean(ref), statistics.stdev(ref)


def test_hourly_returns_skip_gaps():
    prices = {T0: 100.0, T0 + H: 110.0, T0 + 3 * H: 121.0, T0 + 4 * H: 110.0}
    assert hourly_returns(prices) == {T0 + H: pytest.approx(math.log(1.1)),
                                      T0 + 4 * H: pytest.approx(math.log(110 / 121))}


def test_alternating_returns_have_a_known_volatility_and_a_vol_jump_is_elevated():
    # 8 days of calm noise, then 24 h alternating ±1 %: std = 1 % · sqrt(24 / 23) exactly.
    rng = random.Random(3)
    returns = [rng.gauss(0, 0.002) for _ in range(170)] + [0.01 * (-1) ** k for k in range(24)]
    prices = prices_from(returns)
    at = T0 + len(returns) * H
    g = volatility_regime(prices, at)
    assert g.vol_pct_hour == pytest.approx(100 * 0.01 * math.sqrt(24 / 23))
    assert g.vol_pct_day == pytest.approx(g.vol_pct_hour * math.sqrt(24))
    now, mean, std = reference_by_hand(prices, at)
    assert (g.reference_mean_pct_hour, g.reference_std_pct_hour) == (pytest.approx(100 * mean),
                                                                     pytest.approx(100 * std))
    assert g.z == pytest.approx((now - mean) / std) and g.z > 1
    assert (g.regime, g.returns, g.reference_hours) == (ELEVATED, 24, 168)


def test_calm_after_a_busy_week_is_compressed():
    rng = random.Random(4)
    returns = [rng.gauss(0, 0.01) for _ in range(170)] + [rng.gauss(0, 0.001) for _ in range(24)]
    g = volatility_regime(prices_from(returns), T0 + len(returns) * H)
    assert g.regime == COMPRESSED and g.z < -1


def test_steady_volatility_is_normal():
    rng = random.Random(5)
    returns = [rng.gauss(0, 0.005) for _ in range(194)]
    prices = prices_from(returns)
    at = T0 + len(returns) * H
    g = volatility_regime(prices, at)
    now, mean, std = reference_by_hand(prices, at)
    assert g.z == pytest.approx((now - mean) / std) and -1 <= g.z <= 1
    assert g.regime == NORMAL


def test_regime_needs_a_week_and_a_day_of_prices():
    rng = random.Random(6)
    short = prices_from([rng.gauss(0, 0.005) for _ in range(150)])
    g = volatility_regime(short, T0 + 150 * H)
    assert g.regime is None and g.z is None
    assert g.message == ("not enough hourly BTC prices: the regime needs 7 d + 24 h of them with few gaps; "
                         "151 of the last 193 hours have one")
    # A few missing hours are tolerated; a day-long hole in the reference week is not.
    full = prices_from([rng.gauss(0, 0.005) for _ in range(200)])
    at = T0 + 200 * H
    holed = {t: p for t, p in full.items() if not at - 100 * H <= t < at - 96 * H}
    assert volatility_regime(holed, at).regime is not None
    holed = {t: p for t, p in full.items() if not at - 150 * H <= t < at - 100 * H}
    assert volatility_regime(holed, at).regime is None


# -- chart ---------------------------------------------------------------------------------


def test_braille_chart_draws_lines_and_leaves_gaps():
    assert braille_chart([(0, 1.0), (H, 1.0)], 0, H, -1, 1, width=2, height=1) == ["⠉⠉"]  # top dots, joined
    assert braille_chart([(0, -1.0), (H, -1.0)], 0, H, -1, 1, width=2, height=1) == ["⣀⣀"]  # bottom dots
    gap = braille_chart([(0, 0.0), (H, None), (2 * H, 0.0)], 0, 2 * H, -1, 1, width=3, height=1)
    assert gap[0][1] == " " and gap[0][0] != " " and gap[0][2] != " "
    lines = braille_chart([(k * H, math.sin(k / 10)) for k in range(168)], 0, 167 * H, -1, 1)
    assert len(lines) == 8 and all(len(line) == 70 for line in lines)


# -- the command ---------------------------------------------------------------------------


def store_scores_and_prices(db, scores, returns):
    prices = prices_from(returns)
    start = T0 + (len(returns) + 1 - len(scores)) * H
    store_history(db, [dict(timestamp=t, composite_score=s, btc_price=prices[t]) for t, s in series(scores, start)])
    return T0 + len(returns) * H


def invoke(runner, db, *args):
    return runner.invoke(cli, ["trend", "--db", db.url, *args], catch_exceptions=False)


def test_trend_json_on_a_constructed_history(runner, database):
    rng = random.Random(7)
    returns = [rng.gauss(0, 0.002) for _ in range(170)] + [0.01 * (-1) ** k for k in range(24)]
    # 7 d flat at −0.5 then the last 24 h falling from −0.1 to −0.56: strengthening bearish over 24 h.
    scores = [-0.5] * 171 + [-0.1 - 0.02 * k for k in range(24)]
    newest = store_scores_and_prices(database, scores, returns)
    result = invoke(runner, database, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["newest_snapshot"] == "2026-01-09T02:00:00Z" and newest == ts(2026, 1, 9, 2)
    day = doc["trend"]["24h"]
    assert (day["points"], day["direction"]) == (24, "STRENGTHENING")
    assert day["slope_per_hour"] == pytest.approx(-0.02) and day["r2"] == pytest.approx(1.0)
    assert doc["trend"]["7d"]["points"] == 168
    assert doc["regime"]["regime"] == "ELEVATED"
    assert doc["regime"]["vol_pct_hour"] == pytest.approx(100 * 0.01 * math.sqrt(24 / 23))
    assert set(doc["regime"]) == {"regime", "vol_pct_hour", "vol_pct_day", "reference_mean_pct_hour",
                                  "reference_std_pct_hour", "z", "returns_24h", "reference_hours", "message"}


def test_trend_text_has_chart_within_80_columns(runner, database):
    rng = random.Random(8)
    store_scores_and_prices(database, [math.sin(k / 8) for k in range(60)], [rng.gauss(0, 0.003) for _ in range(59)])
    result = invoke(runner, database, "--hours", "48")
    assert result.exit_code == 0
    out = result.stdout
    assert "Composite score, last 48 h" in out and "BTC price, last 48 h" in out
    assert "BTC volatility regime: unknown" in out and "not enough hourly BTC prices" in out
    assert all(len(line) <= 80 for line in out.splitlines())
    chart = [line for line in out.splitlines() if "┤" in line]
    assert len(chart) == 16 and any(ch in "".join(chart) for ch in "⠁⠂⠄⡀⠈⠐⠠⢀")


def test_trend_with_too_few_snapshots_says_so(runner, database):
    store_history(database, [dict(timestamp=T0, composite_score=0.2, btc_price=100.0),
                             dict(timestamp=T0 + H, composite_score=0.3, btc_price=101.0)])
    result = invoke(runner, database)
    assert result.exit_code == 0 and "not enough snapshots (3 needed)" in result.stdout
    doc = json.loads(invoke(runner, database, "--json").stdout)
    assert doc["trend"]["24h"]["direction"] is None and doc["trend"]["24h"]["slope_per_hour"] is None
    assert doc["trend"]["24h"]["message"] == "not enough snapshots: 2 with a score in the last 24h, 3 needed"


def test_trend_on_empty_or_missing_database_is_one_line(runner, database, tmp_path):
    result = runner.invoke(cli, ["trend", "--db", database.url])
    assert result.exit_code == 1 and result.stderr.startswith("Error: no snapshots yet")
    assert result.stderr.count("\n") == 1
    result = runner.invoke(cli, ["trend", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
