"""`perps-tracker snapshot` over a real-scale universe (tests/fakes/universe.py): ~3,000 markets on nine
venues, each in its own symbols and units, must land in `instrument_snapshots` once each, per one coin."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from perps_tracker.cli import cli
from perps_tracker.storage.db import open_database
from tests.fakes.universe import MAX_DEVIATION_BPS, VENUES, install_universe

NOW = datetime(2026, 11, 22, 11, 0, 42, tzinfo=timezone.utc)
HOUR = 1795345200  # NOW's hour
COLUMNS = ("exchange", "symbol", "coin", "multiplier", "quote", "price", "mark_price", "index_price",
           "volume_24h_usd", "open_interest_usd", "funding_rate", "funding_interval_h", "funding_rate_8h", "price_change_24h_pct")


@pytest.fixture
def env(fake, monkeypatch, db_path):
    """The universe's venues on the fake, a temporary database, a fixed clock (no route installed yet)."""
    for name, value in fake.env(*VENUES).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PERPS_TRACKER_DB", str(db_path))
    monkeypatch.setenv("PERPS_TRACKER_BACKOFF", "0")
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "1")
    monkeypatch.setattr("perps_tracker.cli.utc_now", lambda: NOW)
    return monkeypatch


def stored(db_path) -> list[dict]:
    db = open_database(str(db_path))
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT timestamp, {', '.join(COLUMNS)} FROM instrument_snapshots")).all()
    finally:
        db.dispose()
    assert {r[0] for r in rows} == {HOUR}
    return [dict(zip(COLUMNS, r[1:])) for r in rows]


def close(got, want, rel: float, abs_: float = 0.0) -> bool:
    if want is None or got is None:
        return got is want
    return math.isclose(got, want, rel_tol=rel, abs_tol=abs_)


def mismatches(row: dict, want) -> list[str]:
    """How a stored row differs from the universe's Listing (empty: as expected)."""
    exact = {"coin": want.coin, "multiplier": want.multiplier, "quote": want.quote, "price": want.price,
             "mark_price": want.mark_price, "index_price": want.index_price,
             "funding_interval_h": want.funding_interval_h}
    found = [f"{k} {row[k]!r} != {v!r}" for k, v in exact.items() if row[k] != v]
    near = {  # volume and OI are stored in whole dollars; the rest went through the venue's units
        "volume_24h_usd": (want.volume_24h_usd, 1e-7, 1.0),
        "open_interest_usd": (want.open_interest_usd, 1e-7, 1.0),
        "funding_rate_8h": (want.funding_rate_8h, 1e-7, 1e-12),
        # the rate as paid: the 8-hour rate at the market's own interval
        "funding_rate": (want.funding_rate_8h * want.funding_interval_h / 8, 1e-7, 1e-12),
        "price_change_24h_pct": (want.price_change_24h_pct, 0.0, 0.01),
    }
    found += [f"{k} {row[k]!r} != {v!r}" for k, (v, rel, abs_) in near.items() if not close(row[k], v, rel, abs_)]
    return found


def test_every_market_of_every_venue_is_stored_once_per_one_coin(runner, env, fake, db_path):
    universe = install_universe(fake, seed=7, scale=1.0)
    counts = universe.counts()
    assert 2900 <= sum(counts.values()) <= 3100
    # every venue at its real scale: hundreds each, Deribit's few dozen USDC perpetuals
    assert min(n for venue, n in counts.items() if venue != "deribit") >= 200 and counts["deribit"] == 30
    result = runner.invoke(cli, ["snapshot", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr

    rows = stored(db_path)
    keys = [(r["exchange"], r["symbol"]) for r in rows]
    assert len(keys) == len(set(keys)), "a market stored twice"
    assert set(keys) == set(universe.markets)
    for venue in VENUES:
        assert sum(1 for e, _ in keys if e == venue) == counts[venue], venue
        assert universe.excluded[venue] and not {(venue, s) for s in universe.excluded[venue]} & set(keys), venue

    wrong = [(key, found) for key, row in zip(keys, rows) if (found := mismatches(row, universe.markets[key]))]
    assert not wrong, f"{len(wrong)} rows differ, e.g. {wrong[:5]}"

    by_coin: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_coin[row["coin"]].append(row)
    shared = {coin: members for coin, members in by_coin.items() if len({r["exchange"] for r in members}) >= 2}
    assert len(shared) >= 500 and {"BTC", "PEPE", "SHIB", "BONK", "SATS", "MOG", "1INCH"} <= set(shared)
    for coin, members in shared.items():
        prices = [r["price"] for r in members]
        assert (max(prices) - min(prices)) / min(prices) * 1e4 <= 10, (coin, members)
    for row in rows:  # and each near the coin's true price (the deviation built in, plus rounding to 7 digits)
        true = universe.coins[row["coin"]]
        assert abs(row["price"] / true - 1) * 1e4 <= MAX_DEVIATION_BPS + 0.1, row
    multiplied = {(r["exchange"], r["symbol"]): (r["coin"], r["multiplier"]) for r in rows if r["multiplier"] != 1}
    assert multiplied[("binance", "1000PEPEUSDT")] == ("PEPE", 1000) and multiplied[("bybit", "SHIB1000USDT")] == (
        "SHIB", 1000)
    assert multiplied[("hyperliquid", "kPEPE")] == ("PEPE", 1000) and multiplied[("bybit", "10000LADYSUSDT")] == (
        "LADYS", 10_000)
    assert multiplied[("binance", "1000000MOGUSDT")] == ("MOG", 1e6)
    assert multiplied[("binance", "1MBABYDOGEUSDT")] == ("BABYDOGE", 1e6)
    assert by_coin["1INCH"] and all(r["multiplier"] == 1 for r in by_coin["1INCH"])


def test_coin_lists_exactly_the_venues_of_the_universe(runner, env, fake, db_path):
    universe = install_universe(fake, seed=11, scale=0.05)
    result = runner.invoke(cli, ["snapshot", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout + result.stderr
    for coin in ("PEPE", "SHIB", "SATS", "1INCH", "BTC"):
        shown = runner.invoke(cli, ["coin", coin, "--no-fetch", "--json"], catch_exceptions=False)
        assert shown.exit_code == 0, shown.stdout + shown.stderr
        venues = json.loads(shown.stdout)["venues"]
        assert {v["exchange"] for v in venues} == universe.venues_of(coin), coin
        want = {key: m for key, m in universe.markets.items() if m.coin == coin}
        assert {(v["exchange"], v["symbol"]) for v in venues} == set(want), coin
        for v in venues:
            listing = want[(v["exchange"], v["symbol"])]
            assert (v["multiplier"], v["price"]) == (listing.multiplier, listing.price)
            assert abs(v["price_dev_bps"]) <= 10
    assert universe.venues_of("PEPE") == set(VENUES) - {"deribit"}  # Deribit lists no PEPE perpetual
