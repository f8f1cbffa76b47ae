"""Loopback websocket fakes of the five venues' capture channels, in their documented message shapes.

`CaptureFakes(streams)` scripts a `FakeStreams` server: each venue answers whatever the client
subscribes to (Binance by the URL's streams, the others by their subscribe frames) with markets it
simulates (`FakeMarket`: trades with ids, a book changing a few levels at a time, in the venue's own
units), and remembers what it sent: every distinct trade (`sent`), and the book at every venue time
it pushed (`history`), so a test can compare what was captured with what the venue said.

Each venue plays the same story over three connections:
1. the streams for `steps` rounds, a malformed frame, a trade frame sent twice and (Deribit) a
   `test_request` heartbeat in the middle; then the TCP connection drops without a close frame;
2. after the reconnect, fresh snapshots, the last trade frames of connection 1 again (a duplicated
   burst, as a venue replaying recent trades), more rounds; on Bybit a `orderbook.50` delta whose `u`
   skips one (the client must resubscribe: the fake then sends a new snapshot);
3. (only if the client reconnects again) nothing.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.ws import Drop, Expect, FakeStreams, Respond, Sleep

T0 = 1_795_000_000_000  # ms: the fakes' venue clock starts here
LEVELS = 25  # levels a side at the start (kept between 12 and 40: every book pushed whole fits)


@dataclass
class FakeMarket:
    """One market: a book of `tick`-spaced prices (integers of ticks inside) and sizes in the venue's units."""

    venue: str
    symbol: str
    mid: int  # in ticks
    tick: float
    price_dp: int
    size_dp: int
    seed: int
    bids: dict[int, int] = field(default_factory=dict)  # ticks -> size in 10^-size_dp units
    asks: dict[int, int] = field(default_factory=dict)
    ts: int = 0
    u: int = 0  # Bybit update id / OKX seqId of the last book push
    next_id: int = 1
    sent: dict[str, tuple[float, float, str]] = field(default_factory=dict)  # trade id -> (price, size, side)
    history: dict[int, tuple[list, list]] = field(default_factory=dict)  # venue ts -> (bids, asks), best first
    recent: list[tuple[Any, int]] = field(default_factory=list)  # trade frames and their trades (replayed)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.ts = T0 + self.seed * 100_000
        for i in range(1, LEVELS + 1):
            self.bids[self.mid - i] = self.rng.randint(1, 5000)
            self.asks[self.mid + i] = self.rng.randint(1, 5000)
        self.record()

    # -- numbers as the venue writes them ---------------------------------------------------------

    def px(self, ticks: int) -> str:
        return f"{ticks * self.tick:.{self.price_dp}f}"

    def sz(self, units: int) -> str:
        return f"{units / 10 ** self.size_dp:.{self.size_dp}f}"

    def price(self, ticks: int) -> float:
        return float(self.px(ticks))

    def size(self, units: int) -> float:
        return float(self.sz(units))

    def top(self, n: int = 10_000) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        bids = sorted(self.bids.items(), reverse=True)[:n]
        asks = sorted(self.asks.items())[:n]
        return bids, asks

    def levels(self, n: int = 10_000) -> tuple[list[list[str]], list[list[str]]]:
        bids, asks = self.top(n)
        return [[self.px(p), self.sz(s)] for p, s in bids], [[self.px(p), self.sz(s)] for p, s in asks]

    def record(self) -> None:
        bids, asks = self.top()
        self.history[self.ts] = ([(self.price(p), self.size(s)) for p, s in bids],
                                 [(self.price(p), self.size(s)) for p, s in asks])

    # -- what happens ------------------------------------------------------------------------------

    def tick_time(self) -> int:
        self.ts += self.rng.randint(3, 11)
        return self.ts

    def trade(self) -> dict:
        """A new trade at the touch: id, price, size (venue units), taker side, time."""
        side = self.rng.choice(("buy", "sell"))
        bids, asks = self.top(1)
        ticks = asks[0][0] if side == "buy" else bids[0][0]
        units = self.rng.randint(1, 3000)
        ident = str(self.next_id + 7_000_000)
        self.next_id += 1
        self.sent[ident] = (self.price(ticks), self.size(units), side)
        return {"id": ident, "px": self.px(ticks), "sz": self.sz(units), "side": side, "ts": self.tick_time()}

    def replayed(self, n: int) -> int:
        """Trades in the last `n` trade frames."""
        return sum(count for _, count in self.recent[-n:])

    def change(self) -> tuple[list[list[str]], list[list[str]]]:
        """Change one to three levels (a size, a new level, a removed one): the changed [px, sz] per side
        ("0" for a removed level), recorded at a new venue time."""
        changed: tuple[list, list] = ([], [])
        for _ in range(self.rng.randint(1, 3)):
            is_bid = self.rng.random() < 0.5
            side, out = (self.bids, changed[0]) if is_bid else (self.asks, changed[1])
            inner = max(side) if is_bid else min(side)
            outer = min(side) if is_bid else max(side)
            roll = self.rng.random()
            if roll < 0.3 and len(side) > 12:
                ticks = self.rng.choice(list(side))
                del side[ticks]
                out.append([self.px(ticks), self.sz(0)])
                continue
            if roll < 0.55 and len(side) < 40:
                ticks = outer - 1 if is_bid else outer + 1
            elif roll < 0.65:  # a better price, still inside the spread
                other = min(self.asks) if is_bid else max(self.bids)
                ticks = inner + 1 if is_bid else inner - 1
                if ticks == other:
                    ticks = inner
            else:
                ticks = self.rng.choice(list(side))
            side[ticks] = self.rng.randint(1, 5000)
            out.append([self.px(ticks), self.sz(side[ticks])])
        self.tick_time()
        self.record()
        return changed


