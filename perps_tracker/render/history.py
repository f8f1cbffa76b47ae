"""`trend`, `backtest` and `predict funding`: tables, the text charts, their JSON."""

from __future__ import annotations

from typing import Any

from perps_tracker.model.times import iso
from perps_tracker.render.format import fmt_num, fmt_pct, fmt_score, fmt_time
from perps_tracker.render.output import Col, Grid, console, keep, listed, say

# -- history analysis ----------------------------------------------------------------------
# `trend`, `backtest`, `predict funding` (docs/history.md).

CHART_WIDTH = 70  # characters; each is 2 × 4 braille dots
CHART_HEIGHT = 8
_BRAILLE = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [dot row][dot column]


def braille_chart(points, start: float, end: float, lo: float, hi: float,
                  width: int = CHART_WIDTH, height: int = CHART_HEIGHT, step: float | None = 3600) -> list[str]:
    """A line chart of (hour, value) points (None: missing) as `height` strings of `width`
    braille characters; time runs from `start` to `end`, values from `lo` (bottom) to `hi`.
    Points `step` apart (hours one apart) are joined by a line, a gap stays a gap; `step` None joins
    every point to the one before (a curve over any x)."""
    cols, rows = 2 * width, 4 * height
    grid = [[False] * cols for _ in range(rows)]
    span = max(end - start, 1)

    def xy(t, v):
        x = (t - start) / span * (cols - 1)
        y = (hi - min(max(v, lo), hi)) / ((hi - lo) or 1.0) * (rows - 1)
        return x, y

    pts = [(t, v) for t, v in points if v is not None]
    for k, (t, v) in enumerate(pts):
        x, y = xy(t, v)
        grid[round(y)][round(x)] = True
        if k and (step is None or t - pts[k - 1][0] == step):
            px, py = xy(*pts[k - 1])
            steps = int(max(abs(x - px), abs(y - py)) * 2) + 1
            for s in range(steps + 1):
                f = s / steps
                grid[round(py + (y - py) * f)][round(px + (x - px) * f)] = True
    out = []
    for r in range(height):
        line = []
        for c in range(width):
            bits = sum(_BRAILLE[dr][dc] for dr in range(4) for dc in range(2) if grid[4 * r + dr][2 * c + dc])
            line.append(chr(0x2800 + bits) if bits else " ")
        out.append("".join(line))
    return out


def labelled(lines: list[str], labels: dict[int, str], label_width: int) -> list[str]:
    return [f"{labels.get(k, ''):>{label_width}}┤{line}".rstrip() for k, line in enumerate(lines)]


def _fmt_price(p: float) -> str:
    return f"{p:,.0f}" if abs(p) >= 100 else f"{p:.4g}"


