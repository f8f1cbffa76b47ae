"""Plumbing shared by the venues' downloads: request pacing across threads (`Pacer`), a per-minute
request-weight budget read from response headers (`MinuteWeight`) and the per-symbol requests
spread as fast as it allows (`PerSymbol`), progress counting and a thread-safe count of skipped
records.

Each venue keeps its own numbers (and the reasons for them) next to its endpoints; this module only
spends them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from perps_tracker.errors import ExchangeError
from perps_tracker.exchanges.parsing import Skips, integer, num
from perps_tracker.model.history import Progress

log = logging.getLogger(__name__)

PAUSE_SHARE = 5 / 6  # MinuteWeight: new requests wait past this share of the budget, room for those in flight
PAUSE_MARGIN = 1.0  # seconds past the minute boundary, for clock skew against the venue


class Pacer:
    """A token bucket shared by every thread of a download: `rate_per_second` units are earned a
    second and at most `burst` are saved up, so any span of s seconds sends at most
    burst + rate_per_second × s units. A unit is whatever the venue limits: requests, or request weight.

    `take(weight)` books a request before it is sent and sleeps until its weight is earned (returning
    the seconds slept); `charge(weight)` books weight known only from the response, which the next
    `take` waits for. With the default burst of 1, requests of weight 1 start exactly
    1 / rate_per_second apart. A rate of None or ≤ 0 does not pace. `clock` (monotonic seconds) and
    `sleep` are injectable.
    """

    def __init__(self, rate_per_second: float | None, burst: float = 1.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.rate = float(rate_per_second) if rate_per_second and rate_per_second > 0 else 0.0
        self.burst, self.clock, self.sleep = float(burst), clock, sleep
        self._lock = threading.Lock()
        self._level, self._at = self.burst, clock()

    def _book(self, weight: float) -> float:
        """Spend `weight` units; the seconds until the bucket is out of debt again."""
        if not self.rate:
            return 0.0
        with self._lock:
            now = self.clock()
            self._level = min(self.burst, self._level + (now - self._at) * self.rate) - weight
            self._at = now
            return -self._level / self.rate if self._level < 0 else 0.0

    def take(self, weight: float = 1.0) -> float:
        """Book a request of `weight` and sleep until it fits; returns the seconds slept."""
        wait = self._book(weight)
        if wait > 0:  # -v shows the waits one notices, -vv every one; the thread is named after the venue
            log.log(logging.INFO if wait >= 1 else logging.DEBUG, "%s: paced, waiting %.2f s (%g a second)",
                    threading.current_thread().name.split("-")[0], wait, self.rate)
            self.sleep(wait)
        return wait

    def charge(self, weight: float) -> None:
        """Book `weight` already spent (known from a response), without sleeping."""
        if weight > 0:
            self._book(weight)


class Tally:
    """A download's requests for `progress(done, total)`; thread-safe.

    `plan(n)` adds n requests to the total: the plan grows with pages beyond it, and a negative n
    drops planned requests that will not be sent (never below those done). `finished()` counts one
    request (sent, whatever its outcome) and reports. `settle()`, at the end, drops from the total
    what was planned but never sent, and reports if that changed it.
    """

    def __init__(self, progress: Progress | None = None):
        self.progress = progress
        self.done = self.total = 0
        self._lock = threading.Lock()

    def plan(self, n: int = 1) -> None:
        with self._lock:
            self.total = max(self.total + n, self.done)

    def finished(self) -> None:
        with self._lock:
            self.done += 1
            self.total = max(self.total, self.done)
            self._report()

    def settle(self) -> None:
        with self._lock:
            if self.total != self.done:
                self.total = self.done
                self._report()

    def _report(self) -> None:  # under the lock: reports arrive in order
        if self.progress is not None:
            self.progress(self.done, self.total)


class SafeSkips(Skips):
    """Skips that threads may share."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def __call__(self, n: int = 1) -> None:
        with self._lock:
            self.count += n


