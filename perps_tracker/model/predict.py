"""`predict funding`: will the market funding rate be higher or lower at the next snapshot?

Target: for each snapshot t whose successor t + 1 h is stored with a funding rate, 1 when
`funding_rate_8h` rose from t to t + 1 h, 0 when it fell; unchanged pairs are dropped.
Features: only what is stored at t and before (FEATURES). A missing feature is imputed with
the median of the training data of each fold (inside the pipeline), never with 0.

Evaluation: time-series cross-validation (5 folds, each tested on the hours after its
training data, no shuffling) against two naive baselines on the same folds: persistence
(the last hourly change repeats) and the training fold's majority class. An edge is claimed
only when the model beats the better baseline by more than two standard errors of the
paired per-hour difference. numpy and scikit-learn are imported inside these functions only.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

from perps_tracker.errors import TrackerError
from perps_tracker.model.scoring import FACTOR_COLUMNS
from perps_tracker.model.times import HOUR

MIN_PAIRS = 144  # six days of labelled hours: `backfill --days 7` gives enough
N_SPLITS = 5
CHANGE_HOURS = (1, 4, 24)
FEATURES = (
    "funding_rate_8h", *(f"funding_change_{h}h" for h in CHANGE_HOURS), "composite_score",
    *(f"{c}_score" for c in FACTOR_COLUMNS), "price_change_24h_pct", "oi_vol_ratio", "long_share",
    "funding_divergence", "oi_change_24h_pct",
)
MODELS = {"logistic": "logistic regression (standardised)", "boosting": "gradient-boosted trees"}


@dataclass(frozen=True)
class Dataset:
    timestamps: tuple[int, ...]  # snapshots t with a labelled successor, oldest first
    features: tuple[tuple[float | None, ...], ...]  # FEATURES at t
    labels: tuple[int, ...]  # 1: funding rose by t + 1 h, 0: fell
    persistence: tuple[int | None, ...]  # direction of the change into t; None: none or flat
    ties: int  # pairs left out because the funding did not change
    current: int | None  # the newest snapshot, when it has a funding rate
    current_features: tuple[float | None, ...] | None
    current_funding: float | None


def _features(t: int, rows: dict) -> tuple[float | None, ...]:
    r = rows[t]
    f = r.funding_rate_8h

    def change(h):
        before = rows.get(t - h * HOUR)
        if f is None or before is None or before.funding_rate_8h is None:
            return None
        return f - before.funding_rate_8h

    return (f, *(change(h) for h in CHANGE_HOURS), r.composite_score, *r.factors, r.price_change_24h_pct,
            r.oi_vol_ratio, r.long_share, r.funding_divergence, r.oi_change_24h_pct)


def build_dataset(rows: Sequence) -> Dataset:
    """Labelled pairs exactly one hour apart from history rows (oldest first)."""
    by_time = {r.timestamp: r for r in rows}
    ts, xs, ys, persist = [], [], [], []
    ties = 0
    for r in rows:
        nxt = by_time.get(r.timestamp + HOUR)
        if r.funding_rate_8h is None or nxt is None or nxt.funding_rate_8h is None:
            continue
        if nxt.funding_rate_8h == r.funding_rate_8h:
            ties += 1
            continue
        prev = by_time.get(r.timestamp - HOUR)
        last = None if prev is None or prev.funding_rate_8h is None else r.funding_rate_8h - prev.funding_rate_8h
        ts.append(r.timestamp)
        xs.append(_features(r.timestamp, by_time))
        ys.append(int(nxt.funding_rate_8h > r.funding_rate_8h))
        persist.append(None if not last else int(last > 0))
    newest = rows[-1] if rows else None
    has_now = newest is not None and newest.funding_rate_8h is not None
    return Dataset(tuple(ts), tuple(xs), tuple(ys), tuple(persist), ties,
                   newest.timestamp if has_now else None,
                   _features(newest.timestamp, by_time) if has_now else None,
                   newest.funding_rate_8h if has_now else None)


def make_model(kind: str = "logistic"):
    """The classifier: median imputation, scaling, logistic regression (or boosted trees)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    if kind == "boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=100, random_state=0)  # reads NaN as missing itself
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler()),
                     ("model", LogisticRegression(max_iter=1000))])


class _Fitted:
    """A fitted model, or the one class seen when the training data holds only one."""

    def __init__(self, kind: str, X, y):
        import numpy as np

        classes = np.unique(y)
        self.only = int(classes[0]) if len(classes) == 1 else None
        self.model = None if self.only is not None else make_model(kind).fit(X, y)

    def predict(self, X):
        import numpy as np

        return np.full(len(X), self.only) if self.model is None else self.model.predict(X)

    def up_probability(self, X) -> float:
        if self.model is None:
            return float(self.only)
        return float(self.model.predict_proba(X)[0][list(self.model.classes_).index(1)])


