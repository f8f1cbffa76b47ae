"""A real loopback websocket server that plays the venues' liquidation streams.

`streams.url("bybit")` is `ws://127.0.0.1:PORT/bybit`, what `PERPS_TRACKER_BYBIT_WS_URL` is
set to; the venue's own path follows (`/v5/public/linear`). Each connection to a venue plays
the next script given with `script(venue, ...)` (the last one repeats); a script is a list
of steps:

    "text" or a dict      send it (a dict is JSON-encoded)
    Expect(n)             wait until the client has sent n frames on this connection
    Ping()                send a protocol ping and wait for the client's pong
    Sleep(seconds)
    Drop()                cut the TCP connection without a close frame
    Close(code)           close cleanly
    Respond(steps)        the steps `steps(frames)` returns, given what the client has sent so far
                          on this connection (several connections to one venue: each answers its own
                          subscriptions, whichever order they connect in); with `path=True`,
                          `steps(path, frames)`: the request path too (Binance subscribes by URL)
After the last step the connection stays open until the client leaves. Everything a client
sends is recorded per connection in `received[venue]`.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Expect:
    frames: int
    timeout: float = 5.0


@dataclass(frozen=True)
class Ping:
    timeout: float = 5.0


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Drop:
    pass


@dataclass(frozen=True)
class Close:
    code: int = 1000


@dataclass(frozen=True)
class Respond:
    steps: Callable[..., list[Any]]
    path: bool = False


class FakeStreams:
    def __init__(self) -> None:
        self.scripts: dict[str, list[list[Any]]] = {}
        self.received: dict[str, list[list[str]]] = {}
        self.paths: dict[str, list[str]] = {}
        self.pongs: dict[str, int] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-streams", daemon=True)
        self._server = None

    # -- set-up -----------------------------------------------------------------------------

    def url(self, venue: str) -> str:
        return f"ws://127.0.0.1:{self.port}/{venue}"

    def env(self, *venues: str) -> dict[str, str]:
        return {f"PERPS_TRACKER_{v.upper()}_WS_URL": self.url(v) for v in venues}

    def script(self, venue: str, *sessions: list[Any]) -> None:
        """The scripts of the next connections to `venue`, in order; the last one repeats."""
        self.scripts[venue] = [list(s) for s in sessions]

    def connections(self, venue: str) -> int:
        return len(self.received.get(venue, []))

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> "FakeStreams":
        from websockets.asyncio.server import serve

        self._thread.start()

        async def start():
            return await serve(self._handle, "127.0.0.1", 0, ping_interval=None)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(5)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def stop():
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> "FakeStreams":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- serving -----------------------------------------------------------------------------

    async def _handle(self, ws) -> None:
        venue, _, rest = ws.request.path.lstrip("/").partition("/")
        scripts = self.scripts.get(venue) or [[]]
        n = len(self.received.setdefault(venue, []))
        steps = scripts[min(n, len(scripts) - 1)]
        got: list[str] = []
        self.received[venue].append(got)
        self.paths.setdefault(venue, []).append("/" + rest)

        async def reader():
            async for message in ws:
                got.append(message)

        reading = asyncio.create_task(reader())
        try:
            steps = list(steps)
            while steps:
                step = steps.pop(0)
                if isinstance(step, Respond):
                    steps[:0] = step.steps(ws.request.path, list(got)) if step.path else step.steps(list(got))
                elif isinstance(step, (str, dict, list)):
                    await ws.send(step if isinstance(step, str) else json.dumps(step))
                elif isinstance(step, Expect):
                    for _ in range(int(step.timeout / 0.01)):
                        if len(got) >= step.frames:
                            break
                        await asyncio.sleep(0.01)
                elif isinstance(step, Ping):
                    pong = await ws.ping()
                    await asyncio.wait_for(pong, step.timeout)
                    self.pongs[venue] = self.pongs.get(venue, 0) + 1
                elif isinstance(step, Sleep):  # ends early when the client leaves
                    try:
                        await asyncio.wait_for(ws.wait_closed(), step.seconds)
                        return
                    except asyncio.TimeoutError:
                        pass
                elif isinstance(step, Drop):
                    ws.transport.abort()
                    return
                elif isinstance(step, Close):
                    await ws.close(step.code)
                    return
            await ws.wait_closed()
        except Exception:  # the client left mid-script
            pass
        finally:
            reading.cancel()


# -- the venues' documented liquidation messages ----------------------------------------------

T0 = 1_795_000_000_000  # ms


def binance_frame(symbol: str, S: str, price: str, qty: str, t: int) -> dict:
    """A `!forceOrder@arr` push (S=SELL: a long was liquidated)."""
    return {"e": "forceOrder", "E": t + 3, "o": {"s": symbol, "S": S, "o": "LIMIT", "f": "IOC", "q": qty, "p": price,
                                                "ap": price, "X": "FILLED", "l": qty, "z": qty, "T": t}}


def bybit_frame(symbol: str, *rows: tuple[str, str, str, int]) -> dict:
    """An `allLiquidation.{symbol}` push; rows are (S, v, p, T) (S=Buy: a long was liquidated)."""
    return {"topic": f"allLiquidation.{symbol}", "type": "snapshot", "ts": T0,
            "data": [{"T": t, "s": symbol, "S": S, "v": v, "p": p} for S, v, p, t in rows]}


def okx_frame(inst_id: str, *details: dict) -> dict:
    """A `liquidation-orders` push of one instrument's details."""
    family = inst_id.removesuffix("-SWAP")
    return {"arg": {"channel": "liquidation-orders", "instType": "SWAP"},
            "data": [{"instId": inst_id, "instFamily": family, "instType": "SWAP", "uly": family,
                      "details": list(details)}]}


def _event_frame(venue: str, i: int, t: int) -> dict:
    price, long = f"{84000 + i % 50}.5", i % 3 != 0
    if venue == "binance":
        return binance_frame("BTCUSDT", "SELL" if long else "BUY", price, f"0.{i % 9 + 1}", t)
    if venue == "bybit":
        return bybit_frame("ETHUSDT", ("Buy" if long else "Sell", f"{i % 7 + 1}", f"{3000 + i % 40}", t))
    return okx_frame("BTC-USDT-SWAP", {"side": "sell" if long else "buy", "posSide": "long" if long else "short",
                                       "bkPx": price, "sz": str(i % 20 + 1), "bkLoss": "0", "ts": str(t)})


def liquidation_sessions(venue: str, sessions: int = 3, per_session: int = 40, interval: float = 0.01,
                         overlap: int = 5, start_ms: int = T0) -> tuple[list[list[Any]], int]:
    """Scripts for `sessions` connections to `venue`, and how many distinct events they carry.

    Each connection waits for the subscription (Bybit, OKX), sends `per_session` new events
    `interval` apart with a repeat, a malformed frame and a protocol ping mixed in, then drops
    the TCP connection. The next one starts by replaying the previous connection's last
    `overlap` events, as a venue does after a reconnect. The last connection stays open.
    """
    scripts, sent = [], []
    for s in range(sessions):
        steps: list[Any] = [] if venue == "binance" else [Expect(1)]
        steps += [_event_frame(venue, i, start_ms + i) for i in sent[-overlap:]]
        for k in range(per_session):
            i = s * per_session + k
            sent.append(i)
            steps.append(_event_frame(venue, i, start_ms + i))
            if k == per_session // 2:
                steps += [_event_frame(venue, i, start_ms + i), "{not json", Ping()]
            if interval:
                steps.append(Sleep(interval))
        if s < sessions - 1:
            steps.append(Drop())
        scripts.append(steps)
    return scripts, len(sent)
