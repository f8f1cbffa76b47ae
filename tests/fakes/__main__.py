"""Serve the fake venues on loopback until interrupted: `python -m tests.fakes`.

Prints (or writes with --env-file) the PERPS_TRACKER_<VENUE>_URL variables that point
perps-tracker at it, so the real CLI can be tried without the internet:

    python -m tests.fakes --env-file /tmp/fake.env &
    set -a; . /tmp/fake.env; set +a; perps-tracker snapshot

With --streams, the Binance, Bybit and OKX liquidation websockets are served too
(PERPS_TRACKER_<VENUE>_WS_URL): each connection sends --per-session new events --interval
seconds apart, with a repeat, a malformed frame and a ping, then drops; the next replays the
last five events first. The last of --sessions connections stays open. It prints how many
distinct events each venue sends, which is what `liquidations watch` must store.

With --universe, the venues serve tests/fakes/universe.py instead of the fixtures: ~3,000
perpetuals (--scale 1.0; the same --seed gives the same universe), each venue in its own symbols
and units, so the per-coin commands can be tried on real-scale data:

    python -m tests.fakes --universe --env-file /tmp/fake.env &
    set -a; . /tmp/fake.env; set +a
    perps-tracker coin PEPE      # 1000PEPEUSDT, kPEPE, PEPE-USDT-SWAP, ... per one PEPE
    perps-tracker funding; perps-tracker sectors

Only the snapshot's routes are served then (history and liquidations answer 404). It prints how
many markets each venue lists.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from contextlib import ExitStack

from tests.fakes import FakeVenues, installed_venues


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--env-file", help="write the environment variables here (written once serving)")
    parser.add_argument("--streams", action="store_true", help="also serve the liquidation websockets")
    parser.add_argument("--sessions", type=int, default=3, help="connections per stream (the last stays open)")
    parser.add_argument("--per-session", type=int, default=100, help="new events per connection")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between events")
    parser.add_argument("--universe", action="store_true",
                        help="serve the real-scale universe (tests/fakes/universe.py) instead of the fixtures")
    parser.add_argument("--seed", type=int, default=7, help="the universe's seed")
    parser.add_argument("--scale", type=float, default=1.0, help="the universe's size (1.0: ~3,000 markets)")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with FakeVenues(delay=args.delay) as fake, ExitStack() as stack:
        if args.universe:
            from tests.fakes.universe import install_universe

            counts = install_universe(fake, seed=args.seed, scale=args.scale).counts()
            print(f"universe (seed {args.seed}, scale {args.scale:g}): {sum(counts.values())} markets, "
                  + ", ".join(f"{venue} {n}" for venue, n in counts.items()), flush=True)
        else:
            fake.install()
        env = fake.env()
        if args.streams:
            from tests.fakes.ws import FakeStreams, liquidation_sessions

            streams = stack.enter_context(FakeStreams())
            start = int(time.time() * 1000) - 60_000
            for venue in ("binance", "bybit", "okx"):
                scripts, distinct = liquidation_sessions(venue, args.sessions, args.per_session, args.interval,
                                                         start_ms=start)
                streams.script(venue, *scripts)
                print(f"{venue} stream: {distinct} distinct events over {args.sessions} connections", flush=True)
            env.update(streams.env("binance", "bybit", "okx"))
        lines = "".join(f"{name}={value}\n" for name, value in env.items())
        if args.env_file:
            with open(args.env_file + ".tmp", "w") as fh:
                fh.write(lines)
            import os

            os.replace(args.env_file + ".tmp", args.env_file)
        else:
            print(lines, end="", flush=True)
        print(f"fake venues ({', '.join(installed_venues())}) on port {fake.port}; Ctrl-C stops", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
