"""The `perps-tracker` command group. Each command parses its options, calls one service with the
command's `Runtime` (database and HTTP client opened once, closed at the end) and hands the result
to a renderer (`show`: JSON, tables, or nothing with --quiet). Every `TrackerError` becomes a
one-line `Error: ...`; Ctrl-C and SIGTERM one `Interrupted: ...` line and exit code 130.

Heavy modules (SQLAlchemy, rich, numpy, ...) are imported inside the commands so that
`perps-tracker --help` stays instant.
"""

from __future__ import annotations

from datetime import datetime

import click

from perps_tracker import __version__
from perps_tracker.cli.params import (  # noqa: F401 - the CLI's API
    Duration,
    Horizons,
    Since,
    parse_duration,
    parse_when,
)
from perps_tracker.cli.params import utc_now as _clock
from perps_tracker.cli.base import (  # noqa: F401 - the CLI's API
    CONTEXT_SETTINGS,
    EXIT_INCOMPLETE,
    EXIT_INTERRUPTED,
    INTERRUPTED,
    TrackerException,
    TrackerGroup,
    chosen,
    json_option,
    on_interrupt,
    quiet_option,
    runtime_options,
    show,
    venues_option,
)
from perps_tracker.exchanges import EXCHANGES, VENUES  # ids and static facts: no venue module is imported

def utc_now() -> datetime:
    """The command line's clock (tests replace it)."""
    return _clock()


LIQUIDATION_VENUES = [v for v, info in VENUES.items() if info.liquidation_sources]
STREAMED_VENUES = [v for v, info in VENUES.items() if "ws" in info.liquidation_sources]
symbols_option = click.option("--symbols", type=click.IntRange(1, 500), default=50, show_default=True,
                              help="OKX's REST history follows the N largest instrument families by 24 h volume.")


@click.group(cls=TrackerGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="perps-tracker")
@click.option("--verbose", "-v", count=True,
              help="Log to stderr each HTTP request (method, URL, status, milliseconds), retry, rate-limit "
                   "wait and database open; -vv adds detail. Secrets are never shown.")
@click.pass_context
def cli(ctx, verbose):
    """Hourly sentiment and liquidation-risk snapshots of crypto perpetual futures.

    \b
    Quick start:
      perps-tracker snapshot     fetch, score, store this hour
      perps-tracker stats        what the database holds
      perps-tracker -v snapshot  the same, logs each request
    Tables fit the terminal; NO_COLOR=1 turns colour off.
    Docs: README.md and docs/ in the project.
    """
    from perps_tracker.render.terminal import setup_logging, setup_streams

    setup_streams()
    setup_logging(verbose)
    ctx.obj = {"clock": lambda: utc_now()}  # read when called: tests replace `utc_now`


@cli.command()
@runtime_options
@click.option("--mkdir", is_flag=True, help="Create the database's directory if it does not exist.")
@quiet_option()
def init(rt, mkdir, quiet):
    """Create the database, or upgrade it to the current schema. Safe to run again.

    \b
    Example:
      perps-tracker init --db ~/perps/history.db --mkdir
    """
    from perps_tracker.render.database import render_init
    from perps_tracker.storage.db import open_database

    with open_database(rt.settings.db, create=True, mkdir=True if mkdir else None) as db:
        if not quiet:
            render_init(db)


@cli.command()
@runtime_options
@venues_option(sorted(EXCHANGES), "all eight")
@json_option
@quiet_option("For cron: print nothing on success; failed venues to stderr.")
@click.option("--alerts", "with_alerts", is_flag=True,
              help="Then evaluate the strategy alerts on it and post them to the configured webhooks.")
@click.option("--instruments", "with_instruments", is_flag=True,
              help="With --json: every market of the hour under `instruments`.")
