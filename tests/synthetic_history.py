"""Synthetic stored histories for the history analyses (tests and `scripts/bench.py history`).

`store_history` bulk-inserts snapshots (a handful of executemany statements, whatever the
length); `market_history` makes a plausible hourly market with a seeded random walk.
"""

from __future__ import annotations

import math
import random
from typing import Iterable, Sequence

from sqlalchemy import func, insert, select

from perps_tracker.storage.models import (
    ExchangeSnapshot,
    LiquidationSnapshot,
    MarketSnapshot,
    SentimentFactors,
)

H = 3600
FACTORS = ("funding", "price", "long_short", "conviction", "divergence", "oi_price")


def label(score: float | None) -> str | None:
    if score is None:
        return None
    return "BULLISH" if score > 0.3 else "BEARISH" if score < -0.3 else "NEUTRAL"


def store_history(db, snapshots: Iterable[dict], chunk: int = 5000) -> int:
    """Insert snapshots in bulk. Each dict holds market_snapshots columns (at least `timestamp`),
    and optionally `factors` ({name: score}), `venues` ({exchange: exchange_snapshots columns})
    and `liq` (the market liquidation line). Returns how many were stored."""
    snaps = list(snapshots)
    with db.engine.begin() as conn:
        next_id = (conn.execute(select(func.max(MarketSnapshot.id))).scalar_one() or 0) + 1
        markets, factors, venues, liqs = [], [], [], []
        for k, s in enumerate(snaps):
            sid = next_id + k
            s = dict(s)
            f, v, liq = s.pop("factors", None), s.pop("venues", None), s.pop("liq", None)
            row = dict(id=sid, taken_at=s["timestamp"] + 42, source="live", exchanges_ok=len(v or {}) or 1,
                       exchanges_failed=0)
            row.update(s)
            row.setdefault("sentiment", label(row.get("composite_score")))
            markets.append(row)
            if f is not None:
                factors.append(dict({n: None for n in FACTORS}, snapshot_id=sid, missing="", **f))
            for exchange, cols in (v or {}).items():
                venues.append(dict(dict(kind="CEX", status="ok", records_skipped=0, btc_funding_rate_8h=None,
                                        btc_mark_price=None, btc_index_price=None),
                                   snapshot_id=sid, exchange=exchange, **cols))
            if liq is not None:
                liqs.append(dict(dict(window_hours=1.0, count=1, long_usd=0.0, short_usd=0.0, sampled=False,
                                      long_liq_share=None, volume_usd=None, cascade_risk_score=None, coverage=None),
                                 snapshot_id=sid, exchange="all", **liq))
        columns = {c.name for c in MarketSnapshot.__table__.columns}
        markets = [{c: m.get(c) for c in columns} for m in markets]  # one column set for executemany
        for table, rows in ((MarketSnapshot, markets), (SentimentFactors, factors), (ExchangeSnapshot, venues),
                            (LiquidationSnapshot, liqs)):
            for i in range(0, len(rows), chunk):
                conn.execute(insert(table), rows[i:i + chunk])
    return len(snaps)


def hours(start: int, n: int) -> list[int]:
    return [start + k * H for k in range(n)]


def random_walk(n: int, seed: int, start: float = 100_000.0, vol: float = 0.005) -> list[float]:
    """BTC prices with independent Gaussian hourly log returns of standard deviation `vol`."""
    rng = random.Random(seed)
    prices, p = [], start
    for _ in range(n):
        prices.append(p)
        p *= math.exp(rng.gauss(0.0, vol))
    return prices


def market_history(start: int, n: int, seed: int, venues: Sequence[str] = ("binance", "bybit", "okx", "bitget",
                                                                              "gateio", "hyperliquid", "asterdex",
                                                                              "dydx")) -> list[dict]:
    """A plausible hourly market: random-walk BTC, mean-reverting funding, factors from docs/design.md#sentiment, a
    few venues (funding, mark, index) and a market liquidation line."""
    rng = random.Random(seed)
    prices = random_walk(n, seed)
    out = []
    funding = 0.0001
    for k, t in enumerate(hours(start, n)):
        funding = 0.0001 + 0.9 * (funding - 0.0001) + rng.gauss(0, 0.00003)
        p24 = 100 * (prices[k] / prices[max(k - 24, 0)] - 1)
        x = min(max(rng.gauss(0.42, 0.08), 0.05), 1.5)
        share = min(max(rng.gauss(0.5, 0.06), 0.05), 0.95)
        sigma = abs(rng.gauss(0, 0.00003))
        f = {"funding": max(-1, min(1, (100 * funding - 0.01) / 0.04)), "price": max(-1, min(1, p24 / 5)),
             "long_short": max(-1, min(1, -math.log(share / (1 - share)) / math.log(2.5))),
             "conviction": max(-1, min(1, (x - 0.35) / 0.25)), "divergence": -max(0, min(1, 100 * sigma / 0.01)),
             "oi_price": max(-1, min(1, p24 / 2)) * 0.5}
        weights = {"funding": 0.35, "price": 0.20, "long_short": 0.15, "conviction": 0.15, "divergence": 0.08,
                   "oi_price": 0.07}
        score = sum(weights[name] * f[name] for name in FACTORS)
        out.append(dict(
            timestamp=t, btc_price=prices[k], funding_rate_8h=funding, price_change_24h_pct=p24,
            funding_divergence=sigma, oi_vol_ratio=x, long_share=share, long_short_ratio=share / (1 - share),
            oi_change_24h_pct=rng.gauss(0, 3), total_volume_usd=rng.uniform(8e10, 2.5e11), composite_score=score,
            factors=f,
            venues={v: dict(btc_funding_rate_8h=funding + rng.gauss(0, 0.00002), btc_price=prices[k],
                            btc_mark_price=prices[k] * (1 + rng.gauss(0, 0.0003)), btc_index_price=prices[k])
                    for v in venues},
            liq=dict(total_usd=rng.uniform(1e5, 5e7), long_liq_share=rng.random(), volume_usd=5e9,
                     cascade_risk_score=rng.random() * 0.7),
        ))
    return out