# -- the venues' frames -------------------------------------------------------------------------------


def okx_checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += bids[i][:2]
        if i < len(asks):
            parts += asks[i][:2]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


class Venue:
    """One venue's frames for its markets and the subscriptions it was sent."""

    name = ""
    incremental = False  # the book comes as a snapshot and deltas

    def __init__(self, markets: dict[str, FakeMarket]):
        self.markets = markets

    def subscriptions(self, path: str, frames: list[str]) -> tuple[list[str], set[str], int]:
        """(symbols, channels among trades/bbo/book, book depth) the client asked for."""
        raise NotImplementedError

    def trades(self, m: FakeMarket, trades: list[dict]) -> Any: ...

    def bbo(self, m: FakeMarket) -> Any: ...

    def book(self, m: FakeMarket, depth: int, changed=None) -> Any:
        """A whole book push (snapshot venues), or a delta of `changed` levels (incremental ones); None
        `changed` for the incremental venues' snapshot."""

    def acks(self, frames: list[str]) -> list[Any]:
        return []


class Binance(Venue):
    name = "binance"

    def subscriptions(self, path, frames):
        streams = path.partition("streams=")[2].split("/")
        names = {"aggTrade": "trades", "bookTicker": "bbo"}
        symbols, channels, depth = [], set(), 20
        for s in streams:
            sym, _, kind = s.partition("@")
            symbols.append(sym.upper())
            if kind.startswith("depth"):
                channels.add("book")
                depth = int(kind.split("@")[0].removeprefix("depth"))
            else:
                channels.add(names[kind])
        return list(dict.fromkeys(symbols)), channels, depth

    def trades(self, m, trades):
        t = trades[0]
        return {"stream": m.symbol.lower() + "@aggTrade", "data": {
            "e": "aggTrade", "E": t["ts"] + 2, "s": m.symbol, "a": int(t["id"]), "p": t["px"], "q": t["sz"],
            "f": int(t["id"]) * 3, "l": int(t["id"]) * 3 + 2, "T": t["ts"], "m": t["side"] == "sell"}}

    def bbo(self, m):
        (b, a) = m.levels(1)
        return {"stream": m.symbol.lower() + "@bookTicker", "data": {
            "e": "bookTicker", "u": 400900217, "E": m.ts + 1, "T": m.ts, "s": m.symbol,
            "b": b[0][0], "B": b[0][1], "a": a[0][0], "A": a[0][1]}}

    def book(self, m, depth, changed=None):
        b, a = m.levels(depth)
        return {"stream": f"{m.symbol.lower()}@depth{depth}@100ms", "data": {
            "e": "depthUpdate", "E": m.ts + 1, "T": m.ts, "s": m.symbol, "U": 1, "u": 2, "pu": 0, "b": b, "a": a}}


