"""Read an export in a process of its own while this one writes (issue 14's import row).

Parsing a WordPress export (expat and ElementTree: C, but under the GIL) and storing
its comments (SQLite) took turns: the writer waited for the parser, then the parser
for the writer, each about half of an import. A parser *thread* does not help: SQLite
needs the GIL to bind every row, and a thread parsing holds it (measured: slower).

So a child process (:func:`child_main`, run with this interpreter) reads the file
and writes each group of threads to its standard output as a length-prefixed pickle;
this process reads a group only when it is ready to store it. The pipe is the only
buffer: the child parses the next group while this one stores the last, then waits,
so memory stays flat for a file of any size. The child checks the whole file first
(``read_wxr`` refuses a broken or unsafe file before it yields anything), so a bad
file is still refused before anything is stored. The frames come from a program of
mailbridge's own, started here, so unpickling them trusts nothing else.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import struct
import sys
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from mailbridge.errors import ImportFormatError
from mailbridge.importer.records import ImportedThread

__all__ = ["child_main", "groups_read_apart", "next_group"]

_LENGTH = struct.Struct(">Q")
_CHILD = "from mailbridge.importer.reader_process import child_main; child_main()"


def next_group(threads: Iterator[ImportedThread], group_comments: int) -> list[ImportedThread]:
    """Whole threads from ``threads``, until ``group_comments`` comments or the end."""
    group: list[ImportedThread] = []
    count = 0
    for thread in threads:
        group.append(thread)
        count += len(thread.comments)
        if count >= group_comments:
            break
    return group


def _send(out: BinaryIO, kind: str, value: Any) -> None:
    frame = pickle.dumps((kind, value), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LENGTH.pack(len(frame)))
    out.write(frame)
    out.flush()


def _child(fmt: str, path: Path, group_comments: int, out: BinaryIO) -> None:
    """In the child: every group of ``path``'s threads, then "end", or the error."""
    try:
        if fmt == "wxr":
            from mailbridge.importer.wxr import read_wxr as read
        else:
            from mailbridge.importer.native_json import read_json as read
        threads = iter(read(path))
        while group := next_group(threads, group_comments):
            _send(out, "group", group)
        _send(out, "end", None)
    except BrokenPipeError:
        pass  # the parent stopped reading: it has failed or given up
    except Exception as exc:  # raised again in the parent: nothing fails silently
        try:
            pickle.dumps(exc)
        except Exception:
            exc = ImportFormatError(f"{path}: {type(exc).__name__}: {exc}")
        _send(out, "error", exc)


async def groups_read_apart(
    fmt: str, path: Path, group_comments: int
) -> AsyncGenerator[list[ImportedThread], None]:
    """``path``'s threads (``fmt`` "wxr" or "json"), a group at a time, read by a child
    process. Its errors (a refused file) are raised here, as the reader raised them."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        fmt,
        str(path),
        str(group_comments),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    try:
        while True:
            try:
                (length,) = _LENGTH.unpack(await child.stdout.readexactly(_LENGTH.size))
                kind, value = pickle.loads(await child.stdout.readexactly(length))  # noqa: S301
            except asyncio.IncompleteReadError:
                status = await child.wait()
                raise ImportFormatError(
                    f"the import's reader process stopped (exit status {status})"
                ) from None
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        if child.returncode is None:
            child.kill()  # stopped early: an error here, or the caller gave up
        # Read what is left to its end, not just wait(): a reader paused on a full buffer
        # never sees the pipe close, and wait() waits for that too (a hang on Ctrl-C).
        await child.communicate()


def child_main() -> None:
    """The child's program: ``FORMAT PATH GROUP_COMMENTS``, frames on standard output."""
    # Ctrl-C reaches the whole process group: the parent handles it and stops this
    # process, which must not print a traceback of its own meanwhile.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The frames get standard output's pipe to themselves: anything else printed there
    # (a warning, a library's print) would break the next frame, so descriptor 1 now
    # points at standard error. (Under py-spy --subprocesses, frames written through
    # sys.stdout also arrived with bytes missing, 3 times in 3; through this descriptor
    # of their own they did not, 7 in 7. Why was not found.)
    frames = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    with frames:
        _child(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), frames)
