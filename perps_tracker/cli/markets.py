"""The per-instrument commands: `coin`, `funding`, `sectors` (registered on the `perps-tracker` group)."""

from __future__ import annotations

import click

from perps_tracker.cli.base import clock, json_option, quiet_option, runtime_options, show
from perps_tracker.exchanges import EXCHANGES

no_fetch_option = click.option(
    "--no-fetch", is_flag=True,
    help="Only read what is stored; do not take a snapshot when the newest is an hour old or more.")


def _status(quiet: bool, as_json: bool):
    from perps_tracker.render.status import FetchStatus

    return FetchStatus(list(EXCHANGES), enabled=not (quiet or as_json))


@click.command()
@runtime_options
@click.argument("coin")
@click.option("--hours", type=click.IntRange(1, 24 * 365), default=None, metavar="N",
              help="Also show the coin's hourly totals over the last N stored hours.")
@no_fetch_option
@json_option
@quiet_option()
def coin(rt, coin, hours, no_fetch, as_json, quiet):
    """One coin on every venue: price per coin, basis, volume and OI with their shares, funding APR.

    COIN is the normalised coin (PEPE covers 1000PEPEUSDT, kPEPE and PEPE-USDT-SWAP). Prices are
    per one coin; `dev bps` is each market's price against the volume-weighted price of all of
    them. Reads the newest stored hour, taking a snapshot first when it is an hour old or more.

    \b
    Examples:
      perps-tracker coin ETH
      perps-tracker coin PEPE --hours 48
      perps-tracker coin SOL --json
    """
    from perps_tracker.render.markets import coin_json, render_coin
    from perps_tracker.services.markets import coin_report

    with _status(quiet, as_json) as status:
        report = coin_report(rt, coin, clock()(), hours=hours, no_fetch=no_fetch, on_venue=status.done)
    show(report, as_json, quiet, coin_json, render_coin)


@click.command()
@runtime_options
@click.option("--min-volume", type=click.FloatRange(min=0), default=1_000_000, show_default=True, metavar="USD",
              help="Each leg's 24 h volume at least this.")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True, metavar="N",
              help="Show the N widest spreads.")
@no_fetch_option
@json_option
@quiet_option()
def funding(rt, min_volume, top, no_fetch, as_json, quiet):
    """Funding arbitrage across every coin: short the venue paying the most, long the one paying least.

    Over every coin listed on two or more venues with at least --min-volume of 24 h volume on each
    leg, the widest spread of 8-hour funding between two venues, as APR (spread * 3 * 365 * 100),
    highest first. Legs that settle at different intervals are marked.

    \b
    Examples:
      perps-tracker funding
      perps-tracker funding --min-volume 1e7 --top 5
    """
    from perps_tracker.render.markets import funding_json, render_funding
    from perps_tracker.services.markets import funding_report

    with _status(quiet, as_json) as status:
        report = funding_report(rt, clock()(), min_volume=min_volume, top=top, no_fetch=no_fetch,
                                on_venue=status.done)
    show(report, as_json, quiet, funding_json, render_funding)


@click.command()
@runtime_options
@no_fetch_option
@json_option
@quiet_option()
def sectors(rt, no_fetch, as_json, quiet):
    """Volume, open interest, funding and 24 h change per sector (MAJORS, L1, L2, DEFI, MEME, ...).

    Coins map to sectors through the shipped table, which `[coins.sectors]` in the config extends
    and overrides; a coin it does not name is OTHER.

    \b
    Example:
      perps-tracker sectors --json | jq '.sectors[].sector'
    """
    from perps_tracker.render.markets import render_sectors, sectors_json
    from perps_tracker.services.markets import sectors_report

    with _status(quiet, as_json) as status:
        report = sectors_report(rt, clock()(), no_fetch=no_fetch, on_venue=status.done)
    show(report, as_json, quiet, sectors_json, render_sectors)


COMMANDS = (coin, funding, sectors)
