"""`options`: the options market of BTC or ETH from Deribit's chain (registered on the `perps-tracker` group)."""

from __future__ import annotations

import click

from perps_tracker.cli.base import EXIT_INCOMPLETE, clock, json_option, quiet_option, runtime_options, show
from perps_tracker.cli.markets import no_fetch_option
from perps_tracker.cli.params import Upper
from perps_tracker.exchanges.venues import OPTIONS_CURRENCIES


@click.command()
@runtime_options
@click.option("--currency", type=Upper(OPTIONS_CURRENCIES), default="BTC",
              show_default=True)
@click.option("--hours", type=click.IntRange(1, 24 * 365), default=None, metavar="N",
              help="Also show the hourly figures of the last N hours up to the newest.")
@no_fetch_option
@json_option
@quiet_option()
@click.pass_context
def options(ctx, rt, currency, hours, no_fetch, as_json, quiet):
    """The options market: DVOL, ATM IV, 25-delta skew, put/call ratios, and the smile.

    From Deribit's chain of the currency, stored hourly by `snapshot` (with Deribit among its
    venues): DVOL (Deribit's 30-day implied volatility index), the at-the-money IV and the
    25-delta risk reversal (call IV - put IV, vol points; negative when downside protection
    is dearer) of the expiry nearest 30 days, put/call open interest and volume, options open
    interest in USD, and that expiry's smile (IV by delta) as a chart. Reads the newest stored
    hour, taking a snapshot first when it is an hour old or more. Exit code 3 when a fresh
    read failed and older figures are shown.

    \b
    Examples:
      perps-tracker options
      perps-tracker options --currency ETH --hours 48
      perps-tracker options --json | jq .skew_25d
    """
    from perps_tracker.render.options import options_report_json, render_options, render_options_warnings
    from perps_tracker.services.options import options_report

    report = options_report(rt, currency, clock()(), hours=hours, no_fetch=no_fetch)
    show(report, as_json, quiet, options_report_json, render_options)
    if report.failed:
        render_options_warnings(report)
        ctx.exit(EXIT_INCOMPLETE)


COMMANDS = (options,)
