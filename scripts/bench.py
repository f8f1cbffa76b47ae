#!/usr/bin/env python3
"""Benchmarks that print numbers (no pass/fail). Run from the repository root.

startup   wall time of `perps-tracker --help` and of `stats` on an empty database in a fresh
          interpreter, against a bare `python -c pass` (median of --runs rounds, the three in turn),
          and which heavy modules and venue modules each imported. --compare DIR times another
          checkout in the same rounds, alternating. Target: `stats` on an empty database ≤ 0.25 s.
snapshot  a whole snapshot against the loopback fake venues with --delay (default 150 ms)
          added to every request and a Binance of --symbols (default 560) perpetuals: each
          venue's own time fetched alone, then the snapshot's wall time (fetch, score, store)
          with every venue's time and request count. Target: wall ≤ 1.3 × the slowest venue alone.
fanout    Binance's fetch alone (the snapshot's critical path: ~560 per-symbol open-interest
          requests, sized from the minute's weight left) against a Binance fake with --symbols
          perpetuals and --delay per request running in another process, so that the fake does not
          share this process's GIL as in `snapshot`. Median of --runs.
liquidations
          --events (default 1,000,000) liquidation frames, a third each in Binance, Bybit and OKX
          shapes with --dupes (default 5 %) repeats, through the collector's own code (JSON decode,
          parse, normalise, deduplicate, store in SQLite every --batch events): events per second
          over the timed part (frame generation excluded) and the process's resident memory at
          checkpoints. Then --ws-events (default 200,000) sent through a loopback websocket to the
          running collector, end to end. Target: ≥ 20,000 events/s and flat memory.
database  what every database command pays: `stats` on an empty database against a bare interpreter
          (median of --runs); on --days (default 730) of synthetic history, `stats` and `backtest`
          (whole history and --days 30) end to end in a fresh process, median wall and peak memory;
          every table's size and its indexes' (SQLite dbstat), and the bytes one stored
          liquidation event costs (table and indexes, from SQLite's dbstat). Targets: `stats` on an
          empty database ≤ 0.25 s, `backtest` on two years ≤ 1 s and ≤ 100 MiB.
markets   the per-instrument layer at real scale: --markets (default 3,000) markets over --hours
          (default 8,760: a year, ~26 M rows) of synthetic hourly rows in a SQLite file; bytes per
          stored row (file and the fact table's key from dbstat); storing one hour of 3,000 rows
          (median of --runs, each a new hour in its own transaction); `coin BTC --hours 720`,
          `funding`, `sectors` (all --no-fetch, with byte-code caches) and `export
          instrument_snapshots` of the last 30 days as Parquet, CSV and JSON Lines end to end in fresh
          processes: median wall, peak RSS, export rows/s. Targets: ≤ 100 bytes per row, storing
          ≤ 150 ms, coin and funding ≤ 300 ms, Parquet export ≥ 500,000 rows/s, RSS ≤ 150 MB.
capture   real-time capture on one core, in a child process pinned to one CPU: --rows (default
          10,000,000) Binance aggTrade frames of --symbols (default 20) symbols over a few hours (the
          writer's clock follows them, so hours roll over) decoded and normalised by the capture
          engine's own per-frame path (services/capture.py `frame_decoder`) and written by
          `DatasetWriter.add_many` to Parquet: frames per second (making the frames excluded), bytes
          per stored trade, and the process's resident memory every million rows and at its peak
          (--rows-only: the writer alone on rows made in Python). Then a writer of --recovery-rows
          (default 1,000,000) journaled rows is SIGKILLed and the next writer's recovery is timed.
          Targets: ≥ 50,000 trade messages/s decoded, normalised and written, ≤ 20 bytes a trade,
          ≤ 200 MB.
capture-decode
          --frames (default 300,000) distinct trade frames per venue (Binance aggTrade, Bybit publicTrade,
          OKX trades, Deribit trades, Hyperliquid trades, each one trade a frame) through the capture
          engine's own per-frame path (`services.capture.decode_rate`: JSON decode, the venue's handler,
          the checked row constructor, dedup by id) on one thread: frames per second, the best of --runs.
          Target: ≥ 50,000 trade frames/s on one core.
history   --days (default 730: two years, 17,520 hourly snapshots with 8 venues and a liquidation
          line each) of synthetic history bulk-inserted into a temporary SQLite database, then
          `trend`, `backtest` and `predict funding` each run end to end in a fresh process: wall
          seconds and the process's peak resident memory. --compare-models also cross-validates
          logistic regression against gradient-boosted trees on the same data.
report    --days (default 730) of the same history with each venue's volume and OI, every market of
          five venues, a day of liquidations, an alert and an options row in the newest hour; `report`
          (text, --json, --format markdown, --hours 168, --format html -o) end to end in a fresh
          process, median of --runs, with bytecode caches; the HTML of the whole history as one
          window (in-process: build, render, size); each `serve` page (an in-process server on a
          free loopback port) as the median of 4 × --runs GETs. Targets: text ≤ 1 s, HTML ≤ 2 s and
          ≤ 3 MB, each serve page ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

HEAVY = ("numpy", "sklearn", "pandas", "sqlalchemy", "alembic", "rich", "requests", "websockets")


def bench_startup(runs: int, compare: str | None = None) -> None:
    """Median wall time of `--help`, of `stats` on an empty database and of a bare interpreter, the
    three run in turn each round (so a busy machine weighs on all alike). With `compare`, another
    checkout's tree runs in the same rounds, alternating with this one."""
    import tempfile
    from pathlib import Path

    import os

    here = str(Path(__file__).resolve().parents[1])
    # Timed as installed, with byte-code caches: without them every run compiles perps_tracker's sources.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    trees = {"this tree": here} if compare is None else {f"before ({compare})": compare, "this tree": here}
    run = "from perps_tracker.cli import main; main()"
    with tempfile.TemporaryDirectory() as tmp:
        empty = str(Path(tmp) / "empty.db")
        # The package is imported from the working directory: each tree runs as itself. The database
        # is made by the compared (older) tree: a newer perps-tracker reads an older schema, not conversely.
        subprocess.run([sys.executable, "-c", run, "init", "--db", empty], cwd=compare or here, capture_output=True,
                       check=True, env=env)
        cases = {"--help": ["--help"], "stats (empty database)": ["stats", "--db", empty]}
        times: dict[tuple[str, str], list[float]] = {}
        bare: list[float] = []
        for round_ in range(runs + 1):  # round 0 warms the file cache and is not counted
            for case, args in cases.items():
                for tree, cwd in trees.items():
                    start = time.perf_counter()
                    subprocess.run([sys.executable, "-c", run, *args], cwd=cwd, capture_output=True, check=True,
                                   env=env)
                    if round_:
                        times.setdefault((case, tree), []).append(time.perf_counter() - start)
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True, env=env)
            if round_:
                bare.append(time.perf_counter() - start)
        for (case, tree), t in times.items():
            print(f"perps-tracker {case:<22} {tree:<24} median {statistics.median(t) * 1000:4.0f} ms, "
                  f"min {min(t) * 1000:4.0f} ms over {runs} runs")
        print(f"bare python -c pass{'':<36} median {statistics.median(bare) * 1000:4.0f} ms, "
              f"min {min(bare) * 1000:4.0f} ms")
        for case, args in cases.items():
            probe = (
                "import sys\nfrom perps_tracker.cli import cli\n"
                f"try:\n    cli({args!r})\nexcept SystemExit:\n    pass\n"
                f"print(','.join(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))) or 'none')"
            )
            heavy = subprocess.run([sys.executable, "-c", probe], cwd=here, capture_output=True, text=True, check=True,
                                   env=env)
            venue_probe = probe.replace(f" & set({HEAVY!r})", "").replace(
                "m.split('.')[0] for m in sys.modules",
                "m for m in sys.modules if m.startswith('perps_tracker.exchanges.') and not m.endswith('.venues')")
            venues = subprocess.run([sys.executable, "-c", venue_probe], cwd=here, capture_output=True, text=True,
                                    check=True, env=env)
            print(f"imported by {case}: heavy modules {heavy.stdout.strip().splitlines()[-1]}; "
                  f"venue modules {venues.stdout.strip().splitlines()[-1]}")


