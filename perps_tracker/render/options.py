"""The options market (Deribit's BTC and ETH chains): `options`, the block under `snapshot`'s venue
table, their JSON (docs/options.md)."""

from __future__ import annotations

from typing import Any, Sequence

from perps_tracker.model.options import OptionsMetrics
from perps_tracker.model.times import iso
from perps_tracker.render.format import fmt_num, fmt_time, fmt_usd_short, warn
from perps_tracker.render.history import labelled, braille_chart
from perps_tracker.render.output import Col, Grid, console, say

SMILE_HEIGHT = 6


def options_json(m: OptionsMetrics) -> dict[str, Any]:
    return {
        "currency": m.currency, "timestamp": iso(m.timestamp), "dvol": m.dvol,
        "put_call_oi_ratio": m.put_call_oi_ratio, "put_call_volume_ratio": m.put_call_volume_ratio,
        "options_oi_usd": m.options_oi_usd, "skew_25d": m.skew_25d, "atm_iv_30d": m.atm_iv_30d,
        "expiry": iso(m.expiry), "options": m.options,
    }


def _vol(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _skew(x: float | None) -> str:
    return "-" if x is None else f"{x:+.1f}"


def _expiry(m: OptionsMetrics) -> str:
    return "-" if m.expiry is None else f"{fmt_time(m.expiry)[:10]} ({(m.expiry - m.timestamp) / 86400:.0f} d)"


def render_options_block(metrics: Sequence[OptionsMetrics], failed: Sequence[str] = ()) -> None:
    """Under `snapshot`'s venue table: one line per currency."""
    if not metrics and not failed:
        return
    grid = Grid(Col("options", "left"), Col("DVOL"), Col("ATM IV"), Col("25d skew"), Col("P/C OI"),
                Col("P/C vol", drop=2), Col("OI", drop=1), Col("expiry", "left", drop=3))
    for m in metrics:
        grid.add(m.currency, _vol(m.dvol), _vol(m.atm_iv_30d), _skew(m.skew_25d), fmt_num(m.put_call_oi_ratio),
                 fmt_num(m.put_call_volume_ratio), fmt_usd_short(m.options_oi_usd), _expiry(m))
    for f in failed:
        currency, _, why = f.partition(": ")
        grid.add(currency, "not read", "", "", "", "", "", why[:40])
    grid.print()


def options_report_json(r) -> dict[str, Any]:
    out = {**options_json(r.now), "source": r.source,
           "smile": [{"delta": round(d, 4), "iv": iv} for d, iv in r.now.smile]}
    if r.hours:
        out["history"] = [options_json(m) for m in r.history]
    return out


def smile_lines(m: OptionsMetrics, width: int = 80) -> list[str]:
    """The expiry's IV by call-equivalent delta (0 … 1; puts at N(d1)) as a braille curve."""
    if len(m.smile) < 2:
        return ["No smile: fewer than two options of that expiry have a mark IV."]
    ivs = [iv for _, iv in m.smile]
    lo, hi = min(ivs), max(ivs)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    w = 6
    cols = max(min(60, width - w - 2), 30)
    lines = braille_chart([(d, iv) for d, iv in m.smile], 0.0, 1.0, lo, hi, width=cols, height=SMILE_HEIGHT,
                          step=None)
    out = [f"Smile of the {fmt_time(m.expiry)[:10]} expiry: IV % by call delta (puts at 1 + put delta):"]
    out += labelled(lines, {0: f"{hi:.0f}", SMILE_HEIGHT - 1: f"{lo:.0f}"}, w)
    axis = "0 (deep OTM calls)"
    right = "1 (deep OTM puts)"
    out.append(" " * (w + 1) + axis + "0.5".center(cols - len(axis) - len(right)) + right)
    return out


def render_options(r) -> None:
    m = r.now
    say(f"{m.currency} options · {fmt_time(m.timestamp)} ({r.source}; {m.options} options)", style="bold")
    grid = Grid(Col("figure", "left"), Col("value"), Col("", "left", drop=1))
    grid.add("DVOL", _vol(m.dvol), "Deribit's 30-day implied volatility index")
    grid.add("ATM IV", _vol(m.atm_iv_30d), f"expiry {_expiry(m)}")
    grid.add("25d skew", _skew(m.skew_25d), "call − put IV, vol points (< 0: puts dearer)")
    grid.add("put/call OI", fmt_num(m.put_call_oi_ratio), "")
    grid.add("put/call volume", fmt_num(m.put_call_volume_ratio), "24 h")
    grid.add("options OI", fmt_usd_short(m.options_oi_usd), "")
    grid.print()
    console.print()
    for line in smile_lines(m, console.width):
        say(line)
    if r.hours:
        console.print()
        say(f"Last {r.hours} h:")
        hist = Grid(Col("hour", "left"), Col("DVOL"), Col("ATM IV"), Col("25d skew"), Col("P/C OI"),
                    Col("OI", drop=1))
        for h in r.history[-48:]:
            hist.add(fmt_time(h.timestamp)[5:16], _vol(h.dvol), _vol(h.atm_iv_30d), _skew(h.skew_25d),
                     fmt_num(h.put_call_oi_ratio), fmt_usd_short(h.options_oi_usd))
        hist.print()
        if len(r.history) > 48:
            say(f"(the newest 48 of {len(r.history)} hours; --json has them all)")


def render_options_warnings(r) -> None:
    for f in r.failed:
        warn(f"options not read now: {f}; showing the stored figures of {fmt_time(r.now.timestamp)}")