class MinuteWeight:
    """Holds back new requests while a venue's per-minute request weight is nearly spent, and says
    how much is left (`room`, to size a fan-out by).

    Binance and its copies count weight per IP per clock minute and report the minute's total in a
    response header (`header`). Past `limit`, `wait()` sleeps until the next minute begins; a 429 or
    418 holds requests for its `Retry-After`. A subclass sets `header`, `default_limit` and `venue`
    (for the log). `clock` (Unix seconds) and `sleep` are injectable; snapshot fetches and history
    downloads share one.
    """

    header: str = ""
    default_limit: int = 0
    venue: str = ""

    def __init__(self, limit: int | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep):
        self.limit = self.default_limit if limit is None else limit
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()  # guards the readings
        self._gate = threading.Lock()  # one waiting thread sleeps, the others queue behind it
        self._sent = threading.local()
        self._minute: int | None = None
        self._used = 0
        self._hold_until = 0.0

    def sending(self) -> None:
        """Note that this thread sends a request now: its reading counts in this minute."""
        self._sent.at = self.clock()

    def observe(self, response) -> None:
        """Take the used weight (and a 429/418's Retry-After) from a response."""
        now = self.clock()
        sent = getattr(self._sent, "at", None)
        used = integer(response.headers.get(self.header))
        with self._lock:
            if used is not None:
                minute = int((now if sent is None else sent) // 60)
                if self._minute is None or minute > self._minute:
                    self._minute, self._used = minute, used
                elif minute == self._minute:  # an older minute's reading is stale
                    self._used = max(self._used, used)
            if response.status_code in (418, 429):
                after = num(response.headers.get("Retry-After"))
                until = now + after if after is not None else _next_minute(now)
                self._hold_until = max(self._hold_until, until)

    def documented(self, per_minute: float) -> None:
        """The venue's own budget (`exchangeInfo`'s `rateLimits`): hold new requests past 5/6 of it."""
        self.limit = max(1, round(per_minute * PAUSE_SHARE))

    def room(self) -> int:
        """Weight left this minute before new requests are held (all of it before any reading this minute)."""
        now = self.clock()
        with self._lock:
            used = self._used if self._minute == int(now // 60) else 0
        return max(0, self.limit - used)

    def pause(self) -> float:
        """Seconds to wait before the next request fits the budget (0: go)."""
        now = self.clock()
        with self._lock:
            wait = self._hold_until - now
            if self._minute == int(now // 60) and self._used > self.limit:
                wait = max(wait, _next_minute(now) - now)
        return max(wait, 0.0)

    def wait(self, longest: float) -> bool:
        """Sleep until a request fits; False, without sleeping, if that takes over `longest` seconds."""
        with self._gate:
            while (pause := self.pause()) > 0:
                if pause > longest:
                    return False
                why = ("a 429/418 asked to hold" if self._hold_until > self.clock()
                       else f"weight used this minute {self._used} > {self.limit}")
                log.info("%s: waiting %.1f s before the next request: %s", self.venue, pause, why)
                self.sleep(pause)
                longest -= pause
            return True


def _next_minute(now: float) -> float:
    return (now // 60 + 1) * 60 + PAUSE_MARGIN


@dataclass(frozen=True)
class PerSymbol:
    """One GET of `path` per symbol (Binance's open interest: weight 1 each), as many at once as a
    `MinuteWeight` minute has room for beside `reserve` (the weight of the requests sent beside them).

    A minute nearly spent gives one at a time, each held until the next minute; a hold longer than
    `longest` seconds (an IP ban's Retry-After) or than the venue's deadline fails the symbol unasked.
    A 404 says the venue has no such endpoint: the symbols not yet asked are not asked.
    """

    what: str  # "open interest": its notes and errors
    path: str
    name: str  # the endpoint in a parse error: "openInterest"
    parser: Callable[[Any], Any]  # payload → value (None: none given)
    longest: float  # seconds
    reserve: int = 0
    key: str = "symbol"  # the query parameter naming the symbol

    def fetch(self, exchange, budget: MinuteWeight, symbols: Sequence[str], limit: int) -> dict[str, Any] | None:
        """{symbol: value} of the symbols answered with one, at most `limit` requests in flight; None when the
        endpoint answered 404. Either, and failed symbols (with the first one's reason), are noted."""
        missing = threading.Event()

        def one(symbol: str) -> Any:
            if missing.is_set():
                return None
            left = exchange.deadline.remaining() if exchange.deadline else None
            if not budget.wait(self.longest if left is None else min(self.longest, left)):
                raise exchange.error(f"request weight budget spent: {self.what} not requested")
            payload = exchange.get(self.path, {self.key: symbol}, missing_ok=True)
            if payload is None:
                missing.set()  # later symbols are not requested
                return None
            return exchange.parse(self.name, self.parser, payload)

        in_flight = max(1, min(len(symbols), limit, budget.room() - self.reserve))
        log.debug("%s: %s of %d symbols, %d at a time (weight left this minute: %d)",
                  exchange.id, self.what, len(symbols), in_flight, budget.room())
        results = exchange.fan_out(one, symbols, limit=in_flight)
        if missing.is_set():
            exchange.notes.append(f"{self.what} unavailable: {self.path} answered 404")
            return None
        failed = [r for r in results if isinstance(r, ExchangeError)]
        if failed:
            exchange.notes.append(f"{self.what} missing for {len(failed)} of {len(symbols)} symbols: {failed[0].reason}")
        return {s: r for s, r in zip(symbols, results) if r is not None and not isinstance(r, ExchangeError)}


class PathPacing:
    """The `pace` hook of a history download for venues that limit each endpoint on its own: a path's
    requests `1 / rates[path]` s apart (burst 1; a path without a rate is not paced), and apart per value
    of a query parameter where the venue counts per IP and that parameter (`per_param`: path → name).
    """

    def __init__(self, rates: dict[str, float], per_param: dict[str, str] | None = None):
        self.rates = rates
        self.per_param = per_param or {}
        self._pacers: dict[tuple[str, str | None], Pacer] = {}
        self._lock = threading.Lock()

    def pacer(self, path: str, value: str | None) -> Pacer:
        """The pacer of `path` for the parameter `value` (ignored on a path paced as a whole)."""
        key = (path, value if path in self.per_param else None)
        with self._lock:
            if key not in self._pacers:
                self._pacers[key] = Pacer(self.rates.get(path, 0.0), burst=1)
            return self._pacers[key]

    def __call__(self, path: str, params: dict) -> None:
        name = self.per_param.get(path)
        self.pacer(path, params.get(name) if name else None).take()