@click.pass_context
def snapshot(ctx, rt, exchanges, as_json, quiet, with_alerts, with_instruments):
    """Fetch every venue at once, score the market and store this hour's snapshot.

    Running it again in the same hour merges into that hour's snapshot: a venue that answered
    replaces its row, a venue that failed or was not asked keeps the earlier one, and the
    market is scored again over the merged rows (a stored hour never gets worse). Every market
    of the venues that answered is stored too (`instrument_snapshots`), and with Deribit the
    options market of BTC and ETH (`options_snapshots`); the watchlist's coins and the options
    figures are shown under the venue table. With
    --alerts, the strategy alerts are evaluated on it right after, as `alerts --notify` would
    (without webhooks in the config, they are printed, even with --quiet). Exit code 0 when
    every venue asked answered, 3 when the snapshot was stored but some venues (or Deribit's
    options chains) failed, or an alert could not be delivered; 1 when nothing was stored, 130 when interrupted.

    \b
    Examples:
      perps-tracker snapshot
      perps-tracker snapshot --exchange okx --json
    Hourly from cron, with the alerts (see crontab.example):
      0 * * * * perps-tracker snapshot --quiet --alerts
    """
    from perps_tracker.render.snapshot import FetchStatus, render_snapshot_run
    from perps_tracker.services.alerts import run_alerts
    from perps_tracker.services.snapshot import take_snapshot

    on_interrupt("nothing was stored for this hour")
    now = utc_now()
    venues = chosen(exchanges, list(EXCHANGES))
    with FetchStatus(venues, enabled=not (quiet or as_json)) as status:
        snap = take_snapshot(rt, venues, now, on_venue=status.done)
    run = run_alerts(rt, int(now.timestamp()), notify=bool(rt.settings.webhook_urls())) if with_alerts else None
    watch = instruments = None
    if as_json and with_instruments:
        from perps_tracker.storage.instruments import read_hour

        instruments = read_hour(rt.db(), snap.timestamp)[1]
    elif not (quiet or as_json):
        from perps_tracker.services.markets import watchlist_totals

        watch = watchlist_totals(rt, snap.timestamp)
    render_snapshot_run(snap, run, as_json=as_json, quiet=quiet, watch=watch, instruments=instruments)
    if snap.failed_now or snap.options_failed or (run is not None and run.failures):
        ctx.exit(EXIT_INCOMPLETE)


@cli.command()
@runtime_options
@click.option("--root", default=None, metavar="DIR",
              help="The capture dataset to count [env PERPS_TRACKER_CAPTURE_ROOT; default data/ticks].")
@json_option
@quiet_option()
def stats(rt, root, as_json, quiet):
    """What the database holds: rows, time range, size, venue coverage, gaps, latest snapshot.

    With real-time capture: its gaps per venue and channel (last 24 h and all), and when the
    capture dataset is a local directory, its files and rows per channel and venue.

    \b
    Example:
      perps-tracker stats --json | jq .coverage
    """
    from dataclasses import replace

    from perps_tracker.render.database import render_stats, stats_json
    from perps_tracker.services.dataset import dataset_files
    from perps_tracker.storage.queries import collect_stats

    found = collect_stats(rt.reader(), utc_now(), list(EXCHANGES))
    found = replace(found, capture_files=dataset_files(root or rt.settings.capture_root))
    show(found, as_json, quiet, stats_json, render_stats)


@cli.command()
@runtime_options
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True,
              help="Delete rows older than this many days.")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option("--vacuum", is_flag=True, help="Compact the database file afterwards.")
@json_option
@quiet_option("For cron: print nothing on success; errors to stderr.")
def cleanup(rt, days, dry_run, vacuum, as_json, quiet):
    """Delete data older than N days from every table, in one transaction.

    The newest snapshot is always kept.

    \b
    Examples:
      perps-tracker cleanup --days 30 --dry-run
      perps-tracker cleanup --days 90 --vacuum --quiet
    """
    from perps_tracker.render.database import cleanup_json, render_cleanup
    from perps_tracker.storage.queries import cleanup as run_cleanup

    on_interrupt("nothing was deleted")
    db = rt.reader() if dry_run else rt.db(create=False)
    show(run_cleanup(db, utc_now(), days, dry_run=dry_run, vacuum=vacuum), as_json, quiet, cleanup_json,
         render_cleanup)


@cli.group(invoke_without_command=True)
@runtime_options
@click.option("--hours", type=click.FloatRange(0, 168, min_open=True), default=1.0, show_default=True,
              help="The window: this many hours up to now.")
@click.option("--exchange", "exchanges", multiple=True, type=click.Choice(LIQUIDATION_VENUES),
              help="Only this venue (repeatable). Default: every venue with a liquidation source.")
