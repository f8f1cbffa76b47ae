"""What every command shares: the group class that turns failures into one line, the runtime and
output options, and `show` (JSON, tables or nothing)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import click

from perps_tracker.errors import TrackerError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
INTERRUPTED = "interrupted"  # ctx.meta key: what a command says when Ctrl-C or SIGTERM stops it
EXIT_INTERRUPTED = 130
EXIT_INCOMPLETE = 3


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


def runtime_options(func):
    """Add `--db` and `--config`; the command gets `rt`, a Runtime over the loaded settings that is
    closed (database and HTTP client) when the command ends, however it ends."""

    @click.option("--db", metavar="PATH|URL", default=None,
                  help="Database file or SQLAlchemy URL [env PERPS_TRACKER_DB; default data/market_history.db].")
    @click.option("--config", "config_path", metavar="FILE", default=None,
                  type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="TOML config file [env PERPS_TRACKER_CONFIG; default ./perps_tracker.toml, "
                       "else the user config dir].")
    @functools.wraps(func)
    def wrapper(*args, db, config_path, **kwargs):
        from perps_tracker.config import load_settings
        from perps_tracker.services.runtime import Runtime

        with Runtime(load_settings(config_path, flags={"db": db})) as rt:
            return func(*args, rt=rt, **kwargs)

    return wrapper


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")


def quiet_option(help: str = "Print nothing on success; errors and warnings still go to stderr."):
    """`--quiet/-q`: the command's output is left out, never its errors or warnings."""
    return click.option("--quiet", "-q", is_flag=True, help=help)


def show(result: Any, as_json: bool, quiet: bool, to_json: Callable[[Any], dict], table: Callable[[Any], None]) -> None:
    """The result as one JSON object (--json), as tables (the default), or not at all (--quiet)."""
    from perps_tracker.render.format import print_json

    if as_json:
        print_json(to_json(result))
    elif not quiet:
        table(result)


def venues_option(choices: list[str], default_help: str):
    """`--exchange VENUE`, repeatable, among `choices`."""
    return click.option("--exchange", "exchanges", multiple=True, type=click.Choice(choices), metavar="VENUE",
                        help=f"Only this venue (repeatable): {', '.join(choices)}. Default: {default_help}.")


def chosen(exchanges: tuple[str, ...], among: list[str]) -> list[str]:
    """The venues asked for with --exchange (all of `among` when none), in registry order."""
    return [v for v in among if v in set(exchanges or among)]


def clock() -> Callable[[], Any]:
    """The command line's clock (`perps_tracker.cli.utc_now`, which tests replace), as the group hands
    it to its commands."""
    return click.get_current_context().find_root().obj["clock"]
