"""`report` (registered on the `perps-tracker` group): the market over a window, from the stored history."""

from __future__ import annotations

import click

from perps_tracker.cli.base import clock, json_option, quiet_option, runtime_options

# The formats `--format` offers: render/report.py's FORMATS but JSON (that is --json). Listed here so that
# `--help` does not import the renderers; tests/test_report.py checks the two agree.
FORMAT_CHOICES = ("text", "markdown")


@click.command()
@runtime_options
@click.option("--hours", type=click.IntRange(1, 24 * 90), default=24, show_default=True, metavar="N",
              help="The window: the N hours up to the newest snapshot.")
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default=None,
              help="text (the default) or markdown; with -o and no --format, taken from the file's suffix "
                   "(.md, .json, .txt).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True), default=None,
              metavar="FILE", help="Write the report to FILE instead of the terminal.")
@click.option("--save", is_flag=True,
              help="Also write it to reports/report-YYYYmmdd-HHMM.<ext> beside the database (data/reports/ by "
                   "default) and print the path.")
@click.option("--notify", is_flag=True,
              help="Also post the headline sections to the webhooks in the config file (once per snapshot hour "
                   "and window), and retry earlier failed posts.")
@json_option
@quiet_option("Print nothing (with -o or --save: only write the file).")
@click.pass_context
def report(ctx, rt, hours, fmt, output, save, notify, as_json, quiet):
    """The market over the last hours, from the stored history: headline, market, positioning, anomalies.

    No venue is called. Sections: the headline (composite score, sentiment and strength with
    their 24 h and 7 d change, BTC price and volatility regime); the market (volume, open
    interest, CEX/DEX share, venue shares and their concentration, HHI); positioning (funding,
    long share, OI/volume per venue: day trading or conviction); the widest funding spreads
    and the watchlist; liquidations and cascade risk with their coverage; anomalies (a venue's
    volume or OI/volume outside its own 7-day range, extreme funding, cross-venue price
    dislocations, OI jumps, volume spikes); the alerts raised. Each section says what it could
    not compute and why. --notify posts the headline sections to Discord, Slack or a JSON
    webhook; a failed post is retried on the next run (exit code 3 until then). See
    docs/report.md.

    \b
    Examples:
      perps-tracker report
      perps-tracker report --hours 168 -o week.md
      perps-tracker report --save --quiet   (cron)
      perps-tracker report --notify -q    (cron: to Discord)
      perps-tracker report --json | jq .anomalies.items
    """
    from pathlib import Path

    from perps_tracker.render.report import format_for
    from perps_tracker.services.report import build_report, save_path

    now = clock()()
    chosen = format_for(output, fmt, as_json)
    result = build_report(rt, now, hours)
    written = []
    if output is not None:
        written.append(_write(Path(output), chosen.document(result)))
    if save:
        path = save_path(rt, now, chosen.extension)
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(_write(path, chosen.document(result)))
    if not quiet:
        if output is None:
            if chosen.show is not None:
                chosen.show(result)
            else:
                click.echo(chosen.document(result), nl=False)
        for path in written:
            click.echo(f"Wrote {path}", err=output is None and save)
    if notify:
        _notify(ctx, rt, result, now, quiet)


def _notify(ctx, rt, result, now, quiet: bool) -> None:
    from perps_tracker.cli.base import EXIT_INCOMPLETE
    from perps_tracker.render.report import render_report_delivery, report_digest
    from perps_tracker.services.report import notify_report

    run = notify_report(rt, report_digest(result), int(now.timestamp()))
    render_report_delivery(run, quiet)
    if run.failures:
        ctx.exit(EXIT_INCOMPLETE)


def _write(path, text: str):
    """`text` to `path` through a temporary file beside it: the file appears whole or not at all."""
    import os

    from perps_tracker.errors import TrackerError

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise TrackerError(f"could not write {path}: {e.strerror or e}") from e
    return path


COMMANDS = (report,)
