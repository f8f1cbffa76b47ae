"""The `perps-tracker` command group. Each command parses options, calls one core
function and renders the result; every `TrackerError` becomes a one-line `Error: ...`.

Heavy modules (SQLAlchemy, rich, numpy, ...) are imported inside the commands so that
`perps-tracker --help` stays instant.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from perps_tracker import __version__
from perps_tracker.errors import TrackerError
from perps_tracker.exchanges import EXCHANGES

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


INTERRUPTED = "interrupted"  # ctx.meta key: what a command says when Ctrl-C or SIGTERM stops it
EXIT_INTERRUPTED = 130


class TrackerException(click.ClickException):
    """`Error: ...` on stderr: broken at spaces on a terminal, in ASCII where stderr needs it."""

    def show(self, file=None) -> None:
        from perps_tracker.render.terminal import echo_err

        echo_err(f"Error: {self.format_message()}")


class TrackerGroup(click.Group):
    """A click group that shows expected failures as one line instead of a traceback, and an
    interruption (Ctrl-C, SIGTERM) as one `Interrupted: ...` line with exit code 130."""

    def invoke(self, ctx: click.Context):
        from perps_tracker.render.terminal import echo_err

        try:
            return super().invoke(ctx)
        except TrackerError as e:
            raise TrackerException(str(e)) from e
        except KeyboardInterrupt:
            echo_err(f"Interrupted: {ctx.meta.get(INTERRUPTED, 'nothing partial was stored')}")
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


def on_interrupt(message: str) -> None:
    """Say `message` after `Interrupted:` if the running command is stopped by Ctrl-C or SIGTERM."""
    click.get_current_context().meta[INTERRUPTED] = message


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


def quiet_option(help: str = "Print nothing on success; errors and warnings still go to stderr."):
    """`--quiet/-q`: the command's output is left out, never its errors or warnings."""
    return click.option("--quiet", "-q", is_flag=True, help=help)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float | None:
    """Seconds in `30s`, `59m`, `2h`, `7d`, `1h30m` or plain seconds; None if `text` is none of these."""
    import re

    text = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", text)
    if parts and "".join(n + u for n, u in parts) == text:
        return sum(float(n) * UNITS[u] for n, u in parts)
    return None


class Duration(click.ParamType):
    """A length of time: `30s`, `59m`, `2h`, `1d`, `1h30m`, or plain seconds."""

    name = "duration"

    def convert(self, value, param, ctx) -> float:
        seconds = float(value) if isinstance(value, (int, float)) else parse_duration(str(value))
        if seconds is None:
            self.fail(f"{value!r} is not a duration like 30s, 59m, 2h or 1h30m", param, ctx)
        if seconds <= 0:
            self.fail(f"{value!r} is not a positive duration", param, ctx)
        return seconds


def parse_when(text: str) -> datetime | None:
    """The UTC time of an ISO date or time: `2026-11-01`, `2026-11-01T12:00`, `2026-11-01 12:00:00`,
    with `Z` or an offset (`+02:00`, `-0500`); UTC when it has none. None if `text` is not shaped so;
    ValueError for an impossible one (`2026-13-01`)."""
    import re

    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(Z|[+-]\d{2}:?\d{2})?)?",
                         text.strip(), re.IGNORECASE)
    if match is None:
        return None
    day, clock, offset = match.groups()
    offset = "+00:00" if offset is None or offset.upper() == "Z" else offset
    if ":" not in offset:
        offset = offset[:3] + ":" + offset[3:]
    return datetime.fromisoformat(f"{day}T{clock or '00:00'}{offset}").astimezone(timezone.utc)


