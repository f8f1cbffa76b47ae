#!/usr/bin/env python3
"""Benchmarks that print numbers (no pass/fail): `python scripts/bench.py startup`.

startup  wall time of `perps-tracker --help` in a fresh interpreter (median of N runs),
         and which heavy modules it imported (there should be none).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    startup = sub.add_parser("startup", help="time `perps-tracker --help`")
    startup.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    if args.what == "startup":
        bench_startup(args.runs)


if __name__ == "__main__":
    main()
