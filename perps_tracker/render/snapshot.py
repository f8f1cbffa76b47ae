"""`snapshot`: the venue table, the market and sentiment lines, the fetch status line, its JSON."""

from __future__ import annotations

from typing import Any

import click

from perps_tracker.model import values
from perps_tracker.model.snapshot import Snapshot
from perps_tracker.model.times import iso
from perps_tracker.render.format import (
    fmt_clock,
    fmt_num,
    fmt_pct,
    fmt_time,
    fmt_usd_short,
    print_json,
    warn,
)
from perps_tracker.render.liquidations import (
    fmt_share,
    liquidation_line_json,
    market_line_json,
    risk_text,
)
from perps_tracker.render.options import options_json, render_options_block
from perps_tracker.render.output import (
    Col,
    Grid,
    keep,
    listed,
    paint,
    say,
)
from perps_tracker.render.status import FetchStatus  # noqa: F401 - `snapshot` shows it from here

# -- snapshot ----------------------------------------------------------------------------

def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    return {
        "timestamp": iso(snap.timestamp),
        "taken_at": snap.taken_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "market": {**values(snap.market), **values(snap.sentiment)},
        "factors": snap.factors.as_dict(),
        "missing_factors": list(snap.factors.missing),
        "liquidations": {
            "window_hours": 1.0,
            "venues": [liquidation_line_json(line) for line in snap.liquidations if line.exchange != "all"],
            "market": market_line_json(next((line for line in snap.liquidations if line.exchange == "all"), None)),
        },
        "exchanges": [{**values(v, without=("instruments",)), "notes": list(v.notes), "taken_at": iso(v.taken_at),
                       "earlier_run": v in snap.earlier} for v in snap.venues],
        "failed_now": [{"exchange": v.exchange, "error": v.error} for v in snap.failed_now],
        "options": [options_json(m) for m in snap.options],
        "options_failed": list(snap.options_failed),
    }


def _oi_vol(oi: float | None, vol: float | None) -> str:
    return fmt_num(oi / vol) if oi is not None and vol else "-"


SNAPSHOT_COLUMNS = (Col("venue", "left"), Col("kind", "left", drop=1), Col("vol 24h"), Col("OI", drop=5),
                    Col("fund 8h", drop=6), Col("OI/vol", drop=3), Col("BTC 24h", drop=4), Col("mkts", drop=2),
                    Col("status", "left"))


def render_snapshot(snap: Snapshot) -> None:
    m = snap.market
    say(f"Perpetual futures · {fmt_time(snap.timestamp)}", style="bold")
    grid = Grid(*SNAPSHOT_COLUMNS)
    earlier = set(snap.earlier)
    for v in snap.venues:
        status = paint("error", "red") if not v.ok else "kept" if v in earlier else "ok"
        grid.add(v.exchange, v.kind, fmt_usd_short(v.volume_24h_usd), fmt_usd_short(v.open_interest_usd),
                 fmt_pct(v.btc_funding_rate_8h, 4, fraction=True), _oi_vol(v.open_interest_usd, v.volume_24h_usd),
                 fmt_pct(v.btc_price_change_24h_pct), v.markets, status)
    markets = sum(v.markets or 0 for v in snap.venues if v.ok)
    grid.add(f"total {m.exchanges_ok}/{m.exchanges_ok + m.exchanges_failed}", "",
             fmt_usd_short(m.total_volume_usd), fmt_usd_short(m.total_oi_usd),
             fmt_pct(m.funding_rate_8h, 4, fraction=True), fmt_num(m.oi_vol_ratio), fmt_pct(m.price_change_24h_pct),
             markets, "", style="bold")
    grid.print()
    _snapshot_lines(snap)


