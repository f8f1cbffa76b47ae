"""Alerts in the database: the rules' inputs from stored snapshots, decisions, deliveries.

The rules see only what is stored: a snapshot's market row and factor scores, its venues'
BTC funding and mark/index prices, the market line of its liquidations, and the composite
scores of the snapshots before it (trend). `latest_inputs` (alerts) and `inputs_between`
(backtest, every snapshot of a period in a handful of queries) share one implementation. Decisions are rows of `alerts`, one per
strategy per snapshot hour; each delivery to a webhook is a row of `alert_deliveries`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import Connection, func, insert, select, update

from perps_tracker.model.rules import TREND_POINTS, TREND_SPAN, FundingArb, RuleInputs, trend_slope
from perps_tracker.storage.db import Database, guard
from perps_tracker.storage.models import (
    Alert,
    AlertDelivery,
    ExchangeSnapshot,
    LiquidationSnapshot,
    MarketSnapshot,
    SentimentFactors,
)

REASON_SEPARATOR = "\n"


@dataclass(frozen=True)
class SnapshotRef:
    timestamp: int
    source: str
    composite_score: float | None
    sentiment: str | None


def latest_inputs(db: Database) -> tuple[SnapshotRef, RuleInputs] | None:
    """The newest snapshot and the rules' inputs from it and its history; None on an empty database."""
    with guard("reading the latest snapshot"), db.engine.connect() as conn:
        newest = conn.execute(select(func.max(MarketSnapshot.timestamp))).scalar_one()
        if newest is None:
            return None
        found = _inputs(conn, newest, newest)
    return found[0] if found else None


def inputs_between(db: Database, start: int | None = None, end: int | None = None
                   ) -> list[tuple[SnapshotRef, RuleInputs]]:
    """The rules' inputs of every snapshot with start <= timestamp <= end (None: unbounded),
    oldest first, exactly as `latest_inputs` builds them for one, in four queries in all."""
    with guard("reading snapshots"), db.engine.connect() as conn:
        return _inputs(conn, start, end)


def _inputs(conn: Connection, start: int | None, end: int | None) -> list[tuple[SnapshotRef, RuleInputs]]:
    def within(query):
        if start is not None:
            query = query.where(MarketSnapshot.timestamp >= start)
        if end is not None:
            query = query.where(MarketSnapshot.timestamp <= end)
        return query

    markets = conn.execute(within(
        select(MarketSnapshot.__table__, SentimentFactors.funding.label("fs"), SentimentFactors.price.label("ps"))
        .outerjoin(SentimentFactors, SentimentFactors.snapshot_id == MarketSnapshot.id))
        .order_by(MarketSnapshot.timestamp)).all()
    if not markets:
        return []
    funding: dict[int, dict[str, float]] = {}  # snapshot id → venue → BTC funding (ok venues only)
    basis: dict[int, dict[str, float]] = {}  # snapshot id → venue → mark / index − 1
    for sid, exchange, rate, mark, index in conn.execute(within(
            select(ExchangeSnapshot.snapshot_id, ExchangeSnapshot.exchange, ExchangeSnapshot.btc_funding_rate_8h,
                   ExchangeSnapshot.btc_mark_price, ExchangeSnapshot.btc_index_price)
            .join(MarketSnapshot, MarketSnapshot.id == ExchangeSnapshot.snapshot_id)
            .where(ExchangeSnapshot.status == "ok"))
            .order_by(ExchangeSnapshot.snapshot_id, ExchangeSnapshot.exchange)).all():
        if rate is not None:
            funding.setdefault(sid, {})[exchange] = rate
        if mark is not None and index:
            basis.setdefault(sid, {})[exchange] = mark / index - 1
    liqs = {r.snapshot_id: r for r in conn.execute(within(
        select(LiquidationSnapshot.snapshot_id, LiquidationSnapshot.total_usd, LiquidationSnapshot.long_liq_share,
               LiquidationSnapshot.volume_usd, LiquidationSnapshot.cascade_risk_score, LiquidationSnapshot.coverage)
        .join(MarketSnapshot, MarketSnapshot.id == LiquidationSnapshot.snapshot_id)
        .where(LiquidationSnapshot.exchange == "all")))}
    first, last = markets[0].timestamp, markets[-1].timestamp
    trend = conn.execute(
        select(MarketSnapshot.timestamp, MarketSnapshot.composite_score)
        .where(MarketSnapshot.timestamp <= last, MarketSnapshot.timestamp > first - TREND_SPAN,
               MarketSnapshot.composite_score.is_not(None))
        .order_by(MarketSnapshot.timestamp)).all()
    times = [t for t, _ in trend]
    out = []
    for m in markets:
        upto = bisect.bisect_right(times, m.timestamp)
        since = max(bisect.bisect_right(times, m.timestamp - TREND_SPAN), upto - TREND_POINTS)
        out.append((SnapshotRef(m.timestamp, m.source, m.composite_score, m.sentiment),
                    _rule_inputs(m, funding.get(m.id, {}), basis.get(m.id, {}), liqs.get(m.id), trend[since:upto])))
    return out