class Since(click.ParamType):
    """The start of a past period: a duration back from now (`24h`, `7d`, `1h30m`) or an ISO
    date or time (`2026-11-01`, `2026-11-01T12:00`, `2026-11-01T12:00:00Z`, `...+02:00`; UTC
    without an offset). Converts to an aware UTC datetime."""

    name = "since"

    def convert(self, value, param, ctx) -> datetime:
        if isinstance(value, datetime):
            return value
        now = utc_now()
        seconds = parse_duration(str(value))
        if seconds is not None:
            if seconds <= 0:
                self.fail(f"{value!r} is not a positive duration", param, ctx)
            return now - timedelta(seconds=seconds)
        try:
            when = parse_when(str(value))
        except ValueError as e:
            self.fail(f"{value!r} is not a valid date: {e}", param, ctx)
        if when is None:
            self.fail(f"{value!r} is neither a duration (24h, 7d, 1h30m) nor a date (2026-11-01, "
                      "2026-11-01T12:00, 2026-11-01T12:00:00Z)", param, ctx)
        if when > now:
            self.fail(f"{value!r} is in the future", param, ctx)
        return when


LIQUIDATION_VENUES = [v for v, cls in EXCHANGES.items() if cls.liquidation_sources]
STREAMED_VENUES = [v for v, cls in EXCHANGES.items() if "ws" in cls.liquidation_sources]
symbols_option = click.option("--symbols", type=click.IntRange(1, 500), default=50, show_default=True,
                              help="OKX's REST history follows the N largest instrument families by 24 h volume.")


@click.group(cls=TrackerGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="perps-tracker")
@click.option("--verbose", "-v", count=True,
              help="Log to stderr each HTTP request (method, URL, status, milliseconds), retry, rate-limit "
                   "wait and database open; -vv adds detail. Secrets are never shown.")
def cli(verbose):
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


@cli.command()
@settings_options
@click.option("--mkdir", is_flag=True, help="Create the database's directory if it does not exist.")
@quiet_option()
def init(settings, mkdir, quiet):
    """Create the database, or upgrade it to the current schema. Safe to run again.

    \b
    Example:
      perps-tracker init --db ~/perps/history.db --mkdir
    """
    from perps_tracker.render import render_init
    from perps_tracker.storage.db import open_database

    db = open_database(settings.db, create=True, mkdir=True if mkdir else None)
    try:
        if not quiet:
            render_init(db)
    finally:
        db.dispose()


@cli.command()
@settings_options
@click.option("--exchange", "exchanges", multiple=True, type=click.Choice(sorted(EXCHANGES)),
              metavar="VENUE", help=f"Only this venue (repeatable): {', '.join(sorted(EXCHANGES))}. Default: all eight.")
@json_option
@quiet_option("For cron: print nothing on success; failed venues to stderr.")
@click.option("--alerts", "with_alerts", is_flag=True,
              help="Then evaluate the strategy alerts on it and post them to the configured webhooks.")
@click.pass_context
def snapshot(ctx, settings, exchanges, as_json, quiet, with_alerts):
    """Fetch every venue at once, score the market and store this hour's snapshot.

    Running it again in the same hour merges into that hour's snapshot: a venue that answered
    replaces its row, a venue that failed or was not asked keeps the earlier one, and the
    market is scored again over the merged rows (a stored hour never gets worse). With
    --alerts, the strategy alerts are evaluated on it right after, as `alerts --notify` would
    (without webhooks in the config, they are printed, even with --quiet). Exit code 0 when
    every venue asked answered, 3 when the snapshot was stored but some venues failed (or an
    alert could not be delivered), 1 when nothing was stored, 130 when interrupted.

    \b
    Examples:
      perps-tracker snapshot
      perps-tracker snapshot --exchange okx --json
    Hourly from cron, with the alerts (see crontab.example):
      0 * * * * perps-tracker snapshot --quiet --alerts
    """
    from perps_tracker.render import (
        FetchStatus,
        print_json,
        render_snapshot,
        render_snapshot_warnings,
        snapshot_json,
    )
    from perps_tracker.services.snapshot import take_snapshot

    on_interrupt("nothing was stored for this hour")
    now = utc_now()
    venues = [v for v in EXCHANGES if v in set(exchanges or EXCHANGES)]
    with FetchStatus(venues, enabled=not (quiet or as_json)) as status:
        snap = take_snapshot(settings, venues, now, on_venue=status.done)
    run = None
    if with_alerts:
        from perps_tracker.services.alerts import run_alerts

        run = run_alerts(settings, int(now.timestamp()), notify=bool(settings.webhook_urls()))
    if as_json:
        out = snapshot_json(snap)
        if run is not None:
            from perps_tracker.render import alerts_json

            out["alerts"] = alerts_json(run, show_all=False)
        print_json(out)
    elif not quiet:
        render_snapshot(snap)
    if run is not None and not as_json:
        from perps_tracker.render import render_alerts, render_new_alerts

        if not quiet:
            click.echo()
            render_alerts(run, show_all=False)
        elif not run.webhooks:
            render_new_alerts(run)
    if run is not None:
        from perps_tracker.render import render_delivery_warnings

        render_delivery_warnings(run)
    if snap.failed_now and (quiet or as_json):
        render_snapshot_warnings(snap)
    if snap.failed_now or (run is not None and run.failures):
        ctx.exit(3)