def _serve_big_binance(queue, delay: float, symbols: int) -> None:
    """In a child process: a Binance fake with `symbols` perpetuals, its weight counter reset often
    (so runs a second apart never wait for the next minute)."""
    from tests.fakes import FakeVenues
    from tests.fakes.binance import WeightCounter, big_exchange

    with FakeVenues(delay=delay) as fake:
        weight = WeightCounter()
        big_exchange(fake, n=symbols, weight=weight)
        queue.put(fake.url("binance"))
        while True:
            time.sleep(0.5)
            weight.reset()


def bench_fanout(delay: float, symbols: int, runs: int) -> None:
    """Binance's fetch alone (its per-symbol open-interest fan-out is the snapshot's critical path)
    against a fake in another process, so that the fake's work does not share this process's GIL as
    it does in `snapshot` (a real venue costs us nothing but the wait)."""
    import multiprocessing
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from perps_tracker.exchanges.binance import Binance
    from perps_tracker.exchanges.http import HttpClient, HttpSettings

    queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve_big_binance, args=(queue, delay, symbols), daemon=True)
    server.start()
    try:
        url = queue.get(timeout=30)
        client = HttpClient(HttpSettings())
        times = []
        for _ in range(runs + 1):  # the first run opens the connections
            start = time.perf_counter()
            snap = Binance(client, url).fetch()
            times.append(time.perf_counter() - start)
            assert snap.ok and snap.markets == symbols, snap.error
            time.sleep(0.6)
        client.close()
    finally:
        server.terminate()
    print(f"binance fetch, {symbols} perpetuals, {delay * 1000:.0f} ms a request, fake in another process: "
          f"median {statistics.median(times[1:]) * 1000:.0f} ms, min {min(times[1:]) * 1000:.0f} ms over {runs} runs "
          f"({Binance.open_interest_limit} in flight at most)")


def bench_snapshot(delay: float, symbols: int, runs: int) -> None:
    import tempfile
    from datetime import datetime, timezone
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from perps_tracker.config import load_settings
    from perps_tracker.exchanges import EXCHANGES
    from perps_tracker.exchanges.http import HttpClient, HttpSettings
    from perps_tracker.services.fetch import fetch_one
    from perps_tracker.services.runtime import Runtime
    from perps_tracker.services.snapshot import take_snapshot
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

        walls = []
        with Runtime(settings, db=open_database(settings.db)) as rt:
            for _ in range(runs):
                weight.reset()
                fake.requests.clear()
                start = time.perf_counter()
                snap = take_snapshot(rt, list(EXCHANGES), datetime.now(timezone.utc))
                walls.append(time.perf_counter() - start)
            rt.reader().dispose()
        assert not snap.failed, [v.error for v in snap.failed]
        wall = min(walls)
        slowest = max(alone, key=alone.get)
        print(f"snapshot (fetch {len(EXCHANGES)} venues at once, score, store): best of {runs}: {wall * 1000:.0f} ms "
              f"(runs: {', '.join(f'{w * 1000:.0f}' for w in walls)} ms); the last run per venue:")
        for v in snap.venues:
            print(f"  {v.exchange:<12} {v.latency_ms:6d} ms  {fake.count(v.exchange):4d} requests")
        print(f"slowest venue alone: {slowest} {alone[slowest] * 1000:.0f} ms; "
              f"wall / slowest = {wall / alone[slowest]:.2f} (target ≤ 1.30)")


def _rss_mb() -> float:
    """Resident memory now (not the peak), from /proc; 0 where there is none."""
    import os

    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except OSError:
        return 0.0


def _frames(start: int, n: int, dupes: float, rng) -> list[str]:
    """`n` frames from event number `start` on: Binance, Bybit, OKX in turn; a share are repeats."""
    import json

    out = []
    t0 = 1_795_000_000_000
    for i in range(start, start + n):
        j = i - 1 if i > 0 and rng.random() < dupes else i  # a repeat of the previous event
        side, t, price, qty = ("SELL", "BUY")[j % 2], t0 + j, f"{80000 + j % 997}.5", f"0.{j % 89 + 1:03d}"
        kind = i % 3 if j == i else (i - 1) % 3
        if kind == 0:
            out.append(json.dumps({"e": "forceOrder", "E": t + 2, "o": {
                "s": "BTCUSDT", "S": side, "o": "LIMIT", "f": "IOC", "q": qty, "p": price, "ap": price,
                "X": "FILLED", "l": qty, "z": qty, "T": t}}))
        elif kind == 1:
            out.append(json.dumps({"topic": "allLiquidation.ETHUSDT", "type": "snapshot", "ts": t + 5, "data": [
                {"T": t, "s": "ETHUSDT", "S": ("Buy", "Sell")[j % 2], "v": qty, "p": price}]}))
        else:
            out.append(json.dumps({"arg": {"channel": "liquidation-orders", "instType": "SWAP"}, "data": [
                {"instId": "BTC-USDT-SWAP", "instFamily": "BTC-USDT", "instType": "SWAP", "details": [
                    {"side": "sell", "posSide": ("long", "short")[j % 2], "bkPx": price, "sz": str(j % 50 + 1),
                     "bkLoss": "0", "ts": str(t)}]}]}))
    return out


