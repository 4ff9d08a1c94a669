"""Read an import file in a thread of its own while the database writes what was read.

Parsing is Python and C (expat, ElementTree) on one thread; SQLite writes on the
store's connection thread, mostly outside the GIL. Run one after the other, the
event loop waited for each in turn and one core was idle; side by side, an import
takes about the longer of the two (bench/import_bench.py, docs/performance.md).
At most ``AHEAD`` items wait between them, so memory stays as flat as before.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncGenerator, Iterable
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")
AHEAD = 2
_POLL = 0.1  # seconds the reader waits on a full queue before checking for a stop


class _End:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


async def read_ahead(items: Iterable[T]) -> AsyncGenerator[T, None]:
    """``items``, produced by a background thread, in order. An exception raised while
    producing is raised here, at the item where it happened."""
    handoff: queue.Queue[T | _End] = queue.Queue(AHEAD)
    stop = threading.Event()

    def put(item: T | _End) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return  # the consumer stopped (an error while writing)
        except BaseException as exc:  # handed over, raised in the consumer
            put(_End(exc))
        else:
            put(_End())

    def take() -> T | _End | None:
        try:  # a bounded wait: a cancelled consumer must not leave a thread blocked
            return handoff.get(timeout=_POLL)
        except queue.Empty:
            return None

    reader = asyncio.get_running_loop().run_in_executor(None, produce)
    try:
        while True:
            item = await asyncio.to_thread(take)
            if item is None:
                continue
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        await reader
