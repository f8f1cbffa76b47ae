"""One HTTP layer for every venue: a shared `requests.Session`, timeouts on every call,
bounded retries with backoff, and error translation into the `ExchangeError` tree.

- Retried (up to `retries` times, `backoff` doubling, `Retry-After` honoured): HTTP 429,
  5xx, timeouts and dropped or refused connections. A host name that cannot be resolved is
  not retried (no network, or a wrong host: the answer will not change in seconds).
- Not retried: 418 (IP ban), 451 (restricted location), 403 and every other 4xx, except an HTTP 400
  whose body the venue's `check` reads as rate limiting (Deribit's JSON-RPC code 10028).
- A venue's error body (Binance `{"code":-1121,"msg":...}`, Gate `{"label","message"}`)
  becomes the error's message; malformed JSON or an HTML page is "invalid response".
- A `Deadline` bounds the whole of one venue's work: no request or retry sleep runs past it.

Each request, retry and give-up is logged on the `perps_tracker.exchanges.http` logger (`-v` shows them):
method, URL (a password in it hidden), status and milliseconds; `-vv` adds timeouts, bodies and sizes.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from perps_tracker import __version__
from perps_tracker.errors import ExchangeError, RateLimited, TemporaryExchangeError
from perps_tracker.exchanges.parsing import venue_message

USER_AGENT = f"perps-tracker/{__version__}"
MAX_RETRY_AFTER = 30.0  # seconds; a venue asking for longer is reported, not waited for
POOL_SIZE = 128

log = logging.getLogger(__name__)


def hide_password(url: str) -> str:
    """`url` fit for a log: the password of `user:password@host` replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _loggable(url: str, params: Mapping[str, Any] | None = None) -> str:
    query = urlencode(params, doseq=True) if params else ""
    return hide_password(url + ("&" if "?" in url else "?") + query if query else url)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    retries: int = 3
    backoff: float = 0.5

    @classmethod
    def from_settings(cls, settings) -> "HttpSettings":
        return cls(
            connect_timeout=settings["http.connect_timeout"],
            read_timeout=settings["http.read_timeout"],
            retries=settings["http.retries"],
            backoff=settings["http.backoff"],
        )


class Deadline:
    """A point in (monotonic) time after which a venue's work is abandoned."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.seconds = seconds
        self._at = None if seconds is None else clock() + seconds

    def remaining(self) -> float | None:
        return None if self._at is None else self._at - self._clock()

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0


def make_session() -> requests.Session:
    """The shared session: our User-Agent, a connection pool big enough for per-symbol fan-out."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.trust_env = False  # the environment is read once per host instead (HttpClient._environment_of)
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _connection_reason(error: Exception, url: str) -> str:
    text = str(error).lower()
    if "refused" in text:
        return "connection refused"
    if any(hint in text for hint in ("resolve", "name or service not known", "nodename nor servname")):
        return f"cannot resolve host {urlsplit(url).hostname}"
    return "connection failed"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _decode(venue: str, response: requests.Response, where: str) -> Any:
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        body = response.text.lstrip()[:1].lower()
        what = "an HTML page" if body == "<" else ("an empty body" if not response.content else "malformed JSON")
        raise ExchangeError(venue, f"invalid response from {where}: {what}") from None


