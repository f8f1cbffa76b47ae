"""The history analyses on the stored snapshots: `trend`, `backtest`, `predict funding`.

Each reads only the rows it needs and hands them to the pure analyses in model/.
"""

from __future__ import annotations

from dataclasses import replace

from typing import Sequence

from perps_tracker.errors import TrackerError
from perps_tracker.model.analysis import (
    REGIME_LOOKBACK_HOURS,
    TREND_WINDOWS,
    Backtest,
    TrendReport,
    column_signals,
    run_backtest,
    trend_report,
)
from perps_tracker.model.predict import (
    FundingPrediction,
    build_dataset,
    evaluate_funding,
)


def load_trend(db, now: int, chart_hours: int = 168) -> TrendReport:
    """The trend report of the stored history (reads only the hours it needs)."""
    from perps_tracker.storage.history import load_history

    rows = load_history(db, hours=max(chart_hours, REGIME_LOOKBACK_HOURS, *(h for _, h in TREND_WINDOWS)))
    report = trend_report(rows, now, chart_hours)
    if report is None:
        raise TrackerError("no snapshots yet: take one with `perps-tracker snapshot` "
                           "or run `perps-tracker backfill --days 7`")
    from perps_tracker.storage.db import guard
    from perps_tracker.storage.options import dvol_series

    with guard("reading options_snapshots"), db.reading() as read:
        since = report.newest - max(report.chart_hours, 7 * 24) * 3600
        dvol = dvol_series(read, "BTC", since, report.newest)
    return replace(report, dvol=tuple(sorted(dvol.items())))


def load_backtest(db, days: int | None, horizons: Sequence[int]) -> Backtest:
    """Backtest the stored history (the last `days` up to the newest snapshot, or all of it): the
    rules evaluated over columns of only what they read."""
    from perps_tracker.storage.backtest import input_columns

    cols = input_columns(db, None if days is None else days * 24)
    if cols is None:
        raise TrackerError("no snapshots yet: run `perps-tracker backfill --days 7` or take hourly snapshots")
    period = [int(t) for t in cols.timestamp]
    prices = {t: float(p) for t, p in zip(period, cols.btc_price) if p == p}  # NaN: no price
    return run_backtest(column_signals(cols), prices, period, horizons, days)


def load_funding_prediction(db, kind: str = "logistic") -> FundingPrediction:
    """Build the dataset from every stored snapshot and evaluate."""
    from perps_tracker.storage.history import load_history

    return evaluate_funding(build_dataset(load_history(db)), kind)
