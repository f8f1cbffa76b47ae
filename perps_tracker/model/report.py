"""`report`: the state of the market over a window, from the stored history (docs/report.md).

Pure: `assemble(data, ...)` turns what storage/report.py read (`ReportData`: plain rows) into a
`Report`, one frozen dataclass per section. Every section has `missing`: one "could not compute X:
why" line per figure it had to leave out, so a reader (and the JSON) knows a gap from a zero.

Conventions: the window is the `hours` hours up to the newest snapshot, (newest − hours, newest];
"before" values are those of the snapshot `hours` earlier (24 h / 7 d for the headline), or the
nearest stored one within `NEAR_HOURS`. Amounts in USD, shares in percent of the total (0–100),
the Herfindahl–Hirschman index Σ share² over the venues' volume shares in percent (0–10,000:
10,000 is one venue with everything; 9 equal venues give 1,111), funding as a fraction per 8 h
with its APR in percent (× 3 × 365 × 100).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from perps_tracker.model.analysis import score_trend, volatility_regime
from perps_tracker.model.anomalies import (
    KINDS,
    Anomaly,
    extreme_funding,
    oi_jumps,
    price_dislocations,
    venue_oi_volume_anomalies,
    venue_volume_anomalies,
    volume_spikes,
)
from perps_tracker.model.anomalies import REFERENCE_HOURS as ANOMALY_REFERENCE_HOURS
from perps_tracker.model.instruments import (
    DEFAULT_MIN_VOLUME,
    APR_PER_8H,
    CoinTotals,
    InstrumentRow,
    Opportunity,
    apr_pct,
    by_coin,
    coin_totals,
    funding_opportunities,
)
from perps_tracker.model.liquidation import LiquidationSummary, VenueTotals, summarize_window
from perps_tracker.model.options import OptionsMetrics
from perps_tracker.model.times import HOUR, utc_minute

DEFAULT_HOURS = 24
NEAR_HOURS = 2  # a "before" value may come from a snapshot up to this many hours off the exact hour
TOP_OPPORTUNITIES = 5  # funding-arbitrage lines in the report
CHART_COINS = 12  # coins (largest 24 h volume) in the funding chart series
DAY_TRADING_BELOW = 0.25  # OI / 24 h volume below this: volume is ≥ 4× the open positions (day trading)
CONVICTION_ABOVE = 0.5  # above this: positions worth half a day's volume or more are held (conviction)
DAY_TRADING, MIXED, CONVICTION = "DAY-TRADING", "MIXED", "CONVICTION"
# hours read before the window: the anomaly ranges' 7 days, and 7 d + 24 h + 1 h for the BTC regime
LOOKBACK_HOURS = max(ANOMALY_REFERENCE_HOURS, 193)


def reading(oi_vol_ratio: float | None) -> str | None:
    """DAY-TRADING, MIXED or CONVICTION from OI / 24 h volume (None: unknown)."""
    if oi_vol_ratio is None:
        return None
    return DAY_TRADING if oi_vol_ratio < DAY_TRADING_BELOW else CONVICTION if oi_vol_ratio > CONVICTION_ABOVE \
        else MIXED


# -- what storage reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketRow:
    """One stored hour's market row (`market_snapshots`)."""

    timestamp: int
    source: str
    exchanges_ok: int
    exchanges_failed: int
    total_volume_usd: float | None
    cex_volume_usd: float | None
    dex_volume_usd: float | None
    total_oi_usd: float | None
    btc_price: float | None
    funding_rate_8h: float | None
    price_change_24h_pct: float | None
    oi_vol_ratio: float | None
    long_share: float | None
    oi_change_24h_pct: float | None
    composite_score: float | None
    sentiment: str | None
    strength: str | None


@dataclass(frozen=True)
class VenueRow:
    """One venue that answered in one stored hour (`exchange_snapshots`, status ok)."""

    timestamp: int
    exchange: str
    kind: str
    volume_24h_usd: float | None
    open_interest_usd: float | None
    btc_funding_rate_8h: float | None
    long_share: float | None


@dataclass(frozen=True)
class LiquidationHour:
    """A stored hour's market liquidation line (`liquidation_snapshots`, exchange 'all')."""

    timestamp: int
    count: int
    long_usd: float
    short_usd: float
    total_usd: float
    cascade_risk_score: float | None
    level: str | None
    coverage: float | None


