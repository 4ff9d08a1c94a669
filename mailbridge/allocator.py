"""Large blocks straight from the system and straight back: freed, they do not stay resident.

glibc's malloc gives an allocation of at least its mmap threshold (128 KiB at first)
pages of its own and unmaps them on free. But the threshold rises to the size of each
such block freed, up to 32 MiB: once the first thread answers of a few hundred KB were
freed, later ones were carved from the heap, and the holes they left, pinned by small
objects allocated after them, stayed resident. In a ten-minute soak the daemon's heap
held 22 MB more free memory at the end than after the first minute (``mallinfo2``),
70% of its growth (docs/performance.md, "Soak"). Setting the threshold fixes it at
128 KiB and turns the rise off: a thread answer, a gzip of one, a large message is
given back to the system when it is freed.

Only on glibc (what ``mallopt`` means elsewhere differs); an operator's own
``MALLOC_MMAP_THRESHOLD_`` wins.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

__all__ = ["M_MMAP_THRESHOLD", "THRESHOLD", "fix_mmap_threshold"]

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # <malloc.h>
THRESHOLD = 128 * 1024  # glibc's own starting value


def fix_mmap_threshold(threshold: int = THRESHOLD) -> bool:
    """Fix this process's mmap threshold at ``threshold`` bytes; True when it was set."""
    if not sys.platform.startswith("linux"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        log.info("memory: malloc's mmap threshold left to MALLOC_MMAP_THRESHOLD_")
        return False
    libc = ctypes.CDLL(None)  # the C library this process already uses
    if not hasattr(libc, "gnu_get_libc_version"):
        return False  # not glibc (musl's mallopt does nothing)
    if not libc.mallopt(M_MMAP_THRESHOLD, ctypes.c_int(threshold)):
        log.warning("memory: glibc refused an mmap threshold of %d bytes", threshold)
        return False
    log.debug("memory: blocks of %d bytes or more are mapped and unmapped on their own", threshold)
    return True
