"""For ``bench/soak_bench.py --heap``: inside ``mailbridge serve`` only (this directory is
put on its PYTHONPATH), every 10 s one JSON line to ``$SOAK_BENCH_HEAP``: the
process's PSS, glibc's ``mallinfo2`` (heap in use, free memory the heap holds, blocks
mapped on their own), SQLite's own memory and Python's allocated blocks, in KB. It is
what split the soak's growth into data and the heap's free holes (docs/performance.md,
"Soak"). Not part of mailbridge: a benchmark's instrument, glibc 2.33 or later."""

import ctypes
import json
import os
import sys
import threading
import time


def _probe(out_path: str) -> None:
    names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in names.split()]

    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = Info
    began = time.monotonic()

    def sqlite_kb() -> int:
        import _sqlite3

        used = ctypes.CDLL(_sqlite3.__file__).sqlite3_memory_used
        used.restype = ctypes.c_int64
        return int(used()) // 1024

    def pss_kb() -> int:
        with open("/proc/self/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))

    def loop() -> None:
        with open(out_path, "a", buffering=1) as out:
            while True:
                time.sleep(10)
                info = libc.mallinfo2()
                out.write(json.dumps({
                    "t": round(time.monotonic() - began), "pss": pss_kb(),
                    "heap_used": info.uordblks // 1024, "heap_free": info.fordblks // 1024,
                    "mapped": info.hblkhd // 1024, "sqlite": sqlite_kb(),
                    "python_blocks": sys.getallocatedblocks(),
                }) + "\n")  # fmt: skip

    threading.Thread(target=loop, daemon=True).start()


def _is_serve() -> bool:
    try:
        with open("/proc/self/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return len(args) > 2 and args[1].endswith(b"mailbridge") and b"serve" in args[2:]


if os.environ.get("SOAK_BENCH_HEAP") and _is_serve():
    _probe(os.environ["SOAK_BENCH_HEAP"])
