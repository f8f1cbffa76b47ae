"""Serve the fake venues on loopback until interrupted: `python -m tests.fakes`.

Prints (or writes with --env-file) the PERPS_TRACKER_<VENUE>_URL variables that point
perps-tracker at it, so the real CLI can be tried without the internet:

    python -m tests.fakes --env-file /tmp/fake.env &
    set -a; . /tmp/fake.env; set +a; perps-tracker snapshot
"""

from __future__ import annotations

import argparse
import signal
import threading

from tests.fakes import FakeVenues, installed_venues


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--env-file", help="write the environment variables here (written once serving)")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with FakeVenues(delay=args.delay) as fake:
        fake.install()
        lines = "".join(f"{name}={value}\n" for name, value in fake.env().items())
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