def folds(n: int) -> list[tuple[list[int], list[int]]]:
    """TimeSeriesSplit(5) indices: every test index comes after every training index."""
    from sklearn.model_selection import TimeSeriesSplit

    return [(list(train), list(test)) for train, test in TimeSeriesSplit(n_splits=N_SPLITS).split(range(n))]


@dataclass(frozen=True)
class Scores:
    folds: tuple[float, ...]  # accuracy per fold

    @property
    def mean(self) -> float:
        return statistics.fmean(self.folds)

    @property
    def spread(self) -> float:  # sample standard deviation across folds
        return statistics.stdev(self.folds) if len(self.folds) > 1 else 0.0


@dataclass(frozen=True)
class FundingPrediction:
    pairs: int
    ups: int
    ties: int
    first: int
    last: int
    model_kind: str
    model: Scores
    persistence: Scores
    majority: Scores
    unused: tuple[str, ...]  # features without a single value in the labelled history
    better_baseline: str  # "persistence" or "majority"
    margin: float  # model − better baseline accuracy over every test hour
    standard_error: float  # of that margin (paired per-hour differences)
    tested: int  # test hours over the folds
    edge: bool
    current: int | None  # the newest snapshot
    current_funding: float | None
    direction: str | None  # "UP" or "DOWN"
    probability: float | None  # of that direction

    @property
    def features(self) -> tuple[str, ...]:
        return FEATURES


def evaluate_funding(ds: Dataset, kind: str = "logistic") -> FundingPrediction:
    """Cross-validate the model and the baselines on `ds`, then fit on everything and predict
    the newest snapshot; TrackerError below MIN_PAIRS labelled pairs."""
    n = len(ds.labels)
    if n < MIN_PAIRS:
        raise TrackerError(
            f"not enough history to predict funding: {n} labelled hourly pairs, {MIN_PAIRS} needed "
            f"(consecutive snapshots 1 h apart whose funding changed); run `perps-tracker backfill --days 7` "
            f"or wait for more hourly snapshots")
    import warnings

    import numpy as np

    X = np.array([[np.nan if v is None else v for v in row] for row in ds.features], dtype=float)
    y = np.array(ds.labels)
    unused = tuple(name for name, seen in zip(FEATURES, (~np.isnan(X)).any(axis=0)) if not seen)
    with warnings.catch_warnings():  # a feature never stored (or not in a fold) is skipped, as the result says
        warnings.filterwarnings("ignore", message="Skipping features without any observed values")
        return _evaluate(ds, kind, X, y, unused)


def _evaluate(ds: Dataset, kind: str, X, y, unused: tuple[str, ...]) -> FundingPrediction:
    import numpy as np

    n = len(y)
    acc_m, acc_p, acc_j = [], [], []
    right_m, right_p, right_j = [], [], []
    for train, test in folds(n):
        majority = int(y[train].mean() >= 0.5)
        pm = _Fitted(kind, X[train], y[train]).predict(X[test])
        pp = np.array([majority if ds.persistence[i] is None else ds.persistence[i] for i in test])
        pj = np.full(len(test), majority)
        for acc, right, pred in ((acc_m, right_m, pm), (acc_p, right_p, pp), (acc_j, right_j, pj)):
            ok = pred == y[test]
            acc.append(float(ok.mean()))
            right.extend(ok.astype(float).tolist())
    model_s, persist_s, major_s = Scores(tuple(acc_m)), Scores(tuple(acc_p)), Scores(tuple(acc_j))
    better, right_b = (("persistence", right_p) if persist_s.mean >= major_s.mean else ("majority", right_j))
    diff = [a - b for a, b in zip(right_m, right_b)]
    margin = statistics.fmean(diff)
    se = statistics.stdev(diff) / math.sqrt(len(diff)) if len(diff) > 1 else 0.0
    direction = probability = None
    if ds.current_features is not None:
        now = np.array([[np.nan if v is None else v for v in ds.current_features]], dtype=float)
        up = _Fitted(kind, X, y).up_probability(now)
        direction, probability = ("UP", up) if up >= 0.5 else ("DOWN", 1 - up)
    return FundingPrediction(n, int(y.sum()), ds.ties, ds.timestamps[0], ds.timestamps[-1], kind, model_s,
                             persist_s, major_s, unused, better, margin, se, len(diff), margin > 0 and margin > 2 * se,
                             ds.current, ds.current_funding, direction, probability)