def _rule_inputs(m, funding: dict[str, float], basis: dict[str, float], liq, trend) -> RuleInputs:
    """One snapshot's inputs: its market row (with factor scores `fs`, `ps`), its ok venues' BTC
    funding and basis, market liquidation line, and the (timestamp, S) points of its trend window."""
    return RuleInputs(
        S=m.composite_score,
        fs=m.fs,
        ps=m.ps,
        P=m.price_change_24h_pct,
        F_pct=None if m.funding_rate_8h is None else 100 * m.funding_rate_8h,
        sigma_pct=None if m.funding_divergence is None else 100 * m.funding_divergence,
        X=m.oi_vol_ratio,
        long_share=m.long_share,
        total_volume_usd=m.total_volume_usd,
        liq_total_usd=liq.total_usd if liq else None,
        liq_long_share=liq.long_liq_share if liq else None,
        liq_volume_usd=liq.volume_usd if liq else None,
        cascade_score=liq.cascade_risk_score if liq else None,
        liq_coverage=liq.coverage if liq else None,
        btc_funding_8h=funding,
        funding_arb=None if m.funding_arb_coin is None or m.funding_arb_short_8h is None
        or m.funding_arb_long_8h is None else FundingArb(m.funding_arb_coin, m.funding_arb_short,
                                                         m.funding_arb_short_8h, m.funding_arb_long,
                                                         m.funding_arb_long_8h),
        basis=basis,
        slope=trend_slope([(t, s) for t, s in trend]) if len(trend) >= 2 else None,
    )


# -- decisions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredAlert:
    id: int
    timestamp: int  # when it was decided
    snapshot_timestamp: int
    strategy: str
    tier: int
    confidence: int
    direction: str | None
    reasons: tuple[str, ...]
    status: str  # fired, sent or suppressed
    why: str | None
    delivered_at: int | None = None
    delivery_attempts: int = 0
    delivery_error: str | None = None
    deliveries: tuple[tuple[str, str], ...] = ()  # (webhook, status)

    @property
    def raised(self) -> bool:
        return self.status in ("fired", "sent")


def _stored(row, deliveries: Sequence[tuple[str, str]] = ()) -> StoredAlert:
    return StoredAlert(row.id, row.timestamp, row.snapshot_timestamp, row.strategy, row.tier, row.confidence,
                       row.direction, tuple(r for r in (row.reasons or "").split(REASON_SEPARATOR) if r),
                       row.status, row.why, row.delivered_at, row.delivery_attempts, row.delivery_error,
                       tuple(deliveries))


def _with_deliveries(conn: Connection, rows) -> list[StoredAlert]:
    ids = [r.id for r in rows]
    by_alert: dict[int, list[tuple[str, str]]] = {}
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        for d in conn.execute(select(AlertDelivery.alert_id, AlertDelivery.webhook, AlertDelivery.status)
                              .where(AlertDelivery.alert_id.in_(chunk)).order_by(AlertDelivery.webhook)):
            by_alert.setdefault(d.alert_id, []).append((d.webhook, d.status))
    return [_stored(r, by_alert.get(r.id, ())) for r in rows]


def alerts_between(db: Database, since_snapshot: int, until_snapshot: int) -> list[StoredAlert]:
    """Alerts decided on snapshots in (since, until], oldest first."""
    with guard("reading alerts"), db.engine.connect() as conn:
        rows = conn.execute(select(Alert.__table__)
                            .where(Alert.snapshot_timestamp > since_snapshot,
                                   Alert.snapshot_timestamp <= until_snapshot)
                            .order_by(Alert.snapshot_timestamp, Alert.id)).all()
        return _with_deliveries(conn, rows)


def alert_history(db: Database, since: int) -> list[StoredAlert]:
    """Alerts decided at or after `since` (unix seconds), oldest first, with their deliveries."""
    with guard("reading alert history"), db.engine.connect() as conn:
        rows = conn.execute(select(Alert.__table__).where(Alert.timestamp >= since)
                            .order_by(Alert.timestamp, Alert.id)).all()
        return _with_deliveries(conn, rows)


