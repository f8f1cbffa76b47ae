"""Run blocking calls at once in daemon threads, so that Ctrl-C in the caller ends the command at
once instead of waiting for the slowest call (a thread pool's shutdown would join them); and the
periodic flush of the websocket collectors (`watch`, `capture`)."""

from __future__ import annotations

import queue
import threading
from typing import Any, Awaitable, Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def in_daemon_threads(func: Callable[[T], R], items: Iterable[T], *, name: Callable[[T], str] = str,
                      on_result: Callable[[T, R], None] | None = None) -> list[R]:
    """`func(item)` for every item, each in its own daemon thread; the results in `items` order.

    `func` must not raise (turn failures into results); if it does, the exception is raised
    here once every call has finished. `on_result(item, result)` runs in the caller's thread as
    each call finishes (progress)."""
    items = list(items)
    done: queue.Queue[tuple[int, R | None, BaseException | None]] = queue.Queue()

    def run(index: int, item: T) -> None:
        try:
            done.put((index, func(item), None))
        except BaseException as e:  # handed to the caller; never leave it waiting
            done.put((index, None, e))

    for index, item in enumerate(items):
        threading.Thread(target=run, args=(index, item), name=name(item), daemon=True).start()
    results: dict[int, R] = {}
    errors: list[BaseException] = []
    for _ in items:
        index, result, error = done.get()
        if error is not None:
            errors.append(error)
            continue
        results[index] = result
        if on_result is not None:
            on_result(items[index], result)
    if errors:
        raise errors[0]
    return [results[i] for i in range(len(items))]


async def flush_periodically(stop: Any, seconds: float, flush: Callable[[], Awaitable[None]],
                             errors: type[BaseException] | tuple[type[BaseException], ...],
                             on_failure: Callable[[BaseException, int], None], limit: int) -> BaseException | None:
    """`await flush()` every `seconds` until the asyncio event `stop` is set. A failure of `errors` is
    handed to `on_failure(error, failures in a row)` and tried again next time (the rows stay in memory);
    the `limit`-th failure in a row is returned, to end the run."""
    import asyncio

    failures = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass
        try:
            await flush()
            failures = 0
        except errors as e:
            failures += 1
            on_failure(e, failures)
            if failures >= limit:
                return e
    return None
