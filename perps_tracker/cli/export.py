"""`export`: a table or a command's rows over a time range, as CSV, JSON Lines or Parquet."""

from __future__ import annotations

from pathlib import Path

import click

from perps_tracker.cli.base import clock, runtime_options
from perps_tracker.cli.params import Since


@click.command()
@runtime_options
@click.argument("target", metavar="TABLE|COMMAND")
@click.option("--since", type=Since(lambda: clock()()), default=None, metavar="WHEN",
              help="From this time: a duration back (7d, 24h) or a date (2026-11-01) [default: the beginning].")
@click.option("--until", type=Since(lambda: clock()()), default=None, metavar="WHEN",
              help="Up to (not including) this time, same forms [default: now].")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              metavar="FILE", help="Write here (complete or not at all) instead of stdout.")
def export(rt, target, since, until, fmt, output):
    """Rows of a table, or of a per-coin command for every stored hour, as CSV, JSON Lines or Parquet.

    TABLE is any table (market_snapshots, exchange_snapshots, liquidations, alerts, instruments,
    instrument_rows, ...) or the instrument_snapshots view; columns are named as in the database.
    COMMAND is funding, sectors or coin:COIN (e.g. coin:ETH): the command's rows for each stored
    hour, with a timestamp column. Rows are streamed: memory stays flat on millions of rows.
    Parquet needs the optional extra: pip install 'perps-tracker[parquet]'.

    \b
    Examples:
      perps-tracker export instrument_snapshots \\
          --since 30d --format parquet -o month.parquet
      perps-tracker export funding --since 7d --format jsonl
      perps-tracker export liquidations --since 7d -o l.csv
    """
    from perps_tracker.errors import TrackerError
    from perps_tracker.render.export import check_format, write_export
    from perps_tracker.render.terminal import echo_err
    from perps_tracker.services.export import export_target

    now = int(clock()().timestamp())
    lo = 0 if since is None else int(since.timestamp())
    hi = now + 1 if until is None else int(until.timestamp())
    if hi <= lo:
        raise TrackerError("--until must be later than --since")
    check_format(fmt)
    with export_target(rt, target, lo, hi) as rows:
        written = write_export(rows, fmt, output)
    if output is not None:
        echo_err(f"{written:,} rows written to {output}")


COMMANDS = (export,)