@symbols_option
@click.option("--no-fetch", is_flag=True, help="Only report what is stored; do not poll OKX and Gate.io.")
@json_option
@quiet_option("For cron: poll and store, print nothing on success.")
@click.pass_context
def liquidations(ctx, rt, hours, exchanges, symbols, no_fetch, as_json, quiet):
    """Liquidations per venue and market-wide over the last hours, with cascade risk.

    First polls the REST histories (OKX: the --symbols largest instrument families; Gate.io:
    all contracts) and stores new events; Binance and Bybit come only from a running
    `liquidations watch`. A venue nobody was reading is shown as unknown, not zero. Exit
    code 3 when a poll failed (the report still shows what is stored).

    \b
    Examples:
      perps-tracker liquidations --hours 4
      perps-tracker liquidations --exchange okx --json
      perps-tracker liquidations watch --duration 59m
    """
    if ctx.invoked_subcommand is not None:
        return
    from perps_tracker.render.liquidations import (
        liquidations_json,
        render_liquidations,
        render_poll_warnings,
    )
    from perps_tracker.services.liquidations import liquidations as run_report

    report = run_report(rt, utc_now(), hours, exchanges or LIQUIDATION_VENUES, symbols, fetch=not no_fetch)
    show(report, as_json, quiet, liquidations_json, render_liquidations)
    if report.failed_polls:
        render_poll_warnings(report)
        ctx.exit(EXIT_INCOMPLETE)


@liquidations.command("watch")
@runtime_options
@click.option("--exchange", "exchanges", multiple=True, type=click.Choice(STREAMED_VENUES),
              help="Only this venue (repeatable). Default: Binance, Bybit and OKX.")
@click.option("--duration", type=Duration(), default=None, metavar="DURATION",
              help="Stop after this long (30s, 59m, 2h). Default: until Ctrl-C or SIGTERM.")
@click.option("--symbols", type=click.IntRange(min=1), default=None, metavar="N",
              help="Bybit: only the N perpetuals with the largest 24 h volume, a sample. "
                   "Default: every linear perpetual, over as many connections as Bybit's limits need.")
