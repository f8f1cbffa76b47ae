"""The report's words, shared by its renderers (render/report.py: text, Markdown; render/report_html.py:
HTML): section titles, anomaly kinds, and the sentences of each section."""

from __future__ import annotations

from perps_tracker.model.instruments import APR_PER_8H
from perps_tracker.model.times import utc_minute
from perps_tracker.render.format import fmt_num, fmt_pct, fmt_score, fmt_usd_short
from perps_tracker.render.markets import fmt_apr, fmt_price

TITLES = {"headline": "Headline", "market": "Market", "positioning": "Positioning",
          "coins": "Funding arbitrage and watchlist", "liquidations": "Liquidations", "anomalies": "Anomalies",
          "alerts": "Alerts", "options": "Options"}
KIND_NAMES = {"venue_volume": "venue volume", "venue_oi_volume": "venue OI/volume", "oi_jump": "OI jump",
              "volume_spike": "volume spike", "extreme_funding": "extreme funding",
              "price_dislocation": "price dislocation"}


# -- shared wording ---------------------------------------------------------------------------------------


def _label_was(now: str | None, before: str | None) -> str:
    if before is None:
        return ""
    return " (unchanged)" if before == now else f" (was {before})"


def _pts(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:+.{digits}f} pts"


def _chg_pct(m) -> str:
    return fmt_pct(m.change_pct, 1)


def report_title(report) -> str:
    age = report.age_seconds / 3600
    stale = f"; {age:,.0f} h old" if age >= 2 else ""
    return (f"Market report · {report.hours} h to {utc_minute(report.newest)} "
            f"(newest snapshot: {report.source}{stale})")


def headline_lines(report) -> list[str]:
    h = report.headline
    c24, c7 = h.composite_24h, h.composite_7d
    score = (f"Composite score {fmt_score(c24.now)}, {h.sentiment or 'no label'}"
             f"{'' if h.strength in (None, 'NEUTRAL') else ' ' + h.strength}: "
             f"{fmt_score(c24.change)} over 24 h{_label_was(h.sentiment, h.sentiment_24h_ago)}, "
             f"{fmt_score(c7.change)} over 7 d{_label_was(h.sentiment, h.sentiment_7d_ago)}.")
    trend = f"Score trend: 24 h {h.trend_24h or '-'}, 7 d {h.trend_7d or '-'}."
    regime = "-" if h.regime is None else (
        f"{h.regime} (z {fmt_score(h.regime_z) if h.regime_z is not None else '-'}, "
        f"{fmt_num(h.vol_pct_day)}%/day)")
    btc = (f"BTC {fmt_price(h.btc_price_24h.now)}: {_chg_pct(h.btc_price_24h)} over 24 h, "
           f"{_chg_pct(h.btc_price_7d)} over 7 d; volatility regime {regime}.")
    return [score, trend, btc]


def market_lines(report) -> list[str]:
    m = report.market
    return [
        f"Volume {fmt_usd_short(m.total_volume_usd.now)} ({_chg_pct(m.total_volume_usd)}), open interest "
        f"{fmt_usd_short(m.total_oi_usd.now)} ({_chg_pct(m.total_oi_usd)}), OI/volume "
        f"{fmt_num(m.oi_vol_ratio.now)} ({fmt_score(m.oi_vol_ratio.change)}) over the window.",
        f"CEX {share_text(m.cex_share_pct.now)} / DEX {share_text(m.dex_share_pct.now)} of volume (DEX "
        f"{_pts(m.dex_share_pct.change)}); concentration HHI {_hhi(m.hhi.now)} "
        f"({'-' if m.hhi.change is None else f'{m.hhi.change:+,.0f}'}; 10,000 = one venue).",
    ]


def share_text(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def _hhi(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def positioning_lines(report) -> list[str]:
    p = report.positioning
    rate = p.funding_rate_8h
    change = "-" if rate.change is None else fmt_pct(rate.change * APR_PER_8H, 1).replace("%", " pts")
    return [
        f"BTC funding {fmt_pct(rate.now, 4, fraction=True)}/8 h ({fmt_apr(rate.now)} APR; {change} APR over the "
        f"window); long share {share_text(None if p.long_share.now is None else 100 * p.long_share.now)} "
        f"({_pts(None if p.long_share.change is None else 100 * p.long_share.change)}); OI/volume "
        f"{fmt_num(p.oi_vol_ratio)}: {p.reading or '-'}.",
    ]


def liquidation_lines(report) -> list[str]:
    liq = report.liquidations
    out = []
    window = f"{utc_minute(liq.start_ms // 1000)} → {utc_minute(liq.end_ms // 1000)}"
    m = liq.market
    if m is None:
        out.append(f"{window}: no venue was being read.")
    else:
        longs = "-" if m.long_liq_share is None else f"{m.long_liq_share:.0%}"
        risk = "-" if m.cascade_risk_score is None else f"{m.cascade_risk_score:.2f} {m.level}"
        sample = " (sampled feeds: a lower bound)" if m.sampled else ""
        out.append(f"{window}: {fmt_usd_short(m.total_usd)} liquidated{sample}, longs {longs}, {m.count:,} events, "
                   f"coverage {m.coverage:.0%}; cascade risk over the window {risk}.")
    if liq.max_cascade_score is not None:
        level = f" {liq.max_cascade_level}" if liq.max_cascade_level else ""
        out.append(f"Hourly cascade risk: highest {liq.max_cascade_score:.2f}{level} at "
                   f"{utc_minute(liq.max_cascade_at)}; newest hour {liq.latest_level or '-'} "
                   f"({liq.snapshot_hours} hours with a stored line).")
    return out


def option_lines(report) -> list[str]:
    out = []
    for o in report.options.currencies:
        dvol = "-" if o.dvol.now is None else f"{o.dvol.now:.1f}"
        change = "" if o.dvol.change is None else f" ({o.dvol.change:+.1f} over the window)"
        out.append(f"{o.currency} DVOL {dvol}{change}; ATM IV 30 d {fmt_num(o.atm_iv_30d, 1)}, 25-delta skew "
                   f"{'-' if o.skew_25d is None else f'{o.skew_25d:+.1f}'}, put/call OI {fmt_num(o.put_call_oi_ratio)}, "
                   f"options OI {fmt_usd_short(o.options_oi_usd)} ({utc_minute(o.timestamp)}).")
    return out


def alert_line(a) -> str:
    direction = f" {a.direction.upper()}" if a.direction else ""
    reasons = "; ".join(a.reasons)
    return (f"{utc_minute(a.snapshot_timestamp)} {a.strategy}{direction} (tier {a.tier}, confidence "
            f"{a.confidence}, {a.status}){': ' + reasons if reasons else ''}")
