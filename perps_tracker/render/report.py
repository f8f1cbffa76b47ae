"""`report`: the same `Report` as text on the terminal, as a text or Markdown document, or as JSON.

`FORMATS` maps a format name to its `Format`: the file extension, `document(report) -> str` (what a
file gets) and `show(report)` (what the terminal gets). Another renderer (HTML) is one more entry;
the command's `--format` choices and `-o` suffixes come from this table.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Callable, Iterator

from perps_tracker.model.instruments import APR_PER_8H
from perps_tracker.model.times import iso, utc_minute
from perps_tracker.render.format import fmt_num, fmt_pct, fmt_score, fmt_usd_short, warn
from perps_tracker.render.markets import fmt_apr, fmt_price
from perps_tracker.render.output import Col, Grid, say

TIME_KEYS = {"timestamp", "snapshot_timestamp", "max_cascade_at", "newest", "window_start"}
TITLES = {"headline": "Headline", "market": "Market", "positioning": "Positioning",
          "coins": "Funding arbitrage and watchlist", "liquidations": "Liquidations", "anomalies": "Anomalies",
          "alerts": "Alerts", "options": "Options"}
KIND_NAMES = {"venue_volume": "venue volume", "venue_oi_volume": "venue OI/volume", "oi_jump": "OI jump",
              "volume_spike": "volume spike", "extreme_funding": "extreme funding",
              "price_dislocation": "price dislocation"}


# -- JSON -------------------------------------------------------------------------------------------------


def _plain(value: Any, key: str | None = None) -> Any:
    """Dataclasses as objects, tuples as lists, Unix-second times (by key) as ISO strings."""
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name), f.name) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [_plain(v, key) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, k) for k, v in value.items()}
    if key in TIME_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return iso(value)
    return value


def _liquidation_line(line, market: bool = False) -> dict[str, Any] | None:
    """A line as `liquidations --json` has it (the market line without `exchange`)."""
    from perps_tracker.render.liquidations import liquidation_line_json, market_line_json

    return market_line_json(line) if market else None if line is None else liquidation_line_json(line)


def report_json(report) -> dict[str, Any]:
    """The report as one JSON object: ISO times, null for a missing number, each section's `missing`."""
    liq = report.liquidations
    series = report.series
    return {
        "newest_snapshot": iso(report.newest),
        "age_hours": round(report.age_seconds / 3600, 2),
        "hours": report.hours,
        "window_start": iso(report.window_start),
        "source": report.source,
        "headline": _plain(report.headline),
        "market": _plain(report.market),
        "positioning": _plain(report.positioning),
        "coins": {**_plain(report.coins), "opportunities": [
            {"coin": o.coin, "short": _plain(o.short), "long": _plain(o.long), "spread_8h": o.spread_8h,
             "apr_pct": o.apr_pct, "intervals_differ": o.intervals_differ} for o in report.coins.opportunities],
            "watchlist": [{"coin": w.coin, **({k: None for k in _TOTALS} if w.totals is None else
                                              {k: getattr(w.totals, k) for k in _TOTALS}),
                           "funding_apr_pct": None if w.totals is None or w.totals.funding_rate_8h is None
                           else w.totals.funding_rate_8h * APR_PER_8H, "listed": w.totals is not None}
                          for w in report.coins.watchlist]},
        "liquidations": {"from": iso(liq.start_ms // 1000), "to": iso(liq.end_ms // 1000), "hours": liq.hours,
                         "market": _liquidation_line(liq.market, market=True), "venues": [_liquidation_line(v) for v in liq.venues],
                         "snapshot_hours": liq.snapshot_hours, "max_cascade_score": liq.max_cascade_score,
                         "max_cascade_at": iso(liq.max_cascade_at), "max_cascade_level": liq.max_cascade_level,
                         "latest_level": liq.latest_level, "missing": list(liq.missing)},
        "anomalies": _plain(report.anomalies),
        "alerts": _plain(report.alerts),
        "options": _plain(report.options),
        "series": {**_plain(series), "hours": [iso(t) for t in series.hours]},
    }


_TOTALS = ("price", "price_change_24h_pct", "funding_rate_8h", "volume_24h_usd", "open_interest_usd",
           "max_spread_bps", "markets")


# -- shared wording ---------------------------------------------------------------------------------------


def _label_was(now: str | None, before: str | None) -> str:
    if before is None:
        return ""
    return " (unchanged)" if before == now else f" (was {before})"


def _pts(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:+.{digits}f} pts"


def _chg_pct(m) -> str:
    return fmt_pct(m.change_pct, 1)


def _title(report) -> str:
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
        f"CEX {_share(m.cex_share_pct.now)} / DEX {_share(m.dex_share_pct.now)} of volume (DEX "
        f"{_pts(m.dex_share_pct.change)}); concentration HHI {_hhi(m.hhi.now)} "
        f"({'-' if m.hhi.change is None else f'{m.hhi.change:+,.0f}'}; 10,000 = one venue).",
    ]


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}%"