@cli.command()
@settings_options
@json_option
@quiet_option()
def stats(settings, as_json, quiet):
    """What the database holds: rows, time range, size, venue coverage, gaps, latest snapshot.

    \b
    Example:
      perps-tracker stats --json | jq .coverage
    """
    from perps_tracker.render import print_json, render_stats, stats_json
    from perps_tracker.storage.db import open_for_reading
    from perps_tracker.storage.queries import collect_stats

    with open_for_reading(settings.db) as db:
        result = collect_stats(db, utc_now(), list(EXCHANGES))
    if as_json:
        print_json(stats_json(result))
    elif not quiet:
        render_stats(result)


@cli.command()
@settings_options
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True,
              help="Delete rows older than this many days.")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option("--vacuum", is_flag=True, help="Compact the database file afterwards.")
@json_option
@quiet_option("For cron: print nothing on success; errors to stderr.")
def cleanup(settings, days, dry_run, vacuum, as_json, quiet):
    """Delete data older than N days from every table, in one transaction.

    The newest snapshot is always kept.

    \b
    Examples:
      perps-tracker cleanup --days 30 --dry-run
      perps-tracker cleanup --days 90 --vacuum --quiet
    """
    from perps_tracker.render import cleanup_json, print_json, render_cleanup
    from perps_tracker.storage.db import open_database, open_for_reading
    from perps_tracker.storage.queries import cleanup as run_cleanup

    on_interrupt("nothing was deleted")
    opened = open_for_reading(settings.db) if dry_run else open_database(settings.db, create=False)
    with opened as db:
        result = run_cleanup(db, utc_now(), days, dry_run=dry_run, vacuum=vacuum)
    if as_json:
        print_json(cleanup_json(result))
    elif not quiet:
        render_cleanup(result)


@cli.group(invoke_without_command=True)
@settings_options
@click.option("--hours", type=click.FloatRange(0, 168, min_open=True), default=1.0, show_default=True,
              help="The window: this many hours up to now.")
@click.option("--exchange", "exchanges", multiple=True, type=click.Choice(LIQUIDATION_VENUES),
              help="Only this venue (repeatable). Default: every venue with a liquidation source.")
@symbols_option
@click.option("--no-fetch", is_flag=True, help="Only report what is stored; do not poll OKX and Gate.io.")
@json_option
@quiet_option("For cron: poll and store, print nothing on success.")
@click.pass_context
def liquidations(ctx, settings, hours, exchanges, symbols, no_fetch, as_json, quiet):
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
    from perps_tracker.render import (
        liquidations_json,
        print_json,
        render_liquidations,
        render_poll_warnings,
    )
    from perps_tracker.services.liquidations import liquidations as run_report

    report = run_report(settings, utc_now(), hours, exchanges or LIQUIDATION_VENUES, symbols, fetch=not no_fetch)
    if as_json:
        print_json(liquidations_json(report))
    elif not quiet:
        render_liquidations(report)
    if report.failed_polls:
        render_poll_warnings(report)
        ctx.exit(3)


