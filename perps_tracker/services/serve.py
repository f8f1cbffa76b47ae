"""`serve`: a local, read-only HTTP server for the dashboard pages (docs/serve.md).

The pages themselves are made by the caller (the CLI hands in `pages`, a function from a request
path and its query to a `Page`), so this module knows HTTP and nothing about what is shown:

- one request at a time (a local dashboard; the read-only database connection stays on one thread);
- GET and HEAD only, anything else 405; an unknown path is the page function's 404;
- a `TrackerError` raised by a page (no snapshots yet, an unknown coin) is a 404/503 page with its
  one line, any other exception a 500 page that says so: never a traceback in the browser;
- every answer forbids loading anything from elsewhere (`Content-Security-Policy`: inline script and
  style only, requests only to this server), and a request whose `Host` is not this server's
  (DNS rebinding: another site's page reaching a loopback server) is refused;
- a port that is taken, a host that is not this machine's or a port not allowed is one `TrackerError`.
"""

from __future__ import annotations

import errno
import logging
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Callable, Mapping
from urllib.parse import parse_qsl, urlsplit

from perps_tracker.errors import TrackerError

log = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"
JSON = "application/json"
POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; "
          "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]", "::1")


@dataclass(frozen=True)
class Page:
    body: bytes
    status: int = 200
    content_type: str = HTML
    headers: Mapping[str, str] = field(default_factory=dict)


class NotFound(TrackerError):
    """A page that does not exist (an unknown path, a coin nobody lists): answered 404."""


PageFunction = Callable[[str, Mapping[str, str]], Page]  # (path, query) → the page


def error_page(status: int, title: str, message: str) -> Page:
    """A small page saying what went wrong (escaped: messages can quote a coin from the URL)."""
    from html import escape

    body = (f"<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport "
            f"content='width=device-width,initial-scale=1'><title>{escape(title)}</title>"
            f"<body style='font-family:system-ui,sans-serif;margin:2em'><h1>{escape(title)}</h1>"
            f"<p>{escape(message)}</p><p><a href='/'>Overview</a></p></body></html>")
    return Page(body.encode(), status)


class _Server(HTTPServer):
    pages: PageFunction
    hosts: frozenset[str] | None

    def server_bind(self) -> None:
        if self.address_family == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "perps-tracker"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(head=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(head=True)

    def _refuse(self) -> None:
        self._send(Page(b"method not allowed\n", 405, "text/plain; charset=utf-8", {"Allow": "GET, HEAD"}), False)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815

    def _answer(self, head: bool) -> None:
        host = (self.headers.get("Host") or "").lower()
        if self.server.hosts is not None and host not in self.server.hosts:
            self._send(error_page(421, "Wrong host", "This dashboard answers only under the address it was "
                                                     "started on."), head)
            return
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        try:
            page = self.server.pages(parts.path, query)
        except NotFound as e:
            page = error_page(404, "Not found", str(e))
        except TrackerError as e:
            page = error_page(503, "Nothing to show yet", str(e))
        except Exception:  # a bug: the browser gets a line, the log (-v) the traceback
            log.exception("serve: %s failed", parts.path)
            page = error_page(500, "Internal error", "This page failed; run `perps-tracker -v serve` to see why.")
        self._send(page, head)

    def _send(self, page: Page, head: bool) -> None:
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        self.send_header("Content-Security-Policy", POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        for name, value in page.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(page.body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        log.info("serve: %s %s", self.address_string(), format % args)


def _hosts(host: str, port: int) -> frozenset[str] | None:
    """The `Host` headers this server answers: the address it listens on, and the loopback names when
    it listens on loopback. None (any) when it listens on every address: it is then meant to be
    reached by whatever name the network gives it."""
    if host in ("0.0.0.0", "::", ""):
        return None
    names = {f"[{host}]" if ":" in host else host}
    if host in ("127.0.0.1", "::1", "localhost"):
        names.update(LOOPBACK_NAMES)
    return frozenset(n for name in names for n in (name.lower(), f"{name.lower()}:{port}"))


def open_server(host: str, port: int, pages: PageFunction) -> _Server:
    """A server listening on `host`:`port` (0: any free port), or a TrackerError saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise TrackerError(f"cannot serve on {host!r}: not an address of this machine") from None
    family = infos[0][0]

    class Bound(_Server):
        address_family = family

    try:
        server = Bound(infos[0][4][:2], _Handler)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise TrackerError(f"port {port} on {host} is already in use: stop what listens there or choose "
                               "another with --port") from None
        if e.errno == errno.EACCES:
            raise TrackerError(f"not allowed to listen on port {port} (ports below 1024 need root): choose "
                               "another with --port") from None
        if e.errno == errno.EADDRNOTAVAIL:
            raise TrackerError(f"cannot serve on {host}: not an address of this machine") from None
        raise TrackerError(f"cannot serve on {host}:{port}: {e.strerror or e}") from None
    server.pages = pages
    server.hosts = _hosts(host, server.server_address[1])
    return server


def url_of(server: _Server) -> str:
    host, port = server.server_address[:2]
    shown = "127.0.0.1" if host == "0.0.0.0" else ("::1" if host == "::" else host)
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def run(server: _Server, stop: threading.Event | None = None) -> None:
    """Answer requests until `stop` is set (checked twice a second) or KeyboardInterrupt; then close."""
    stop = stop or threading.Event()
    server.timeout = 0.5
    try:
        while not stop.is_set():
            server.handle_request()
    finally:
        server.server_close()
