"""Stored snapshots as time series, for the history analyses (`trend`, `backtest`, `predict`).

One query: the market rows (live and backfilled alike) with their factor scores, oldest
first. A missing value stays None; the analyses skip it, never read it as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from perps_tracker.model.scoring import FACTOR_COLUMNS
from perps_tracker.model.times import HOUR
from perps_tracker.storage.db import Database, guard
from perps_tracker.storage.models import MarketSnapshot, SentimentFactors


@dataclass(frozen=True)
class HistoryRow:
    timestamp: int  # hour bucket, Unix seconds UTC
    source: str
    btc_price: float | None
    composite_score: float | None
    sentiment: str | None
    funding_rate_8h: float | None
    price_change_24h_pct: float | None
    oi_vol_ratio: float | None
    long_share: float | None
    funding_divergence: float | None
    oi_change_24h_pct: float | None
    factors: tuple[float | None, ...]  # scores in FACTOR_COLUMNS order


def load_history(db: Database, hours: int | None = None) -> list[HistoryRow]:
    """Every snapshot oldest first, or only those of the `hours` up to the newest one."""
    m, f = MarketSnapshot, SentimentFactors
    query = (select(m.timestamp, m.source, m.btc_price, m.composite_score, m.sentiment, m.funding_rate_8h,
                    m.price_change_24h_pct, m.oi_vol_ratio, m.long_share, m.funding_divergence,
                    m.oi_change_24h_pct, *(getattr(f, c) for c in FACTOR_COLUMNS))
             .outerjoin(f, f.snapshot_id == m.id).order_by(m.timestamp))
    with guard("reading the snapshot history"), db.engine.connect() as conn:
        if hours is not None:
            newest = conn.execute(select(func.max(m.timestamp))).scalar_one()
            if newest is None:
                return []
            query = query.where(m.timestamp > newest - hours * HOUR)
        rows = conn.execute(query).all()
    return [HistoryRow(*r[:11], factors=tuple(r[11:])) for r in rows]