@dataclass(frozen=True)
class AlertLine:
    """An alert decided on a snapshot of the window (`alerts`)."""

    snapshot_timestamp: int
    strategy: str
    tier: int
    confidence: int
    direction: str | None
    status: str  # fired, sent or suppressed
    reasons: tuple[str, ...]
    why: str | None


@dataclass(frozen=True)
class ReportData:
    """Everything `report` reads, for the window and the hours before it that the anomaly ranges and
    the BTC regime need. Rows oldest first."""

    newest: int  # the newest snapshot's hour
    newest_taken_at: int  # when it was taken
    hours: int
    markets: tuple[MarketRow, ...]  # (newest − hours − LOOKBACK_HOURS, newest]
    venues: tuple[VenueRow, ...]  # the same hours
    liquidation_hours: tuple[LiquidationHour, ...]  # the window's hours
    liq_start_ms: int  # the liquidation window: `hours` up to the newest snapshot's taken_at
    liq_end_ms: int
    liq_totals: Mapping[str, VenueTotals]
    liq_coverage: Mapping[str, float]
    liq_volumes: Mapping[str, float]  # 24 h volume per venue of the newest snapshot (V)
    alerts: tuple[AlertLine, ...]  # decided on the window's snapshots
    instrument_hour: int | None  # the newest hour with per-market rows at or before `newest`
    instruments: tuple[InstrumentRow, ...]
    options: tuple[tuple[OptionsMetrics, float | None], ...] = ()  # newest row per currency, DVOL at window start


# -- the report ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Moved:
    """A figure now and at the start of a comparison: `change` = now − before (points for scores,
    shares and ratios), `change_pct` = (now / before − 1) × 100 (None unless before > 0)."""

    now: float | None
    before: float | None
    change: float | None
    change_pct: float | None


def moved(now: float | None, before: float | None) -> Moved:
    change = None if now is None or before is None else now - before
    pct = None if now is None or before is None or before <= 0 else (now / before - 1) * 100
    return Moved(now, before, change, pct)


@dataclass(frozen=True)
class Headline:
    composite_24h: Moved  # composite score now and 24 h before
    composite_7d: Moved
    sentiment: str | None
    sentiment_24h_ago: str | None
    sentiment_7d_ago: str | None
    strength: str | None
    strength_24h_ago: str | None
    strength_7d_ago: str | None
    trend_24h: str | None  # STRENGTHENING / WEAKENING / STABLE (docs/history.md), None: too few points
    trend_7d: str | None
    btc_price_24h: Moved
    btc_price_7d: Moved
    regime: str | None  # COMPRESSED / NORMAL / ELEVATED
    regime_z: float | None
    vol_pct_day: float | None  # BTC realised volatility, percent per day
    missing: tuple[str, ...]


@dataclass(frozen=True)
class VenueShare:
    exchange: str
    kind: str
    volume_24h_usd: float | None
    volume_share_pct: Moved  # now and at the window's start, percent of the venues' volume
    open_interest_usd: float | None
    oi_share_pct: float | None


@dataclass(frozen=True)
class MarketSection:
    total_volume_usd: Moved  # now and at the window's start
    total_oi_usd: Moved
    oi_vol_ratio: Moved
    cex_share_pct: Moved
    dex_share_pct: Moved
    hhi: Moved  # Σ volume share² (shares in %): 0–10,000
    venues: tuple[VenueShare, ...]  # largest volume first
    missing: tuple[str, ...]


@dataclass(frozen=True)
class VenuePositioning:
    exchange: str
    btc_funding_rate_8h: float | None
    btc_funding_apr_pct: float | None
    long_share: float | None
    oi_vol_ratio: float | None
    reading: str | None  # DAY-TRADING / MIXED / CONVICTION


@dataclass(frozen=True)
class Positioning:
    funding_rate_8h: Moved  # the market's (volume-weighted BTC funding), now and at the window's start
    funding_apr_pct: float | None
    long_share: Moved
    oi_vol_ratio: float | None
    reading: str | None
    venues: tuple[VenuePositioning, ...]  # in the market section's order
    missing: tuple[str, ...]


