"""`coin`, `funding`, `sectors`, the watchlist block under `snapshot`, and their JSON.

Funding is shown as APR % (f8 × 3 × 365 × 100), spreads and deviations in basis points, shares
in %. JSON keys are the layer's names (docs/markets.md); a missing value is null.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from perps_tracker.model import values
from perps_tracker.model.instruments import APR_PER_8H, CoinTotals, InstrumentRow, apr_pct
from perps_tracker.model.times import iso
from perps_tracker.render.format import fmt_pct, fmt_time, fmt_usd_short, warn
from perps_tracker.render.output import Col, Grid, say

TOTAL_KEYS = ("volume_24h_usd", "open_interest_usd", "price", "funding_rate_8h", "max_spread_bps")


def fmt_price(x: float | None) -> str:
    """A price as traders write it: 84,007.9, 140.16, 0.00001120 (four significant digits below 1)."""
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}" if abs(x) >= 100_000 else f"{x:,.1f}"
    if abs(x) >= 1 or x == 0:
        return f"{x:.2f}" if abs(x) >= 10 else f"{x:.4f}"
    return f"{x:.{min(12, 3 - math.floor(math.log10(abs(x))))}f}"


def fmt_apr(rate_8h: float | None) -> str:
    return fmt_pct(apr_pct(rate_8h), 1)


def fmt_bps(x: float | None) -> str:
    return "-" if x is None else f"{x:+.1f}"


def fmt_share(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def fmt_hours(h: float | None) -> str:
    return "-" if h is None else f"{h:g}h"


def _header(current, what: str) -> None:
    fetched = " (snapshot taken now)" if current.fetched else ""
    say(f"{what} · {fmt_time(current.timestamp)}{fetched}", style="bold")
    for v in current.failed:
        warn(f"{v.exchange} failed in this snapshot: {v.error}")


def _totals_json(t: CoinTotals) -> dict[str, Any]:
    return {key: getattr(t, key) for key in TOTAL_KEYS}


# -- coin ---------------------------------------------------------------------------------------------

COIN_COLUMNS = (Col("venue", "left"), Col("symbol", "left", drop=7), Col("price"), Col("dev bps", drop=3),
                Col("basis", drop=1), Col("vol 24h"), Col("vol %", drop=6), Col("OI"), Col("OI %", drop=4),
                Col("fund APR"), Col("every", drop=2), Col("24h", drop=5))


def render_coin(report) -> None:
    view = report.view
    _header(report.current, f"{view.coin} ({view.sector}) on {len(view.venues)} markets")
    grid = Grid(*COIN_COLUMNS)
    for v in view.venues:
        grid.add(v.exchange, v.symbol, fmt_price(v.price),
                 fmt_bps(v.price_dev_bps), fmt_pct(v.basis_pct, 3), fmt_usd_short(v.volume_24h_usd),
                 fmt_share(v.volume_share), fmt_usd_short(v.open_interest_usd), fmt_share(v.oi_share),
                 fmt_apr(v.funding_rate_8h), fmt_hours(v.funding_interval_h), fmt_pct(v.price_change_24h_pct))
    t = view.total
    grid.add("total", "", fmt_price(t.price), "", "", fmt_usd_short(t.volume_24h_usd), "",
             fmt_usd_short(t.open_interest_usd), "", fmt_apr(t.funding_rate_8h), "", fmt_pct(t.price_change_24h_pct),
             style="bold")
    grid.print()
    spread = "-" if t.max_spread_bps is None else f"{t.max_spread_bps:.1f} bps"
    say(f"Widest price gap between markets: {spread}; price and funding weighted by 24 h volume; "
        "prices per one coin (contracts of ×N coins divided by N).", hang=2)
    if report.history is not None:
        _coin_history(report.history)


HISTORY_ROWS = 48  # at most this many lines of history in a table (`--json` has every hour)


def _coin_history(history) -> None:
    if not history:
        say("No stored hours in that window.")
        return
    step = -(-len(history) // HISTORY_ROWS)
    shown = history[::-1][::step][::-1]  # the newest hour always, then every `step`-th back
    if step > 1:
        say(f"{len(history)} stored hours, every {step}th shown (--json has each):", hang=2)
    grid = Grid(Col("hour", "left"), Col("price"), Col("vol 24h"), Col("OI"), Col("fund APR"),
                Col("spread bps", drop=1), Col("mkts", drop=2))
    for t, totals in shown:
        grid.add(fmt_time(t)[:16], fmt_price(totals.price), fmt_usd_short(totals.volume_24h_usd),
                 fmt_usd_short(totals.open_interest_usd), fmt_apr(totals.funding_rate_8h),
                 "-" if totals.max_spread_bps is None else f"{totals.max_spread_bps:.1f}", totals.markets)
    grid.print()


def coin_json(report) -> dict[str, Any]:
    view = report.view
    out: dict[str, Any] = {
        "coin": view.coin, "sector": view.sector, "timestamp": iso(view.timestamp),
        "venues": [{**values(v), "next_funding_time": iso(v.next_funding_time)} for v in view.venues],
        "total": _totals_json(view.total),
    }
    if report.history is not None:
        out["history"] = [{"timestamp": iso(t), **_totals_json(totals)} for t, totals in report.history]
    return out


# -- funding ------------------------------------------------------------------------------------------

FUNDING_COLUMNS = (Col("coin", "left"), Col("short", "left"), Col("f APR", drop=3), Col("long", "left"),
                   Col("f APR ", drop=4), Col("spread APR"), Col("min vol", drop=2), Col("intervals", drop=1))


def render_funding(report) -> None:
    _header(report.current, f"Funding arbitrage, legs of {fmt_usd_short(report.min_volume)}+ 24 h volume")
    if not report.opportunities:
        say("No coin is listed on two venues with that volume on each.")
        return
    grid = Grid(*FUNDING_COLUMNS)
    for o in report.opportunities:
        intervals = (f"{fmt_hours(o.short.funding_interval_h)}/{fmt_hours(o.long.funding_interval_h)}"
                     + (" !" if o.intervals_differ else ""))
        grid.add(o.coin, o.short.exchange, fmt_apr(o.short.funding_rate_8h), o.long.exchange,
                 fmt_apr(o.long.funding_rate_8h), f"{o.apr_pct:.1f}%",
                 fmt_usd_short(min(o.short.volume_24h_usd, o.long.volume_24h_usd)), intervals)
    grid.print()
    say(f"Short the first venue, long the second; spread APR = (f8 short − f8 long) × {APR_PER_8H:,}. "
        "\"!\": the legs settle at different intervals, so the spread is not paid in step.", hang=2)


def _leg_json(leg) -> dict[str, Any]:
    return values(leg)


def funding_json(report) -> dict[str, Any]:
    return {"timestamp": iso(report.current.timestamp), "min_volume": report.min_volume,
            "opportunities": [{"coin": o.coin, "short": _leg_json(o.short), "long": _leg_json(o.long),
                               "spread_8h": o.spread_8h, "apr_pct": o.apr_pct,
                               "intervals_differ": o.intervals_differ} for o in report.opportunities]}


# -- sectors ------------------------------------------------------------------------------------------

SECTOR_COLUMNS = (Col("sector", "left"), Col("coins", drop=1), Col("mkts", drop=2), Col("vol 24h"), Col("OI"),
                  Col("fund APR"), Col("24h"))


def render_sectors(report) -> None:
    _header(report.current, "Sectors")
    grid = Grid(*SECTOR_COLUMNS)
    for s in report.lines:
        grid.add(s.sector, s.coins, s.markets, fmt_usd_short(s.volume_24h_usd), fmt_usd_short(s.open_interest_usd),
                 fmt_apr(s.funding_rate_8h), fmt_pct(s.price_change_24h_pct))
    grid.print()
    say("Funding and 24 h change weighted by 24 h volume.", hang=2)


def sectors_json(report) -> dict[str, Any]:
    return {"timestamp": iso(report.current.timestamp), "sectors": [values(s) for s in report.lines]}


# -- snapshot: watchlist and --instruments ------------------------------------------------------------


def render_watchlist(watch: Sequence[tuple[str, CoinTotals | None]]) -> None:
    if not watch:
        return
    grid = Grid(Col("watchlist", "left"), Col("price"), Col("24h"), Col("fund APR"), Col("OI"), Col("mkts", drop=1))
    for coin, t in watch:
        if t is None:
            grid.add(coin, "not listed", "", "", "", "")
        else:
            grid.add(coin, fmt_price(t.price), fmt_pct(t.price_change_24h_pct), fmt_apr(t.funding_rate_8h),
                     fmt_usd_short(t.open_interest_usd), t.markets)
    grid.print()


def instruments_json(rows: Sequence[InstrumentRow]) -> list[dict[str, Any]]:
    return [{**values(r, without=("timestamp",)), "next_funding_time": iso(r.next_funding_time)} for r in rows]