def _hhi(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def positioning_lines(report) -> list[str]:
    p = report.positioning
    rate = p.funding_rate_8h
    change = "-" if rate.change is None else fmt_pct(rate.change * APR_PER_8H, 1).replace("%", " pts")
    return [
        f"BTC funding {fmt_pct(rate.now, 4, fraction=True)}/8 h ({fmt_apr(rate.now)} APR; {change} APR over the "
        f"window); long share {_share(None if p.long_share.now is None else 100 * p.long_share.now)} "
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


# -- the message of `report --notify` ----------------------------------------------------------------------

DIGEST_TOP = 3  # funding spreads, anomalies and alerts named in the message (the counts say how many in all)


def report_digest(report):
    """The report's headline sections as a webhook message (`report --notify`): what a trader reads on a
    phone; the full report is `report` itself."""
    from perps_tracker.services.notify import Digest

    coins, anomalies, alerts = report.coins, report.anomalies, report.alerts
    funding = [f"{o.coin}: short {o.short.exchange}, long {o.long.exchange}, {o.apr_pct:.1f}% APR"
               + (" (intervals differ)" if o.intervals_differ else "") for o in coins.opportunities[:DIGEST_TOP]]
    found = [f"{KIND_NAMES[a.kind]}: {a.reason}" for a in anomalies.items[:DIGEST_TOP]]
    if len(anomalies.items) > DIGEST_TOP:
        found.append(f"and {len(anomalies.items) - DIGEST_TOP} more")
    raised = [f"{a.strategy}{' ' + a.direction.upper() if a.direction else ''} (tier {a.tier}, confidence "
              f"{a.confidence})" for a in alerts.raised[:DIGEST_TOP]]
    if len(alerts.raised) > DIGEST_TOP:
        raised.append(f"and {len(alerts.raised) - DIGEST_TOP} more")
    sections = [
        ("Headline", headline_lines(report)),
        ("Market", market_lines(report)),
        ("Positioning", positioning_lines(report)),
        ("Funding arbitrage", funding or ["no coin listed on two venues with enough volume on each"]),
        ("Liquidations", liquidation_lines(report)),
        ("Anomalies", found or ["none found"]),
        ("Alerts", raised or ["none raised in the window"]),
    ]
    if report.options.currencies:
        sections.append(("Options", option_lines(report)))
    return Digest(_title(report), tuple((name, tuple(lines)) for name, lines in sections), report.newest,
                  report.hours, report.newest + report.age_seconds)


def render_report_delivery(run, quiet: bool) -> None:
    """On stderr (stdout may hold the report or its JSON): what was posted, and each failure."""
    from perps_tracker.render.terminal import echo_err

    if not quiet:
        posted = ", ".join(f"{webhook}" + (f" ({n} reports)" if n > 1 else "") for webhook, n in run.delivered)
        earlier = "" if run.recorded else " (this hour's report was recorded by an earlier run)"
        echo_err(f"Report posted to {posted}{earlier}." if posted else
                 f"Report not posted to any webhook on this run{earlier}.")
    for f in run.failures:
        what = "given up" if f.expired else "will retry on the next run"
        warn(f"{f.webhook} webhook: the report of {utc_minute(f.report_hour)} not delivered, {what}: {f.reason}")


# -- text on the terminal -----------------------------------------------------------------------------------


def _section(name: str) -> None:
    from perps_tracker.render.output import console

    console.print()
    say(TITLES[name].upper(), style="bold")


def _missing(lines) -> None:
    for line in lines:
        say(f"  - {line}", hang=4, style="dim")


def render_report(report) -> None:
    """The report on the console (rich: colour on a terminal, fits its width)."""
    say(_title(report), style="bold")
    _section("headline")
    for line in headline_lines(report):
        say(line, hang=2)
    _missing(report.headline.missing)

    _section("market")
    for line in market_lines(report):
        say(line, hang=2)
    grid = Grid(Col("venue", "left"), Col("kind", "left", drop=3), Col("vol 24h"), Col("share"), Col("± pts", drop=2),
                Col("OI"), Col("OI %", drop=1))
    for v in report.market.venues:
        grid.add(v.exchange, v.kind, fmt_usd_short(v.volume_24h_usd), _share(v.volume_share_pct.now),
                 "-" if v.volume_share_pct.change is None else f"{v.volume_share_pct.change:+.1f}",
                 fmt_usd_short(v.open_interest_usd), _share(v.oi_share_pct))
    if report.market.venues:
        grid.print()
    _missing(report.market.missing)

    _section("positioning")
    for line in positioning_lines(report):
        say(line, hang=2)
    grid = Grid(Col("venue", "left"), Col("BTC fund APR"), Col("long %"), Col("OI/vol"), Col("reading", "left"))
    for v in report.positioning.venues:
        grid.add(v.exchange, fmt_apr(v.btc_funding_rate_8h),
                 "-" if v.long_share is None else f"{100 * v.long_share:.1f}%", fmt_num(v.oi_vol_ratio), v.reading)
    if report.positioning.venues:
        grid.print()
    _missing(report.positioning.missing)

    coins = report.coins
    _section("coins")
    if coins.timestamp is not None:
        say(f"Per-market rows of {utc_minute(coins.timestamp)}: the {len(coins.opportunities)} widest of "
            f"{coins.opportunities_total} funding spreads (legs of {fmt_usd_short(coins.min_volume)}+ 24 h volume; "
            "short the first venue, long the second).", hang=2)
        if coins.opportunities:
            grid = Grid(Col("coin", "left"), Col("short", "left"), Col("long", "left"), Col("spread APR"),
                        Col("min vol", drop=1))
            for o in coins.opportunities:
                grid.add(o.coin, o.short.exchange, o.long.exchange, f"{o.apr_pct:.1f}%" + (" !" if o.intervals_differ
                                                                                         else ""),
                         fmt_usd_short(min(o.short.volume_24h_usd, o.long.volume_24h_usd)))
            grid.print()
        grid = Grid(Col("watchlist", "left"), Col("price"), Col("24h"), Col("fund APR"), Col("OI"), Col("mkts", drop=1))
        for w in coins.watchlist:
            t = w.totals
            if t is None:
                grid.add(w.coin, "not listed", "", "", "", "")
            else:
                grid.add(w.coin, fmt_price(t.price), fmt_pct(t.price_change_24h_pct), fmt_apr(t.funding_rate_8h),
                         fmt_usd_short(t.open_interest_usd), t.markets)
        if coins.watchlist:
            grid.print()
    _missing(coins.missing)

    _section("liquidations")
    for line in liquidation_lines(report):
        say(line, hang=2)
    observed = [v for v in report.liquidations.venues if v.observed]
    if observed:
        from perps_tracker.render.liquidations import risk_text

        grid = Grid(Col("venue", "left"), Col("coverage"), Col("liquidated"), Col("longs"), Col("risk", "left"))
        for v in observed:
            grid.add(v.exchange, f"{v.coverage:.0%}", fmt_usd_short(v.total_usd),
                     "-" if v.long_liq_share is None else f"{v.long_liq_share:.0%}", risk_text(v, short=True))
        grid.print()
    _missing(report.liquidations.missing)

    _section("anomalies")
    a = report.anomalies
    if not a.items:
        say(f"None found ({len(a.checked)} of {len(KIND_NAMES)} checks run).", hang=2)
    for item in a.items:
        say(f"- {KIND_NAMES[item.kind]}: {item.reason}.", hang=2)
    _missing(a.missing)

    _section("alerts")
    al = report.alerts
    if al.raised or al.suppressed:
        say(f"{len(al.raised)} raised, {al.suppressed} suppressed by cooldowns or caps.", hang=2)
    for line in al.raised:
        say(f"- {alert_line(line)}", hang=2)
    _missing(al.missing)

    _section("options")
    for line in option_lines(report):
        say(line, hang=2)
    _missing(report.options.missing)


@contextmanager
def _plain_console(width: int = 80) -> Iterator[io.StringIO]:
    """The renderers' console swapped for one writing plain text (no colour) at `width` into a buffer."""
    from rich.console import Console

    from perps_tracker.render import output

    buffer = io.StringIO()
    saved = output.console
    output.console = Console(file=buffer, width=width, color_system=None, highlight=False, force_terminal=False,
                             emoji=False)
    try:
        yield buffer
    finally:
        output.console = saved


def report_text(report) -> str:
    """The terminal's text as a document: 80 columns, no colour."""
    with _plain_console() as buffer:
        render_report(report)
    return buffer.getvalue()


# -- Markdown ---------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~])")  # what means something anywhere in a line
_MD_LEADING = re.compile(r"^(\s*)([#>+=-]|\d+(?=[.)]))")  # what means something at the start of a line


def md(text: Any) -> str:
    """Text as it reads in GitHub-flavoured Markdown: the characters that mean something there escaped
    (a venue or coin string cannot open a link, a table cell, emphasis or HTML), line breaks as spaces."""
    escaped = _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\r", " ").replace("\n", " ")
    return _MD_LEADING.sub(lambda m: m.group(1) + (m.group(2) + "\\" if m.group(2).isdigit() else "\\" + m.group(2)),
                           escaped)


def _md_table(headers: list[str], rows: list[list[Any]], right: set[int] = frozenset()) -> list[str]:
    out = ["| " + " | ".join(md(h) for h in headers) + " |",
           "|" + "|".join("---:" if k in right else "---" for k in range(len(headers))) + "|"]
    for row in rows:
        out.append("| " + " | ".join(md("-" if c is None else c) for c in row) + " |")
    return out + [""]


def _md_missing(lines) -> list[str]:
    return [f"- *{md(line)}*" for line in lines] + ([""] if lines else [])


def report_markdown(report) -> str:
    out = [f"# {md(_title(report))}", ""]

    def section(name: str, lines: list[str]) -> None:
        out.extend([f"## {TITLES[name]}", ""])
        for line in lines:
            out.extend([md(line), ""])

    section("headline", headline_lines(report))
    out += _md_missing(report.headline.missing)

    section("market", market_lines(report))
    out += _md_table(["venue", "kind", "vol 24h", "share", "± pts", "OI", "OI %"],
                     [[v.exchange, v.kind, fmt_usd_short(v.volume_24h_usd), _share(v.volume_share_pct.now),
                       "-" if v.volume_share_pct.change is None else f"{v.volume_share_pct.change:+.1f}",
                       fmt_usd_short(v.open_interest_usd), _share(v.oi_share_pct)] for v in report.market.venues],
                     {2, 3, 4, 5, 6}) if report.market.venues else []
    out += _md_missing(report.market.missing)

    section("positioning", positioning_lines(report))
    out += _md_table(["venue", "BTC fund APR", "long %", "OI/vol", "reading"],
                     [[v.exchange, fmt_apr(v.btc_funding_rate_8h),
                       None if v.long_share is None else f"{100 * v.long_share:.1f}%", fmt_num(v.oi_vol_ratio),
                       v.reading] for v in report.positioning.venues], {1, 2, 3}) if report.positioning.venues else []
    out += _md_missing(report.positioning.missing)

    coins = report.coins
    section("coins", [] if coins.timestamp is None else [
        f"Per-market rows of {utc_minute(coins.timestamp)}: the {len(coins.opportunities)} widest of "
        f"{coins.opportunities_total} funding spreads (legs of {fmt_usd_short(coins.min_volume)}+ 24 h volume; "
        "short the first venue, long the second)."])
    if coins.opportunities:
        out += _md_table(["coin", "short", "long", "spread APR", "intervals differ"],
                         [[o.coin, f"{o.short.exchange} {o.short.symbol}", f"{o.long.exchange} {o.long.symbol}",
                           f"{o.apr_pct:.1f}%", "yes" if o.intervals_differ else "no"] for o in coins.opportunities],
                         {3})
    if coins.timestamp is not None and coins.watchlist:
        out += _md_table(["coin", "price", "24h", "fund APR", "OI", "markets"],
                         [[w.coin, "not listed", "", "", "", ""] if w.totals is None else
                          [w.coin, fmt_price(w.totals.price), fmt_pct(w.totals.price_change_24h_pct),
                           fmt_apr(w.totals.funding_rate_8h), fmt_usd_short(w.totals.open_interest_usd),
                           w.totals.markets] for w in coins.watchlist], {1, 2, 3, 4, 5})
    out += _md_missing(coins.missing)

    section("liquidations", liquidation_lines(report))
    observed = [v for v in report.liquidations.venues if v.observed]
    if observed:
        from perps_tracker.render.liquidations import risk_text

        out += _md_table(["venue", "coverage", "liquidated", "longs", "risk"],
                         [[v.exchange, f"{v.coverage:.0%}", fmt_usd_short(v.total_usd),
                           None if v.long_liq_share is None else f"{v.long_liq_share:.0%}", risk_text(v, short=True)]
                          for v in observed], {1, 2, 3})
    out += _md_missing(report.liquidations.missing)

    a = report.anomalies
    section("anomalies", [] if a.items else [f"None found ({len(a.checked)} of {len(KIND_NAMES)} checks run)."])
    out += [f"- **{md(KIND_NAMES[i.kind])}**: {md(i.reason)}." for i in a.items] + ([""] if a.items else [])
    out += _md_missing(a.missing)

    al = report.alerts
    section("alerts", [f"{len(al.raised)} raised, {al.suppressed} suppressed by cooldowns or caps."]
            if al.raised or al.suppressed else [])
    out += [f"- {md(alert_line(x))}" for x in al.raised] + ([""] if al.raised else [])
    out += _md_missing(al.missing)

    section("options", option_lines(report))
    out += _md_missing(report.options.missing)
    return "\n".join(out).rstrip("\n") + "\n"


# -- the formats --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    name: str
    extension: str  # of the file `--save` writes
    document: Callable[[Any], str]  # the report as a file's content
    show: Callable[[Any], None] | None = None  # on the terminal; None: the document is printed as it is


def _json_document(report) -> str:
    return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"


FORMATS: dict[str, Format] = {
    "text": Format("text", "txt", report_text, render_report),
    "markdown": Format("markdown", "md", report_markdown),
    "json": Format("json", "json", _json_document),
}
SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown", ".json": "json"}


def format_for(path: str | None, chosen: str | None, as_json: bool) -> Format:
    """The format: --json, else --format, else the -o file's suffix, else text."""
    if as_json:
        return FORMATS["json"]
    if chosen is not None:
        return FORMATS[chosen]
    if path is not None:
        import os

        name = SUFFIXES.get(os.path.splitext(path)[1].lower())
        if name in FORMATS:
            return FORMATS[name]
        suffix = os.path.splitext(path)[1].lower().lstrip(".")
        if suffix in FORMATS:
            return FORMATS[suffix]
    return FORMATS["text"]