def _feeds():
    from perps_tracker.exchanges.base import LiveFeed
    from perps_tracker.exchanges.binance import parse_force_order
    from perps_tracker.exchanges.bybit import parse_all_liquidation
    from perps_tracker.exchanges.okx import parse_liquidation_push

    instruments = {"BTC-USDT-SWAP": {"instId": "BTC-USDT-SWAP", "ctVal": "0.01", "settleCcy": "USDT"}}
    return {
        "binance": LiveFeed(url="ws://unused", parse=lambda m, s: parse_force_order(m, s)),
        "bybit": LiveFeed(url="ws://unused", parse=parse_all_liquidation),
        "okx": LiveFeed(url="ws://unused", parse=lambda m, s: parse_liquidation_push(m, instruments, s)),
    }


def bench_liquidations(events: int, dupes: float, batch: int, ws_events: int) -> None:
    import random
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sqlalchemy import func, select

    from perps_tracker.services.watch import Collector
    from perps_tracker.storage.db import open_database
    from perps_tracker.storage.models import Liquidation

    rng = random.Random(7)
    feeds = _feeds()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(str(Path(tmp) / "bench.db"))
        collector = Collector({v: (lambda: None) for v in feeds}, db)
        sink = collector.sink
        timed, done, stored, checkpoints = 0.0, 0, 0, {events // 10, events // 2, events}
        print(f"memory before: {_rss_mb():.0f} MB")
        while done < events:
            n = min(batch, events - done)
            frames = _frames(done, n, dupes, rng)  # untimed: this is the network's part
            start = time.perf_counter()
            for frame in frames:
                venue = "binance" if frame.startswith('{"e"') else "bybit" if frame.startswith('{"topic"') else "okx"
                collector.handle(feeds[venue], collector.stats[venue], frame)
            for new in sink.write(sink.take()).values():
                stored += new
            timed += time.perf_counter() - start
            done += n
            if done in checkpoints:
                print(f"after {done:>9,} events: {done / timed:9,.0f} events/s so far, "
                      f"memory {_rss_mb():.0f} MB, recent keys {len(sink.recent):,}")
        stats = collector.stats.values()
        dup = sum(s.events for s in stats) - stored  # caught in memory or by the table's unique key
        bad = sum(s.malformed for s in stats)
        with db.engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(Liquidation)).scalar_one()
        print(f"parsed, normalised and stored: {events:,} events in {timed:.2f} s = {events / timed:,.0f} events/s "
              f"(target ≥ 20,000); stored {stored:,} new, {dup:,} duplicates, {bad} malformed; "
              f"rows in the table {rows:,}")
        db.dispose()

        if ws_events:
            _bench_websocket(Path(tmp) / "ws.db", ws_events, dupes)


def _serve_frames(n: int, dupes: float, ready, done) -> None:
    """In a separate process, so the sender does not share the collector's interpreter: serve `n`
    Binance frames to the first connection, as fast as the socket takes them."""
    import random

    from tests.fakes.ws import FakeStreams

    # a third of the frames are Binance's, fewer where repeats of other venues fall: make four times as many
    frames = [f for f in _frames(0, n * 4, dupes, random.Random(7)) if f.startswith('{"e"')][:n]
    with FakeStreams() as streams:
        streams.script("binance", frames)
        ready.put(streams.url("binance"))
        done.wait()


def _bench_websocket(path, n: int, dupes: float) -> None:
    """End to end: the collector reads `n` frames from a loopback websocket and stores them."""
    import asyncio
    import multiprocessing

    from perps_tracker.exchanges.base import LiveFeed
    from perps_tracker.exchanges.binance import parse_force_order
    from perps_tracker.services.watch import Collector
    from perps_tracker.storage.db import open_database

    context = multiprocessing.get_context("spawn")
    ready, done = context.Queue(), context.Event()
    server = context.Process(target=_serve_frames, args=(n, dupes, ready, done), daemon=True)
    server.start()
    try:
        url = ready.get(timeout=120) + "/ws/!forceOrder@arr"
        db = open_database(str(path))
        collector = Collector({"binance": lambda: LiveFeed(url=url, parse=lambda m, s: parse_force_order(m, s))}, db)

        async def run():
            task = asyncio.create_task(collector.run())
            while collector.stats["binance"].frames == 0:
                await asyncio.sleep(0.001)
            start = time.perf_counter()
            while collector.stats["binance"].frames < n:
                await asyncio.sleep(0.01)
            collector.stop.set()
            await task  # the final flush is inside the timing
            return time.perf_counter() - start

        elapsed = asyncio.run(run())
        s = collector.stats["binance"]
        print(f"through a loopback websocket (sender in another process): {s.frames:,} frames received, parsed "
              f"and stored in {elapsed:.2f} s = {s.frames / elapsed:,.0f} events/s; stored {s.stored:,}, "
              f"duplicates {s.duplicates:,}")
        db.dispose()
    finally:
        done.set()
        server.join(10)


_MEASURED = (
    "import sys\n"
    "from perps_tracker.cli import main\n"
    "try:\n    main()\n"
    "finally:\n"
    "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
    "    sys.stderr.write('\\nPEAK-RSS-KB ' + (hwm[0].split()[1] if hwm else '0') + '\\n')\n"
)


