"""A least-recently-used cache bounded by the characters it holds, not by its count.

The rendered-comment cache was 8,192 entries: with replies of a few kilobytes that
is some 80 MB per process (the daemon's and each worker's), filled over the first
minutes of a busy day, which a soak saw as memory growing for ten minutes. Bounded by
size, it holds many short comments or fewer long ones, and its memory is known.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

__all__ = ["TextCache"]


class TextCache:
    """``str -> str``, LRU, holding at most ``budget`` characters of keys and values.

    Thread-safe: comments are rendered on the event loop and in threads (emails built
    with ``inbound.cpu_processes = 0``).
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: str, value: str) -> None:
        size = len(key) + len(value)
        if size > self.budget:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= len(key) + len(old)
            self._items[key] = value
            self.used += size
            while self.used > self.budget:
                gone_key, gone = self._items.popitem(last=False)
                self.used -= len(gone_key) + len(gone)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0

    def __len__(self) -> int:
        return len(self._items)
