"""A real loopback HTTP server that plays the nine venues for tests and benchmarks.

Each venue lives under its own path prefix: `fake.url("binance")` is
`http://127.0.0.1:PORT/binance`, which is what `PERPS_TRACKER_BINANCE_URL` is set to, so
requests go through the same `requests` code path users run. A venue's routes come
from `tests/fakes/<venue>.py` (`install(fake)`), its payloads from
`tests/fixtures/<venue>/*.json`.

    fake.add("binance", "/fapi/v1/ticker/24hr", Reply(load("binance", "ticker_24hr")))
    fake.add("binance", "/fapi/v1/openInterest", lambda req: Reply({...req.query["symbol"]...}))
    fake.override("okx", Reply("<html>", status=502))      # every okx path answers this
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Union
from urllib.parse import parse_qs, urlsplit

try:
    from pytest import approx
except ImportError:  # serving the fake outside pytest (CI's smoke run, benchmarks): exact values
    def approx(expected, **_):
        return expected

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load(venue: str, name: str) -> Any:
    """The JSON fixture tests/fixtures/<venue>/<name>.json."""
    return json.loads((FIXTURES / venue / f"{name}.json").read_text())


@dataclass
class Reply:
    """What the fake answers: `body` is JSON-encoded unless it is str/bytes (sent raw)."""

    body: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a hang: longer than the client's timeout)
    content_type: str = "application/json"

    def encode(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class Request:
    venue: str
    method: str
    path: str  # without the venue prefix: /fapi/v1/ticker/24hr
    query: dict[str, str]  # first value of each parameter
    body: Any  # decoded JSON body of a POST, else None


Responder = Union[Reply, Callable[[Request], Reply]]


class FakeVenues:
    """The loopback server. Use as a context manager or call start()/stop()."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay  # added to every request (benchmarks)
        self.routes: dict[tuple[str, str, str], Responder] = {}
        self.overrides: dict[str, Responder] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.request_queue_size = 256
        self._thread: threading.Thread | None = None

    # -- set-up ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, venue: str) -> str:
        return f"http://127.0.0.1:{self.port}/{venue}"

    def add(self, venue: str, path: str, responder: Responder, method: str = "GET") -> None:
        self.routes[(venue, method, path)] = responder

    def override(self, venue: str, responder: Responder | None) -> None:
        """Answer every request to `venue` with `responder` (None removes the override)."""
        if responder is None:
            self.overrides.pop(venue, None)
        else:
            self.overrides[venue] = responder

    def routed(self, request: Request) -> Reply:
        """What the route of `request` answers, past any override (for overrides that let some through)."""
        route = self.routes[(request.venue, request.method, request.path)]
        return route(request) if callable(route) else route

    def throttle_first(self, venue: str) -> Counter:
        """Answer each path's first request to `venue` with a 429 (Retry-After 0), later ones as routed;
        the returned Counter counts the requests per path."""
        seen: Counter = Counter()

        def first_429(request: Request) -> Reply:
            seen[request.path] += 1
            if seen[request.path] == 1:
                return Reply({"code": -1003, "msg": "Too many requests"}, status=429, headers={"Retry-After": "0"})
            return self.routed(request)

        self.override(venue, first_429)
        return seen

    def install(self, *venues: str) -> "FakeVenues":
        """Register the routes of `venues` (default: every venue with a tests/fakes module)."""
        for venue in venues or installed_venues():
            venue_module(venue).install(self)
        return self

    def env(self, *venues: str) -> dict[str, str]:
        """Environment variables pointing `venues` (default all) at this server."""
        return {f"PERPS_TRACKER_{v.upper()}_URL": self.url(v) for v in (venues or installed_venues())}

    def count(self, venue: str | None = None, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests
                       if (venue is None or r.venue == venue) and (path is None or r.path == path))

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> "FakeVenues":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-venues", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "FakeVenues":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- serving ----------------------------------------------------------------------------

    def _respond(self, request: Request) -> Reply:
        responder = self.overrides.get(request.venue) or self.routes.get((request.venue, request.method, request.path))
        if responder is None:
            return Reply({"code": -1, "msg": f"fake: no route for {request.method} {request.path}"}, status=404)
        return responder(request) if callable(responder) else responder

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else ~40 ms stalls per request (Nagle + delayed ACK)

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                venue, _, rest = parts.path.lstrip("/").partition("/")
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                request = Request(venue, method, "/" + rest, {k: v[0] for k, v in parse_qs(parts.query).items()}, body)
                with fake._lock:
                    fake.requests.append(request)
                reply = fake._respond(request)
                wait = fake.delay + reply.delay
                if wait and fake._stopping.wait(wait):
                    return
                payload = reply.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler


def venue_module(venue: str):
    """tests/fakes/<venue>.py: `install(fake)`, `EXPECTED` and `ERROR_IN_200`."""
    return importlib.import_module(f"tests.fakes.{venue}")


def installed_venues() -> list[str]:
    from perps_tracker.exchanges import EXCHANGES

    return [v for v in EXCHANGES if (Path(__file__).parent / f"{v}.py").exists()]


def closed_port_url() -> str:
    """A loopback URL nothing listens on (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
