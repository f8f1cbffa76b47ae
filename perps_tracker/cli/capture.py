"""`capture`: trades, best bid/offer and order books from the venues' websockets into the Parquet dataset
(registered on the `perps-tracker` group; docs/capture-venues.md)."""

from __future__ import annotations

import click

from perps_tracker.cli.base import EXIT_INCOMPLETE, EXIT_INTERRUPTED, quiet_option, runtime_options
from perps_tracker.cli.params import Duration
from perps_tracker.exchanges.venues import CAPTURE_VENUES
from perps_tracker.model.channels import CHANNELS, parse_shard

MIN_BOOK_INTERVAL = 0.1  # seconds


class Shard(click.ParamType):
    """`i/n`: the i-th of n shares of the markets (1 <= i <= n)."""

    name = "shard"

    def convert(self, value, param, ctx) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        try:
            return parse_shard(str(value))
        except ValueError as e:
            self.fail(str(e), param, ctx)


class Channels(click.ParamType):
    """Comma-separated channels among trades, bbo, book."""

    name = "channels"

    def convert(self, value, param, ctx) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        names = [x.strip().lower() for x in str(value).split(",") if x.strip()]
        bad = [x for x in names if x not in CHANNELS]
        if bad or not names:
            self.fail(f"{value!r}: expected channels among {', '.join(CHANNELS)}, comma-separated", param, ctx)
        return tuple(c for c in CHANNELS if c in names)


@click.command()
@runtime_options
@click.option("--exchange", "exchanges", multiple=True, type=click.Choice(CAPTURE_VENUES),
              help="Only this venue (repeatable). Default: " + ", ".join(CAPTURE_VENUES) + ".")
@click.option("--symbols", default=None, metavar="LIST",
              help="The venues' own symbols, comma-separated (BTCUSDT,BTC-USDT-SWAP,BTC); `venue:SYMBOL` for one "
                   "venue only. Not with --coins.")
@click.option("--coins", default=None, metavar="LIST",
              help="Every market of these coins on each venue (BTC,ETH; 1000PEPE is PEPE). Default: the watchlist.")
@click.option("--channels", type=Channels(), default=",".join(CHANNELS), show_default=True,
              help="What to capture: trades, bbo (best bid/offer), book (sampled levels).")
@click.option("--depth", type=click.IntRange(1, 20), default=10, show_default=True,
              help="Book levels a side in each book sample.")
@click.option("--book-interval", type=Duration(), default="1s", show_default=True, metavar="DURATION",
              help="Sample the books this often (at least 0.1s).")
@click.option("--root", default=None, metavar="DIR|URI",
              help="The dataset: a directory or s3://bucket/prefix [env PERPS_TRACKER_CAPTURE_ROOT; "
                   "default data/ticks].")
@click.option("--duration", type=Duration(), default=None, metavar="DURATION",
              help="Stop after this long (30s, 59m, 2h). Default: until Ctrl-C or SIGTERM.")
@click.option("--shard", "shard", type=Shard(), default="1/1", show_default=True, metavar="I/N",
              help="Capture only the I-th of N shares of the markets (CRC-32 of exchange:symbol modulo N), so N "
                   "processes share them without overlap.")
@quiet_option("No progress lines and no summary; errors only.")
@click.pass_context
def capture(ctx, rt, exchanges, symbols, coins, channels, depth, book_interval, root, duration, shard, quiet):
    """Capture trades, best bid/offer and order books from the venues' websockets.

    Trades (taker side, quantity in coins, USD value), best bid/offer and, every
    --book-interval, the best --depth levels of each book, from Binance, Bybit, OKX, Deribit
    and Hyperliquid, into a Parquet dataset under --root. Reconnects with backoff after a
    drop; Bybit's and OKX's books are kept from snapshots and deltas with their sequence
    checked, and a break resubscribes. Every interruption is recorded as a gap; trades
    replayed after a reconnect are dropped by id. Ctrl-C, SIGTERM or the end of --duration
    flushes and prints a summary per venue. Exit code 0 at the end of --duration or on
    SIGTERM, 130 on Ctrl-C, 3 when a venue failed to list its markets or never connected.

    \b
    Examples:
      perps-tracker capture --coins BTC,ETH --duration 1h
      perps-tracker capture --exchange bybit --channels trades
      perps-tracker capture --shard 2/4   (one of 4 processes)
    """
    import time

    from perps_tracker.errors import TrackerError
    from perps_tracker.render.capture import capture_log, render_capture_summary
    from perps_tracker.services.capture import capture as run_capture
    from perps_tracker.services.capture import gap_callback, open_sink, plan_capture, split_list

    if symbols is not None and coins is not None:
        raise click.UsageError("--symbols and --coins do not go together: choose markets one way")
    if book_interval < MIN_BOOK_INTERVAL:
        raise click.BadParameter(f"{book_interval:g}s is too short: at least {MIN_BOOK_INTERVAL:g}s",
                                 param_hint="'--book-interval'")
    wanted_symbols = split_list(symbols)
    wanted_coins = [c.upper() for c in split_list(rt.watchlist() if coins is None and symbols is None else coins)]
    if symbols is not None and not wanted_symbols:
        raise click.BadParameter("no symbol given", param_hint="'--symbols'")
    if coins is not None and not wanted_coins:
        raise click.BadParameter("no coin given", param_hint="'--coins'")
    log = (lambda _: None) if quiet else capture_log
    venues = list(exchanges) or list(CAPTURE_VENUES)
    plan = plan_capture(rt, venues, symbols=wanted_symbols, coins=[] if symbols is not None else wanted_coins,
                        shard_of=shard)
    for venue, why in plan.failed.items():
        capture_log(f"Warning: {venue}: {why}")
    if plan.unlisted:
        capture_log(f"Warning: not listed on {', '.join(plan.instruments)}: {', '.join(plan.unlisted)}")
    sink = open_sink(rt, root)
    started = time.monotonic()
    stats, interrupted, fatal = run_capture(rt, plan, channels, depth, book_interval, duration, sink,
                                            on_gap=gap_callback(rt, log), log=log)
    if not quiet:
        render_capture_summary(stats, time.monotonic() - started)
    if fatal is not None:
        raise TrackerError(f"{fatal}; stopped")
    if interrupted:
        click.echo("Interrupted: everything received was written.", err=True)
        ctx.exit(EXIT_INTERRUPTED)
    never = [s for s in stats.values() if s.connects == 0]
    for s in never:
        capture_log(f"Warning: {s.exchange} never connected: {s.last_error or 'no reason given'}")
    if never or plan.failed:
        ctx.exit(EXIT_INCOMPLETE)


COMMANDS = (capture,)