@dataclass(frozen=True)
class NewAlert:
    strategy: str
    tier: int
    confidence: int
    direction: str | None
    reasons: tuple[str, ...]
    status: str  # fired or suppressed
    why: str | None


def record_alerts(db: Database, snapshot_timestamp: int, now: int, alerts: Sequence[NewAlert]) -> list[StoredAlert]:
    """Store the decisions of one evaluation in one transaction; strategies already decided
    on this snapshot (by another run) keep their row, which is returned instead."""
    out: list[StoredAlert] = []
    with guard("storing alerts"), db.engine.begin() as conn:
        existing = {r.strategy: r for r in conn.execute(
            select(Alert.__table__).where(Alert.snapshot_timestamp == snapshot_timestamp))}
        for a in alerts:
            if a.strategy in existing:
                out.append(_stored(existing[a.strategy]))
                continue
            alert_id = conn.execute(insert(Alert).values(
                timestamp=now, snapshot_timestamp=snapshot_timestamp, strategy=a.strategy, tier=a.tier,
                confidence=a.confidence, direction=a.direction, reasons=REASON_SEPARATOR.join(a.reasons),
                status=a.status, why=a.why, delivery_attempts=0)).inserted_primary_key[0]
            out.append(StoredAlert(alert_id, now, snapshot_timestamp, a.strategy, a.tier, a.confidence, a.direction,
                                   a.reasons, a.status, a.why))
    return out


# -- deliveries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PendingDelivery:
    id: int
    webhook: str
    attempts: int
    alert: StoredAlert


def queue_deliveries(db: Database, alert_ids: Sequence[int], webhooks: Sequence[str]) -> None:
    """A pending delivery for each (alert, webhook) that has none yet."""
    if not alert_ids or not webhooks:
        return
    with guard("queueing alert deliveries"), db.engine.begin() as conn:
        have = {(a, w) for a, w in conn.execute(select(AlertDelivery.alert_id, AlertDelivery.webhook)
                                                .where(AlertDelivery.alert_id.in_(list(alert_ids))))}
        rows = [dict(alert_id=a, webhook=w, status="pending", attempts=0)
                for a in alert_ids for w in webhooks if (a, w) not in have]
        if rows:
            conn.execute(insert(AlertDelivery), rows)


def pending_deliveries(db: Database) -> list[PendingDelivery]:
    """Every delivery not yet made, oldest alert first."""
    with guard("reading pending deliveries"), db.engine.connect() as conn:
        pending = conn.execute(select(AlertDelivery.id, AlertDelivery.alert_id, AlertDelivery.webhook,
                                      AlertDelivery.attempts).where(AlertDelivery.status == "pending")).all()
        ids = sorted({p.alert_id for p in pending})
        alerts = {r.id: _stored(r) for r in conn.execute(select(Alert.__table__).where(Alert.id.in_(ids)))}
    out = [PendingDelivery(p.id, p.webhook, p.attempts, alerts[p.alert_id]) for p in pending]
    return sorted(out, key=lambda d: (d.alert.timestamp, d.alert.id, d.webhook))


def finish_delivery(db: Database, delivery_id: int, now: int, *, delivered: bool | None,
                    error: str | None = None) -> None:
    """Record one attempt: delivered, failed (`delivered=False`, stays pending) or expired (`None`),
    and bring the alert's summary columns up to date."""
    status = "delivered" if delivered else "pending" if delivered is False else "expired"
    with guard("recording a delivery"), db.engine.begin() as conn:
        alert_id = conn.execute(select(AlertDelivery.alert_id).where(AlertDelivery.id == delivery_id)).scalar_one()
        values: dict = dict(status=status, error=None if delivered else error)
        if delivered is not None:
            values.update(attempts=AlertDelivery.attempts + 1, last_attempt_at=now)
        if delivered:
            values["delivered_at"] = now
        conn.execute(update(AlertDelivery).where(AlertDelivery.id == delivery_id).values(**values))
        rows = conn.execute(select(AlertDelivery.status, AlertDelivery.attempts, AlertDelivery.delivered_at,
                                   AlertDelivery.error, AlertDelivery.last_attempt_at)
                            .where(AlertDelivery.alert_id == alert_id)).all()
        all_done = all(r.status == "delivered" for r in rows)
        errors = sorted((r for r in rows if r.error), key=lambda r: r.last_attempt_at or 0)
        summary: dict = dict(status="sent" if all_done else "fired",
                             delivery_attempts=sum(r.attempts for r in rows),
                             delivery_error=errors[-1].error if errors else None,
                             delivered_at=max(r.delivered_at for r in rows) if all_done else None)
        conn.execute(update(Alert).where(Alert.id == alert_id, Alert.status != "suppressed").values(**summary))
