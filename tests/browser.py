"""Headless Chromium for the tests, driven over the DevTools protocol with `websockets` (no Playwright,
no Selenium): the HTML report and the `serve` pages are checked in a real browser.

    with Browser.start() as browser:          # or the `browser` fixture (tests/conftest.py)
        page = browser.new_page()             # a fresh tab; `page` fixture: one per test, closed after
        page.goto("file:///.../report.html")  # waits for the load event
        page.evaluate("document.title")       # a JS expression's value (promises awaited)
        page.hover_element("figure.chart svg", 0.5, 0.5)
        page.screenshot("report")             # PNG in the artifact directory, returns its path
        page.assert_clean()                   # no console error/warning, exception or failed request

The browser is the system's (`/usr/bin/chromium`, Debian's `chromium` package; .ci/run installs it,
`$PERPS_TEST_CHROMIUM` names another binary); without it the `browser` tests are skipped. It can
reach loopback only: every host name resolves to nothing but 127.0.0.1/localhost, and any other
address goes to a proxy on a closed loopback port, so a page that tries the network fails to
load the resource, which `assert_clean` reports, as it reports any request to a non-loopback URL.

Screenshots go to `$PERPS_TEST_ARTIFACTS` when set, else `tests/artifacts/` (ignored by git).

Every wait has a timeout (`Browser.timeout`, 15 s): a hung browser fails its test in seconds. The
browser runs in its own process group, killed with it at the end (no stray processes).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS_ENV = "PERPS_TEST_ARTIFACTS"
CHROMIUM_ENV = "PERPS_TEST_CHROMIUM"
DEFAULT_BINARY = "/usr/bin/chromium"
LOOPBACK_HOSTS = {"127.0.0.1", "::1", "[::1]", "localhost"}
LOCAL_SCHEMES = {"file", "data", "about", "blob", "chrome-error", "devtools"}


class BrowserError(AssertionError):
    """The browser failed, timed out, or a page did something a test forbids."""


def chromium_binary() -> str | None:
    """The browser to use: $PERPS_TEST_CHROMIUM, else /usr/bin/chromium, else None."""
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_BINARY
    return path if os.access(path, os.X_OK) else None


def artifact_dir() -> Path:
    path = Path(os.environ.get(ARTIFACTS_ENV) or ROOT / "tests" / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def is_local(url: str) -> bool:
    """file:, data: and the like, or http(s)/ws(s) to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return (parts.hostname or "") in LOOPBACK_HOSTS


def flags(user_data_dir: str) -> list[str]:
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--disable-default-apps", "--disable-breakpad",
        "--disable-domain-reliability", "--disable-client-side-phishing-detection",
        "--metrics-recording-only", "--no-pings", "--mute-audio", "--hide-scrollbars",
        "--disable-dev-shm-usage", "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        # loopback only: names resolve to nothing but loopback, any other address goes to a dead proxy
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost, EXCLUDE ::1",
        "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1;localhost;[::1]",
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        f"--user-data-dir={user_data_dir}", "--window-size=1280,900", "about:blank",
    ]


class Connection:
    """One websocket to the browser; a reader thread routes answers to their calls and events to
    their session's listener."""

    def __init__(self, url: str, timeout: float):
        from websockets.sync.client import connect

        parts = urlsplit(url)
        # our own socket: no proxy from the environment, no name lookup, loopback only
        sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        # entered as a context manager (websockets ≥ 17.1 deprecates the bare call; 14 accepts both)
        self.ws = connect(url, sock=sock, max_size=None, open_timeout=timeout, close_timeout=2).__enter__()
        # the reader thread waits as long as the browser is quiet (websockets 14 keeps the socket's own
        # timeout after the handshake: a test that leaves the browser idle 15 s would close it)
        sock.settimeout(None)
        self.timeout = timeout
        self._next = 0
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[threading.Event, list]] = {}
        self.listeners: dict[str | None, callable] = {}
        self.closed = threading.Event()
        self._reader = threading.Thread(target=self._read, name="cdp-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for raw in self.ws:
                msg = json.loads(raw)
                if "id" in msg:
                    with self._lock:
                        waiter = self._pending.pop(msg["id"], None)
                    if waiter:
                        waiter[1].append(msg)
                        waiter[0].set()
                elif "method" in msg:
                    listener = self.listeners.get(msg.get("sessionId"))
                    if listener:
                        listener(msg["method"], msg.get("params", {}))
        except Exception:  # the socket closed (the browser quit): every waiter fails fast below
            pass
        finally:
            self.closed.set()
            with self._lock:
                for event, _ in self._pending.values():
                    event.set()

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float | None = None) -> dict:
        with self._lock:
            self._next += 1
            msg_id = self._next
            waiter = (threading.Event(), [])
            self._pending[msg_id] = waiter
        msg = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        if self.closed.is_set():
            raise BrowserError(f"{method}: the browser connection is closed")
        self.ws.send(json.dumps(msg))
        if not waiter[0].wait(timeout or self.timeout):
            with self._lock:
                self._pending.pop(msg_id, None)
            raise BrowserError(f"{method}: no answer from the browser in {timeout or self.timeout:.0f} s")
        if not waiter[1]:
            raise BrowserError(f"{method}: the browser closed the connection")
        answer = waiter[1][0]
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error'].get('message')} {answer['error'].get('data', '')}")
        return answer.get("result", {})

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        self._reader.join(timeout=3)


