"""The `perps-tracker` command group. Each command parses options, calls one core
function and renders the result; every `TrackerError` becomes a one-line `Error: ...`.

Heavy modules (SQLAlchemy, rich, numpy, ...) are imported inside the commands so that
`perps-tracker --help` stays instant.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from pathlib import Path

import click

from perps_tracker import __version__
from perps_tracker.errors import TrackerError
from perps_tracker.exchanges import EXCHANGES

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class TrackerGroup(click.Group):
    """A click group that shows expected failures as one line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TrackerError as e:
            raise click.ClickException(str(e)) from e


def settings_options(func):
    """Add `--db` and `--config` and pass the loaded settings as `settings`."""

    @click.option("--db", metavar="PATH|URL", default=None,
                  help="Database file or SQLAlchemy URL [env PERPS_TRACKER_DB; default data/market_history.db].")
    @click.option("--config", "config_path", metavar="FILE", default=None,
                  type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="TOML config file [env PERPS_TRACKER_CONFIG; default ./perps_tracker.toml, "
                       "else the user config dir].")
    @functools.wraps(func)
    def wrapper(*args, db, config_path, **kwargs):
        from perps_tracker.config import load_settings

        settings = load_settings(config_path, flags={"db": db})
        return func(*args, settings=settings, **kwargs)

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@click.group(cls=TrackerGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="perps-tracker")
def cli():
    """Hourly sentiment and liquidation-risk snapshots of crypto perpetual futures.

    \b
    Quick start:
      perps-tracker snapshot       fetch all venues, score, store this hour
      perps-tracker stats          what the database holds
    Docs: README.md and docs/ in the project.
    """


@cli.command()
@settings_options
@click.option("--mkdir", is_flag=True, help="Create the database's directory if it does not exist.")
def init(settings, mkdir):
    """Create the database, or upgrade it to the current schema. Safe to run again.

    \b
    Example:
      perps-tracker init --db ~/perps/history.db --mkdir
    """
    from perps_tracker.render import render_init
    from perps_tracker.storage.db import open_database

    db = open_database(settings.db, create=True, mkdir=True if mkdir else None)
    try:
        render_init(db)
    finally:
        db.dispose()


@cli.command()
@settings_options
@click.option("--exchange", "exchanges", multiple=True, type=click.Choice(sorted(EXCHANGES)),
              help="Only this venue (repeatable). Default: all eight.")
@json_option
@click.option("--quiet", "-q", is_flag=True, help="For cron: print nothing on success; failed venues to stderr.")
@click.pass_context
def snapshot(ctx, settings, exchanges, as_json, quiet):
    """Fetch every venue at once, score the market and store this hour's snapshot.

    Running it again in the same hour replaces that hour's snapshot. Exit code 0 when
    every venue answered, 3 when the snapshot was stored but some venues failed, 1 when
    nothing was stored.

    \b
    Examples:
      perps-tracker snapshot
      perps-tracker snapshot --exchange binance --exchange okx --json
      0 * * * * cd ~/perps && .venv/bin/perps-tracker snapshot --quiet   (crontab)
    """
    from perps_tracker.render import print_json, render_snapshot, render_snapshot_warnings, snapshot_json
    from perps_tracker.snapshot import take_snapshot

    snap = take_snapshot(settings, exchanges or list(EXCHANGES), utc_now())
    if as_json:
        print_json(snapshot_json(snap))
    elif not quiet:
        render_snapshot(snap)
    if snap.failed:
        if quiet or as_json:
            render_snapshot_warnings(snap)
        ctx.exit(3)


@cli.command()
@settings_options
@json_option
def stats(settings, as_json):
    """What the database holds: rows, time range, size, venue coverage, gaps, latest snapshot.

    \b
    Example:
      perps-tracker stats --json | jq .coverage
    """
    from perps_tracker.render import print_json, render_stats, stats_json
    from perps_tracker.storage.db import open_database
    from perps_tracker.storage.queries import collect_stats

    db = open_database(settings.db, create=False)
    try:
        result = collect_stats(db, utc_now())
    finally:
        db.dispose()
    if as_json:
        print_json(stats_json(result))
    else:
        render_stats(result)


@cli.command()
@settings_options
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True,
              help="Delete rows older than this many days.")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option("--vacuum", is_flag=True, help="Compact the database file afterwards.")
@json_option
def cleanup(settings, days, dry_run, vacuum, as_json):
    """Delete data older than N days from every table, in one transaction.

    The newest snapshot is always kept.

    \b
    Example:
      perps-tracker cleanup --days 30 --dry-run
    """
    from perps_tracker.render import cleanup_json, print_json, render_cleanup
    from perps_tracker.storage.db import open_database
    from perps_tracker.storage.queries import cleanup as run_cleanup

    db = open_database(settings.db, create=False)
    try:
        result = run_cleanup(db, utc_now(), days, dry_run=dry_run, vacuum=vacuum)
    finally:
        db.dispose()
    if as_json:
        print_json(cleanup_json(result))
    else:
        render_cleanup(result)


@cli.command()
@settings_options
@json_option
def config(settings, as_json):
    """Show the effective settings and where each one came from.

    Settings come from defaults < the TOML config file < environment variables <
    command-line flags. See docs/configuration.md for every key.

    \b
    Example:
      PERPS_TRACKER_READ_TIMEOUT=30 perps-tracker config
    """
    from perps_tracker.render import config_json, print_json, render_config

    if as_json:
        print_json(config_json(settings))
    else:
        render_config(settings)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="perps-tracker")