def _run_measured(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Run `perps-tracker ARGS` in a fresh interpreter, output discarded: (wall seconds, peak
    resident memory of that process in MB from its own VmHWM, exit code)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _MEASURED, *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - start
    lines = proc.stderr.strip().splitlines()
    peak = int(lines[-1].split()[1]) / 1024 if lines and lines[-1].startswith("PEAK-RSS-KB") else 0.0
    if proc.returncode:
        print(f"  perps-tracker {' '.join(args)}: exit {proc.returncode}: {' '.join(lines[:-1])}")
    return wall, peak, proc.returncode


def _median_run(args: list[str], runs: int, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median wall seconds and the largest peak RSS (MB) of `perps-tracker ARGS` over `runs` fresh processes."""
    walls, peaks = [], []
    for _ in range(runs):
        wall, peak, _ = _run_measured(args, env)
        walls.append(wall)
        peaks.append(peak)
    return statistics.median(walls), max(peaks)


def _bare(runs: int) -> float:
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def _event_bytes(path, n: int = 200_000) -> None:
    """Store `n` synthetic liquidation events and report what each costs on disk, table and indexes."""
    import random
    import sqlite3

    from perps_tracker.storage.db import open_database

    db = open_database(str(path))
    rng = random.Random(3)
    rows = [{"exchange": rng.choice(("binance", "bybit", "okx")), "symbol": f"C{rng.randrange(500)}USDT",
             "side": rng.choice(("long", "short")), "price": rng.uniform(0.01, 1e5), "quantity": rng.uniform(0.001, 1e4),
             "value_usd": rng.uniform(10, 1e6), "event_time_ms": 1_700_000_000_000 + i * 37, "source": "ws"}
            for i in range(n)]
    from perps_tracker.storage.models import Liquidation

    with db.engine.begin() as conn:
        conn.execute(Liquidation.__table__.insert(), rows)
    db.dispose()
    con = sqlite3.connect(path)
    con.execute("VACUUM")
    try:
        sizes = dict(con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    except sqlite3.OperationalError:
        sizes = {}
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'liquidations'")]
    con.close()
    total = sum(sizes.get(name, 0) for name in names)
    index = total - sizes.get("liquidations", 0)
    if total:
        print(f"  one stored liquidation event: {total / n:.0f} bytes, of which indexes {index / n:.0f} "
              f"({100 * index / total:.0f} %): {', '.join(f'{k} {sizes.get(k, 0) / n:.0f}' for k in names)}")


def bench_database(days: int, seed: int, runs: int) -> None:
    import sqlite3
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from perps_tracker.storage.db import open_database
    from tests.synthetic_history import market_history, store_history

    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.db"
        subprocess.run([sys.executable, "-m", "perps_tracker", "init", "--db", str(empty)], capture_output=True,
                       check=True)
        wall, _ = _median_run(["stats", "--db", str(empty)], runs)
        bare = _bare(runs)
        print(f"stats on an empty database: median {wall:.3f} s (bare interpreter {bare:.3f} s) over {runs} runs")
        path = Path(tmp) / "history.db"
        db = open_database(str(path))
        store_history(db, market_history(1_700_000_000 // 3600 * 3600, days * 24, seed))
        db.dispose()
        print(f"on {days} days of hourly history ({days * 24:,} snapshots, 8 venues each):")
        for args in (["stats"], ["backtest"], ["backtest", "--days", "30"]):
            wall, rss = _median_run([*args, "--db", str(path)], runs)
            print(f"  perps-tracker {' '.join(args):<20} median {wall:6.2f} s   peak RSS {rss:5.0f} MB")
        con = sqlite3.connect(path)
        try:
            sizes = dict(con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
        except sqlite3.OperationalError:
            sizes = {}
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rootpage"):
            indexes = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                                                 (table,))]
            if sizes or indexes:
                print(f"  {table}: table {sizes.get(table, 0) / 1024:,.0f} KiB; indexes "
                      + ("; ".join(f"{n} {sizes.get(n, 0) / 1024:,.0f} KiB" for n in indexes) or "none"))
        con.close()
        _event_bytes(Path(tmp) / "events.db")


VENUE_IDS = ("binance", "bybit", "okx", "bitget", "gateio", "hyperliquid", "asterdex", "dydx")
_FILL = """
WITH RECURSIVE h(t) AS (SELECT :start UNION ALL SELECT t + 3600 FROM h WHERE t + 3600 < :end)
INSERT INTO instrument_rows (timestamp, instrument_id, price, mark_price, index_price, volume_24h_usd,
    open_interest_usd, funding_rate, funding_interval_h, funding_rate_8h, next_funding_time,
    price_change_24h_pct, backfill)
SELECT t, b.id, b.p * (1 + (random() % 2000) / 1e6), b.p * (1 + (random() % 2000) / 1e6),
       CASE WHEN b.id % 4 THEN b.p * (1 + (random() % 2000) / 1e6) END,
       CAST(abs(random() % 900000000) + 10000 AS REAL), CAST(abs(random() % 400000000) + 5000 AS REAL),
       (random() % 100000) / 1e9, b.hours, (random() % 100000) / 1e9 * 8 / b.hours,
       t + 3600 * b.hours, (random() % 200000) / 1e4, 0
FROM h CROSS JOIN bench_base b ORDER BY t, b.id"""


def _fill_markets(path, markets: int, hours: int, start: int) -> None:
    """`markets` instruments and `hours` hours of rows for each, generated inside SQLite."""
    import random
    import sqlite3

    rng = random.Random(7)
    con = sqlite3.connect(path)
    coins = ["BTC", "ETH", "SOL", "PEPE", "DOGE"] + [f"C{i}" for i in range(markets // 2)]
    seen = set()
    rows = []
    while len(rows) < markets:
        venue, coin = rng.choice(VENUE_IDS), coins[min(int(rng.paretovariate(0.6)) - 1, len(coins) - 1)]
        symbol = f"{coin}USDT" if (venue, coin) not in seen else f"{coin}USDC"
        if (venue, symbol) in seen:
            continue
        seen.update({(venue, coin), (venue, symbol)})
        rows.append((venue, symbol, coin, 1.0, "USDT"))
    con.executemany("INSERT INTO instruments (exchange, symbol, coin, multiplier, quote) VALUES (?, ?, ?, ?, ?)", rows)
    con.execute("CREATE TEMP TABLE bench_base (id INTEGER PRIMARY KEY, p REAL, hours REAL)")
    con.executemany("INSERT INTO bench_base VALUES (?, ?, ?)",
                    [(i, 84000.0 if coin == "BTC" else 10 ** rng.uniform(-6, 4), rng.choice((8.0, 8.0, 4.0, 1.0)))
                     for i, (_, _, coin, _, _) in enumerate(rows, start=1)])
    step = 24 * 30
    for lo in range(start, start + hours * 3600, step * 3600):
        con.execute(_FILL, {"start": lo, "end": min(lo + step * 3600, start + hours * 3600)})
        con.commit()
    con.close()


def bench_markets(markets: int, hours: int, runs: int) -> None:
    import sqlite3
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from perps_tracker.model.instruments import InstrumentRow
    from perps_tracker.storage.db import open_database, write_lock
    from perps_tracker.storage.instruments import replace_venue_rows

    start = 1_764_000_000 // 3600 * 3600
    end = start + hours * 3600
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "markets.db"
        subprocess.run([sys.executable, "-m", "perps_tracker", "init", "--db", str(path)], capture_output=True,
                       check=True)
        t = time.perf_counter()
        _fill_markets(path, markets, hours, start)
        con = sqlite3.connect(path)
        con.execute("INSERT INTO market_snapshots (timestamp, taken_at, source, exchanges_ok, exchanges_failed) "
                    "VALUES (?, ?, 'live', 8, 0)", (end - 3600, end - 3600))
        con.commit()
        stored = con.execute("SELECT COUNT(*) FROM instrument_rows").fetchone()[0]
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            key = con.execute("SELECT SUM(pgsize) FROM dbstat WHERE name = 'instrument_rows'").fetchone()[0]
        except sqlite3.OperationalError:
            key = None
        con.close()
        os.sync()  # the kernel writing out the generated gigabytes would otherwise slow what is timed next
        size = path.stat().st_size
        print(f"{markets:,} markets x {hours:,} hours = {stored:,} rows generated in {time.perf_counter() - t:.0f} s")
        print(f"  bytes per stored row: {size / stored:.1f} (whole file {size / 2**20:,.0f} MiB)"
              + (f"; instrument_rows (table = its key) {key / stored:.1f}" if key else ""))
        db = open_database(str(path))
        with db.engine.connect() as conn:
            listed = conn.exec_driver_sql("SELECT exchange, symbol, coin FROM instruments").all()
        walls = []
        for k in range(runs):
            hour = end + k * 3600
            rows = [InstrumentRow(hour, e, s, c, 1.0, "USDT", 1.5, 1.5, None, 1e6, 2e6, 1e-4, 8.0, 1e-4, hour + 3600,
                                  1.2) for e, s, c in listed[:3000]]
            by_venue: dict[str, list] = {}
            for r in rows:
                by_venue.setdefault(r.exchange, []).append(r)
            t = time.perf_counter()
            with write_lock(db.engine) as conn:
                replace_venue_rows(conn, hour, by_venue)
            walls.append(time.perf_counter() - t)
        db.dispose()
        os.sync()
        print(f"  storing one hour of {min(3000, len(listed)):,} rows: median {statistics.median(walls) * 1000:.0f} ms "
              f"over {runs} hours")
        bare = _bare(runs)
        # Timed as installed, with byte-code caches (as `startup`): without them every run would also
        # compile perps_tracker's sources. One run of each first writes them and is not counted.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        print(f"  end to end in a fresh process (bare interpreter {bare * 1000:.0f} ms):")
        for args in (["coin", "BTC", "--hours", "720"], ["funding"], ["sectors"]):
            _run_measured([*args, "--no-fetch", "--db", str(path)], env)
            wall, rss = _median_run([*args, "--no-fetch", "--db", str(path)], runs, env)
            print(f"    perps-tracker {' '.join(args):<22} median {wall * 1000:6.0f} ms   peak RSS {rss:5.0f} MB")
        since = end - 30 * 24 * 3600
        con = sqlite3.connect(path)
        month = con.execute("SELECT COUNT(*) FROM instrument_rows WHERE timestamp >= ?", (since,)).fetchone()[0]
        con.close()
        # the synthetic year ends before today: export its last month
        when = "30d" if time.time() - since <= 31 * 24 * 3600 else time.strftime("%Y-%m-%d", time.gmtime(since))
        for fmt in ("parquet", "csv", "jsonl"):
            out = Path(tmp) / f"month.{fmt}"
            args = ["export", "instrument_snapshots", "--since", when, "--format", fmt, "-o", str(out),
                    "--db", str(path)]
            results = [_run_measured(args, env) for _ in range(runs)]
            wall = statistics.median(r[0] for r in results)
            print(f"    perps-tracker export (last 30 days, {month:,} rows, {fmt:<7}) median {wall:6.2f} s = "
                  f"{month / wall:9,.0f} rows/s   peak RSS {max(r[1] for r in results):4.0f} MB   "
                  f"file {out.stat().st_size / 2**20:5.0f} MiB")
            out.unlink()


def bench_history(days: int, seed: int, compare: bool) -> None:
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from perps_tracker.storage.db import open_database
    from tests.synthetic_history import market_history, store_history

    n = days * 24
    start_hour = 1_700_000_000 // 3600 * 3600
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        db = open_database(str(path))
        t0 = time.perf_counter()
        snaps = market_history(start_hour, n, seed)
        t1 = time.perf_counter()
        store_history(db, snaps)
        t2 = time.perf_counter()
        size = path.stat().st_size / 2 ** 20
        print(f"synthetic history: {n:,} hourly snapshots ({days} days), 8 venues and a liquidation line each; "
              f"generated in {t1 - t0:.1f} s, bulk-inserted in {t2 - t1:.1f} s; SQLite {size:.0f} MB")
        del snaps
        for args in (["trend"], ["trend", "--json"], ["backtest"], ["backtest", "--json"],
                     ["predict", "funding"], ["predict", "funding", "--json"], ["alerts", "--all"], ["stats"]):
            wall, rss, code = _run_measured([*args, "--db", str(path)])
            print(f"  perps-tracker {' '.join(args):<24} {wall:6.2f} s   peak RSS {rss:5.0f} MB"
                  + ("" if code == 0 else f"   (exit {code})"))
        wall, rss, _ = _run_measured(["--help"])
        print(f"  (for scale: perps-tracker --help   {wall:6.2f} s   peak RSS {rss:5.0f} MB)")
        if compare:
            from perps_tracker.model.predict import build_dataset, evaluate_funding
            from perps_tracker.storage.history import load_history

            ds = build_dataset(load_history(db))
            for kind in ("logistic", "boosting"):
                t = time.perf_counter()
                r = evaluate_funding(ds, kind)
                print(f"  predict funding model={kind:<9} CV accuracy {100 * r.model.mean:.1f}% "
                      f"± {100 * r.model.spread:.1f} (better baseline {r.better_baseline} "
                      f"{100 * max(r.persistence.mean, r.majority.mean):.1f}%), edge {r.edge}, "
                      f"{time.perf_counter() - t:.2f} s")
        db.dispose()


def bench_report(days: int, seed: int, runs: int) -> None:
    """`report` (text and --json) end to end in a fresh process on `days` of hourly history whose newest
    hour has every market of five venues, a day of liquidations, an alert and an options row."""
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from perps_tracker.storage.db import open_database
    from tests.synthetic_history import market_history, store_history, store_newest_hour_extras, with_venue_markets

    n = days * 24
    start_hour = 1_700_000_000 // 3600 * 3600
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # with bytecode caches
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.db"
        db = open_database(str(path))
        t0 = time.perf_counter()
        store_history(db, with_venue_markets(market_history(start_hour, n, seed), seed))
        store_newest_hour_extras(db, start_hour + (n - 1) * 3600, seed)
        db.dispose()
        print(f"synthetic history: {n:,} hourly snapshots ({days} days), 8 venues with volume and OI each, "
              f"1,000 markets and a day of liquidations in the newest hour; built in {time.perf_counter() - t0:.1f} s, "
              f"SQLite {path.stat().st_size / 2 ** 20:.0f} MB")
        _run_measured(["report", "--db", str(path)], env)  # bytecode caches written once
        bare = _bare(runs)
        for args in (["report"], ["report", "--json"], ["report", "--format", "markdown"],
                     ["report", "--hours", "168"], ["report", "--hours", "2160"]):
            wall, rss = _median_run([*args, "--db", str(path)], runs, env)
            print(f"  perps-tracker {' '.join(args):<28} median {wall:6.3f} s   peak RSS {rss:5.0f} MB"
                  + ("   (target 1 s)" if args == ["report"] else ""))
        html = Path(tmp) / "report.html"
        wall, rss = _median_run(["report", "--format", "html", "-o", str(html), "--db", str(path)], runs, env)
        print(f"  perps-tracker {'report --format html -o x.html':<28} median {wall:6.3f} s   peak RSS {rss:5.0f} MB"
              f"   (target 2 s); {html.stat().st_size / 2**20:.2f} MiB")
        print(f"  (bare interpreter: median {bare:.3f} s over {runs} runs)")
        _bench_html_window(path, n)
        _bench_serve(path, runs * 4)


def _bench_html_window(path, hours: int) -> None:
    """The HTML of the whole history as one window (in this process): building the report, rendering it, size."""
    from datetime import datetime, timezone

    from perps_tracker.config import load_settings
    from perps_tracker.render.report_html import report_html
    from perps_tracker.services.report import build_report
    from perps_tracker.services.runtime import Runtime

    with Runtime(load_settings(None, flags={"db": str(path)})) as rt:
        t0 = time.perf_counter()
        report = build_report(rt, datetime.now(timezone.utc), hours)
        t1 = time.perf_counter()
        text = report_html(report)
        t2 = time.perf_counter()
    print(f"  the whole history as the window ({hours:,} h, in-process): report built in {t1 - t0:.2f} s, HTML "
          f"rendered in {t2 - t1:.2f} s, {len(text.encode()) / 2**20:.2f} MiB (budget 3 MiB)")


def _bench_serve(path, requests_each: int) -> None:
    """Each `serve` page: the server in this process on a free loopback port, median of GETs."""
    import threading
    import urllib.request
    from datetime import datetime, timezone

    from perps_tracker.cli.serve import dashboard_pages
    from perps_tracker.config import load_settings
    from perps_tracker.services.runtime import Runtime
    from perps_tracker.services.serve import open_server, run, url_of

    rt = Runtime(load_settings(None, flags={"db": str(path)}))
    server = open_server("127.0.0.1", 0, dashboard_pages(rt, lambda: datetime.now(timezone.utc)))
    stop = threading.Event()

    def serve() -> None:
        try:
            run(server, stop)
        finally:
            rt.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    base = url_of(server).rstrip("/")
    print(f"  serve pages (in-process server, median of {requests_each} GETs after one warm-up; target 300 ms):")
    try:
        for page in ("/", "/coin/BTC", "/funding", "/liquidations", "/api/newest"):
            walls, size = [], 0
            for k in range(requests_each + 1):
                t = time.perf_counter()
                with urllib.request.urlopen(base + page, timeout=60) as r:
                    size = len(r.read())
                if k:
                    walls.append(time.perf_counter() - t)
            print(f"    GET {page:<15} median {statistics.median(walls) * 1000:6.0f} ms   {size / 1024:6.0f} KiB")
    finally:
        stop.set()
        thread.join(5)


def capture_frames(venue: str, n: int, start: int = 0) -> list[str]:
    """`n` distinct one-trade frames of `venue` in its documented shape (ids `start`…), as the wire carries them."""
    import json

    t0 = 1_795_000_000_000
    frames = []
    for i in range(start, start + n):
        px, qty, buy = f"{84000 + i % 97 * 0.5:.1f}", f"0.{i % 900 + 100:03d}", i % 3 != 0
        if venue == "binance":
            msg = {"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade", "E": t0 + i + 2, "s": "BTCUSDT", "a": i,
                                                          "p": px, "q": qty, "f": 3 * i, "l": 3 * i + 2, "T": t0 + i,
                                                          "m": not buy}}
        elif venue == "bybit":
            msg = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": t0 + i + 1,
                   "data": [{"T": t0 + i, "s": "BTCUSDT", "S": "Buy" if buy else "Sell", "v": qty, "p": px,
                             "L": "PlusTick", "i": f"20f43950-d8dd-5b31-9112-{i:012d}", "BT": False}]}
        elif venue == "okx":
            msg = {"arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"},
                   "data": [{"instId": "BTC-USDT-SWAP", "tradeId": str(130639474 + i), "px": px, "sz": str(i % 50 + 1),
                             "side": "buy" if buy else "sell", "ts": str(t0 + i), "count": "1"}]}
        elif venue == "deribit":
            msg = {"jsonrpc": "2.0", "method": "subscription", "params": {
                "channel": "trades.BTC_USDC-PERPETUAL.100ms", "data": [
                    {"trade_seq": i, "trade_id": f"USDC-{i}", "timestamp": t0 + i, "tick_direction": 0,
                     "price": float(px), "mark_price": float(px), "instrument_name": "BTC_USDC-PERPETUAL",
                     "index_price": float(px), "direction": "buy" if buy else "sell", "amount": float(qty)}]}}
        else:
            msg = {"channel": "trades", "data": [{"coin": "BTC", "side": "B" if buy else "A", "px": px, "sz": qty,
                                                  "hash": "0x" + "0" * 64, "time": t0 + i, "tid": i,
                                                  "users": ["0xbuyer", "0xseller"]}]}
        frames.append(json.dumps(msg, separators=(",", ":")))
    return frames


def bench_capture_decode(frames: int, runs: int) -> None:
    """Trade frames per second through the capture engine's per-frame path, per venue (see the docstring)."""
    sys.path.insert(0, os.getcwd())
    from perps_tracker.services.capture import decode_rate

    for venue in ("binance", "bybit", "okx", "deribit", "hyperliquid"):
        batch = capture_frames(venue, frames)
        rates = [decode_rate(venue, batch) for _ in range(runs)]
        print(f"{venue:12} {max(rates):>10,.0f} frames/s  (median {statistics.median(rates):,.0f}, "
              f"{len(batch[0])} bytes a frame)")

# -- capture --------------------------------------------------------------------------------------

def _trade_rows(start: int, n: int, symbols: int, state: dict) -> list:
    """`n` trades from trade number `start` on: a random walk per symbol, ~700 trades a second in all,
    BTC the busiest; `state` carries prices and the clock from one call to the next."""
    import math
    import random

    from perps_tracker.model.ticks import BUY, SELL, Trade

    rng = state.setdefault("rng", random.Random(1))
    prices = state.setdefault("prices", [60_000.0 / (1 + k) for k in range(symbols)])
    names = state.setdefault("names", [f"C{k}USDT" if k else "BTCUSDT" for k in range(symbols)])
    weights = state.setdefault("weights", [1 / (1 + k) for k in range(symbols)])
    ts = state.setdefault("ts", 1_764_838_800_000)
    rows = []
    picks = rng.choices(range(symbols), weights, k=n)
    ticks = state.setdefault("ticks", [10.0 ** (math.floor(math.log10(p)) - 5) for p in prices])
    for i, k in enumerate(picks):
        ts += int(rng.expovariate(1 / 1.4))
        tick = ticks[k]  # a venue's tick size: 0.1 for BTC at 60,000, 0.01 at 3,000
        prices[k] = round(round(prices[k] / tick + rng.choice((-1, 0, 0, 1))) * tick, 8)
        qty = round(rng.lognormvariate(-3, 1.5), 3) or 0.001
        rows.append(Trade("binance", names[k], names[k][:-4], ts, ts + rng.randrange(5, 60), str(start + i),
                          BUY if rng.random() < 0.5 else SELL, prices[k], qty, prices[k] * qty))
    state["ts"] = ts
    return rows


def _trade_frames(rows: list) -> list[str]:
    """The rows as Binance USDⓈ-M `aggTrade` stream frames (what `capture` subscribes to), on the wire."""
    import json

    return [json.dumps({"stream": f"{r.symbol.lower()}@aggTrade", "data": {
        "e": "aggTrade", "E": r.recv_ms, "s": r.symbol, "a": int(r.trade_id), "p": str(r.price), "q": str(r.qty),
        "f": 3 * int(r.trade_id), "l": 3 * int(r.trade_id) + 2, "T": r.ts_ms, "m": r.side == "sell"}},
        separators=(",", ":")) for r in rows]


def _status_mb(field: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _capture_writer(root: str, rows: int, symbols: int, frames: bool = True) -> None:
    """Child process: decode `rows` trade frames and write their rows (`frames`; else write rows made in
    Python), print progress lines and a summary as JSON."""
    import json

    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    except (AttributeError, OSError):
        pass
    from perps_tracker.dataset.writer import DatasetWriter

    state: dict = {}
    now = [1_764_838_800.0]
    writer = DatasetWriter(root, clock=lambda: now[0], recover=False)
    decode = None
    if frames:  # the frames go through the capture engine's own per-frame path before the writer
        from perps_tracker.model.ticks import Instrument
        from perps_tracker.services.capture import frame_decoder

        _trade_rows(0, 0, symbols, state)  # the symbols' names
        decode = frame_decoder("binance", [Instrument("binance", name, name[:-4]) for name in state["names"]])
    timed = 0.0
    chunk = 10_000
    for start in range(0, rows, chunk):
        batch = _trade_rows(start, min(chunk, rows - start), symbols, state)
        frames = _trade_frames(batch) if decode is not None else None
        t = time.perf_counter()
        writer.add_many(decode(frames) if decode is not None else batch)
        timed += time.perf_counter() - t
        now[0] = state["ts"] / 1000 + 1  # the writer's clock follows the trades: their hours roll over
        if (start + chunk) % 1_000_000 == 0:
            print(json.dumps({"rows": start + chunk, "rss_mb": round(_status_mb("VmRSS"), 1)}), flush=True)
    t = time.perf_counter()
    writer.close()
    counters = writer.counters
    timed += time.perf_counter() - t
    print(json.dumps({"done": True, "seconds": timed, "written": counters.written, "bytes": counters.bytes,
                      "files": counters.files, "peak_mb": round(_status_mb("VmHWM"), 1),
                      "decoder": decode is not None}), flush=True)


def _capture_journal(root: str, rows: int) -> None:
    """Child process: journal `rows` trades (no file written), say so, and wait to be killed."""
    from perps_tracker.dataset.writer import DatasetWriter

    state: dict = {}
    writer = DatasetWriter(root, clock=lambda: 1_764_838_800.0, file_rows=10 ** 9,
                           max_buffered_rows=10 ** 9, max_spool_bytes=2 ** 40, recover=False)
    for start in range(0, rows, 10_000):
        writer.add_many(_trade_rows(start, min(10_000, rows - start), 20, state))
    writer.flush()
    print("journaled", writer.counters.journaled, writer.journal.size, flush=True)
    time.sleep(3600)


def bench_capture(rows: int, symbols: int, recovery_rows: int, rows_only: bool = False) -> None:
    import json
    import signal
    import tempfile

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.dirname(here))  # this tree's perps_tracker, as in the child processes
    child = [sys.executable, os.path.join(here, "bench.py")]
    env = {**os.environ, "PYTHONPATH": os.path.dirname(here)}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"capture writer: {rows:,} trades of {symbols} symbols, one core")
        proc = subprocess.Popen([*child, "_capture-writer", os.path.join(tmp, "w"), str(rows), str(symbols),
                                 "rows" if rows_only else "frames"],
                                stdout=subprocess.PIPE, text=True, env=env)
        rss = []
        summary = None
        for line in proc.stdout:
            report = json.loads(line)
            if "done" in report:
                summary = report
            else:
                rss.append(report["rss_mb"])
        proc.wait()
        if summary is None:
            print(f"  the writer failed (exit {proc.returncode})")
            return
        what = "frames decoded, normalised and written" if summary["decoder"] else "rows written (decoder not plugged in)"
        print(f"  {summary['written'] / summary['seconds']:,.0f} {what} per second "
              f"({summary['seconds']:.1f} s in the writer)")
        print(f"  {summary['bytes'] / summary['written']:.2f} bytes per stored trade "
              f"({summary['bytes'] / 2 ** 20:,.1f} MB in {summary['files']} files)")
        print(f"  resident memory every million rows: {', '.join(f'{m:.0f}' for m in rss)} MB; "
              f"peak {summary['peak_mb']:.0f} MB (target ≤ 200)")

        print(f"recovery after SIGKILL: {recovery_rows:,} journaled rows")
        root = os.path.join(tmp, "r")
        proc = subprocess.Popen([*child, "_capture-journal", root, str(recovery_rows)], stdout=subprocess.PIPE,
                                text=True, env=env)
        _, journaled, size = proc.stdout.readline().split()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        from perps_tracker.dataset.writer import DatasetWriter

        t = time.perf_counter()
        writer = DatasetWriter(root, clock=lambda: 1_764_838_800.0)
        seconds = time.perf_counter() - t
        recovered = writer.counters.recovered_rows
        writer.close()
        print(f"  journal {int(size) / 2 ** 20:,.1f} MB; recovered {recovered:,} of {int(journaled):,} rows into "
              f"{writer.counters.recovered_files} files in {seconds:.2f} s ({recovered / seconds:,.0f} rows/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    startup = sub.add_parser("startup", help="time `perps-tracker --help`, `stats` on an empty database and a "
                                             "bare interpreter")
    startup.add_argument("--runs", type=int, default=20)
    startup.add_argument("--compare", metavar="DIR", default=None,
                         help="another checkout (e.g. a `git worktree` of main) to time in the same rounds")
    snap = sub.add_parser("snapshot", help="time a snapshot against the loopback fake")
    snap.add_argument("--delay", type=float, default=0.150, help="seconds added to every request")
    snap.add_argument("--symbols", type=int, default=560, help="Binance perpetuals")
    snap.add_argument("--runs", type=int, default=3)
    fan = sub.add_parser("fanout", help="Binance's fetch alone against a fake in another process")
    fan.add_argument("--delay", type=float, default=0.150, help="seconds added to every request")
    fan.add_argument("--symbols", type=int, default=560, help="Binance perpetuals")
    fan.add_argument("--runs", type=int, default=5)
    liq = sub.add_parser("liquidations", help="liquidation events parsed, normalised and stored per second")
    liq.add_argument("--events", type=int, default=1_000_000)
    liq.add_argument("--dupes", type=float, default=0.05, help="share of repeated events")
    liq.add_argument("--batch", type=int, default=10_000, help="events per write")
    liq.add_argument("--ws-events", type=int, default=200_000, help="events through a loopback websocket (0: skip)")
    dbase = sub.add_parser("database", help="stats on an empty database; stats and backtest on years of history; "
                                             "index sizes")
    dbase.add_argument("--days", type=int, default=730)
    dbase.add_argument("--seed", type=int, default=1)
    dbase.add_argument("--runs", type=int, default=5)
    mk = sub.add_parser("markets", help="the per-instrument layer at real scale: bytes per row, write, read, export")
    mk.add_argument("--markets", type=int, default=3000)
    mk.add_argument("--hours", type=int, default=8760)
    mk.add_argument("--runs", type=int, default=5)
    cap = sub.add_parser("capture-decode", help="capture: trade frames decoded and normalised per second, per venue")
    cap.add_argument("--frames", type=int, default=300_000)
    cap.add_argument("--runs", type=int, default=5)
    hist = sub.add_parser("history", help="time trend, backtest, predict funding, alerts and stats on years of "
                                          "hourly history")
    hist.add_argument("--days", type=int, default=730)
    hist.add_argument("--seed", type=int, default=1)
    hist.add_argument("--compare-models", action="store_true", help="logistic regression vs boosted trees")
    rep = sub.add_parser("report", help="time `report` (text, --json, markdown, a week) on years of hourly history")
    rep.add_argument("--days", type=int, default=730)
    rep.add_argument("--seed", type=int, default=1)
    rep.add_argument("--runs", type=int, default=5)
    cap = sub.add_parser("capture", help="the capture dataset's writer: rows/s, bytes per trade, memory, recovery")
    cap.add_argument("--rows", type=int, default=10_000_000)
    cap.add_argument("--symbols", type=int, default=20)
    cap.add_argument("--recovery-rows", type=int, default=1_000_000)
    cap.add_argument("--rows-only", action="store_true",
                     help="time the writer alone on rows made in Python, without decoding frames")
    if len(sys.argv) > 1 and sys.argv[1] == "_capture-writer":  # the child processes of `capture`
        _capture_writer(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "frames")
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_capture-journal":
        _capture_journal(sys.argv[2], int(sys.argv[3]))
        return
    args = parser.parse_args()
    if args.what == "capture":
        bench_capture(args.rows, args.symbols, args.recovery_rows, args.rows_only)
    elif args.what == "liquidations":
        bench_liquidations(args.events, args.dupes, args.batch, args.ws_events)
    elif args.what == "startup":
        bench_startup(args.runs, args.compare)
    elif args.what == "fanout":
        bench_fanout(args.delay, args.symbols, args.runs)
    elif args.what == "snapshot":
        bench_snapshot(args.delay, args.symbols, args.runs)
    elif args.what == "database":
        bench_database(args.days, args.seed, args.runs)
    elif args.what == "markets":
        bench_markets(args.markets, args.hours, args.runs)
    elif args.what == "capture-decode":
        bench_capture_decode(args.frames, args.runs)
    elif args.what == "history":
        bench_history(args.days, args.seed, args.compare_models)
    elif args.what == "report":
        bench_report(args.days, args.seed, args.runs)


if __name__ == "__main__":
    main()
