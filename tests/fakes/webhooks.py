"""A real loopback webhook receiver for the notifier's tests.

Every POST (any path) is recorded in `attempts`; the ones answered with success are also
in `received`. Normal POSTs are answered with `status` (204 with no body, like Discord, or
e.g. 200 "ok", like Slack); `fail_next` makes the next few answer with an error instead,
and `delay` holds every answer back (a hang: longer than the client's read timeout).

    with WebhookReceiver() as hook:
        hook.fail_next(1, 429, headers={"Retry-After": "2"})
        send(Webhook("discord", hook.url("/api/webhooks/1/TOKEN")), notice, settings)
        assert len(hook.attempts) == 2 and hook.received[0].body["embeds"]
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str  # with the query, as sent: /api/webhooks/1/TOKEN?wait=true
    body: Any  # decoded JSON (the raw text when it is not JSON)
    headers: dict[str, str]


@dataclass(frozen=True)
class _Failure:
    status: int
    body: str
    headers: dict[str, str]


class WebhookReceiver:
    """The loopback server. Use as a context manager or call start()/stop()."""

    def __init__(self, status: int = 204, delay: float = 0.0):
        self.status = status  # the answer to a normal POST
        self.delay = delay  # seconds before answering any POST
        self.received: list[Received] = []
        self.attempts: list[Received] = []
        self._failures: list[_Failure] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def fail_next(self, n: int, status: int = 500, body: str = "", headers: dict | None = None) -> None:
        """The next `n` POSTs (any path) get this answer and are not counted as received."""
        with self._lock:
            self._failures.extend([_Failure(status, body, dict(headers or {}))] * n)

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> "WebhookReceiver":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers waiting out a `delay`
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "WebhookReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- serving ----------------------------------------------------------------------------

    def _answer(self, request: Received) -> _Failure | None:
        """Record `request`; the failure it gets, or None for a normal answer."""
        with self._lock:
            self.attempts.append(request)
            return self._failures.pop(0) if self._failures else None

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else ~40 ms stalls per request (Nagle + delayed ACK)

            def log_message(self, *args) -> None:  # keep test output clean (and the paths are secrets)
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                request = Received(self.path, body, dict(self.headers.items()))
                failure = receiver._answer(request)
                if receiver.delay and receiver._stopping.wait(receiver.delay):
                    return
                if failure is None:
                    status = receiver.status
                    if 200 <= status < 300:  # recorded before answering: the client may look at once
                        with receiver._lock:
                            receiver.received.append(request)
                    self._reply(status, "" if status == 204 else "ok", {})
                else:
                    self._reply(failure.status, failure.body, failure.headers)

            def _reply(self, status: int, body: str, headers: dict[str, str]) -> None:
                payload = body.encode()
                looks_json = body.lstrip().startswith(("{", "["))
                try:
                    self.send_response(status)
                    if status != 204:
                        if not any(name.lower() == "content-type" for name in headers):
                            self.send_header("Content-Type", "application/json" if looks_json else "text/plain")
                        self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if status != 204:
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