def _snapshot_lines(snap: Snapshot) -> None:
    m, s = snap.market, snap.sentiment
    say(*listed([f"CEX {fmt_usd_short(m.cex_volume_usd)}", f"DEX {fmt_usd_short(m.dex_volume_usd)}",
                 f"BTC {'-' if m.btc_price is None else f'${m.btc_price:,.0f}'}",
                 f"OI 24h change {fmt_pct(m.oi_change_24h_pct)}",
                 f"long share {'-' if m.long_share is None else f'{m.long_share:.1%}'}"], " · "), hang=2)
    sigma = "-" if m.funding_divergence is None else f"{m.funding_divergence * 100:.4f}%"
    say(f"Funding divergence: σ {sigma} per 8 h ({s.divergence_label or 'n/a'})", hang=2)
    say("Factors: ", *listed([f"{name} {'-' if value is None else f'{value:+.2f}'}"
                              for name, value in snap.factors.as_dict().items()], "  "), hang=2)
    if s.composite_score is None:
        say("Sentiment: not enough data for a score")
    else:
        say(f"Sentiment: {s.sentiment} ({s.strength}), composite {s.composite_score:+.3f}"
            + (f" (missing: {', '.join(snap.factors.missing)}; weights rescaled)" if snap.factors.missing else ""),
            hang=2)
    line = _snapshot_liquidations_line(snap)
    say(*(line or ["Liquidations: no venue was being read in the last hour (see "
                   "`perps-tracker liquidations watch`)"]), hang=2)
    for v in snap.failed_now:
        say(f"Failed: {v.exchange}: {v.error}{kept_note(snap, v.exchange)}", hang=2)
    kept = [v for v in snap.earlier if v.exchange not in {f.exchange for f in snap.failed_now}]
    if kept:
        say("Kept from an earlier run this hour (not asked now): ",
            *listed(f"{v.exchange} {fmt_clock(v.taken_at)}" for v in kept), hang=2)
    for v in snap.venues:
        for note in v.notes:
            say(f"Note: {v.exchange}: {note}", hang=2)
    skipped = [f"{v.exchange} {v.records_skipped}" for v in snap.venues if v.records_skipped]
    if skipped:
        say("Skipped unusable values (missing, NaN or absurd numbers): ", *listed(skipped), hang=2)


def _snapshot_liquidations_line(snap: Snapshot) -> list | None:
    market = next((line for line in snap.liquidations if line.exchange == "all"), None)
    if market is None:
        return None
    venues = ", ".join(line.exchange for line in snap.liquidations if line.exchange != "all")
    return [f"Liquidations, last hour ({venues}{'; sampled' if market.sampled else ''}): ",
            keep(f"{fmt_usd_short(market.total_usd)} in {market.count} events"), ", ",
            keep(f"longs {fmt_share(market.long_liq_share)}"), " · ", keep(f"cascade risk {risk_text(market)}")]


def kept_note(snap: Snapshot, venue: str) -> str:
    """`; its row of 11:02 UTC is kept` when this run's failure kept an earlier ok row."""
    row = next((v for v in snap.earlier if v.exchange == venue and v.ok), None)
    return f"; its row of {fmt_clock(row.taken_at)} is kept" if row else ""


def render_snapshot_warnings(snap: Snapshot) -> None:
    """For --quiet: one stderr line per venue that failed in this run (cron mails stderr)."""
    for v in snap.failed_now:
        warn(f"{v.exchange} failed: {v.error}{kept_note(snap, v.exchange)}")
    if not any(v.exchange == "deribit" for v in snap.failed_now):  # else the same cause, said above
        for f in snap.options_failed:
            warn(f"deribit options failed: {f}")


def render_snapshot_run(snap: Snapshot, run, *, as_json: bool, quiet: bool, watch=None, instruments=None) -> None:
    """A snapshot and, with --alerts, its alert run (`run`, else None): one JSON object, the tables,
    or with --quiet only what cron should mail (failed venues; new alerts when no webhook takes them).
    `watch`: the watchlist's (coin, totals), shown under the venue table; `instruments`: the hour's
    markets, for the JSON (`--instruments`)."""
    from perps_tracker.render.alerts import (
        alerts_json,
        render_alerts,
        render_delivery_warnings,
        render_new_alerts,
    )
    from perps_tracker.render.markets import instruments_json, render_watchlist

    if as_json:
        out = snapshot_json(snap)
        if instruments is not None:
            out["instruments"] = instruments_json(instruments)
        if run is not None:
            out["alerts"] = alerts_json(run, show_all=False)
        print_json(out)
    elif not quiet:
        render_snapshot(snap)
        if watch:
            click.echo()
            render_watchlist(watch)
        if snap.options or snap.options_failed:
            click.echo()
            render_options_block(snap.options, snap.options_failed)
        if run is not None:
            click.echo()
            render_alerts(run, show_all=False)
    elif run is not None and not run.webhooks:
        render_new_alerts(run)
    if run is not None:
        render_delivery_warnings(run)
    if (snap.failed_now or snap.options_failed) and (quiet or as_json):
        render_snapshot_warnings(snap)