DEX_VENUES = ("hyperliquid", "asterdex", "dydx")


def with_venue_markets(snapshots: list[dict], seed: int) -> list[dict]:
    """`market_history` snapshots with each venue's 24 h volume, open interest, long share and kind, and the
    market's CEX/DEX volumes and total OI summed from them (what `report`'s market section reads)."""
    rng = random.Random(seed + 1)
    drift: dict[str, list[float]] = {}  # per venue: slow log-deviations of volume and of OI/volume
    for s in snapshots:
        cex = dex = oi_total = 0.0
        for k, (venue, cols) in enumerate(s["venues"].items()):
            a, b = drift.get(venue, (0.0, 0.0))
            a, b = 0.98 * a + rng.gauss(0, 0.02), 0.98 * b + rng.gauss(0, 0.01)
            drift[venue] = [a, b]
            volume = 2e10 * (1.6 - 0.15 * k) * math.exp(a)
            oi = volume * 0.42 * math.exp(b)
            kind = "DEX" if venue in DEX_VENUES else "CEX"
            cols.update(kind=kind, volume_24h_usd=volume, open_interest_usd=oi,
                        long_share=None if kind == "DEX" else min(max(rng.gauss(0.5, 0.05), 0.05), 0.95))
            cex, dex = (cex + volume, dex) if kind == "CEX" else (cex, dex + volume)
            oi_total += oi
        s.update(total_volume_usd=cex + dex, cex_volume_usd=cex, dex_volume_usd=dex, total_oi_usd=oi_total,
                 oi_vol_ratio=oi_total / (cex + dex))
    return snapshots


def store_newest_hour_extras(db, newest: int, seed: int, coins: int = 200,
                             venues: Sequence[str] = ("binance", "bybit", "okx", "gateio", "hyperliquid")) -> None:
    """What a live hour adds beside the market rows, for `report`: every market of `venues` at `newest`
    (`coins` coins each), a day of liquidation events and coverage on OKX and Gate.io, a raised alert and
    BTC's options row."""
    from perps_tracker.model.instruments import InstrumentRow
    from perps_tracker.model.liquidation import make_event
    from perps_tracker.storage.db import write_lock
    from perps_tracker.storage.instruments import replace_venue_rows
    from perps_tracker.storage.liquidations import insert_events, open_coverage
    from perps_tracker.storage.tables import alerts, options_snapshots

    rng = random.Random(seed + 2)
    rows: dict[str, list] = {v: [] for v in venues}
    for c in range(coins):
        coin = "BTC" if c == 0 else "ETH" if c == 1 else f"C{c:03d}"
        price = 100_000.0 if c == 0 else 3_000.0 if c == 1 else rng.uniform(0.01, 50)
        for venue in venues:
            f8 = rng.gauss(0.0001, 0.00005)
            p = price * (1 + rng.gauss(0, 0.0002))
            volume = 1e9 / (c + 1) * rng.uniform(0.5, 1.5)
            rows[venue].append(InstrumentRow(newest, venue, f"{coin}USDT", coin, 1.0, "USDT", p, p, p, volume,
                                             volume * 0.4, f8, 8.0, f8, None, rng.gauss(0, 3)))
    end_ms = (newest + 42) * 1000
    start_ms = end_ms - 24 * H * 1000
    events = [make_event(venue, "BTCUSDT" if venue == "okx" else "BTC_USDT", rng.choice(("long", "short")),
                         100_000.0, rng.uniform(0.01, 2), rng.randrange(start_ms, end_ms), "rest")
              for venue in ("okx", "gateio") for _ in range(500)]
    with write_lock(db.engine) as conn:
        replace_venue_rows(conn, newest, rows)
        insert_events(conn, events)
        for venue in ("okx", "gateio"):
            open_coverage(conn, venue, "rest", start_ms, end_ms, "synthetic")
        conn.execute(alerts.insert(), [dict(timestamp=newest + 60, snapshot_timestamp=newest - 2 * H,
                                            strategy="Momentum Breakout", tier=1, confidence=85, direction="long",
                                            reasons="|P| > 5\nX > 0.45", status="fired", delivery_attempts=0)])
        conn.execute(options_snapshots.insert(), [dict(timestamp=newest, currency="BTC", dvol=52.0,
                                                       put_call_oi_ratio=0.7, options_oi_usd=2e10, skew_25d=-1.5,
                                                       atm_iv_30d=50.0, options=800, source="live")])