@quiet_option("No progress lines and no summary; errors only.")
@click.pass_context
def watch(ctx, rt, exchanges, duration, symbols, quiet):
    """Collect liquidations from the venues' websockets into the database.

    Reads every symbol of each venue (Bybit: every linear perpetual, split over several
    connections). Reconnects with backoff after a drop, answers pings, skips malformed frames,
    and writes deduplicated events every second. Ctrl-C, SIGTERM or the end of --duration
    flushes and prints a summary per venue. Exit code 0 at the end of --duration or on SIGTERM
    (a service's normal stop), 130 on Ctrl-C, 3 when a venue never had all its connections up,
    1 when the database failed.

    \b
    Examples:
      perps-tracker liquidations watch     (a systemd service)
      perps-tracker liquidations watch --duration 59m -q
      perps-tracker liquidations watch --symbols 50
    """
    import time

    from perps_tracker.errors import DatabaseError
    from perps_tracker.render.liquidations import render_watch_summary, watch_log
    from perps_tracker.services.watch import watch as run_watch

    started = time.monotonic()
    stats, fatal, interrupted = run_watch(rt, chosen(exchanges, STREAMED_VENUES), duration, symbols,
                                          log=(lambda _: None) if quiet else watch_log)
    if not quiet:
        render_watch_summary(stats, time.monotonic() - started)
    if interrupted and fatal is None:
        stored = sum(s.stored for s in stats.values())
        click.echo(f"Interrupted: every event received was stored ({stored} new).", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    if fatal is not None:
        lost = sum(s.pending for s in stats.values())
        raise DatabaseError(f"{fatal}; stopped, {lost} events received were not stored")
    never = [s for s in stats.values() if s.complete == 0]
    for s in never:
        watch_log(f"Warning: {s.exchange} never connected: {s.last_error or 'no reason given'}")
    if never:
        ctx.exit(EXIT_INCOMPLETE)


@cli.command()
@runtime_options
@click.option("--all", "show_all", is_flag=True,
              help="Also show every strategy that did not fire and why (with --since: suppressed alerts too).")
@click.option("--notify", is_flag=True,
              help="Post fired alerts to the webhooks in the config file, and retry earlier failed deliveries.")
@click.option("--since", type=Since(lambda: utc_now()), default=None, metavar="WHEN",
              help="List the alerts since then instead of evaluating: a duration back from now (24h, 7d, "
                   "1h30m) or a date or time (2026-11-01, 2026-11-01T12:00, with Z or +02:00; UTC by default).")
@json_option
@quiet_option("For cron: print nothing; failed deliveries to stderr.")
@click.pass_context
def alerts(ctx, rt, show_all, notify, since, as_json, quiet):
    """Evaluate the twelve strategy rules on the newest snapshot and show what fires.

    A fired rule with confidence 50 or more is an alert, unless its cooldown (1/2/4 h by
    tier) or a cap (3 per strategy a day, 10 an hour) suppresses it. Decisions are stored,
    so running it again on the same snapshot raises nothing twice. --notify posts to the
    Discord, Slack or JSON webhooks of the config file; a failed post is retried on the next
    run (exit code 3 until then).

    \b
    Examples:
      perps-tracker alerts --all
      perps-tracker alerts --notify --quiet   (cron)
      perps-tracker alerts --since 7d --json
      perps-tracker alerts --since 2026-11-01 --all
    """
    from perps_tracker.render.alerts import (
        alert_history_json,
        alerts_json,
        render_alert_history,
        render_alerts,
        render_delivery_warnings,
    )

    if since is not None:
        if notify:
            raise click.UsageError("--since lists past alerts; it cannot be combined with --notify")
        from perps_tracker.storage.alerts import alert_history

        start = int(since.timestamp())
        past = alert_history(rt.reader(), start)
        show(past, as_json, quiet, lambda p: alert_history_json(p, start, show_all),
             lambda p: render_alert_history(p, start, show_all))
        return
    from perps_tracker.services.alerts import run_alerts

    run = run_alerts(rt, int(utc_now().timestamp()), notify=notify)
    show(run, as_json, quiet, lambda r: alerts_json(r, show_all), lambda r: render_alerts(r, show_all))
    render_delivery_warnings(run)
    if run.failures:
        ctx.exit(EXIT_INCOMPLETE)


@cli.command()
@runtime_options
@click.option("--days", type=click.IntRange(1, 30), required=True, help="Rebuild this many days back (at most 30).")
@venues_option(sorted(EXCHANGES), "all eight")
@click.option("--coins", metavar="COIN,...",
              help="Also fill instrument_snapshots for these coins' markets (default: the watchlist; "
                   "'none' for no coin).")
@json_option
@quiet_option("No progress bars and no summary; warnings and errors only.")
@click.pass_context
def backfill(ctx, rt, days, exchanges, coins, as_json, quiet):
    """Rebuild the hourly snapshots of the last N days from the venues' history endpoints.

    Fills only the hours that have no snapshot (live ones are never touched), marks the rows
    source=backfill and scores them like live snapshots. Then fills instrument_snapshots for
    the markets of --coins (default: the watchlist) over the same hours, where a market has
    no row yet: price, mark and index, 24 h volume, open interest and funding from the same
    history endpoints, marked backfill. What a venue keeps no history of stays empty and is
    named. Interrupted? Run it again: finished downloads and stored hours are kept. Exit code
    3 when hours stay missing (stderr says which venues lacked history for which span) or a
    venue's history could not be read; 130 when interrupted.

    \b
    Examples:
      perps-tracker backfill --days 7
      perps-tracker backfill --days 30 --exchange bybit
      perps-tracker backfill --days 14 --coins BTC,PEPE
    """
    from perps_tracker.render.backfill import (
        BackfillProgress,
        backfill_json,
        render_backfill,
        render_backfill_warnings,
    )
    from perps_tracker.services.backfill import backfill as run_backfill
    from perps_tracker.services.backfill import coin_list

    on_interrupt("what was stored and downloaded is kept; run the same command again to resume")
    venues = chosen(exchanges, list(EXCHANGES))
    wanted = coin_list(rt.watchlist() if coins is None else "" if coins.strip().lower() == "none" else coins)
    if coins is not None and coins.strip().lower() != "none" and not wanted:
        raise click.BadParameter("name at least one coin (or 'none')", param_hint="'--coins'")
    with BackfillProgress(venues, enabled=not (quiet or as_json)) as bars:
        result = run_backfill(rt, days, utc_now(), venues, bars.reporter(), coins=wanted)
    show(result, as_json, quiet, backfill_json, render_backfill)
    if result.incomplete:
        render_backfill_warnings(result)
        ctx.exit(EXIT_INCOMPLETE)


@cli.command()
@runtime_options
@click.option("--hours", type=click.IntRange(6, 24 * 365), default=168, show_default=True,
              help="The chart covers this many hours up to the newest snapshot.")
@json_option
@quiet_option()
def trend(rt, hours, as_json, quiet):
    """Where sentiment is heading: composite-score trend over 24 h and 7 d, BTC volatility regime, chart.

    The trend is the least-squares slope of the composite score per hour (with its r-squared):
    STRENGTHENING when the score moves away from 0, WEAKENING when toward it, STABLE when flat
    or noisy. The regime compares BTC's realised volatility of the last 24 h with its rolling
    24 h volatility over the week before (COMPRESSED / NORMAL / ELEVATED). Windows end at the
    newest snapshot. See docs/history.md.

    \b
    Examples:
      perps-tracker trend
      perps-tracker trend --hours 48
      perps-tracker trend --json | jq .regime
    """
    from perps_tracker.render.history import render_trend, trend_json
    from perps_tracker.services.history import load_trend

    show(load_trend(rt.reader(), int(utc_now().timestamp()), hours), as_json, quiet, trend_json, render_trend)


@cli.command()
@runtime_options
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Only the last N days up to the newest snapshot. Default: the whole history.")
@click.option("--horizon", "horizons", type=Horizons(), default="1h,4h,24h", show_default=True,
              help="Forward BTC return horizons, comma-separated.")
@json_option
@quiet_option()
def backtest(rt, days, horizons, as_json, quiet):
    """How each strategy's signals and each sentiment label did: hit rate and forward BTC return.

    A signal is a raw rule firing on a stored snapshot (no cooldown, no caps); a label is every
    snapshot with that sentiment. Each is compared with the baseline of all snapshots of the
    same period, with a p-value; an edge needs p < 0.01 on at least 20 non-overlapping
    signals. Needs 48 snapshots with a BTC price one horizon later. See docs/history.md.

    \b
    Examples:
      perps-tracker backtest
      perps-tracker backtest --days 30 --horizon 4h,24h
      perps-tracker backtest --json \\
        | jq '.rows[] | select(.horizons["4h"].edge)'
    """
    from perps_tracker.render.history import backtest_json, render_backtest
    from perps_tracker.services.history import load_backtest

    show(load_backtest(rt.reader(), days, horizons), as_json, quiet, backtest_json, render_backtest)


@cli.group()
def predict():
    """Models fitted on the stored history, tested without look-ahead.

    \b
    Example:
      perps-tracker predict funding
    """


@predict.command("funding")
@runtime_options
@json_option
@quiet_option()
def predict_funding(rt, as_json, quiet):
    """Will the market funding rate be higher or lower at the next hourly snapshot?

    A logistic regression on what each snapshot stores (funding and its changes, scores,
    price change, OI/volume, long share, divergence, OI change), checked with 5-fold
    time-series cross-validation against two naive baselines (the last change repeats; the
    majority class). Needs 144 labelled hourly pairs (backfill --days 7 gives them). See docs/history.md.

    \b
    Examples:
      perps-tracker predict funding
      perps-tracker predict funding --json | jq .current
    """
    from perps_tracker.render.history import predict_json, render_predict
    from perps_tracker.services.history import load_funding_prediction

    show(load_funding_prediction(rt.reader()), as_json, quiet, predict_json, render_predict)


@cli.command()
@runtime_options
@json_option
@quiet_option("Print nothing: only check that the settings load (exit code 1 and the error if not).")
def config(rt, as_json, quiet):
    """Show the effective settings and where each one came from.

    Settings come from defaults < the TOML config file < environment variables <
    command-line flags. See docs/configuration.md for every key.

    \b
    Example:
      PERPS_TRACKER_READ_TIMEOUT=30 perps-tracker config
    """
    from perps_tracker.render.database import config_json, render_config

    show(rt.settings, as_json, quiet, config_json, render_config)


from perps_tracker.cli import capture, export, markets, options, query, report, serve  # noqa: E402 - own modules

for _command in (*markets.COMMANDS, *export.COMMANDS, *options.COMMANDS, *report.COMMANDS, *capture.COMMANDS,
                 *query.COMMANDS, *serve.COMMANDS):
    cli.add_command(_command)


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a command the way Ctrl-C does


def main() -> None:
    """Console-script entry point."""
    import os
    import signal
    import sys

    signal.signal(signal.SIGTERM, _terminate)
    try:
        cli(prog_name="perps-tracker")
    except SystemExit as e:
        if e.code == EXIT_INTERRUPTED:  # do not wait for worker threads still blocked in a request
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        raise
