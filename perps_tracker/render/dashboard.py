"""The `serve` dashboard's pages but the overview (which is the HTML report, render/report_html.py):
a coin, funding arbitrage, liquidations, and the navigation bar they share. Each function takes what
a service returned and gives a whole HTML document (`report_html.document`: escaped, charts inline,
refreshed when a new snapshot is stored)."""

from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import quote

from perps_tracker.model.instruments import APR_PER_8H
from perps_tracker.model.times import utc_minute
from perps_tracker.render import charts
from perps_tracker.render.charts import Series
from perps_tracker.render.format import fmt_pct, fmt_usd_short
from perps_tracker.render.markets import fmt_apr, fmt_bps, fmt_hours, fmt_price, fmt_share
from perps_tracker.render.report_html import (
    Live,
    document,
    esc,
    liquidation_chart,
    liquidation_table,
    opportunities_table,
    paragraphs,
    section,
    table,
)

PAGES = (("/", "Overview"), ("/funding", "Funding"), ("/liquidations", "Liquidations"))


def coin_href(coin: str) -> str:
    return "/coin/" + quote(coin, safe="")


def nav(here: str, coins: Sequence[str]) -> str:
    """The bar on top of every page: the pages, then the watchlist's coins."""
    links = ['<a class="brand" href="/">perps-tracker</a>']
    for path, name in PAGES:
        links.append(f'<a href="{path}"{" class=here" if path == here else ""}>{name}</a>')
    for coin in coins:
        href = coin_href(coin)
        links.append(f'<a href="{esc(href)}"{" class=here" if href == here else ""}>{esc(coin)}</a>')
    return f'<header class="nav">{"".join(links)}</header>\n'


def windows(path: str, hours: int, choices: Sequence[tuple[int, str]]) -> str:
    """Links to the same page over other windows (`?hours=`)."""
    out = []
    for h, label in choices:
        out.append(f"<b>{label}</b>" if h == hours else f'<a href="{esc(path)}?hours={h}">{label}</a>')
    return f'<div class="windows">Window: {"".join(out)}</div>'


# -- a coin -------------------------------------------------------------------------------------------


def coin_page(report, hours: int, live: Live, window_links: str = "") -> str:
    """The `coin` view: every market of the coin, the totals, and its hourly history as charts."""
    view = report.view
    history = report.history or ()
    times = [t for t, _ in history]
    totals = [x for _, x in history]
    figures = [
        charts.line_chart(f"{view.coin} price (volume-weighted)", times, [Series("Price", [x.price for x in totals])],
                          left_unit="price"),
        charts.line_chart(f"{view.coin} 24 h volume and open interest", times,
                          [Series("Volume 24 h", [x.volume_24h_usd for x in totals]),
                           Series("Open interest", [x.open_interest_usd for x in totals])], left_unit="usd"),
        charts.line_chart(f"{view.coin} funding APR (volume-weighted)", times,
                          [Series("Funding APR", [None if x.funding_rate_8h is None else x.funding_rate_8h * APR_PER_8H
                                                  for x in totals])], left_unit="signed_pct"),
    ]
    rows = [[v.exchange, v.symbol, fmt_price(v.price), fmt_bps(v.price_dev_bps), fmt_pct(v.basis_pct, 3),
             fmt_usd_short(v.volume_24h_usd), fmt_share(v.volume_share), fmt_usd_short(v.open_interest_usd),
             fmt_share(v.oi_share), fmt_apr(v.funding_rate_8h), fmt_hours(v.funding_interval_h),
             fmt_pct(v.price_change_24h_pct)] for v in view.venues]
    t = view.total
    total = ["total", "", fmt_price(t.price), "", "", fmt_usd_short(t.volume_24h_usd), "",
             fmt_usd_short(t.open_interest_usd), "", fmt_apr(t.funding_rate_8h), "", fmt_pct(t.price_change_24h_pct)]
    spread = "-" if t.max_spread_bps is None else f"{t.max_spread_bps:.1f} bps"
    markets = section(
        "Markets", table(["venue", "symbol", "price", "dev bps", "basis", "vol 24h", "vol %", "OI", "OI %", "fund APR",
                          "every", "24h"], rows, right={2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, total=total),
        paragraphs([f"Widest price gap between markets: {spread}; price and funding weighted by 24 h volume; prices "
                    "per one coin (contracts of ×N coins divided by N)."]))
    note = paragraphs([f"{len(history)} stored hours in the last {hours} h."]) if history else \
        paragraphs(["No stored hours of this coin in that window."])
    body = [window_links, '<div class="charts">' + "\n".join(figures) + "</div>", note, markets]
    return document(f"{view.coin} ({view.sector}) on {len(view.venues)} markets", body,
                    subtitle=f"Per-market rows of {utc_minute(view.timestamp)}.", live=live)


# -- funding ------------------------------------------------------------------------------------------


def funding_page(report, grid, live: Live) -> str:
    """Funding arbitrage (`funding`): the spreads, and the heatmap of coins × venues."""
    heat = charts.heatmap("Funding APR, coins × venues", grid.coins, grid.venues, grid.apr_pct, unit="signed_pct",
                          caption=f"The {len(grid.coins)} coins with the largest 24 h volume; each venue's largest "
                                  f"market of the coin, funding per 8 h × {APR_PER_8H:,}.")
    opps = report.opportunities
    if opps:
        spreads = opportunities_table(opps, live) + paragraphs([
            f"Short the first venue, long the second; spread APR = (f8 short − f8 long) × {APR_PER_8H:,}. \"!\": "
            "the legs settle at different intervals, so the spread is not paid in step."])
    else:
        spreads = paragraphs(["No coin is listed on two venues with that volume on each."])
    body = [heat, section(f"Funding spreads ({len(opps)} coins)", spreads)]
    return document(f"Funding arbitrage, legs of {fmt_usd_short(report.min_volume)}+ 24 h volume", body,
                    subtitle=f"Per-market rows of {utc_minute(report.current.timestamp)}.", live=live)


# -- liquidations -------------------------------------------------------------------------------------


def liquidations_page(report, points: Sequence[Any], hours: int, live: Live, window_links: str = "") -> str:
    """The `liquidations` report over the window (no poll) and the stored hourly lines as bars."""
    observed = [line for line in report.lines if line.observed]
    start, end = report.start_ms // 1000, report.end_ms // 1000
    if report.market is None:
        summary = paragraphs([f"{utc_minute(start)} → {utc_minute(end)}: no venue was being read (run "
                              "`perps-tracker liquidations watch`, or `perps-tracker liquidations` to poll OKX and "
                              "Gate.io)."])
        lines = ""
    else:
        m = report.market
        sample = " Binance and OKX feeds are samples: their totals are lower bounds." if m.sampled else ""
        summary = paragraphs([f"{utc_minute(start)} → {utc_minute(end)}: {fmt_usd_short(m.total_usd)} liquidated, "
                              f"{m.count or 0:,} events, coverage {m.coverage:.0%}.{sample}"])
        lines = liquidation_table(observed, m)
    unread = [line.exchange for line in report.lines if not line.observed]
    note = paragraphs([f"Not read in the window: {', '.join(unread)}."]) if unread else ""
    body = [window_links, liquidation_chart(points), section("Venues", summary, lines, note)]
    return document(f"Liquidations · last {hours} h", body,
                    subtitle=f"{len(points)} stored hourly lines; the table is the `liquidations` command's.",
                    live=live)
