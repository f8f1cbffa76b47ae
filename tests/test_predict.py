"""`perps-tracker predict funding`: a planted relation the model must find, noise in which it
must not claim an edge, the minimum history, and no look-ahead (docs/history.md)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from perps_tracker.cli import cli
from perps_tracker.errors import TrackerError
from perps_tracker.model.predict import (
    FEATURES,
    MIN_PAIRS,
    build_dataset,
    evaluate_funding,
    folds,
)
from perps_tracker.storage.history import load_history
from tests.conftest import ts
from tests.synthetic_history import hours, store_history

H = 3600
T0 = ts(2026, 1, 1)


def funding_history(n: int, seed: int, planted: bool, missing: float = 0.0) -> list[dict]:
    """Hourly snapshots whose funding moves by ±1e-6 each hour. Planted: the direction of the
    next move is that of (long share − 0.5) plus noise (right about 85 % of the time). Noise:
    a fair coin, unrelated to anything stored. `missing`: share of long shares left NULL."""
    rng = random.Random(seed)
    funding = 0.0001
    snaps = []
    for t in hours(T0, n):
        share = rng.uniform(0.3, 0.7)
        snaps.append(dict(
            timestamp=t, btc_price=100_000 + rng.gauss(0, 500), funding_rate_8h=funding,
            long_share=None if rng.random() < missing else share, composite_score=rng.uniform(-0.5, 0.5),
            price_change_24h_pct=rng.gauss(0, 3), oi_vol_ratio=rng.uniform(0.2, 0.6),
            funding_divergence=abs(rng.gauss(0, 0.00003)), oi_change_24h_pct=rng.gauss(0, 3),
            factors={"funding": rng.uniform(-1, 1), "price": rng.uniform(-1, 1)},
        ))
        up = (share - 0.5 + rng.gauss(0, 0.06)) > 0 if planted else rng.random() < 0.5
        funding += 1e-6 if up else -1e-6
    return snaps


def invoke(runner, db, *args):
    return runner.invoke(cli, ["predict", "funding", "--db", db.url, *args], catch_exceptions=False)


def test_planted_relation_is_found_and_predicted(runner, database):
    snaps = funding_history(600, seed=1, planted=True, missing=0.1)
    snaps[-1]["long_share"] = 0.68  # the newest hour: the planted rule says up
    store_history(database, snaps)
    doc = json.loads(invoke(runner, database, "--json").stdout)
    assert (doc["pairs"], doc["ties_dropped"], doc["model"]) == (599, 0, "logistic")
    assert doc["features"] == list(FEATURES) and len(doc["cv"]["model"]["folds"]) == 5
    model, persistence, majority = (doc["cv"][k]["mean"] for k in ("model", "persistence", "majority"))
    assert model > 0.75 and persistence < 0.6 and majority < 0.6
    assert doc["edge"] is True and doc["margin"] > 2 * doc["standard_error"]
    assert doc["current"] == {"snapshot": "2026-01-25T23:00:00Z", "funding_rate_8h": pytest.approx(snaps[-1]["funding_rate_8h"]),
                              "direction": "UP", "probability": pytest.approx(doc["current"]["probability"])}
    assert doc["current"]["probability"] > 0.8
    text = invoke(runner, database).stdout
    assert "EDGE: the model beats" in text and "next UP, probability 0." in text
    assert all(len(line) <= 80 for line in text.splitlines())


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_noise_claims_no_edge(runner, database, seed):
    store_history(database, funding_history(600, seed=seed, planted=False))
    doc = json.loads(invoke(runner, database, "--json").stdout)
    assert doc["edge"] is False
    assert 0.4 < doc["cv"]["model"]["mean"] < 0.6
    text = invoke(runner, database).stdout
    assert "No edge" in text and "treat it as a coin toss" in text


def test_below_the_minimum_history_it_refuses(runner, database):
    store_history(database, funding_history(MIN_PAIRS, seed=5, planted=True))  # 144 snapshots, 143 pairs
    result = runner.invoke(cli, ["predict", "funding", "--db", database.url])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: not enough history to predict funding: 143 labelled hourly pairs, 144 needed (consecutive "
        "snapshots 1 h apart whose funding changed); run `perps-tracker backfill --days 7` or wait for more "
        "hourly snapshots\n")


def test_pairs_are_exactly_one_hour_apart_and_ties_are_dropped():
    snaps = funding_history(12, seed=6, planted=True)
    snaps[5]["funding_rate_8h"] = snaps[4]["funding_rate_8h"]  # 4 → 5 unchanged: a tie
    del snaps[8]  # 7 → 9 is two hours: no pair; 8 is gone
    snaps[10]["funding_rate_8h"] = None  # (index 10 = hour 11): no pair into or out of it
    rows = [type("Row", (), dict(s, source="live", sentiment=None, factors=(None,) * 6)) for s in snaps]
    ds = build_dataset(rows)
    assert [(t - T0) // H for t in ds.timestamps] == [0, 1, 2, 3, 5, 6, 9]
    assert ds.ties == 1
    by_hour = {(t - T0) // H: y for t, y in zip(ds.timestamps, ds.labels)}
    f = {(s["timestamp"] - T0) // H: s["funding_rate_8h"] for s in snaps}
    assert all(by_hour[h] == int(f[h + 1] > f[h]) for h in by_hour)
    # funding changes over 1 / 4 / 24 h need the snapshot exactly that far back
    x9 = dict(zip(FEATURES, ds.features[ds.timestamps.index(T0 + 9 * H)]))
    assert x9["funding_change_1h"] is None and x9["funding_change_4h"] == pytest.approx(f[9] - f[5])
    assert x9["funding_change_24h"] is None
    assert ds.current is None  # the newest snapshot (hour 11) has no funding rate: no current prediction


def test_no_look_ahead(database):
    store_history(database, funding_history(400, seed=7, planted=True))
    rows = load_history(database)
    # Folds are in time order: every test index comes after every training index.
    for train, test in folds(399):
        assert max(train) < min(test) and test == list(range(min(test), max(test) + 1))
    # A snapshot's features are the same whether or not the future is stored: only its label
    # (the next hour's funding) looks ahead.
    full = build_dataset(rows)
    cut = build_dataset(rows[:250])
    assert cut.features == full.features[:len(cut.features)]
    assert cut.labels == full.labels[:len(cut.labels)]
    assert cut.current == rows[249].timestamp and cut.current_features == full.features[249]


def test_a_leaked_future_is_not_in_the_features(database):
    """A planted relation that only the future knows: the next move is random, but a stored
    column at t + 1 h (long share) tells it. The features of t never see t + 1 h, so no edge."""
    snaps = funding_history(600, seed=8, planted=False)
    for now, nxt in zip(snaps, snaps[1:]):
        nxt["long_share"] = 0.7 if nxt["funding_rate_8h"] > now["funding_rate_8h"] else 0.3
    store_history(database, snaps)
    result = evaluate_funding(build_dataset(load_history(database)))
    assert result.edge is False and result.model.mean < 0.6


def test_too_few_pairs_raise_before_fitting():
    with pytest.raises(TrackerError, match="0 labelled hourly pairs"):
        evaluate_funding(build_dataset([]))


def test_numpy_and_sklearn_load_only_when_predicting():
    code = ("import sys\nimport perps_tracker.cli, perps_tracker.render, perps_tracker.model.analysis, perps_tracker.model.predict\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'sklearn', 'scipy'}))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