def chart_lines(report, width: int = 80) -> list[str]:
    """Composite score (−1 … +1) and BTC price over the chart window, in fewer than `width`
    columns (the chart itself at most CHART_WIDTH)."""
    w = 8  # label width: "+1.0", "106,234"
    cols = max(min(CHART_WIDTH, width - w - 2), 34)  # room for both dates under it
    end = report.newest
    start = end - (report.chart_hours - 1) * 3600
    mid = CHART_HEIGHT // 2
    out = [f"Composite score, last {report.chart_hours} h (−1 … +1):"]
    score = braille_chart([(t, s) for t, s, _ in report.chart], start, end, -1.0, 1.0, width=cols)
    out += labelled(score, {0: "+1.0", mid: "0.0", CHART_HEIGHT - 1: "-1.0"}, w)
    prices = [p for _, _, p in report.chart if p is not None]
    if prices:
        lo, hi = min(prices), max(prices)
        if hi == lo:
            lo, hi = lo * 0.99, hi * 1.01
        out.append(f"BTC price, last {report.chart_hours} h:")
        lines = braille_chart([(t, p) for t, _, p in report.chart], start, end, lo, hi, width=cols)
        out += labelled(lines, {0: _fmt_price(hi), CHART_HEIGHT - 1: _fmt_price(lo)}, w)
    else:
        out.append("BTC price: no snapshot in the window has one.")
    dvol = [(t, v) for t, v in report.dvol if t >= start]
    if dvol:
        lo, hi = min(v for _, v in dvol), max(v for _, v in dvol)
        if hi == lo:
            lo, hi = lo - 1, hi + 1
        out.append(f"BTC DVOL (Deribit's 30-day implied volatility), last {report.chart_hours} h:")
        lines = braille_chart(dvol, start, end, lo, hi, width=cols, height=CHART_HEIGHT // 2)
        out += labelled(lines, {0: f"{hi:.1f}", CHART_HEIGHT // 2 - 1: f"{lo:.1f}"}, w)
    left, right = fmt_time(start)[:16], fmt_time(end)[:16]
    out.append(" " * (w + 1) + left + right.rjust(cols - len(left)))
    return out


def dvol_json(report) -> dict[str, Any] | None:
    """BTC DVOL at the newest snapshot and its change over 24 h and 7 d (None: none stored)."""
    latest = report.dvol_at(report.newest)
    if latest is None:
        return None

    def change(hours: int) -> float | None:
        before = report.dvol_at(report.newest - hours * 3600)
        return None if before is None else latest - before

    return {"currency": "BTC", "latest": latest, "change_24h": change(24), "change_7d": change(168)}


def _window_json(w) -> dict[str, Any]:
    return {"hours": w.hours, "points": w.points, "slope_per_hour": w.slope, "r2": w.r2,
            "direction": w.direction, "first_score": w.first_score, "last_score": w.last_score,
            "message": w.message}


def trend_json(report) -> dict[str, Any]:
    g = report.regime
    return {
        "newest_snapshot": iso(report.newest),
        "age_hours": round(report.age_seconds / 3600, 2),
        "composite_score": report.latest_score,
        "sentiment": report.latest_sentiment,
        "trend": {w.name: _window_json(w) for w in report.windows},
        "dvol": dvol_json(report),
        "regime": {
            "regime": g.regime, "vol_pct_hour": g.vol_pct_hour, "vol_pct_day": g.vol_pct_day,
            "reference_mean_pct_hour": g.reference_mean_pct_hour,
            "reference_std_pct_hour": g.reference_std_pct_hour, "z": g.z,
            "returns_24h": g.returns, "reference_hours": g.reference_hours, "message": g.message,
        },
    }


def render_trend(report) -> None:
    say(f"Newest snapshot {fmt_time(report.newest)[:16]} UTC: composite score "
        f"{fmt_score(report.latest_score)} ({report.latest_sentiment or 'no label'}).", hang=2)
    if report.age_seconds >= 2 * 3600:
        say(f"It is {report.age_seconds / 3600:,.0f} h old: the windows below end there, not now.", hang=2)
    say("Composite-score trend (least-squares slope per hour):")
    grid = Grid(Col("window", "left"), Col("points"), Col("slope / h"), Col("r²"),
                Col("direction", "left", wrap=True, min_width=13))
    for w in report.windows:
        if w.direction is None:
            grid.add(w.name, w.points, "-", "-", "not enough snapshots (3 needed)")
        else:
            grid.add(w.name, w.points, f"{w.slope:+.4f}", fmt_num(w.r2), w.direction)
    grid.print()
    _render_regime(report.regime)
    if (d := dvol_json(report)) is not None:
        changes = ", ".join(f"{v:+.1f} over {k[7:]}" for k, v in d.items() if k.startswith("change") and v is not None)
        say(f"BTC DVOL {d['latest']:.1f}" + (f" ({changes})" if changes else ""), hang=2)
    console.print()
    for line in chart_lines(report, console.width):
        say(line)


def _render_regime(g) -> None:
    if g.regime is None:
        say(f"BTC volatility regime: unknown — {g.message}.", hang=2)
        return
    z = "z undefined: the week's volatility was constant" if g.z is None else f"z = {g.z:+.2f}"
    say(f"BTC volatility regime: {g.regime} ({z})", hang=2)
    say(f"  realised volatility, last 24 h: {g.vol_pct_hour:.3f}%/h ({g.vol_pct_day:.2f}%/day)", hang=2)
    say("  rolling 24 h volatility over the week before: ",
        keep(f"{g.reference_mean_pct_hour:.3f}%/h ± {g.reference_std_pct_hour:.3f}"), hang=2)


def _direction_mark(d: str) -> str:
    return {"long": "▲", "short": "▼"}.get(d, "●")


def _cell_json(c) -> dict[str, Any]:
    return {"n": c.n, "n_independent": c.n_independent, "hit_rate": c.hit_rate, "baseline_rate": c.baseline_rate,
            "mean_return_pct": c.mean_pct, "median_return_pct": c.median_pct, "mean_abs_return_pct": c.mean_abs_pct,
            "z": c.z, "p_value": c.p_value, "edge": c.edge}


def backtest_json(b) -> dict[str, Any]:
    return {
        "from": iso(b.first), "to": iso(b.last), "days": b.days, "snapshots": b.snapshots,
        "horizons_hours": list(b.horizons),
        "signals": "raw rule firings (fired, confidence >= 50) on every snapshot; no cooldown, no caps",
        "baseline": {f"{h}h": {"n": x.n, "up_rate": x.up_rate, "down_rate": x.down_rate, "mean_return_pct": x.mean_pct,
                               "median_return_pct": x.median_pct, "mean_abs_return_pct": x.mean_abs_pct}
                     for h, x in b.baselines.items()},
        "rows": [{"kind": r.kind, "name": r.name, "direction": r.direction, "signals": r.signals,
                  "horizons": {f"{h}h": _cell_json(c) for h, c in r.cells.items()}} for r in b.rows],
        "never_fired": list(b.never_fired),
    }


def fmt_pct0(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<1e-6" if p < 1e-6 else f"{p:.4f}" if p >= 0.0001 else f"{p:.0e}"


def fmt_signed(x: float | None) -> str:
    return "-" if x is None else f"{x:+.2f}"


BACKTEST_COLUMNS = (Col("signal", "left", wrap=True, min_width=13), Col("", "left"), Col("n"), Col("hit"),
                    Col("base", drop=3), Col("mean"), Col("median", drop=1), Col("|r|", drop=2), Col("p"),
                    Col(""))


def render_backtest(b) -> None:
    period = "the whole history" if b.days is None else f"the last {b.days} days"
    say(f"Backtest over {period}: {b.snapshots:,} snapshots, {fmt_time(b.first)[:16]} → "
        f"{fmt_time(b.last)[:16]} UTC. Signals are raw rule firings (confidence ≥ 50) on every snapshot, "
        "without cooldown or caps. Returns in %.")
    say("hit: share of signals the price went their way (▲ long: up, ▼ short: down); base: that share over "
        "all snapshots. p: one-sided binomial test of hit against base (● neutral: two-sided test of mean |r| "
        "against all snapshots'), on signals that do not overlap; * edge: p < 0.01 on at least 20 of them.")
    for h in b.horizons:
        x = b.baselines[h]
        console.print()
        say(f"{h} h forward (all snapshots: up {fmt_pct0(x.up_rate)}, down {fmt_pct0(x.down_rate)}):")
        grid = Grid(*BACKTEST_COLUMNS)
        grid.add("all snapshots", "", x.n, "", "", fmt_signed(x.mean_pct), fmt_signed(x.median_pct),
                 fmt_num(x.mean_abs_pct), "", "", section=True)
        for r in b.rows:
            c = r.cells[h]
            name = r.name if r.kind == "strategy" else f"{r.name.lower()} label"
            grid.add(name, _direction_mark(r.direction), c.n, fmt_pct0(c.hit_rate), fmt_pct0(c.baseline_rate),
                     fmt_signed(c.mean_pct), fmt_signed(c.median_pct), fmt_num(c.mean_abs_pct), _p(c.p_value),
                     "*" if c.edge else "")
        grid.print()
    if b.never_fired:
        say("Never fired in the period: ", *listed(b.never_fired), ".", hang=2)


def _scores_json(s) -> dict[str, Any]:
    return {"mean": s.mean, "spread": s.spread, "folds": list(s.folds)}


def predict_json(r) -> dict[str, Any]:
    return {
        "target": "funding_rate_8h at the next hourly snapshot: up (1) or down (0)",
        "pairs": r.pairs, "up": r.ups, "down": r.pairs - r.ups, "ties_dropped": r.ties,
        "from": iso(r.first), "to": iso(r.last), "model": r.model_kind, "features": list(r.features),
        "features_never_stored": list(r.unused),
        "cv": {"method": "TimeSeriesSplit(n_splits=5), no shuffling", "tested": r.tested,
               "model": _scores_json(r.model), "persistence": _scores_json(r.persistence),
               "majority": _scores_json(r.majority)},
        "better_baseline": r.better_baseline, "margin": r.margin, "standard_error": r.standard_error,
        "edge": r.edge,
        "current": None if r.current is None else {
            "snapshot": iso(r.current), "funding_rate_8h": r.current_funding, "direction": r.direction,
            "probability": r.probability},
    }


def render_predict(r) -> None:
    from perps_tracker.model.predict import MODELS

    say("Will the market funding rate be higher or lower at the next hourly snapshot?")
    say(f"{r.pairs:,} labelled hourly pairs ({r.ups:,} up, {r.pairs - r.ups:,} down; {r.ties:,} unchanged "
        f"left out), {fmt_time(r.first)[:16]} → {fmt_time(r.last)[:16]} UTC. Model: {MODELS[r.model_kind]}, "
        f"{len(r.features)} features; a missing value is imputed with the median of the training fold.")
    if r.unused:
        say("Never stored, so left out: ", *listed(r.unused), ".", hang=2)
    say(f"Time-series cross-validation: 5 folds, {r.tested:,} test hours after their training:")
    grid = Grid(Col("", "left"), Col("accuracy"), Col("± spread"), Col("per fold", "left", wrap=True))
    for name, s in (("model", r.model), ("persistence", r.persistence), ("majority class", r.majority)):
        grid.add(name, f"{100 * s.mean:.1f}%", f"{100 * s.spread:.1f}", " ".join(f"{100 * a:.0f}" for a in s.folds))
    grid.print()
    verdict = "EDGE" if r.edge else "No edge"
    say(f"{verdict}: the model {'beats' if r.margin > 0 else 'trails'} {r.better_baseline} by "
        f"{100 * abs(r.margin):.1f} points (two standard errors: {200 * r.standard_error:.1f}).")
    if r.current is None:
        say("No current prediction: the newest snapshot has no funding rate.")
    else:
        say(f"Now ({fmt_time(r.current)[:16]} UTC, funding {fmt_pct(r.current_funding, 4, fraction=True)}/8 h): "
            f"next {r.direction}, probability {r.probability:.2f}"
            + ("." if r.edge else ", but without a proven edge, treat it as a coin toss."))
