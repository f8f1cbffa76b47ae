"""`query`: SQL over the capture dataset with DuckDB (registered on the `perps-tracker` group)."""

from __future__ import annotations

import click

from perps_tracker.cli.base import runtime_options


@click.command()
@runtime_options
@click.argument("sql", metavar="SQL")
@click.option("--root", default=None, metavar="DIR|URI",
              help="The capture dataset [env PERPS_TRACKER_CAPTURE_ROOT; default data/ticks].")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="A table (the first 1,000 rows), or every row as CSV or as a JSON array of objects.")
def query(rt, sql, root, fmt):
    """SQL over the captured trades, best bid/offer and book levels, with DuckDB in process.

    The views `trades`, `bbo` and `book` hold the dataset's files (hive-partitioned Parquet, see
    docs/capture.md) with their columns and the partition column `date`. CSV and JSON are written
    as they are read: memory stays flat on any number of rows. Needs the optional extra:
    pip install 'perps-tracker[capture]'.

    \b
    Examples:
      perps-tracker query "SELECT count(*) FROM trades"
      perps-tracker query --format csv \\
          "SELECT exchange, sum(usd) FROM trades GROUP BY 1"
      perps-tracker query --format json \\
          "SELECT * FROM bbo WHERE coin = 'BTC'" > bbo.json
    """
    from perps_tracker.render.query import write_result
    from perps_tracker.services.dataset import run_query

    write_result(run_query(rt, sql, root), fmt)


COMMANDS = (query,)