class Bybit(Venue):
    name = "bybit"
    incremental = True

    def subscriptions(self, path, frames):
        topics = [t for f in frames for t in json.loads(f).get("args", []) if json.loads(f).get("op") == "subscribe"]
        names = {"publicTrade": "trades", "orderbook.1": "bbo", "orderbook.50": "book"}
        symbols = [t.rpartition(".")[2] for t in topics]
        return list(dict.fromkeys(symbols)), {names[t.rpartition(".")[0]] for t in topics}, 50

    def trades(self, m, trades):
        return {"topic": f"publicTrade.{m.symbol}", "type": "snapshot", "ts": trades[-1]["ts"] + 1,
                "data": [{"T": t["ts"], "s": m.symbol, "S": "Buy" if t["side"] == "buy" else "Sell", "v": t["sz"],
                          "p": t["px"], "L": "PlusTick", "i": f"bb{t['id']}-d8dd-5b31-9112", "BT": False}
                         for t in trades]}

    def bbo(self, m):
        b, a = m.levels(1)
        return {"topic": f"orderbook.1.{m.symbol}", "type": "snapshot", "ts": m.ts,
                "data": {"s": m.symbol, "b": b, "a": a, "u": 1000 + m.ts % 1000, "seq": m.ts}, "cts": m.ts - 1}

    def book(self, m, depth, changed=None, skip=False):
        if changed is None:
            m.u = m.rng.randint(1000, 9000)
            b, a = m.levels(50)
            return {"topic": f"orderbook.50.{m.symbol}", "type": "snapshot", "ts": m.ts,
                    "data": {"s": m.symbol, "b": b, "a": a, "u": m.u, "seq": m.ts}, "cts": m.ts - 1}
        m.u += 2 if skip else 1
        return {"topic": f"orderbook.50.{m.symbol}", "type": "delta", "ts": m.ts,
                "data": {"s": m.symbol, "b": changed[0], "a": changed[1], "u": m.u, "seq": m.ts}, "cts": m.ts - 1}

    def acks(self, frames):
        return [{"success": True, "ret_msg": "", "conn_id": "c0ffee", "req_id": "", "op": "subscribe"}]


class Okx(Venue):
    name = "okx"
    incremental = True

    def subscriptions(self, path, frames):
        args = [a for f in frames for a in json.loads(f)["args"] if json.loads(f)["op"] == "subscribe"]
        names = {"trades": "trades", "bbo-tbt": "bbo", "books": "book", "books5": "book"}
        self.books5 = any(a["channel"] == "books5" for a in args)
        self.incremental = not self.books5
        return (list(dict.fromkeys(a["instId"] for a in args)), {names[a["channel"]] for a in args},
                5 if self.books5 else 400)

    def trades(self, m, trades):
        return {"arg": {"channel": "trades", "instId": m.symbol},
                "data": [{"instId": m.symbol, "tradeId": t["id"], "px": t["px"], "sz": t["sz"], "side": t["side"],
                          "ts": str(t["ts"]), "count": "1"} for t in trades]}

    def bbo(self, m):
        b, a = m.levels(1)
        return {"arg": {"channel": "bbo-tbt", "instId": m.symbol},
                "data": [{"asks": [a[0] + ["0", "3"]], "bids": [b[0] + ["0", "2"]], "ts": str(m.ts), "seqId": m.u}]}

    def book(self, m, depth, changed=None):
        b, a = m.levels()
        if self.books5:
            return {"arg": {"channel": "books5", "instId": m.symbol},
                    "data": [{"asks": [x + ["0", "1"] for x in a[:5]], "bids": [x + ["0", "1"] for x in b[:5]],
                              "instId": m.symbol, "ts": str(m.ts), "seqId": m.u}]}
        checksum = okx_checksum(b, a)
        if changed is None:
            m.u = m.rng.randint(10_000, 90_000)
            return {"arg": {"channel": "books", "instId": m.symbol}, "action": "snapshot",
                    "data": [{"asks": [x + ["0", "4"] for x in a], "bids": [x + ["0", "4"] for x in b],
                              "ts": str(m.ts), "checksum": checksum, "prevSeqId": -1, "seqId": m.u}]}
        prev, m.u = m.u, m.u + m.rng.randint(1, 20)
        return {"arg": {"channel": "books", "instId": m.symbol}, "action": "update",
                "data": [{"asks": [x + ["0", "1"] for x in changed[1]], "bids": [x + ["0", "1"] for x in changed[0]],
                          "ts": str(m.ts), "checksum": checksum, "prevSeqId": prev, "seqId": m.u}]}

    def acks(self, frames):
        return [{"event": "subscribe", "arg": {"channel": "trades", "instId": "BTC-USDT-SWAP"}, "connId": "a4d3ae55"}]


