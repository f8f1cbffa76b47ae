"""The rules' inputs of many snapshots at once, as columns, for `backtest`: only what the rules and
the backtest read, with plain SQL through `Database.reading()` (on a SQLite file opened read-only
that is the standard library's sqlite3: a backtest never imports SQLAlchemy there)."""

from __future__ import annotations

from perps_tracker.model.liquidation import MIN_COVERAGE
from perps_tracker.model.rules import TREND_POINTS, TREND_SPAN, InputColumns, slopes
from perps_tracker.model.times import HOUR
from perps_tracker.storage.db import Database, guard

_MARKETS = """
SELECT m.id, m.timestamp, m.btc_price, m.sentiment, m.composite_score, f.funding, f.price,
       m.price_change_24h_pct, m.funding_rate_8h, m.funding_divergence, m.oi_vol_ratio, m.long_share,
       m.total_volume_usd, m.funding_arb_short_8h - m.funding_arb_long_8h
FROM market_snapshots m LEFT OUTER JOIN sentiment_factors f ON f.snapshot_id = m.id
WHERE m.timestamp >= :start ORDER BY m.timestamp"""
# per snapshot: how many ok venues give BTC funding, its highest and lowest; the highest and lowest basis
_BASIS = "CASE WHEN e.btc_index_price <> 0 THEN e.btc_mark_price / e.btc_index_price - 1 END"
_VENUES = f"""
SELECT e.snapshot_id, COUNT(e.btc_funding_rate_8h), MAX(e.btc_funding_rate_8h), MIN(e.btc_funding_rate_8h),
       MAX({_BASIS}), MIN({_BASIS})
FROM exchange_snapshots e JOIN market_snapshots m ON m.id = e.snapshot_id
WHERE e.status = 'ok' AND m.timestamp >= :start GROUP BY e.snapshot_id"""
_LIQUIDATIONS = """
SELECT l.snapshot_id, l.total_usd, l.long_liq_share, l.volume_usd, l.cascade_risk_score, l.coverage
FROM liquidation_snapshots l JOIN market_snapshots m ON m.id = l.snapshot_id
WHERE l.exchange = 'all' AND m.timestamp >= :start"""
_TREND = """
SELECT timestamp, composite_score FROM market_snapshots
WHERE composite_score IS NOT NULL AND timestamp > :start ORDER BY timestamp"""


def input_columns(db: Database, hours: int | None = None) -> InputColumns | None:
    """The rules' inputs of every snapshot of the `hours` up to the newest one (None: all), as
    columns: only the columns the rules and the backtest read, pivoted with numpy. None on an
    empty database."""
    import numpy as np

    with guard("reading snapshots"), db.reading() as read:
        newest = read.scalar("SELECT MAX(timestamp) FROM market_snapshots")
        if newest is None:
            return None
        start = newest - hours * HOUR + HOUR if hours is not None else -2**62
        rows = read.rows(_MARKETS, {"start": start})
        venue_rows = read.rows(_VENUES, {"start": start})
        liq_rows = read.rows(_LIQUIDATIONS, {"start": start})
        trend = read.rows(_TREND, {"start": start - TREND_SPAN})
    return _columns(np, rows, venue_rows, liq_rows, trend)


def _columns(np, rows, venue_rows, liq_rows, trend) -> InputColumns:
    """Assemble the columns: market rows as arrays, venue aggregates and liquidation lines placed by snapshot."""
    def col(k, scale=1.0):
        return np.array([np.nan if r[k] is None else r[k] * scale for r in rows], dtype=float)

    def placed(source, width):
        out = np.full((len(rows), width), np.nan)
        for sid, *values in source:
            out[position[sid]] = [np.nan if x is None else x for x in values]
        return out

    position = {r[0]: k for k, r in enumerate(rows)}
    venues, liq = placed(venue_rows, 5), placed(liq_rows, 5)
    with np.errstate(invalid="ignore", divide="ignore"):
        covered = np.isnan(liq[:, 4]) | (liq[:, 4] >= MIN_COVERAGE)  # as RuleInputs.liq_ratio
        liq_ratio = np.where((liq[:, 2] > 0) & covered, liq[:, 0] / liq[:, 2], np.nan)
    times = np.array([r[1] for r in rows], dtype=np.int64)
    return InputColumns(
        timestamp=times, btc_price=col(2), sentiment=tuple(r[3] for r in rows), S=col(4), fs=col(5), ps=col(6),
        P=col(7), F_pct=col(8, 100.0), sigma_pct=col(9, 100.0), X=col(10), long_share=col(11),
        total_volume_usd=col(12), liq_ratio=liq_ratio, liq_long_share=liq[:, 1], cascade_score=liq[:, 3],
        slope=slopes(np.array([t for t, _ in trend], dtype=np.int64), np.array([s for _, s in trend]), times,
                     TREND_SPAN, TREND_POINTS),
        funding_count=np.nan_to_num(venues[:, 0]), funding_max=venues[:, 1], funding_min=venues[:, 2],
        basis_max=venues[:, 3], basis_min=venues[:, 4], arb_spread=col(13))
