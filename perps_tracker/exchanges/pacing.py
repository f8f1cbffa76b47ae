"""Plumbing shared by the venues' history downloads (`backfill`): request pacing across threads,
progress counting and a thread-safe count of skipped records.

Each venue keeps its own numbers (and the reasons for them) next to its endpoints; this module only
spends them.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from perps_tracker.exchanges.parsing import Skips
from perps_tracker.model.history import Progress

log = logging.getLogger(__name__)


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