class Deribit(Venue):
    name = "deribit"

    def subscriptions(self, path, frames):
        channels = [c for f in frames for c in json.loads(f).get("params", {}).get("channels", [])]
        names = {"trades": "trades", "quote": "bbo", "book": "book"}
        depth = next((int(c.split(".")[3]) for c in channels if c.startswith("book.")), 20)
        return (list(dict.fromkeys(c.split(".")[1] for c in channels)), {names[c.split(".")[0]] for c in channels},
                depth)

    def note(self, channel, data):
        return {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": data}}

    def trades(self, m, trades):
        return self.note(f"trades.{m.symbol}.100ms", [
            {"trade_seq": int(t["id"]), "trade_id": f"USDC-{t['id']}", "timestamp": t["ts"], "tick_direction": 0,
             "price": float(t["px"]), "mark_price": float(t["px"]), "instrument_name": m.symbol,
             "index_price": float(t["px"]), "direction": t["side"], "amount": float(t["sz"])} for t in trades])

    def bbo(self, m):
        b, a = m.levels(1)
        return self.note(f"quote.{m.symbol}", {
            "timestamp": m.ts, "instrument_name": m.symbol, "best_bid_price": float(b[0][0]),
            "best_bid_amount": float(b[0][1]), "best_ask_price": float(a[0][0]), "best_ask_amount": float(a[0][1])})

    def book(self, m, depth, changed=None):
        b, a = m.levels(depth)
        return self.note(f"book.{m.symbol}.none.{depth}.100ms", {
            "timestamp": m.ts, "instrument_name": m.symbol, "change_id": m.ts,
            "bids": [[float(p), float(s)] for p, s in b], "asks": [[float(p), float(s)] for p, s in a]})

    def acks(self, frames):
        return [{"jsonrpc": "2.0", "id": 1, "result": ["trades.BTC_USDC-PERPETUAL.100ms"], "usIn": 1, "usOut": 2,
                 "usDiff": 1, "testnet": False}]


class Hyperliquid(Venue):
    name = "hyperliquid"

    def subscriptions(self, path, frames):
        subs = [json.loads(f)["subscription"] for f in frames if json.loads(f).get("method") == "subscribe"]
        names = {"trades": "trades", "bbo": "bbo", "l2Book": "book"}
        return list(dict.fromkeys(s["coin"] for s in subs)), {names[s["type"]] for s in subs}, 20

    def trades(self, m, trades):
        return {"channel": "trades", "data": [
            {"coin": m.symbol, "side": "B" if t["side"] == "buy" else "A", "px": t["px"], "sz": t["sz"],
             "hash": "0x" + "0" * 64, "time": t["ts"], "tid": int(t["id"]), "users": ["0xbuyer", "0xseller"]}
            for t in trades]}

    def bbo(self, m):
        b, a = m.levels(1)
        return {"channel": "bbo", "data": {"coin": m.symbol, "time": m.ts, "bbo": [
            {"px": b[0][0], "sz": b[0][1], "n": 2}, {"px": a[0][0], "sz": a[0][1], "n": 1}]}}

    def book(self, m, depth, changed=None):
        b, a = m.levels(20)
        return {"channel": "l2Book", "data": {"coin": m.symbol, "time": m.ts, "levels": [
            [{"px": p, "sz": s, "n": 1} for p, s in b], [{"px": p, "sz": s, "n": 1} for p, s in a]]}}

    def acks(self, frames):
        return [{"channel": "subscriptionResponse", "data": {"method": "subscribe",
                                                            "subscription": {"type": "trades", "coin": "BTC"}}}]


VENUES = {v.name: v for v in (Binance, Bybit, Okx, Deribit, Hyperliquid)}

# How each fake market looks: (mid in ticks, tick, price decimals, size decimals) by symbol; others alike BTC.
SHAPES = {"1000PEPEUSDT": (12_000, 0.000001, 6, 0), "kPEPE": (12_000, 0.000001, 6, 0),
          "BTC-USDT-SWAP": (168_000, 0.5, 1, 0)}
BTC_SHAPE = (168_000, 0.5, 1, 3)


class CaptureFakes:
    """The five venues' capture scripts on a `FakeStreams` server (see the module docstring)."""

    def __init__(self, streams: FakeStreams, steps: int = 30, pause: float = 0.02, replay: int = 5):
        self.streams, self.steps, self.pause, self.replay = streams, steps, pause, replay
        self.markets: dict[str, dict[str, FakeMarket]] = {v: {} for v in VENUES}
        self.venues = {name: cls(self.markets[name]) for name, cls in VENUES.items()}
        self.malformed = {v: 0 for v in VENUES}
        self.duplicates = {v: 0 for v in VENUES}  # trades sent again (same id)
        self.gapped: dict[str, list[str]] = {v: [] for v in VENUES}  # symbols whose sequence was broken

    def market(self, venue: str, symbol: str) -> FakeMarket:
        got = self.markets[venue].get(symbol)
        if got is None:
            mid, tick, pdp, sdp = SHAPES.get(symbol, BTC_SHAPE)
            seed = zlib.crc32(f"{venue}:{symbol}".encode()) % 97 + 1
            got = self.markets[venue][symbol] = FakeMarket(venue, symbol, mid, tick, pdp, sdp, seed)
        return got

    def install(self, *venues: str) -> None:
        for venue in venues or tuple(VENUES):
            path = venue == "binance"
            first = [] if path else [Expect(1), Sleep(0.05)]
            self.streams.script(venue, first + [Respond(self._session(venue, 0), path=True)],
                                first + [Respond(self._session(venue, 1), path=True)],
                                first + [Respond(self._session(venue, 2), path=True)])

    def _session(self, venue: str, k: int):
        v = self.venues[venue]

        def steps(path: str, frames: list[str]) -> list[Any]:
            symbols, channels, depth = v.subscriptions(path, frames)
            markets = [self.market(venue, s) for s in symbols]
            out: list[Any] = list(v.acks(frames))
            if k >= 2:
                return out
            if "book" in channels and v.incremental:
                out += [v.book(m, depth) for m in markets]
            if k == 1 and "trades" in channels:  # the duplicated burst: recent trades again
                for m in markets:
                    out += [frame for frame, _ in m.recent[-self.replay:]]
            if k == 1 and "trades" in channels:
                self.duplicates[venue] += sum(m.replayed(self.replay) for m in markets)
            rounds = self.steps if k == 0 else self.steps * 2 // 3
            for r in range(rounds):
                for m in markets:
                    if "trades" in channels:
                        trades = [m.trade() for _ in range(1 if venue == "binance" else m.rng.randint(1, 2))]
                        frame = v.trades(m, trades)
                        out.append(frame)
                        m.recent.append((frame, len(trades)))
                        if k == 0 and r == rounds // 2:
                            out.append(frame)  # sent twice
                            self.duplicates[venue] += len(trades)
                    if "book" in channels:
                        changed = m.change()
                        if venue == "bybit" and k == 1 and r == rounds // 3 and m is markets[0]:
                            out.append(v.book(m, depth, m.change(), skip=True))  # `changed` was never sent
                            self.gapped[venue].append(m.symbol)
                            out.append(Expect(len(frames) + 2, timeout=3.0))  # unsubscribe + subscribe
                            out.append(v.book(m, depth))  # the fresh snapshot
                        else:
                            out.append(v.book(m, depth, changed if v.incremental else None))
                    if "bbo" in channels:
                        if "book" not in channels:
                            m.change()
                        out.append(v.bbo(m))
                if k == 0 and r == rounds // 3:
                    out.append("{not json")
                    self.malformed[venue] += 1
                    if venue == "deribit":
                        out.append({"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}})
                out.append(Sleep(self.pause))
            if k == 0:
                out += [Sleep(0.1), Drop()]
            return out

        return steps

    # -- what was sent, in coins ---------------------------------------------------------------------

    def sent_trades(self, venue: str, symbol: str) -> dict[str, tuple[float, float, str]]:
        """Trade id (as captured) -> (price, size, side) in the venue's units."""
        m = self.markets[venue][symbol]
        key = {"bybit": lambda i: f"bb{i}-d8dd-5b31-9112", "deribit": lambda i: f"USDC-{i}"}.get(venue, lambda i: i)
        return {key(i): t for i, t in m.sent.items()}


class MemorySink:
    """The row sink of tests: rows kept in a list; `close` counts one file per partition, as the dataset
    writer would write at least."""

    def __init__(self) -> None:
        self.rows: list = []
        self.flushes = 0
        self.closed = False

    def add_many(self, rows) -> None:
        assert not self.closed, "rows after close"
        self.rows.extend(rows)

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> dict[str, dict[str, int]]:
        from perps_tracker.model.ticks import partition

        self.closed = True
        files: dict[str, set] = {}
        for row in self.rows:
            files.setdefault(row.exchange, set()).add(partition(row))
        return {venue: {"files": len(parts)} for venue, parts in files.items()}
