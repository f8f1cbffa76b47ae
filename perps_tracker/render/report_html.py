"""`report --format html`: the report as one self-contained HTML document, and the pieces the `serve`
dashboard's pages share with it (render/dashboard.py).

The document is `charts.page(...)`: inline CSS, inline SVG charts and the charts' script, nothing
fetched (no CDN, no font, no image), so the file opens offline. Under the headline figures come the
five charts of `report.series` (composite score and BTC price; the venues' volume shares, stacked;
open interest by venue; funding APR of coins × venues; liquidations per hour with the cascade
score), then every section of the text report with its tables and its "could not compute" lines.

Every string that came from a venue or the database (venue, coin, symbol, alert reasons) is
HTML-escaped, in attributes too; the only markup not built here is the charts' (which escape theirs).
On a phone (375 px) the page does not scroll sideways: tables scroll inside their own box.

For `serve` (`Live`), the same page gets a navigation bar, coin names that link to their page, and
a small script that asks `/api/newest` every few seconds and reloads the page when a new snapshot
has been stored; its hash joins the page's Content-Security-Policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any, Callable, Iterable, Sequence

from perps_tracker.model.instruments import APR_PER_8H
from perps_tracker.model.times import utc_minute
from perps_tracker.render import charts
from perps_tracker.render.charts import Series
from perps_tracker.render.format import fmt_num, fmt_pct, fmt_score, fmt_usd_short
from perps_tracker.render.markets import fmt_apr, fmt_price
from perps_tracker.render.report_lines import (
    KIND_NAMES,
    TITLES,
    alert_line,
    headline_lines,
    liquidation_lines,
    market_lines,
    option_lines,
    positioning_lines,
    report_title,
    share_text,
)

CSS = """
header.nav{position:sticky;top:0;z-index:5;margin:-12px -12px 12px;padding:8px 12px;background:#1f2a36;color:#fff;
 display:flex;flex-wrap:wrap;align-items:center;gap:4px 14px;font-size:14px}