class HttpClient:
    """Makes JSON requests for the venues through one session, with retries and translation."""

    def __init__(self, settings: HttpSettings | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings or HttpSettings()
        self.session = session or make_session()
        self._sleep = sleep
        self._hosts_seen: set[str] = set()  # hosts whose proxy was logged
        self._environments: dict[tuple[str, str], dict[str, Any]] = {}  # (scheme, host) → proxies, verify, cert

    def close(self) -> None:
        self.session.close()

    def request_json(
        self,
        venue: str,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        deadline: Deadline | None = None,
        missing_ok: bool = False,
        on_response: Callable[[requests.Response], None] | None = None,
        check: Callable[[Any], None] | None = None,
    ) -> Any:
        """The decoded JSON of `method url`, retrying what is worth retrying.

        `missing_ok`: a 404 returns None (an endpoint this venue does not have).
        `on_response`: sees every response (e.g. to read rate-limit headers).
        `check`: inspects a decoded 200 body and raises for an error inside it (Bybit `retCode`).
        Raises ExchangeError (or a subclass) with a one-line reason.
        """
        where = urlsplit(url).path or "/"
        attempt = 0
        while True:
            try:
                payload = self._once(venue, method, url, where, params, body, deadline, missing_ok, on_response, check)
                if check is not None and payload is not None:
                    check(payload)
                return payload
            except TemporaryExchangeError as e:
                wait = self._backoff(attempt, e)
                left = deadline.remaining() if deadline else None
                why_not = ("retries spent" if attempt >= self.settings.retries
                           else f"asked to wait over {MAX_RETRY_AFTER:g} s" if wait is None
                           else "the venue time limit comes first" if left is not None and wait >= left else None)
                if why_not:
                    log.info("%s: not retried (%s): %s", venue, why_not, e.reason)
                    raise
                log.info("%s: retry %d of %d in %.1f s: %s", venue, attempt + 1, self.settings.retries, wait, e.reason)
                self._sleep(wait)
                attempt += 1

    def _backoff(self, attempt: int, error: TemporaryExchangeError) -> float | None:
        wait = self.settings.backoff * (2 ** attempt)
        after = getattr(error, "retry_after", None)
        if after is not None:
            if after > MAX_RETRY_AFTER:
                return None
            wait = max(wait, after)
        return wait

    def _timeout(self, deadline: Deadline | None, venue: str, where: str) -> tuple[float, float]:
        connect, read = self.settings.connect_timeout, self.settings.read_timeout
        left = deadline.remaining() if deadline else None
        if left is not None:
            if left <= 0:
                raise ExchangeError(venue, f"gave up after {deadline.seconds:g} s (venue time limit) at {where}")
            connect, read = min(connect, left), min(read, left)
        return connect, read

    def _send(self, venue: str, method: str, url: str, params, body, timeout) -> requests.Response:
        """One request, logged: `GET url -> 200, 35 ms`, or what stopped it."""
        if log.isEnabledFor(logging.INFO):
            self._log_proxy(venue, url)
            log.debug("%s: %s %s (timeouts %.1f s connect, %.1f s read)%s", venue, method, _loggable(url, params),
                      *timeout, "" if body is None else f" body {_short(json.dumps(body), 200)}")
        started = time.monotonic()
        try:
            response = self.session.request(method, url, params=params, json=body, timeout=timeout,
                                            **self._environment_of(url))
        except requests.RequestException as e:
            reason = "timed out" if isinstance(e, requests.Timeout) else (
                _connection_reason(e, url) if isinstance(e, requests.ConnectionError) else type(e).__name__)
            log.info("%s: %s %s -> %s, %d ms", venue, method, _loggable(url, params), reason, _ms(started))
            raise
        log.info("%s: %s %s -> %d, %d ms", venue, method, _loggable(response.url), response.status_code, _ms(started))
        log.debug("%s: %d bytes, %s", venue, len(response.content), response.headers.get("Content-Type", "no type"))
        return response

    def _log_proxy(self, venue: str, url: str) -> None:
        """Once per host: the proxy its requests go through (HTTPS_PROXY and the like), if any."""
        host = urlsplit(url).netloc
        if host in self._hosts_seen:
            return
        self._hosts_seen.add(host)
        proxies = self._environment_of(url).get("proxies")
        if proxies is None:  # a session that reads the environment itself
            proxies = self.session.merge_environment_settings(url, {}, None, None, None)["proxies"]
        proxy = requests.utils.select_proxy(url, proxies)
        if proxy:
            log.info("%s: requests to %s go through the proxy %s", venue, host, hide_password(proxy))

    def _environment_of(self, url: str) -> dict[str, Any]:
        """The proxies and CA bundle the environment sets for `url`'s host (HTTPS_PROXY, NO_PROXY,
        REQUESTS_CA_BUNDLE, ...), read once per host: requests would read all of os.environ again on
        every request, a third of a request's CPU in Binance's per-symbol fan-out. Empty for a session
        that reads the environment itself (trust_env)."""
        if self.session.trust_env:
            return {}
        key = tuple(urlsplit(url)[:2])
        found = self._environments.get(key)
        if found is None:
            with requests.Session() as reader:  # trust_env: what requests itself would read
                env = reader.merge_environment_settings(url, {}, None, None, None)
            found = self._environments[key] = {k: env[k] for k in ("proxies", "verify", "cert")}
        return found

    def _once(self, venue, method, url, where, params, body, deadline, missing_ok, on_response, check=None) -> Any:
        timeout = self._timeout(deadline, venue, where)
        try:
            response = self._send(venue, method, url, params, body, timeout)
        except requests.Timeout:
            raise TemporaryExchangeError(venue, f"timed out at {where}") from None
        except requests.ConnectionError as e:
            reason = _connection_reason(e, url)
            if reason.startswith("cannot resolve"):  # no network or a wrong host: retrying will not help
                raise ExchangeError(venue, f"{reason} at {where}") from None
            raise TemporaryExchangeError(venue, f"{reason} at {where}") from None
        except requests.RequestException as e:
            raise ExchangeError(venue, f"request to {where} failed: {_short(str(e))}") from None
        if on_response is not None:
            on_response(response)
        status = response.status_code
        if status == 200:
            return _decode(venue, response, where)
        if status == 404 and missing_ok:
            return None
        detail = self._detail(response)
        if status == 429:
            error = RateLimited(venue, f"rate limited (HTTP 429) at {where}{detail}")
            error.retry_after = _retry_after(response)
            raise error
        if status >= 500:
            error = TemporaryExchangeError(venue, f"HTTP {status} at {where}{detail}")
            error.retry_after = _retry_after(response)
            raise error
        if status == 418:
            raise ExchangeError(venue, f"IP banned (HTTP 418) at {where}{detail}")
        if status == 451:
            raise ExchangeError(venue, f"unavailable from this location (HTTP 451) at {where}{detail}")
        if status == 400 and check is not None:
            self._rate_limited_body(venue, response, where, check)
        raise ExchangeError(venue, f"HTTP {status} at {where}{detail}")

    @staticmethod
    def _rate_limited_body(venue: str, response: requests.Response, where: str, check: Callable[[Any], None]) -> None:
        """Raise RateLimited (retried) when the venue's `check` finds a rate-limit code in an HTTP 400 body
        (Deribit's JSON-RPC `too_many_requests`, code 10028); any other error keeps the plain HTTP 400 line."""
        try:
            payload = response.json()
        except ValueError:
            return
        try:
            check(payload)
        except RateLimited as e:
            error = RateLimited(venue, f"{e.reason} (HTTP 400) at {where}")
            error.retry_after = _retry_after(response)
            raise error from None
        except ExchangeError:
            pass

    @staticmethod
    def _detail(response: requests.Response) -> str:
        try:
            message = venue_message(response.json())
        except ValueError:
            message = None
        return f": {_short(message)}" if message else ""