@liquidations.command("watch")
@settings_options
@click.option("--exchange", "exchanges", multiple=True, type=click.Choice(STREAMED_VENUES),
              help="Only this venue (repeatable). Default: Binance, Bybit and OKX.")
@click.option("--duration", type=Duration(), default=None, metavar="DURATION",
              help="Stop after this long (30s, 59m, 2h). Default: until Ctrl-C or SIGTERM.")
@click.option("--symbols", type=click.IntRange(min=1), default=None, metavar="N",
              help="Bybit: only the N perpetuals with the largest 24 h volume, a sample. "
                   "Default: every linear perpetual, over as many connections as Bybit's limits need.")
@quiet_option("No progress lines and no summary; errors only.")
@click.pass_context
def watch(ctx, settings, exchanges, duration, symbols, quiet):
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
    from perps_tracker.render import render_watch_summary, watch_log
    from perps_tracker.services.watch import watch as run_watch

    started = time.monotonic()
    venues = [v for v in STREAMED_VENUES if v in set(exchanges or STREAMED_VENUES)]
    stats, fatal, interrupted = run_watch(settings, venues, duration, symbols,
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
        ctx.exit(3)


@cli.command()
@settings_options
@click.option("--all", "show_all", is_flag=True,
              help="Also show every strategy that did not fire and why (with --since: suppressed alerts too).")
@click.option("--notify", is_flag=True,
              help="Post fired alerts to the webhooks in the config file, and retry earlier failed deliveries.")
@click.option("--since", type=Since(), default=None, metavar="WHEN",
              help="List the alerts since then instead of evaluating: a duration back from now (24h, 7d, "
                   "1h30m) or a date or time (2026-11-01, 2026-11-01T12:00, with Z or +02:00; UTC by default).")
@json_option
@quiet_option("For cron: print nothing; failed deliveries to stderr.")
@click.pass_context
def alerts(ctx, settings, show_all, notify, since, as_json, quiet):
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
    if since is not None:
        if notify:
            raise click.UsageError("--since lists past alerts; it cannot be combined with --notify")
        from perps_tracker.render import (
            alert_history_json,
            print_json,
            render_alert_history,
        )
        from perps_tracker.storage.alerts import alert_history
        from perps_tracker.storage.db import open_for_reading

        start = int(since.timestamp())
        with open_for_reading(settings.db) as db:
            past = alert_history(db, start)
        if as_json:
            print_json(alert_history_json(past if show_all else [a for a in past if a.status != "suppressed"],
                                          start))
        elif not quiet:
            render_alert_history(past, start, show_all)
        return

    from perps_tracker.render import (
        alerts_json,
        print_json,
        render_alerts,
        render_delivery_warnings,
    )
    from perps_tracker.services.alerts import run_alerts

    run = run_alerts(settings, int(utc_now().timestamp()), notify=notify)
    if as_json:
        print_json(alerts_json(run, show_all))
    elif not quiet:
        render_alerts(run, show_all)
    render_delivery_warnings(run)
    if run.failures:
        ctx.exit(3)


@cli.command()
@settings_options
@click.option("--days", type=click.IntRange(1, 30), required=True, help="Rebuild this many days back (at most 30).")
@click.option("--exchange", "exchanges", multiple=True, type=click.Choice(sorted(EXCHANGES)),
              metavar="VENUE", help=f"Only this venue (repeatable): {', '.join(sorted(EXCHANGES))}. Default: all eight.")
@json_option
@quiet_option("No progress bars and no summary; warnings and errors only.")
@click.pass_context
def backfill(ctx, settings, days, exchanges, as_json, quiet):
    """Rebuild the hourly snapshots of the last N days from the venues' history endpoints.

    Fills only the hours that have no snapshot (live ones are never touched), marks the rows
    source=backfill and scores them like live snapshots. What a venue keeps no history of
    stays empty and is named. Interrupted? Run it again: finished downloads and stored
    hours are kept. Exit code 3 when hours stay missing (stderr says which venues lacked
    history for which span) or a venue's history could not be read; 130 when interrupted.

    \b
    Examples:
      perps-tracker backfill --days 7
      perps-tracker backfill --days 30 --exchange bybit
    """
    from perps_tracker.render import (
        BackfillProgress,
        backfill_json,
        print_json,
        render_backfill,
        render_backfill_warnings,
    )
    from perps_tracker.services.backfill import backfill as run_backfill

    on_interrupt("what was stored and downloaded is kept; run the same command again to resume")
    venues = [v for v in EXCHANGES if v in set(exchanges or EXCHANGES)]
    if quiet or as_json:
        result = run_backfill(settings, days, utc_now(), venues)
    else:
        with BackfillProgress(venues) as bars:
            result = run_backfill(settings, days, utc_now(), venues, bars.reporter())
    if as_json:
        print_json(backfill_json(result))
    elif not quiet:
        render_backfill(result)
    if result.incomplete:
        render_backfill_warnings(result)
        ctx.exit(3)


# -- history analysis: trend, backtest, predict ----------------------------------------------


class Horizons(click.ParamType):
    """Comma-separated forward horizons in whole hours: `1h,4h,24h` (or `1d`)."""

    name = "horizons"

    def convert(self, value, param, ctx) -> list[int]:
        from perps_tracker.model.analysis import parse_horizons

        if isinstance(value, list):
            return value
        try:
            hours = parse_horizons(str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)
        if hours[-1] > 30 * 24:
            self.fail(f"{value!r}: the longest horizon is 30d", param, ctx)
        return hours


@cli.command()
@settings_options
@click.option("--hours", type=click.IntRange(6, 24 * 365), default=168, show_default=True,
              help="The chart covers this many hours up to the newest snapshot.")
@json_option
@quiet_option()
def trend(settings, hours, as_json, quiet):
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
    from perps_tracker.services.history import load_trend
    from perps_tracker.render import print_json, render_trend, trend_json
    from perps_tracker.storage.db import open_for_reading

    with open_for_reading(settings.db) as db:
        report = load_trend(db, int(utc_now().timestamp()), hours)
    if as_json:
        print_json(trend_json(report))
    elif not quiet:
        render_trend(report)


@cli.command()
@settings_options
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Only the last N days up to the newest snapshot. Default: the whole history.")
@click.option("--horizon", "horizons", type=Horizons(), default="1h,4h,24h", show_default=True,
              help="Forward BTC return horizons, comma-separated.")
@json_option
@quiet_option()
def backtest(settings, days, horizons, as_json, quiet):
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
    from perps_tracker.services.history import load_backtest
    from perps_tracker.render import backtest_json, print_json, render_backtest
    from perps_tracker.storage.db import open_for_reading

    with open_for_reading(settings.db) as db:
        result = load_backtest(db, days, horizons)
    if as_json:
        print_json(backtest_json(result))
    elif not quiet:
        render_backtest(result)


@cli.group()
def predict():
    """Models fitted on the stored history, tested without look-ahead.

    \b
    Example:
      perps-tracker predict funding
    """


@predict.command("funding")
@settings_options
@json_option
@quiet_option()
def predict_funding(settings, as_json, quiet):
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
    from perps_tracker.services.history import load_funding_prediction
    from perps_tracker.render import predict_json, print_json, render_predict
    from perps_tracker.storage.db import open_for_reading

    with open_for_reading(settings.db) as db:
        result = load_funding_prediction(db)
    if as_json:
        print_json(predict_json(result))
    elif not quiet:
        render_predict(result)


@cli.command()
@settings_options
@json_option
@quiet_option("Print nothing: only check that the settings load (exit code 1 and the error if not).")
def config(settings, as_json, quiet):
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
    elif not quiet:
        render_config(settings)


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
