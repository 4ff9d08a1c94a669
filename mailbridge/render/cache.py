"""A least-recently-used cache bounded by the characters it holds, not by its count.

The rendered-comment cache was 8,192 entries: with replies of a few kilobytes that
is some 80 MB per process (the daemon's and each worker's), filled over the first
minutes of a busy day, which a soak saw as memory growing for ten minutes. Bounded by
size, it holds many short comments or fewer long ones, and its memory is known.

Entries are found by a digest of their key, not the key itself: the keys are the
comments' texts, as long as the HTML kept for them, and a soak saw them as half the
cache's memory.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

__all__ = ["TextCache"]

_KEY = 16  # what a key costs: its digest's bytes


def _digest(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class TextCache:
    """``str -> str``, LRU, holding at most ``budget`` characters of values (and 16 per
    key, for its digest).

    Thread-safe: comments are rendered on the event loop and in threads (emails built
    with ``inbound.cpu_processes = 0``).
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._items: OrderedDict[bytes, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        key_digest = _digest(key)
        with self._lock:
            found = self._items.get(key_digest)
            if found is not None:
                self._items.move_to_end(key_digest)
            return found

    def put(self, key: str, value: str) -> None:
        size = _KEY + len(value)
        if size > self.budget:
            return
        key_digest = _digest(key)
        with self._lock:
            old = self._items.pop(key_digest, None)
            if old is not None:
                self.used -= _KEY + len(old)
            self._items[key_digest] = value
            self.used += size
            while self.used > self.budget:
                _gone, gone = self._items.popitem(last=False)
                self.used -= _KEY + len(gone)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0

    def __len__(self) -> int:
        return len(self._items)