@dataclass(frozen=True)
class WatchCoin:
    coin: str
    totals: CoinTotals | None  # None: not listed on any venue that hour


@dataclass(frozen=True)
class CoinsSection:
    """The per-coin layer at the newest hour with per-market rows."""

    timestamp: int | None
    min_volume: float
    opportunities: tuple[Opportunity, ...]  # as `funding --top TOP_OPPORTUNITIES`
    opportunities_total: int  # coins with an opportunity, before the cut
    watchlist: tuple[WatchCoin, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class LiquidationsSection:
    start_ms: int
    end_ms: int
    hours: int
    market: LiquidationSummary | None  # the window's market line from the stored events (as `liquidations`)
    venues: tuple[LiquidationSummary, ...]
    snapshot_hours: int  # the window's snapshots with a stored market line
    max_cascade_score: float | None  # the highest hourly cascade score of the window's snapshots
    max_cascade_at: int | None
    max_cascade_level: str | None
    latest_level: str | None  # the newest snapshot's
    missing: tuple[str, ...]


@dataclass(frozen=True)
class AnomaliesSection:
    items: tuple[Anomaly, ...]  # by kind (KINDS order), then subject
    checked: tuple[str, ...]  # the kinds that could be evaluated
    missing: tuple[str, ...]


@dataclass(frozen=True)
class AlertsSection:
    raised: tuple[AlertLine, ...]  # fired or sent, oldest first
    suppressed: int
    missing: tuple[str, ...]


@dataclass(frozen=True)
class OptionsLine:
    currency: str
    timestamp: int
    dvol: Moved  # now and at the window's start
    atm_iv_30d: float | None
    skew_25d: float | None
    put_call_oi_ratio: float | None
    options_oi_usd: float | None


@dataclass(frozen=True)
class OptionsSection:
    currencies: tuple[OptionsLine, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class LiquidationPoint:
    timestamp: int
    long_usd: float
    short_usd: float
    cascade_risk_score: float | None
    level: str | None
    coverage: float | None


@dataclass(frozen=True)
class FundingGrid:
    """Funding APR (%) by coin × venue at one hour: each venue's largest-volume market of the coin."""

    timestamp: int | None
    coins: tuple[str, ...]  # largest 24 h volume first
    venues: tuple[str, ...]
    apr_pct: tuple[tuple[float | None, ...], ...]  # [coin][venue]


@dataclass(frozen=True)
class Series:
    """The window's hourly series, for charts (all aligned on `hours`, the stored hours, oldest first)."""

    hours: tuple[int, ...]
    composite: tuple[float | None, ...]
    btc_price: tuple[float | None, ...]
    venues: tuple[str, ...]
    volume_share_pct: tuple[tuple[float | None, ...], ...]  # [venue][hour]
    open_interest_usd: tuple[tuple[float | None, ...], ...]  # [venue][hour]
    funding: FundingGrid
    liquidations: tuple[LiquidationPoint, ...]  # the window's stored market lines


@dataclass(frozen=True)
class Report:
    newest: int  # the newest snapshot: the window ends there
    age_seconds: int  # how old it is when the report was made
    hours: int
    window_start: int  # the first hour of the window
    source: str  # the newest snapshot's: live or backfill
    headline: Headline
    market: MarketSection
    positioning: Positioning
    coins: CoinsSection
    liquidations: LiquidationsSection
    anomalies: AnomaliesSection
    alerts: AlertsSection
    options: OptionsSection
    series: Series


# -- assembly -------------------------------------------------------------------------------------------


def near(values: Mapping[int, float | None], t: int, hours: int = NEAR_HOURS):
    """The value at hour `t`, else at the nearest hour with a value within `hours` (earlier first)."""
    for k in range(hours + 1):
        for h in ((t,) if k == 0 else (t - k * HOUR, t + k * HOUR)):
            if values.get(h) is not None:
                return values[h]
    return None


def _share(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else part / whole * 100


def _at(rows: Sequence[MarketRow], attr: str) -> dict[int, float | None]:
    return {r.timestamp: getattr(r, attr) for r in rows}


def _venue_hours(venues: Sequence[VenueRow]) -> dict[int, dict[str, VenueRow]]:
    out: dict[int, dict[str, VenueRow]] = {}
    for v in venues:
        out.setdefault(v.timestamp, {})[v.exchange] = v
    return out


def volume_shares(rows: Mapping[str, VenueRow]) -> dict[str, float]:
    """Each venue's share of the hour's volume, percent (venues with a volume)."""
    total = math.fsum(v.volume_24h_usd for v in rows.values() if v.volume_24h_usd)
    return {e: v.volume_24h_usd / total * 100 for e, v in rows.items() if v.volume_24h_usd and total > 0}


def hhi(shares: Mapping[str, float]) -> float | None:
    """Herfindahl–Hirschman index of percent shares: Σ share², 0–10,000 (None without shares)."""
    return math.fsum(s * s for s in shares.values()) if shares else None


def _headline(data: ReportData, last: MarketRow, missing: list[str]) -> Headline:
    newest = data.newest
    score = _at(data.markets, "composite_score")
    price = _at(data.markets, "btc_price")
    labels = {r.timestamp: r for r in data.markets}

    def label(hours: int, attr: str):
        row = next((labels[h] for h in (newest - hours * HOUR + k * HOUR for k in (0, -1, 1, -2, 2))
                    if h in labels and getattr(labels[h], attr) is not None), None)
        return None if row is None else getattr(row, attr)

    c24, c7 = moved(last.composite_score, near(score, newest - 24 * HOUR)), \
        moved(last.composite_score, near(score, newest - 168 * HOUR))
    p24, p7 = moved(last.btc_price, near(price, newest - 24 * HOUR)), \
        moved(last.btc_price, near(price, newest - 168 * HOUR))
    if last.composite_score is None:
        missing.append("could not compute the composite score: the newest snapshot has none (no factor had its input)")
    for name, m in (("24 h", c24), ("7 d", c7)):
        if last.composite_score is not None and m.before is None:
            missing.append(f"could not compute the composite score's {name} change: no scored snapshot "
                           f"{name} before the newest (±{NEAR_HOURS} h)")
    for name, m in (("24 h", p24), ("7 d", p7)):
        if last.btc_price is not None and m.before is None:
            missing.append(f"could not compute the BTC price's {name} change: no stored price {name} before "
                           f"the newest (±{NEAR_HOURS} h)")
    if last.btc_price is None:
        missing.append("could not show the BTC price: the newest snapshot has none")
    scores = [(r.timestamp, r.composite_score) for r in data.markets if r.composite_score is not None]
    trends = [score_trend(scores, newest, name, h) for name, h in (("24h", 24), ("7d", 168))]
    for w in trends:
        if w.direction is None:
            missing.append(f"could not compute the {w.name} score trend: {w.message}")
    regime = volatility_regime({t: p for t, p in price.items() if p is not None}, newest)
    if regime.regime is None:
        missing.append(f"could not compute the BTC volatility regime: {regime.message}")
    return Headline(
        composite_24h=c24, composite_7d=c7, sentiment=last.sentiment,
        sentiment_24h_ago=label(24, "sentiment"), sentiment_7d_ago=label(168, "sentiment"),
        strength=last.strength, strength_24h_ago=label(24, "strength"), strength_7d_ago=label(168, "strength"),
        trend_24h=trends[0].direction, trend_7d=trends[1].direction, btc_price_24h=p24, btc_price_7d=p7,
        regime=regime.regime, regime_z=regime.z, vol_pct_day=regime.vol_pct_day, missing=tuple(missing))


def _market(data: ReportData, last: MarketRow, first: MarketRow | None, per_hour, start: int) -> MarketSection:
    missing: list[str] = []
    if first is None:
        missing.append(f"could not compute the changes over the window: no snapshot {data.hours} h before the "
                       f"newest (±{NEAR_HOURS} h)")

    def before(attr: str):
        return None if first is None else getattr(first, attr)

    def cex_dex(row: MarketRow | None, attr: str):
        return None if row is None else _share(getattr(row, attr), row.total_volume_usd)

    now_rows = per_hour.get(data.newest, {})
    then_rows = per_hour.get(first.timestamp, {}) if first is not None else {}
    shares_now, shares_then = volume_shares(now_rows), volume_shares(then_rows)
    oi_total = math.fsum(v.open_interest_usd for v in now_rows.values() if v.open_interest_usd is not None)
    venues = tuple(sorted((VenueShare(
        exchange=e, kind=v.kind, volume_24h_usd=v.volume_24h_usd,
        volume_share_pct=moved(shares_now.get(e), shares_then.get(e) if first is not None else None),
        open_interest_usd=v.open_interest_usd,
        oi_share_pct=_share(v.open_interest_usd, oi_total)) for e, v in now_rows.items()),
        key=lambda s: (-(s.volume_24h_usd or 0.0), s.exchange)))
    if not now_rows:
        missing.append("could not compute venue shares or their HHI: the newest snapshot has no venue that answered")
    no_oi = sorted(e for e, v in now_rows.items() if v.open_interest_usd is None)
    if no_oi:
        missing.append(f"could not include open interest of {', '.join(no_oi)}: not reported in the newest "
                       "snapshot (left out of the OI total and shares)")
    if last.total_oi_usd is None:
        missing.append("could not compute total open interest: no venue reported it in the newest snapshot")
    return MarketSection(
        total_volume_usd=moved(last.total_volume_usd, before("total_volume_usd")),
        total_oi_usd=moved(last.total_oi_usd, before("total_oi_usd")),
        oi_vol_ratio=moved(last.oi_vol_ratio, before("oi_vol_ratio")),
        cex_share_pct=moved(cex_dex(last, "cex_volume_usd"), cex_dex(first, "cex_volume_usd")),
        dex_share_pct=moved(cex_dex(last, "dex_volume_usd"), cex_dex(first, "dex_volume_usd")),
        hhi=moved(hhi(shares_now), hhi(shares_then) if first is not None else None),
        venues=venues, missing=tuple(missing))


def _positioning(data: ReportData, last: MarketRow, first: MarketRow | None, per_hour,
                 order: Sequence[str]) -> Positioning:
    missing: list[str] = []
    rows = per_hour.get(data.newest, {})
    venues = []
    for e in order:
        v = rows[e]
        ratio = v.open_interest_usd / v.volume_24h_usd if v.open_interest_usd is not None and v.volume_24h_usd \
            else None
        venues.append(VenuePositioning(e, v.btc_funding_rate_8h, apr_pct(v.btc_funding_rate_8h), v.long_share, ratio,
                                       reading(ratio)))
    if last.funding_rate_8h is None:
        missing.append("could not compute market funding: no venue reported BTC funding in the newest snapshot")
    if last.long_share is None:
        missing.append("could not compute the long share: no venue with a public long/short ratio answered")
    if last.oi_vol_ratio is None:
        missing.append("could not read day trading against conviction: no venue reported both OI and volume")
    no_ls = [v.exchange for v in venues if v.long_share is None]
    if no_ls and last.long_share is not None:
        missing.append(f"no long share from {', '.join(no_ls)}: the venue publishes no long/short ratio")
    return Positioning(
        funding_rate_8h=moved(last.funding_rate_8h, None if first is None else first.funding_rate_8h),
        funding_apr_pct=apr_pct(last.funding_rate_8h),
        long_share=moved(last.long_share, None if first is None else first.long_share),
        oi_vol_ratio=last.oi_vol_ratio, reading=reading(last.oi_vol_ratio), venues=tuple(venues),
        missing=tuple(missing))


def _coins(data: ReportData, watchlist: Sequence[str], min_volume: float) -> CoinsSection:
    missing: list[str] = []
    rows = data.instruments
    if data.instrument_hour is None:
        missing.append("could not compute funding arbitrage or the watchlist: no per-market rows stored "
                       "(instrument_snapshots is filled by `snapshot`, or `backfill --coins`)")
        return CoinsSection(None, min_volume, (), 0, tuple(WatchCoin(c, None) for c in watchlist), tuple(missing))
    if data.instrument_hour < data.newest:
        missing.append(f"per-market rows are from {utc_minute(data.instrument_hour)}, "
                       f"{(data.newest - data.instrument_hour) // HOUR} h before the newest snapshot: "
                       "the newest hour has none")
    every = funding_opportunities(rows, min_volume)
    if not every:
        missing.append(f"no funding arbitrage: no coin is listed on two venues with {min_volume:,.0f} USD of "
                       "24 h volume and funding on each")
    grouped = by_coin(rows)
    watch = tuple(WatchCoin(c, coin_totals(grouped[c]) if c in grouped else None) for c in watchlist)
    return CoinsSection(data.instrument_hour, min_volume, tuple(every[:TOP_OPPORTUNITIES]), len(every), watch,
                        tuple(missing))


def _liquidations(data: ReportData, venues: Sequence[str], sampled: Sequence[str]) -> LiquidationsSection:
    missing: list[str] = []
    window_hours = (data.liq_end_ms - data.liq_start_ms) / 3_600_000
    lines, market = summarize_window(venues, data.liq_totals, data.liq_coverage, data.liq_volumes, window_hours,
                                     sampled)
    unread = [line.exchange for line in lines if not line.observed]
    if market is None:
        missing.append("could not total liquidations: no venue was being read in the window (run "
                       "`perps-tracker liquidations watch`, or `perps-tracker liquidations` to poll OKX and Gate.io)")
    elif unread:
        missing.append(f"liquidations of {', '.join(unread)} unknown: nobody was reading them in the window")
    if market is not None and market.cascade_risk_score is None:
        why = ("read for less than half the window" if market.insufficient else "a venue read has no volume")
        missing.append(f"could not compute the window's cascade risk: {why} (coverage {market.coverage:.0%})")
    scored = [h for h in data.liquidation_hours if h.cascade_risk_score is not None]
    top = max(scored, key=lambda h: (h.cascade_risk_score, h.timestamp)) if scored else None
    latest = next((h for h in data.liquidation_hours if h.timestamp == data.newest), None)
    if not data.liquidation_hours:
        missing.append("could not show hourly cascade risk: no snapshot of the window stored a liquidation line")
    return LiquidationsSection(
        start_ms=data.liq_start_ms, end_ms=data.liq_end_ms, hours=data.hours, market=market, venues=tuple(lines),
        snapshot_hours=len(data.liquidation_hours),
        max_cascade_score=None if top is None else top.cascade_risk_score,
        max_cascade_at=None if top is None else top.timestamp, max_cascade_level=None if top is None else top.level,
        latest_level=None if latest is None else latest.level, missing=tuple(missing))


def _anomalies(data: ReportData, start: int) -> AnomaliesSection:
    volumes: dict[str, list[tuple[int, float | None]]] = {}
    ois: dict[str, list[tuple[int, float | None]]] = {}
    ratios: dict[str, list[tuple[int, float | None]]] = {}
    for v in data.venues:
        volumes.setdefault(v.exchange, []).append((v.timestamp, v.volume_24h_usd))
        ois.setdefault(v.exchange, []).append((v.timestamp, v.open_interest_usd))
        ratios.setdefault(v.exchange, []).append(
            (v.timestamp, v.open_interest_usd / v.volume_24h_usd
             if v.open_interest_usd is not None and v.volume_24h_usd else None))
    since = start - HOUR  # the window's hours are > since
    items: list[Anomaly] = []
    missing: list[str] = []
    checked = list(KINDS)
    items += venue_volume_anomalies(volumes, since)
    items += venue_oi_volume_anomalies(ratios, since)
    items += oi_jumps(ois, since)
    items += volume_spikes(volumes, since)
    stored = {r.timestamp for r in data.markets}
    before = sum(1 for t in stored if start - ANOMALY_REFERENCE_HOURS * HOUR <= t < start)
    if before < 48:
        missing.append(f"venue volume and OI/volume ranges need 2 of the 7 days before each hour: only {before} "
                       "stored hours before the window (`perps-tracker backfill --days 8` fills them)")
    if data.instrument_hour is None:
        checked = [k for k in checked if k not in ("extreme_funding", "price_dislocation")]
        missing.append("could not check extreme funding or cross-venue price dislocations: no per-market rows stored")
    else:
        items += extreme_funding(data.instruments)
        items += price_dislocations(data.instruments)
    order = {k: n for n, k in enumerate(KINDS)}
    items.sort(key=lambda a: (order[a.kind], a.subject))
    return AnomaliesSection(tuple(items), tuple(checked), tuple(missing))


def _alerts(data: ReportData) -> AlertsSection:
    raised = tuple(a for a in data.alerts if a.status in ("fired", "sent"))
    suppressed = sum(1 for a in data.alerts if a.status == "suppressed")
    missing = ()
    if not data.alerts:
        missing = ("no alert was decided on the window's snapshots: alerts are evaluated by `perps-tracker alerts` "
                   "or `snapshot --alerts`",)
    return AlertsSection(raised, suppressed, missing)


def _options(data: ReportData) -> OptionsSection:
    lines = tuple(OptionsLine(m.currency, m.timestamp, moved(m.dvol, dvol_then), m.atm_iv_30d, m.skew_25d,
                              m.put_call_oi_ratio, m.options_oi_usd) for m, dvol_then in data.options)
    missing = () if lines else ("no options figures stored: `snapshot` reads them from Deribit",)
    return OptionsSection(lines, missing)


def _series(data: ReportData, start: int, order: Sequence[str], per_hour) -> Series:
    window = [r for r in data.markets if r.timestamp >= start]
    hours = tuple(r.timestamp for r in window)
    seen = set(order)
    venues = list(order) + sorted({v.exchange for v in data.venues if v.timestamp >= start} - seen)
    shares = {t: volume_shares(per_hour.get(t, {})) for t in hours}
    grid = funding_grid(data.instrument_hour, data.instruments)
    return Series(
        hours=hours, composite=tuple(r.composite_score for r in window), btc_price=tuple(r.btc_price for r in window),
        venues=tuple(venues),
        volume_share_pct=tuple(tuple(shares[t].get(e) for t in hours) for e in venues),
        open_interest_usd=tuple(tuple(per_hour.get(t, {}).get(e).open_interest_usd if e in per_hour.get(t, {})
                                      else None for t in hours) for e in venues),
        funding=grid,
        liquidations=tuple(LiquidationPoint(h.timestamp, h.long_usd, h.short_usd, h.cascade_risk_score, h.level,
                                            h.coverage) for h in data.liquidation_hours))


def funding_grid(hour: int | None, rows: Sequence[InstrumentRow], top: int = CHART_COINS) -> FundingGrid:
    """Funding APR by coin × venue: the `top` coins by 24 h volume, each venue's largest market of the coin."""
    grouped = by_coin(rows)
    volume = {c: math.fsum(r.volume_24h_usd or 0.0 for r in rs) for c, rs in grouped.items()}
    coins = sorted(grouped, key=lambda c: (-volume[c], c))[:top]
    venues = sorted({r.exchange for c in coins for r in grouped[c] if r.funding_rate_8h is not None})
    table = []
    for c in coins:
        best: dict[str, InstrumentRow] = {}
        for r in grouped[c]:
            if r.funding_rate_8h is None:
                continue
            if r.exchange not in best or (r.volume_24h_usd or 0.0) > (best[r.exchange].volume_24h_usd or 0.0):
                best[r.exchange] = r
        table.append(tuple(best[v].funding_rate_8h * APR_PER_8H if v in best else None for v in venues))
    return FundingGrid(hour, tuple(coins), tuple(venues), tuple(table))


def assemble(data: ReportData, now: int, *, watchlist: Sequence[str] = (), liquidation_venues: Sequence[str] = (),
             sampled: Sequence[str] = (), min_volume: float = DEFAULT_MIN_VOLUME) -> Report:
    """The report of `data` (whose newest market row is the newest snapshot), made at `now`."""
    start = data.newest - (data.hours - 1) * HOUR
    rows = {r.timestamp: r for r in data.markets}
    last = rows[data.newest]
    first_ts = next((h for h in (data.newest - data.hours * HOUR + k * HOUR for k in (0, -1, 1, -2, 2))
                     if h in rows), None)
    first = None if first_ts is None else rows[first_ts]
    per_hour = _venue_hours(data.venues)
    market = _market(data, last, first, per_hour, start)
    order = [v.exchange for v in market.venues]
    return Report(
        newest=data.newest, age_seconds=now - data.newest, hours=data.hours, window_start=start, source=last.source,
        headline=_headline(data, last, []), market=market,
        positioning=_positioning(data, last, first, per_hour, order),
        coins=_coins(data, watchlist, min_volume),
        liquidations=_liquidations(data, liquidation_venues, sampled),
        anomalies=_anomalies(data, start), alerts=_alerts(data), options=_options(data),
        series=_series(data, start, order, per_hour))
