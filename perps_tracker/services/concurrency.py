"""Run blocking calls at once in daemon threads, so that Ctrl-C in the caller ends the command at
once instead of waiting for the slowest call (a thread pool's shutdown would join them)."""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterable, TypeVar

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