header.nav a{color:#dbe7f3;text-decoration:none;padding:2px 0;border-bottom:2px solid transparent}
header.nav a:hover{color:#fff}
header.nav a.here{color:#fff;border-bottom-color:#f28e2b}
header.nav .brand{font-weight:700;color:#fff;margin-right:6px}
header.nav .live{margin-left:auto;font-size:12px;color:#9fb3c8}
header.nav .live::before{content:"\\25CF";color:#59a14f;margin-right:4px}
@media (max-width:600px){header.nav{margin:-8px -8px 10px;padding:8px}header.nav .live{margin-left:0}}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px;margin:0 0 14px}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px 10px;min-width:0}
.card .k{font-size:12px;color:#666}
.card .v{font-size:20px;font-weight:600;overflow-wrap:anywhere}
.card .d{font-size:12px;color:#555;overflow-wrap:anywhere}
.up{color:#1a7f37}.down{color:#c62828}
section.part{background:#fff;border:1px solid #ddd;border-radius:8px;padding:10px 12px;margin:14px 0;min-width:0}
section.part h2{font-size:16px;margin:0 0 6px}
section.part p{margin:4px 0 8px;overflow-wrap:anywhere}
.tablebox{overflow-x:auto;margin:6px 0 8px;-webkit-overflow-scrolling:touch}
table.data{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums;min-width:100%}
table.data th,table.data td{padding:4px 8px;border-bottom:1px solid #eee;white-space:nowrap;text-align:left}
table.data th{font-weight:600;color:#444;background:#fafafa}
table.data td.r,table.data th.r{text-align:right}
table.data tr.total td{font-weight:600;border-top:1px solid #bbb}
table.data a{color:#1f5fa8;text-decoration:none}
table.data a:hover{text-decoration:underline}
ul.missing{margin:4px 0 0;padding-left:18px;color:#777;font-size:12px}
ul.missing li{overflow-wrap:anywhere}
ul.items{margin:4px 0;padding-left:18px}
ul.items li{overflow-wrap:anywhere;margin:2px 0}
.windows{font-size:13px;margin:0 0 10px;color:#555}
.windows a{color:#1f5fa8;margin:0 4px}
.windows b{margin:0 4px}
.note{color:#666;font-size:12px}
"""

# Asks the server for its newest snapshot every `data-every` ms and reloads the page when it is not the
# one the page was made from. Allowed by its hash in the page's CSP (charts.page's `scripts`).
REFRESH_SCRIPT = r"""
(function () {
  "use strict";
  var el = document.getElementById("live");
  if (!el || !window.fetch) return;
  var seen = el.getAttribute("data-version"), every = +el.getAttribute("data-every") || 15000;
  function again() { window.setTimeout(tick, every); }
  function tick() {
    fetch("/api/newest", {cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (d && d.version && d.version !== seen) { window.location.reload(); return; }
        el.textContent = "live";
        again();
      }, function () { el.textContent = "server unreachable, retrying"; again(); });
  }
  again();
})();
""".strip()

HEAD = '<link rel="icon" href="data:,">\n'  # no favicon request


class Markup(str):
    """Markup built here (already escaped): a table cell that is not text."""


def esc(value: Any) -> str:
    """Text (None: "-") escaped for an element or an attribute."""
    return escape("-" if value is None else str(value), quote=True)


def cell(value: Any) -> str:
    return str(value) if isinstance(value, Markup) else esc(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], right: Iterable[int] = (),
          total: Sequence[Any] | None = None, cls: str = "") -> str:
    """A table in its own sideways-scrolling box; columns in `right` right-aligned (numbers)."""
    right = set(right)

    def tr(row, row_cls=""):
        cells = "".join(f'<td{" class=r" if k in right else ""}>{cell(v)}</td>' for k, v in enumerate(row))
        return f'<tr{f" class={row_cls}" if row_cls else ""}>{cells}</tr>'

    head = "".join(f'<th{" class=r" if k in right else ""}>{esc(h)}</th>' for k, h in enumerate(headers))
    body = "".join(tr(r) for r in rows) + (tr(total, "total") if total is not None else "")
    return (f'<div class="tablebox"><table class="data{" " + cls if cls else ""}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{body}</tbody></table></div>')


def paragraphs(lines: Iterable[str]) -> str:
    return "".join(f"<p>{esc(line)}</p>" for line in lines)


def missing(lines: Sequence[str]) -> str:
    if not lines:
        return ""
    return '<ul class="missing">' + "".join(f"<li>{esc(line)}</li>" for line in lines) + "</ul>"


def section(title: str, *parts: str, key: str = "") -> str:
    ident = f' id="{esc(key)}"' if key else ""
    return f'<section class="part"{ident}><h2>{esc(title)}</h2>{"".join(parts)}</section>'


def signed_class(x: float | None) -> str:
    return "" if x is None or x == 0 else "up" if x > 0 else "down"


def card(label: str, value: str, detail: str = "", change: float | None = None) -> str:
    d = f'<div class="d {signed_class(change)}">{esc(detail)}</div>' if detail else ""
    return f'<div class="card"><div class="k">{esc(label)}</div><div class="v">{esc(value)}</div>{d}</div>'


@dataclass(frozen=True)
class Live:
    """What turns a page into one of the `serve` dashboard's: its navigation bar (trusted markup), the
    newest snapshot's version it was made from, how often it asks for a newer one, where a coin's page is."""

    nav: str
    version: str
    every_ms: int
    coin_href: Callable[[str], str]


def coin_cell(coin: str, live: Live | None) -> Any:
    """A coin's name: a link to its page on the dashboard, text in a file."""
    if live is None:
        return coin
    return Markup(f'<a href="{esc(live.coin_href(coin))}">{esc(coin)}</a>')


def document(title: str, body: Sequence[str], *, subtitle: str = "", live: Live | None = None) -> str:
    """A whole page: `body` (markup) under the title; with `live`, the navigation and the refresh script."""
    if live is None:
        return charts.page(title, "\n".join(body), subtitle=subtitle, head=f"{HEAD}<style>{CSS.strip()}</style>\n")
    marker = (f'<span class="live" id="live" data-version="{esc(live.version)}" '
              f'data-every="{int(live.every_ms)}">live</span>')
    nav = live.nav.replace("</header>", marker + "</header>", 1)
    return charts.page(title, "\n".join(body), subtitle=subtitle, head=f"{HEAD}<style>{CSS.strip()}</style>\n",
                       connect_src="'self'", scripts=(REFRESH_SCRIPT,), before=nav)


# -- the report's charts ---------------------------------------------------------------------------------


def report_charts(report) -> list[str]:
    """The five charts of the report's series, in order: composite and BTC price, volume shares, open
    interest by venue, the funding heatmap, liquidations per hour."""
    s = report.series
    hours = list(s.hours)
    out = [
        charts.line_chart("Composite score and BTC price", hours,
                          [Series("Composite score", s.composite), Series("BTC price", s.btc_price, axis="right")],
                          left_unit="score", right_unit="price", left_range=(-1, 1),
                          caption="Composite score −1 (bearish) … +1 (bullish), left axis."),
        charts.stacked_area("Venue volume share", hours,
                            [Series(v, shares) for v, shares in zip(s.venues, s.volume_share_pct)],
                            caption="Each venue's share of the venues' 24 h volume."),
        charts.line_chart("Open interest by venue", hours,
                          [Series(v, oi) for v, oi in zip(s.venues, s.open_interest_usd)], left_unit="usd"),
    ]
    f = s.funding
    when = f"Per-market rows of {utc_minute(f.timestamp)}; " if f.timestamp is not None else ""
    out.append(charts.heatmap("Funding APR, coins × venues", f.coins, f.venues, f.apr_pct, unit="signed_pct",
                              caption=f"{when}each venue's largest market of the coin, funding per 8 h × "
                                      f"{APR_PER_8H:,}."))
    out.append(liquidation_chart(s.liquidations))
    return out


def liquidation_chart(points: Sequence[Any]) -> str:
    """Long and short liquidations per stored hour, stacked, and the hour's cascade score (right axis)."""
    times = [p.timestamp for p in points]
    return charts.bars_with_line(
        "Liquidations per hour", times,
        [Series("Longs liquidated", [p.long_usd for p in points]),
         Series("Shorts liquidated", [p.short_usd for p in points])],
        Series("Cascade score", [p.cascade_risk_score for p in points]), line_unit="score",
        caption="The market line each snapshot stored for its hour; cascade score 0 … 1, right axis.")


# -- the report ------------------------------------------------------------------------------------------


def _cards(report) -> str:
    h, m, p = report.headline, report.market, report.positioning
    liq = report.liquidations
    btc = h.btc_price_24h
    long_now = None if p.long_share.now is None else 100 * p.long_share.now
    risk = "-" if liq.market is None or liq.market.cascade_risk_score is None else \
        f"{liq.market.cascade_risk_score:.2f}"
    return '<div class="cards">' + "".join([
        card("Composite score", fmt_score(h.composite_24h.now),
             f"{h.sentiment or 'no label'} · {fmt_score(h.composite_24h.change)} 24 h", h.composite_24h.change),
        card("BTC price", fmt_price(btc.now), f"{fmt_pct(btc.change_pct, 1)} 24 h", btc.change_pct),
        card("Volume 24 h", fmt_usd_short(m.total_volume_usd.now),
             f"{fmt_pct(m.total_volume_usd.change_pct, 1)} over the window", m.total_volume_usd.change_pct),
        card("Open interest", fmt_usd_short(m.total_oi_usd.now),
             f"{fmt_pct(m.total_oi_usd.change_pct, 1)} over the window", m.total_oi_usd.change_pct),
        card("BTC funding APR", fmt_apr(p.funding_rate_8h.now), f"{fmt_pct(p.funding_rate_8h.now, 4, fraction=True)} "
             "per 8 h"),
        card("Long share", share_text(long_now), p.reading or ""),
        card("Cascade risk", risk, (liq.market.level or "") if liq.market is not None else "not read"),
    ]) + "</div>"


def report_sections(report, live: Live | None = None) -> list[str]:
    """Every section of the text report, as HTML."""
    out = [section(TITLES["headline"], paragraphs(headline_lines(report)), missing(report.headline.missing),
                   key="headline")]

    m = report.market
    venues = table(["venue", "kind", "vol 24h", "share", "± pts", "OI", "OI %"],
                   [[v.exchange, v.kind, fmt_usd_short(v.volume_24h_usd), share_text(v.volume_share_pct.now),
                     "-" if v.volume_share_pct.change is None else f"{v.volume_share_pct.change:+.1f}",
                     fmt_usd_short(v.open_interest_usd), share_text(v.oi_share_pct)] for v in m.venues],
                   right={2, 3, 4, 5, 6}) if m.venues else ""
    out.append(section(TITLES["market"], paragraphs(market_lines(report)), venues, missing(m.missing), key="market"))

    p = report.positioning
    pos = table(["venue", "BTC fund APR", "long %", "OI/vol", "reading"],
                [[v.exchange, fmt_apr(v.btc_funding_rate_8h),
                  "-" if v.long_share is None else f"{100 * v.long_share:.1f}%", fmt_num(v.oi_vol_ratio), v.reading]
                 for v in p.venues], right={1, 2, 3}) if p.venues else ""
    out.append(section(TITLES["positioning"], paragraphs(positioning_lines(report)), pos, missing(p.missing),
                       key="positioning"))

    c = report.coins
    parts = []
    if c.timestamp is not None:
        parts.append(paragraphs([f"Per-market rows of {utc_minute(c.timestamp)}: the {len(c.opportunities)} widest "
                                 f"of {c.opportunities_total} funding spreads (legs of {fmt_usd_short(c.min_volume)}+ "
                                 "24 h volume; short the first venue, long the second)."]))
        if c.opportunities:
            parts.append(opportunities_table(c.opportunities, live))
        if c.watchlist:
            parts.append(table(["watchlist", "price", "24h", "fund APR", "OI", "markets"],
                               [[coin_cell(w.coin, live), "not listed", "", "", "", ""] if w.totals is None else
                                [coin_cell(w.coin, live), fmt_price(w.totals.price),
                                 fmt_pct(w.totals.price_change_24h_pct), fmt_apr(w.totals.funding_rate_8h),
                                 fmt_usd_short(w.totals.open_interest_usd), w.totals.markets] for w in c.watchlist],
                               right={1, 2, 3, 4, 5}))
    out.append(section(TITLES["coins"], *parts, missing(c.missing), key="coins"))

    liq = report.liquidations
    observed = [v for v in liq.venues if v.observed]
    out.append(section(TITLES["liquidations"], paragraphs(liquidation_lines(report)),
                       liquidation_table(observed, None) if observed else "", missing(liq.missing),
                       key="liquidations"))

    a = report.anomalies
    items = (f"<p>None found ({len(a.checked)} of {len(KIND_NAMES)} checks run).</p>" if not a.items else
             '<ul class="items">' + "".join(f"<li><b>{esc(KIND_NAMES[i.kind])}</b>: {esc(i.reason)}.</li>"
                                            for i in a.items) + "</ul>")
    out.append(section(TITLES["anomalies"], items, missing(a.missing), key="anomalies"))

    al = report.alerts
    head = paragraphs([f"{len(al.raised)} raised, {al.suppressed} suppressed by cooldowns or caps."]) \
        if al.raised or al.suppressed else ""
    raised = ('<ul class="items">' + "".join(f"<li>{esc(alert_line(x))}</li>" for x in al.raised) + "</ul>") \
        if al.raised else ""
    out.append(section(TITLES["alerts"], head, raised, missing(al.missing), key="alerts"))

    out.append(section(TITLES["options"], paragraphs(option_lines(report)), missing(report.options.missing),
                       key="options"))
    return out


def opportunities_table(opportunities: Sequence[Any], live: Live | None) -> str:
    """Funding spreads as `funding` shows them: short the first venue, long the second."""
    from perps_tracker.render.markets import fmt_hours

    rows = []
    for o in opportunities:
        intervals = (f"{fmt_hours(o.short.funding_interval_h)}/{fmt_hours(o.long.funding_interval_h)}"
                     + (" !" if o.intervals_differ else ""))
        rows.append([coin_cell(o.coin, live), f"{o.short.exchange} {o.short.symbol}", fmt_apr(o.short.funding_rate_8h),
                     f"{o.long.exchange} {o.long.symbol}", fmt_apr(o.long.funding_rate_8h), f"{o.apr_pct:.1f}%",
                     fmt_usd_short(min(o.short.volume_24h_usd, o.long.volume_24h_usd)), intervals])
    return table(["coin", "short", "f APR", "long", "f APR", "spread APR", "min vol", "intervals"], rows,
                 right={2, 4, 5, 6})


def liquidation_table(lines: Sequence[Any], market: Any | None) -> str:
    """Venues' liquidation lines (and the market's as the total row)."""
    from perps_tracker.render.liquidations import risk_text

    def row(v, name):
        return [name, f"{v.coverage:.0%}", "-" if v.count is None else f"{v.count:,}", fmt_usd_short(v.total_usd),
                "-" if v.long_liq_share is None else f"{v.long_liq_share:.0%}", fmt_usd_short(v.largest_usd),
                risk_text(v, short=True) + (" (sampled)" if v.sampled and v.observed else "")]

    return table(["venue", "coverage", "events", "liquidated", "longs", "largest", "risk"],
                 [row(v, v.exchange) for v in lines], right={1, 2, 3, 4, 5},
                 total=None if market is None else row(market, "market"))


def report_html(report, live: Live | None = None, windows: str = "") -> str:
    """The report as one self-contained HTML document (with `live`: a page of the `serve` dashboard;
    `windows`: trusted markup above the charts, the dashboard's links to other windows)."""
    body = [windows, _cards(report), '<div class="charts">' + "\n".join(report_charts(report)) + "</div>",
            *report_sections(report, live)]
    age = report.age_seconds / 3600
    subtitle = (f"{report.hours} h from {utc_minute(report.window_start)} to {utc_minute(report.newest)}; newest "
                f"snapshot {report.source}, {age:,.1f} h old when this was made.")
    return document(report_title(report), body, subtitle=subtitle, live=live)
