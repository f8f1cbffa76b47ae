"""Write a snapshot (one transaction) and read what scoring needs from history."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from perps_tracker.errors import DatabaseError
from perps_tracker.scoring import FactorScores, MarketAggregates
from perps_tracker.snapshot import HOUR, Snapshot
from perps_tracker.storage.db import Database, one_line
from perps_tracker.storage.liquidations import summary_rows
from perps_tracker.storage.models import (
    ExchangeSnapshot,
    LiquidationSnapshot,
    MarketSnapshot,
    SentimentFactors,
)

OI_LOOKBACK = (20 * HOUR, 28 * HOUR)  # "24 h earlier" means a snapshot in this range
_CHILDREN = (ExchangeSnapshot, SentimentFactors, LiquidationSnapshot)


def previous_oi(db: Database, timestamp: int) -> dict[str, float] | None:
    """Venue → open interest (USD) of the snapshot nearest 24 h before `timestamp` (20–28 h), if any."""
    target = timestamp - 24 * HOUR
    try:
        with db.engine.connect() as conn:
            snapshot_id = conn.execute(
                select(MarketSnapshot.id)
                .where(MarketSnapshot.timestamp.between(timestamp - OI_LOOKBACK[1], timestamp - OI_LOOKBACK[0]))
                .order_by(func.abs(MarketSnapshot.timestamp - target), MarketSnapshot.timestamp.desc())
                .limit(1)
            ).scalar()
            if snapshot_id is None:
                return None
            rows = conn.execute(
                select(ExchangeSnapshot.exchange, ExchangeSnapshot.open_interest_usd).where(
                    ExchangeSnapshot.snapshot_id == snapshot_id, ExchangeSnapshot.status == "ok",
                    ExchangeSnapshot.open_interest_usd.is_not(None))
            ).all()
    except SQLAlchemyError as e:
        raise DatabaseError(f"reading the snapshot of 24 h before failed: {one_line(e)}") from e
    return {exchange: oi for exchange, oi in rows}


def _market_row(snap: Snapshot, source: str) -> dict:
    m: MarketAggregates = snap.market
    return dict(
        timestamp=snap.timestamp, taken_at=int(snap.taken_at.timestamp()), source=source,
        exchanges_ok=m.exchanges_ok, exchanges_failed=m.exchanges_failed,
        total_volume_usd=m.total_volume_usd, cex_volume_usd=m.cex_volume_usd, dex_volume_usd=m.dex_volume_usd,
        total_oi_usd=m.total_oi_usd, btc_price=m.btc_price, funding_rate_8h=m.funding_rate_8h,
        price_change_24h_pct=m.price_change_24h_pct, funding_divergence=m.funding_divergence,
        oi_vol_ratio=m.oi_vol_ratio, long_share=m.long_share, long_short_ratio=m.long_short_ratio,
        oi_change_24h_pct=m.oi_change_24h_pct, composite_score=snap.sentiment.composite_score,
        sentiment=snap.sentiment.sentiment, strength=snap.sentiment.strength,
        divergence_label=snap.sentiment.divergence_label,
    )


def _venue_rows(snap: Snapshot, snapshot_id: int) -> list[dict]:
    return [dict(
        snapshot_id=snapshot_id, exchange=v.exchange, kind=v.kind, status=v.status, error=v.error,
        latency_ms=v.latency_ms, volume_24h_usd=v.volume_24h_usd, open_interest_usd=v.open_interest_usd,
        markets=v.markets, num_trades_24h=v.num_trades_24h, btc_price=v.btc_price,
        btc_mark_price=v.btc_mark_price, btc_index_price=v.btc_index_price,
        btc_funding_rate_8h=v.btc_funding_rate_8h, btc_price_change_24h_pct=v.btc_price_change_24h_pct,
        long_short_ratio=v.long_short_ratio, long_share=v.long_share, records_skipped=v.records_skipped,
    ) for v in snap.venues]


def _factor_row(factors: FactorScores, snapshot_id: int) -> dict:
    return dict(snapshot_id=snapshot_id, **factors.as_dict(), missing=",".join(factors.missing))


def store_snapshot(db: Database, snap: Snapshot, source: str = "live", *, keep_existing: bool = False) -> int | None:
    """Write the snapshot's rows in one transaction, replacing any snapshot of the same hour
    (with `keep_existing`, as `backfill` does: leaving it alone and writing nothing).

    Returns the new `market_snapshots.id`, or None when an existing snapshot was kept.
    """
    try:
        with db.engine.begin() as conn:
            if keep_existing and conn.execute(
                    select(MarketSnapshot.id).where(MarketSnapshot.timestamp == snap.timestamp)).first():
                return None
            old = select(MarketSnapshot.id).where(MarketSnapshot.timestamp == snap.timestamp)
            for child in _CHILDREN:
                conn.execute(delete(child).where(child.snapshot_id.in_(old)))
            conn.execute(delete(MarketSnapshot).where(MarketSnapshot.timestamp == snap.timestamp))
            snapshot_id = conn.execute(
                MarketSnapshot.__table__.insert().values(**_market_row(snap, source))
            ).inserted_primary_key[0]
            conn.execute(ExchangeSnapshot.__table__.insert(), _venue_rows(snap, snapshot_id))
            conn.execute(SentimentFactors.__table__.insert().values(**_factor_row(snap.factors, snapshot_id)))
            if snap.liquidations:
                conn.execute(LiquidationSnapshot.__table__.insert(), summary_rows(snap.liquidations, snapshot_id))
    except SQLAlchemyError as e:
        raise DatabaseError(f"storing the snapshot failed, nothing was written: {one_line(e)}") from e
    return snapshot_id
