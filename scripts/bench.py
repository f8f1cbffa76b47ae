#!/usr/bin/env python3
"""Benchmarks that print numbers (no pass/fail). Run from the repository root.

startup   wall time of `perps-tracker --help` in a fresh interpreter (median of N runs),
          and which heavy modules it imported (there should be none).
snapshot  a whole snapshot against the loopback fake venues with --delay (default 150 ms)
          added to every request and a Binance of --symbols (default 560) perpetuals: each
          venue's own time fetched alone, then the snapshot's wall time (fetch, score, store)
          with every venue's time and request count. Target: wall ≤ 1.3 × the slowest venue alone.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("numpy", "sklearn", "pandas", "sqlalchemy", "alembic", "rich", "requests")


def bench_startup(runs: int) -> None:
    cmd = [sys.executable, "-c", "from perps_tracker.cli import main; main()", "--help"]
    subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    bare = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        bare.append(time.perf_counter() - start)
    probe = (
        "import sys\nfrom perps_tracker.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))) or 'none')"
    )
    heavy = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    print(f"perps-tracker --help: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f} ms over {runs} runs")
    print(f"bare python -c pass:  median {statistics.median(bare) * 1000:.0f} ms")
    print(f"heavy modules imported by --help: {heavy.stdout.strip().splitlines()[-1]}")


def bench_snapshot(delay: float, symbols: int, runs: int) -> None:
    import tempfile
    from datetime import datetime, timezone
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from perps_tracker.config import load_settings
    from perps_tracker.exchanges import EXCHANGES
    from perps_tracker.fetch import fetch_one
    from perps_tracker.http import HttpClient, HttpSettings
    from perps_tracker.snapshot import take_snapshot
    from perps_tracker.storage.db import open_database
    from tests.fakes import FakeVenues
    from tests.fakes.binance import WeightCounter, big_exchange

    weight = WeightCounter()
    with FakeVenues(delay=delay) as fake, tempfile.TemporaryDirectory() as tmp:
        fake.install(*[v for v in EXCHANGES if v != "binance"])
        expected = big_exchange(fake, n=symbols, weight=weight)
        env = {**fake.env(*EXCHANGES), "PERPS_TRACKER_DB": str(Path(tmp) / "bench.db")}
        settings = load_settings(env=env)
        print(f"fake venues on loopback, {delay * 1000:.0f} ms added to every request, "
              f"binance with {expected['markets']} perpetuals")

        alone: dict[str, float] = {}
        for venue, cls in EXCHANGES.items():
            best = None
            for _ in range(runs):
                weight.reset()
                client = HttpClient(HttpSettings.from_settings(settings))
                before = fake.count(venue)
                snap = fetch_one(cls, client, settings.venue_url(venue), settings["http.venue_timeout"])
                client.close()
                assert snap.ok, f"{venue}: {snap.error}"
                best = snap.latency_ms if best is None else min(best, snap.latency_ms)
                requests = fake.count(venue) - before
            alone[venue] = best / 1000
            print(f"  {venue:<12} alone: {best:6.0f} ms  {requests:4d} requests")

        db = open_database(settings.db)
        walls = []
        for i in range(runs):
            weight.reset()
            fake.requests.clear()
            start = time.perf_counter()
            snap = take_snapshot(settings, list(EXCHANGES), datetime.now(timezone.utc), db=db)
            walls.append(time.perf_counter() - start)
        db.dispose()
        assert not snap.failed, [v.error for v in snap.failed]
        wall = min(walls)
        slowest = max(alone, key=alone.get)
        print(f"snapshot (fetch 8 venues at once, score, store): best of {runs}: {wall * 1000:.0f} ms "
              f"(runs: {', '.join(f'{w * 1000:.0f}' for w in walls)} ms); the last run per venue:")
        for v in snap.venues:
            print(f"  {v.exchange:<12} {v.latency_ms:6d} ms  {fake.count(v.exchange):4d} requests")
        print(f"slowest venue alone: {slowest} {alone[slowest] * 1000:.0f} ms; "
              f"wall / slowest = {wall / alone[slowest]:.2f} (target ≤ 1.30)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    startup = sub.add_parser("startup", help="time `perps-tracker --help`")
    startup.add_argument("--runs", type=int, default=20)
    snap = sub.add_parser("snapshot", help="time a snapshot against the loopback fake")
    snap.add_argument("--delay", type=float, default=0.150, help="seconds added to every request")
    snap.add_argument("--symbols", type=int, default=560, help="Binance perpetuals")
    snap.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.what == "startup":
        bench_startup(args.runs)
    elif args.what == "snapshot":
        bench_snapshot(args.delay, args.symbols, args.runs)


if __name__ == "__main__":
    main()
