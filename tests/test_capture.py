"""`capture` end to end against loopback websocket fakes of the five venues (tests/fakes/capture.py):
documented message shapes, a dropped connection, a duplicated burst, a malformed frame, a Bybit
sequence gap. What was captured must be what the venues sent: the distinct trades (count, total
quantity, VWAP per venue and symbol), the books at the sampled times, the gaps."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from perps_tracker.cli import cli
from perps_tracker.model.ticks import ASK, BID, BOOK, BUY, SELL, Bbo, BookLevel, Trade, partition
from tests.fakes.capture import CaptureFakes, MemorySink
from tests.fakes.ws import FakeStreams

VENUES = ("binance", "bybit", "okx", "deribit", "hyperliquid")
# the markets chosen, and how their numbers become coins: (multiplier, contract)
SYMBOLS = {
    ("binance", "BTCUSDT"): (1, 1), ("binance", "1000PEPEUSDT"): (1000, 1),
    ("bybit", "BTCUSDT"): (1, 1), ("bybit", "1000PEPEUSDT"): (1000, 1),
    ("okx", "BTC-USDT-SWAP"): (1, 0.01),  # sz in contracts of 0.01 BTC (ctVal, tests/fixtures/okx)
    ("deribit", "BTC_USDC-PERPETUAL"): (1, 1),
    ("hyperliquid", "BTC"): (1, 1), ("hyperliquid", "kPEPE"): (1000, 1),
}
COINS = {"BTCUSDT": "BTC", "1000PEPEUSDT": "PEPE", "BTC-USDT-SWAP": "BTC", "BTC_USDC-PERPETUAL": "BTC",
         "BTC": "BTC", "kPEPE": "PEPE"}


@pytest.fixture
def streams():
    with FakeStreams() as server:
        yield server


@pytest.fixture
def capture_env(fake, streams, monkeypatch):
    """The venues' REST listings on the HTTP fake, their websockets on `streams`, an in-memory sink and the
    gaps collected; returns (sink, gaps)."""
    import perps_tracker.services.capture as service

    fake.install()
    for name, value in {**fake.env(), **streams.env(*VENUES)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PERPS_TRACKER_RETRIES", "0")
    sink, gaps = MemorySink(), []
    monkeypatch.setattr(service, "open_sink", lambda rt, root: sink)
    monkeypatch.setattr(service, "gap_callback", lambda rt, log: gaps.append)
    return sink, gaps


def run(runner, *args):
    return runner.invoke(cli, ["capture", *args], catch_exceptions=False, env={"COLUMNS": "200"})


def test_capture_writes_what_the_five_venues_sent(runner, streams, capture_env):
    sink, gaps = capture_env
    fakes = CaptureFakes(streams, steps=24, pause=0.02)
    fakes.install()
    depth = 5
    result = run(runner, "--symbols", ",".join(sorted({s for _, s in SYMBOLS})), "--duration", "4s",
                 "--book-interval", "0.2s", "--depth", str(depth))
    assert result.exit_code == 0, result.output
    assert sink.closed and sink.flushes == 1

    rows = sink.rows
    trades = [r for r in rows if isinstance(r, Trade)]
    books = [r for r in rows if isinstance(r, BookLevel)]
    bbos = [r for r in rows if isinstance(r, Bbo)]
    assert {(r.exchange, r.symbol) for r in trades} == set(SYMBOLS)

    # trades: exactly the distinct trades sent, per venue and symbol, in coins
    by_market = defaultdict(list)
    for t in trades:
        by_market[(t.exchange, t.symbol)].append(t)
    for (venue, symbol), (multiplier, contract) in SYMBOLS.items():
        sent = fakes.sent_trades(venue, symbol)
        got = by_market[(venue, symbol)]
        assert len(got) == len({t.trade_id for t in got}) == len(sent), (venue, symbol)
        assert {t.trade_id for t in got} == set(sent)
        qty = sum(size * contract * multiplier for _, size, _ in sent.values())
        usd = sum(price * size * contract for price, size, _ in sent.values())
        assert sum(t.qty for t in got) == pytest.approx(qty, rel=1e-9)
        assert sum(t.usd for t in got) / sum(t.qty for t in got) == pytest.approx(usd / qty, rel=1e-9)  # VWAP
        for t in got:
            price, size, side = sent[t.trade_id]
            assert (t.side, t.coin) == ({"buy": BUY, "sell": SELL}[side], COINS[symbol])
            assert t.price == pytest.approx(price / multiplier) and t.qty == pytest.approx(size * contract * multiplier)

    # books: every sample is the venue's book at the sampled venue time, the best `depth` levels, in coins
    samples = defaultdict(list)
    for level in books:
        samples[(level.exchange, level.symbol, level.ts_ms, level.recv_ms)].append(level)
    sampled_markets = {(v, s) for v, s, _, _ in samples}
    assert sampled_markets == set(SYMBOLS)
    for (venue, symbol, ts, _), levels in samples.items():
        multiplier, contract = SYMBOLS[(venue, symbol)]
        history = fakes.markets[venue][symbol].history
        assert ts in history, (venue, symbol, ts)
        bids, asks = history[ts]
        want = [(BID, i, p / multiplier, s * contract * multiplier) for i, (p, s) in enumerate(bids[:depth])]
        want += [(ASK, i, p / multiplier, s * contract * multiplier) for i, (p, s) in enumerate(asks[:depth])]
        got = sorted(((x.side, x.level, x.price, x.qty) for x in levels), key=lambda x: (x[0] != BID, x[1]))
        assert got == [pytest.approx(w) for w in want], (venue, symbol, ts)
    assert len({k[3] for k in samples}) >= 3  # sampled at several ticks

    # best bid/offer: below the ask, in coins
    assert {(b.exchange, b.symbol) for b in bbos} == set(SYMBOLS)
    assert all(b.bid_px < b.ask_px and b.bid_qty > 0 for b in bbos)

    # gaps: the drop of every venue's connection (every market and channel), and Bybit's sequence gap
    topics = {(v, s, c) for v, s in SYMBOLS for c in ("trades", "bbo", "book")}
    dropped = {(g.exchange, g.symbol, g.channel) for g in gaps if g.reason == "connection dropped"}
    assert dropped == topics
    (seq,) = [g for g in gaps if g.reason.startswith("sequence gap")]
    assert (seq.exchange, seq.symbol, seq.channel) == ("bybit", fakes.gapped["bybit"][0], BOOK)
    assert all(0 <= g.to_ms - g.from_ms < 3000 for g in gaps)
    assert len(gaps) == len(topics) + 1

    # the summary: per venue, frames, rows, files, gaps, malformed frames counted, duplicates dropped
    out = result.output
    assert "Capture" in out
    dupes = fakes.duplicates
    files = {v: len({partition(r) for r in rows if r.exchange == v}) for v in VENUES}  # the sink's counters
    n_gaps = {v: sum(g.exchange == v for g in gaps) for v in VENUES}
    for venue in VENUES:
        line = next(x for x in out.splitlines() if x.startswith(venue))
        n_trades = sum(len(by_market[k]) for k in SYMBOLS if k[0] == venue)
        n_rows = sum(1 for r in rows if r.exchange == venue)
        cells = line.split()
        assert cells[4:7] == [str(n_rows), str(n_trades), str(dupes[venue])], line
        assert cells[9:12] == [str(files[venue]), str(n_gaps[venue]), str(fakes.malformed[venue])], line
    # Deribit's heartbeat was answered with public/test
    assert any('"public/test"' in f for frames in streams.received["deribit"] for f in frames)


def test_duplicates_and_malformed_frames_are_counted(streams, fake, monkeypatch):
    """Through the engine directly: the counters per venue match what the fakes sent."""
    import asyncio
    import random

    from perps_tracker.exchanges.binance import BinanceCapture
    from perps_tracker.exchanges.bybit import BybitCapture
    from perps_tracker.model.ticks import CHANNELS, Instrument
    from perps_tracker.services.capture import Capturer
    from perps_tracker.services.watch import Backoff

    fakes = CaptureFakes(streams, steps=12, pause=0.01)
    fakes.install("binance", "bybit")
    sink, gaps = MemorySink(), []
    venues = {"binance": (BinanceCapture([Instrument("binance", "BTCUSDT", "BTC")], CHANNELS, 10),
                          streams.url("binance")),
              "bybit": (BybitCapture([Instrument("bybit", "BTCUSDT", "BTC")], CHANNELS, 10), streams.url("bybit"))}
    capturer = Capturer(venues, sink, on_gap=gaps.append, book_interval=0.1, flush_every=0.05,
                        backoff=lambda: Backoff(base=0.05, cap=0.1, rng=random.Random(1)))
    stats = asyncio.run(capturer.run(2.5))
    for venue in ("binance", "bybit"):
        s = stats[venue]
        assert (s.connects, s.drops) == (2, 1)
        assert s.malformed == fakes.malformed[venue] == 1
        assert s.duplicates == fakes.duplicates[venue] > 0
        assert s.trades == len(fakes.sent_trades(venue, "BTCUSDT"))
        assert s.rows == sum(1 for r in sink.rows if r.exchange == venue)
    assert stats["bybit"].resyncs == 1 and stats["binance"].resyncs == 0
    assert stats["bybit"].gaps == 4 and stats["binance"].gaps == 3  # three channels dropped; a sequence gap


@pytest.mark.parametrize("args, message", [
    (["--symbols", "BTCUSDT", "--coins", "BTC"], "--symbols and --coins do not go together"),
    (["--channels", "trades,quotes"], "expected channels among trades, bbo, book"),
    (["--shard", "3/2"], "is not a shard like 1/4"),
    (["--shard", "x"], "is not a shard like 1/4"),
    (["--book-interval", "0.01s"], "at least 0.1s"),
    (["--depth", "30"], "30 is not in the range 1<=x<=20"),
    (["--duration", "soon"], "is not a duration"),
    (["--exchange", "bitget"], "'bitget' is not one of"),
])
def test_bad_flags_are_one_line_usage_errors(runner, args, message):
    result = runner.invoke(cli, ["capture", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_symbols_no_venue_lists_are_an_error(runner, capture_env):
    result = run(runner, "--symbols", "NOPEUSDT", "--exchange", "binance", "--duration", "1s")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "Error: none of NOPEUSDT is listed on binance"


def test_an_empty_shard_is_an_error(runner, capture_env):
    from perps_tracker.model.ticks import shard_of

    n = 50
    taken = {shard_of("binance", "BTCUSDT", n)}
    empty = next(i for i in range(n) if i not in taken) + 1
    result = run(runner, "--symbols", "BTCUSDT", "--exchange", "binance", "--shard", f"{empty}/{n}")
    assert result.exit_code == 1
    assert f"shard {empty}/{n} holds none of the 1 markets chosen" in result.output


def test_a_venue_that_never_connects_exits_3_with_its_reason(runner, capture_env, monkeypatch):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there
    monkeypatch.setenv("PERPS_TRACKER_BINANCE_WS_URL", f"ws://127.0.0.1:{port}")
    result = run(runner, "--symbols", "BTCUSDT", "--exchange", "binance", "--duration", "1s")
    assert result.exit_code == 3
    assert "Warning: binance never connected: connection refused" in result.output


def test_vwap_of_nothing_is_none():
    from perps_tracker.model.ticks import vwap, trade

    assert vwap([]) is None
    t = [trade("x", "S", "C", 1, 1, 1, BUY, 10.0, 1.0), trade("x", "S", "C", 1, 1, 2, SELL, 20.0, 3.0)]
    assert vwap(t) == pytest.approx(17.5) and math.isfinite(vwap(t))


@pytest.mark.parametrize("sig, interrupted", [("SIGTERM", False), ("SIGINT", True)])
def test_a_signal_stops_the_run_flushing_everything(streams, sig, interrupted):
    """SIGTERM (a service's stop) and Ctrl-C end the run like --duration: gaps closed, rows handed over, the
    sink flushed; only Ctrl-C counts as interrupted."""
    import asyncio
    import os
    import signal

    from perps_tracker.exchanges.hyperliquid import HyperliquidCapture
    from perps_tracker.model.ticks import CHANNELS, Instrument
    from perps_tracker.services.capture import Capturer

    fakes = CaptureFakes(streams, steps=10, pause=0.01)
    fakes.install("hyperliquid")
    sink, gaps = MemorySink(), []
    capture = HyperliquidCapture([Instrument("hyperliquid", "BTC", "BTC")], CHANNELS, 5)
    capturer = Capturer({"hyperliquid": (capture, streams.url("hyperliquid"))}, sink, on_gap=gaps.append,
                        book_interval=0.1, flush_every=10)  # nothing handed over before the end

    async def run():
        asyncio.get_running_loop().call_later(0.4, os.kill, os.getpid(), getattr(signal, sig))
        return await capturer.run(30)

    stats = asyncio.run(run())
    assert capturer.interrupted is interrupted and capturer.fatal is None
    assert sink.flushes == 1 and stats["hyperliquid"].rows == len(sink.rows) > 0
    assert stats["hyperliquid"].trades == len({r.trade_id for r in sink.rows if isinstance(r, Trade)})
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the loop's handlers are gone