class Page:
    """One tab: navigation, JS, input, screenshots, and what went wrong on it (`problems`)."""

    def __init__(self, browser: "Browser", target_id: str, session: str):
        self.browser, self.target_id, self.session = browser, target_id, session
        self.conn = browser.conn
        self.problems: list[str] = []  # console errors and warnings, exceptions, failed or remote requests
        self.console: list[tuple[str, str]] = []  # (level, text) of every console message
        self.requests: list[str] = []
        self._loaded = threading.Event()
        self.conn.listeners[session] = self._event
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(f"{domain}.enable")

    def call(self, method: str, params: dict | None = None, timeout: float | None = None) -> dict:
        return self.conn.call(method, params, self.session, timeout)

    def _event(self, method: str, p: dict) -> None:
        if method == "Page.loadEventFired":
            self._loaded.set()
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            self.console.append((p.get("type", ""), text))
            if p.get("type") in ("error", "warning", "assert"):
                self.problems.append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.problems.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            self.console.append((e.get("level", ""), e.get("text", "")))
            if e.get("level") in ("error", "warning"):
                self.problems.append(f"log {e.get('level')} ({e.get('source')}): {e.get('text')} {e.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            self.requests.append(url)
            if not is_local(url):
                self.problems.append(f"request to a non-loopback address: {url}")
        elif method == "Network.loadingFailed":
            if not p.get("canceled"):
                self.problems.append(f"request failed: {p.get('errorText')} ({p.get('type')})")

    def goto(self, url: str, timeout: float | None = None) -> None:
        """Open `url` (file:// or http://127.0.0.1:...) and wait for its load event."""
        if not is_local(url):
            raise BrowserError(f"tests open loopback pages only, not {url}")
        self._loaded.clear()
        answer = self.call("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise BrowserError(f"{url}: {answer['errorText']}")
        if not self._loaded.wait(timeout or self.browser.timeout):
            raise BrowserError(f"{url}: not loaded in {timeout or self.browser.timeout:.0f} s")

    def evaluate(self, expression: str, timeout: float | None = None):
        """The value of a JS expression (JSON-serialisable; a promise is awaited); a JS exception raises."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True, "userGesture": True}, timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError(f"JS: {d.get('exception', {}).get('description') or d.get('text')}")
        return r.get("result", {}).get("value")

    def set_viewport(self, width: int, height: int, *, mobile: bool = False, scale: float = 1) -> None:
        """Emulate a screen (e.g. 375 × 800, mobile=True, for a phone)."""
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": scale, "mobile": mobile})

    def mouse_move(self, x: float, y: float) -> None:
        """Move the pointer to viewport CSS pixel (x, y): the page sees mousemove and pointermove."""
        self.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "button": "none",
                                               "pointerType": "mouse"})

    def rect(self, selector: str, index: int = 0) -> dict:
        """The viewport rectangle of the `index`th element matching `selector`, scrolled into view."""
        r = self.evaluate(f"""(() => {{
            const e = document.querySelectorAll({json.dumps(selector)})[{index}];
            if (!e) return null;
            e.scrollIntoView({{block: "center", inline: "center"}});
            const b = e.getBoundingClientRect();
            return {{x: b.x, y: b.y, width: b.width, height: b.height}};
        }})()""")
        if r is None:
            raise BrowserError(f"no element {selector!r} #{index}")
        return r

    def hover_element(self, selector: str, fx: float = 0.5, fy: float = 0.5, index: int = 0) -> tuple[float, float]:
        """Move the pointer to the fraction (fx, fy) of an element's box; returns the point."""
        r = self.rect(selector, index)
        x, y = r["x"] + r["width"] * fx, r["y"] + r["height"] * fy
        self.mouse_move(x, y)
        return x, y

    def screenshot(self, name: str, *, full_page: bool = True) -> Path:
        """A PNG of the page (the whole of it unless `full_page=False`) as <artifacts>/<name>.png."""
        params: dict = {"format": "png"}
        if full_page:
            m = self.call("Page.getLayoutMetrics")
            size = m.get("cssContentSize") or m["contentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = base64.b64decode(self.call("Page.captureScreenshot", params, timeout=30)["data"])
        path = artifact_dir() / f"{name}.png"
        path.write_bytes(data)
        return path

    def assert_clean(self) -> None:
        """No console error or warning, uncaught exception, failed or non-loopback request so far."""
        if self.problems:
            raise BrowserError("the page had problems:\n  " + "\n  ".join(self.problems))

    def close(self) -> None:
        self.conn.listeners.pop(self.session, None)
        if not self.conn.closed.is_set():
            try:
                self.conn.call("Target.closeTarget", {"targetId": self.target_id}, timeout=5)
            except BrowserError:
                pass


class Browser:
    """A headless Chromium in its own process group and empty profile, reached over DevTools."""

    def __init__(self, proc: subprocess.Popen, profile: str, conn: Connection, timeout: float):
        self.proc, self.profile, self.conn, self.timeout = proc, profile, conn, timeout
        self.version = conn.call("Browser.getVersion").get("product", "")

    @classmethod
    def start(cls, binary: str | None = None, timeout: float = 15.0) -> "Browser":
        binary = binary or chromium_binary()
        if not binary:
            raise BrowserError(f"no browser: install chromium or set ${CHROMIUM_ENV}")
        profile = tempfile.mkdtemp(prefix="perps-chromium-")
        log = open(Path(profile) / "chromium.log", "wb")
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(HOME=profile, XDG_CONFIG_HOME=profile, XDG_CACHE_HOME=profile)  # nothing outside the profile
        proc = subprocess.Popen([sys.executable, __file__, "--reap", binary, *flags(profile)], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, env=env)
        log.close()
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + timeout
            while True:
                if port_file.exists():
                    lines = port_file.read_text().split("\n")
                    if len(lines) >= 2 and lines[1].strip():
                        break
                if proc.poll() is not None:
                    raise BrowserError(f"{binary} exited with {proc.returncode}: {_tail(profile)}")
                if time.monotonic() > deadline:
                    raise BrowserError(f"{binary} did not open its DevTools port in {timeout:.0f} s: {_tail(profile)}")
                time.sleep(0.05)
            url = f"ws://127.0.0.1:{int(lines[0])}{lines[1].strip()}"
            return cls(proc, profile, Connection(url, timeout), timeout)
        except BaseException:
            _kill(proc)
            shutil.rmtree(profile, ignore_errors=True)
            raise

    def new_page(self, width: int = 1280, height: int = 900) -> Page:
        target = self.conn.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.conn.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, target, session)
        page.set_viewport(width, height)
        return page

    def close(self) -> None:
        try:
            if not self.conn.closed.is_set():
                try:
                    self.conn.call("Browser.close", timeout=3)
                except BrowserError:
                    pass
            self.conn.close()
        finally:
            _kill(self.proc)
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _kill(proc: subprocess.Popen) -> None:
    """End the browser's process group (the reaper, the browser, its renderers and zygotes) and reap
    the reaper: 5 s to finish after `Browser.close`, then SIGTERM, then SIGKILL for what is left."""
    for sig, wait in ((None, 5), (signal.SIGTERM, 3), (signal.SIGKILL, 5)):
        try:
            if sig is not None:
                os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass


def _tail(profile: str) -> str:
    try:
        return (Path(profile) / "chromium.log").read_text(errors="replace")[-800:]
    except OSError:
        return ""


def _reap(argv: list[str]) -> int:
    """`python tests/browser.py --reap BINARY ARGS...`: run the browser as a child of a subreaper.

    Chromium's zygotes outlive the browser process by design and are re-parented; where PID 1 does
    not reap (a container), they would stay zombies. This process adopts them
    (PR_SET_CHILD_SUBREAPER), reaps every descendant and exits with the browser's code when the
    last one is gone. It ignores SIGTERM (sent to the whole group, it reaches the browser anyway)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER (Linux)
    except (OSError, AttributeError):
        pass  # elsewhere: the browser's orphans go to init
    pid = os.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    code = 0
    while True:
        try:
            child, status = os.wait()
        except ChildProcessError:
            return code
        if child == pid:
            code = os.waitstatus_to_exitcode(status)


if __name__ == "__main__" and sys.argv[1:2] == ["--reap"]:
    sys.exit(_reap(sys.argv[2:]))
