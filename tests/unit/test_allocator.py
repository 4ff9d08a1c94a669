"""Freed large blocks go back to the system (mailbridge.allocator): the soak's heap of
free holes. Each case runs in a fresh interpreter, whose malloc has seen nothing yet."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="needs glibc 2.33 or later"
)

# A 1 MiB block is mapped on its own (above the starting threshold, 128 KiB); when it
# is freed, glibc raises the threshold to 1 MiB and the next such block comes from the
# heap, unless the threshold was fixed. Prints how much more is mapped on its own
# while the second block lives.
SCRIPT = """
import ctypes, sys
from mailbridge.allocator import fix_mmap_threshold
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks",
        "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
print(fix_mmap_threshold() if sys.argv[1] == "fix" else "-")
block = bytearray(1 << 20)
del block
before = libc.mallinfo2().hblkhd
block = bytearray(1 << 20)
print(libc.mallinfo2().hblkhd - before)
"""


def run(how: str, **env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, how],
        capture_output=True,
        text=True,
        check=True,
        env={**clean, **env},
        timeout=60,
    )
    applied, mapped = done.stdout.split()
    return applied, int(mapped)


def test_a_large_block_freed_and_taken_again_is_mapped_on_its_own() -> None:
    assert run("fix") == ("True", pytest.approx(1 << 20, abs=8192))


def test_without_it_glibc_carves_the_second_block_from_the_heap() -> None:
    # What the fix is for: glibc's rising threshold (if a glibc stops raising it,
    # this fails and the fix may be dropped).
    assert run("leave") == ("-", 0)


def test_an_operators_own_threshold_wins() -> None:
    applied, mapped = run("fix", MALLOC_MMAP_THRESHOLD_=str(4 << 20))
    assert applied == "False" and mapped == 0  # theirs: 4 MiB, so the heap
