"""The dashboard's HTTP server on its own (services/serve.py): answers, errors, headers, the host
check and a taken port. The pages themselves are tested in tests/test_serve.py."""

from __future__ import annotations

import socket
import threading

import pytest
import requests

from perps_tracker.errors import TrackerError
from perps_tracker.services.serve import POLICY, NotFound, Page, open_server, run, url_of


def pages(path, query):
    if path == "/":
        return Page(f"<p>hello {query.get('who', 'you')}</p>".encode())
    if path == "/missing":
        raise NotFound("no such coin: XYZ<script>")
    if path == "/empty":
        raise TrackerError("no snapshots yet: take one with `perps-tracker snapshot`")
    if path == "/bug":
        raise ValueError("secret internals")
    raise NotFound(f"no page at {path}")


@pytest.fixture
def served():
    server = open_server("127.0.0.1", 0, pages)
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(server, stop), daemon=True)
    thread.start()
    yield url_of(server)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_pages_are_answered_with_headers_that_keep_them_local(served):
    r = requests.get(served + "?who=trader", timeout=5)
    assert r.status_code == 200 and r.text == "<p>hello trader</p>"
    assert r.headers["Content-Security-Policy"] == POLICY and "default-src 'none'" in POLICY
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["Cache-Control"] == "no-store"
    head = requests.head(served + "?who=trader", timeout=5)
    assert head.status_code == 200 and head.text == "" and int(head.headers["Content-Length"]) == len(r.content)


def test_errors_are_short_pages_never_tracebacks(served):
    r = requests.get(served + "missing", timeout=5)
    assert r.status_code == 404 and "no such coin: XYZ&lt;script&gt;" in r.text and "<script>" not in r.text
    r = requests.get(served + "empty", timeout=5)
    assert r.status_code == 503 and "no snapshots yet" in r.text
    r = requests.get(served + "bug", timeout=5)
    assert r.status_code == 500 and "secret internals" not in r.text and "Traceback" not in r.text
    r = requests.post(served, data=b"x", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"


def test_a_request_for_another_host_is_refused(served):
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 must not read the dashboard."""
    port = served.rsplit(":", 1)[1].strip("/")
    assert requests.get(served, headers={"Host": f"evil.example:{port}"}, timeout=5).status_code == 421
    assert requests.get(served, headers={"Host": f"localhost:{port}"}, timeout=5).status_code == 200


def test_a_taken_port_is_one_error_line():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        with pytest.raises(TrackerError, match=f"port {port} on 127.0.0.1 is already in use: .* --port"):
            open_server("127.0.0.1", port, pages)
    finally:
        holder.close()


def test_a_host_that_is_not_this_machines_is_one_error_line():
    with pytest.raises(TrackerError, match="not an address of this machine"):
        open_server("192.0.2.1", 0, pages)  # TEST-NET-1: never assigned to this machine; nothing is sent
