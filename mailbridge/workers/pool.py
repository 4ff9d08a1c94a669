"""A pool of worker processes for pure CPU-bound functions, restarted when one dies.

Each worker is connected to the event loop by a socket pair of its own: a call is one
pickled frame written by the loop and one read back by it, with no thread in between.
``concurrent.futures.ProcessPoolExecutor`` hands every call through two threads of
this process (its queue feeder and its result manager); under load those hand-offs
waited for the busy event loop's GIL and cost more than signing a message did.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import struct
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

__all__ = ["CpuPool", "WorkerLost"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Imported once by the fork server, so a new worker starts in milliseconds, not in
# the second these imports take.
_PRELOAD = ["mailbridge.extract", "mailbridge.outbound.dkim", "mailbridge.workers.tasks"]
# How long a new worker may take to start and run its initializer.
_START_SECONDS = 60.0
# How long a worker may take to finish its call and exit once the pool closes.
_STOP_SECONDS = 10.0
_READY = 0  # the call id of the frame a worker sends once its initializer has run


class WorkerLost(Exception):
    """A worker process died while it had our work (killed, out of memory)."""


def _serve(
    conn: Connection, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]
) -> None:
    """A worker's whole life: the initializer, then one call per frame until EOF."""
    # Ctrl-C in a terminal reaches the whole process group, and so does SIGTERM from
    # systemd (KillMode=control-group, its default), timeout(1) or a supervisor that
    # signals the group: the daemon decides when its workers end (by closing their
    # sockets, after the replies in DATA are filed), not the signal. A worker that
    # died at it was logged as an error and the replies it was reading got 451.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        if initializer is not None:
            initializer(*initargs)
    except BaseException as exc:  # reported to the daemon, then exit
        conn.send_bytes(_reply(_READY, False, exc))
        return
    conn.send_bytes(_reply(_READY, True, os.getpid()))
    while True:
        try:
            frame = conn.recv_bytes()
        except (EOFError, OSError):  # the daemon closed the pool, or it has ended
            return
        call_id, fn, args = pickle.loads(frame)  # noqa: S301 - from the daemon, over our own socket pair
        try:
            payload = _reply(call_id, True, fn(*args))
        except Exception as exc:  # the caller's to handle
            payload = _reply(call_id, False, exc)
        conn.send_bytes(payload)


def _reply(call_id: int, ok: bool, value: object) -> bytes:
    try:
        return pickle.dumps((call_id, ok, value), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # a value that cannot cross
        failure = RuntimeError(f"the worker's answer cannot be sent back: {value!r} ({exc})")
        return pickle.dumps((call_id, False, failure), pickle.HIGHEST_PROTOCOL)


def _frame(payload: bytes) -> bytes:
    # multiprocessing.connection's framing, which the worker's recv_bytes reads.
    if len(payload) > 0x7FFFFFFF:
        raise ValueError("a call's arguments must be under 2 GB")
    return struct.pack("!i", len(payload)) + payload


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    (size,) = struct.unpack("!i", await reader.readexactly(4))
    if size == -1:  # what send_bytes writes for 2 GB and more
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    return await reader.readexactly(size)


class _Worker:
    """One worker process, its socket, and the calls it has not answered yet."""

    def __init__(
        self, process: BaseProcess, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.process = process
        self.reader = reader
        self.writer = writer
        self.waiting: dict[int, asyncio.Future[Any]] = {}
        self.answers: asyncio.Task[None] | None = None


class CpuPool:
    """Runs ``fn(*args)`` in one of ``processes`` worker processes (0: in a thread).

    ``initializer(*initargs)`` runs once in each worker (and once here when there are
    none) to build what the functions share, such as the email templates. Functions
    and arguments cross by pickling: module-level functions and plain data only.
    A call goes to the worker with the fewest calls waiting.
    """

    def __init__(
        self,
        processes: int,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self.processes = processes
        self._initializer = initializer
        self._initargs = initargs
        self._workers: list[_Worker] = []
        self._starting = asyncio.Lock()
        self._ids = itertools.count(_READY + 1)
        self._closed = False
        if processes == 0 and initializer is not None:
            initializer(*initargs)

    async def start(self) -> None:
        """Start the workers now: the first reply must not wait for the fork server."""
        await self._ensure()

    async def _ensure(self) -> None:
        """Start workers until there are ``processes`` of them."""
        async with self._starting:
            while len(self._workers) < self.processes:
                if self._closed:
                    raise WorkerLost("the worker pool is shut down")
                self._workers.append(await self._spawn())

    async def _spawn(self) -> _Worker:
        # forkserver: a fresh process forked from a clean server, never from this one
        # with its event loop and database threads (fork would copy those).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(
            target=_serve,
            args=(theirs, self._initializer, self._initargs),
            name="mailbridge-worker",
        )
        try:
            await asyncio.to_thread(process.start)  # blocks while the fork server forks
        finally:
            theirs.close()
        sock = socket.socket(fileno=os.dup(ours.fileno()))
        ours.close()
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        worker = _Worker(process, reader, writer)
        try:
            async with asyncio.timeout(_START_SECONDS):
                _id, ok, value = pickle.loads(await _read_frame(reader))  # noqa: S301 - our worker
            if not ok:
                raise WorkerLost(f"a worker process could not start: {value!r}")
        except BaseException as exc:
            await self._end(worker)
            if isinstance(exc, (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError)):
                raise WorkerLost(f"a worker process did not start ({exc!r})") from exc
            raise
        worker.answers = asyncio.create_task(self._answers(worker), name="worker-answers")
        return worker

    async def _answers(self, worker: _Worker) -> None:
        """Hand each answer of ``worker`` to its caller; when it dies, fail its calls."""
        why = "it closed its socket"
        try:
            while True:
                call_id, ok, value = pickle.loads(await _read_frame(worker.reader))  # noqa: S301
                future = worker.waiting.pop(call_id, None)
                if future is None or future.done():  # the caller was cancelled
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError, OSError) as exc:
            why = repr(exc)
        finally:
            worker.writer.close()  # its end is gone: nothing more can be sent or read
            self._drop(worker)
            if not self._closed:
                await asyncio.to_thread(worker.process.join, 1.0)
                log.error(
                    "workers: worker process %s died (exit code %s, %s); starting a new one",
                    worker.process.pid,
                    worker.process.exitcode,
                    why,
                )
            lost = WorkerLost(f"worker process {worker.process.pid} died ({why})")
            for future in worker.waiting.values():
                if not future.done():
                    future.set_exception(lost)
            worker.waiting.clear()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` off the event loop's thread; :class:`WorkerLost` if a worker died."""
        if self._closed:
            raise WorkerLost("the worker pool is shut down")
        if self.processes == 0:
            return await asyncio.to_thread(fn, *args)
        if len(self._workers) < self.processes:
            await self._ensure()  # the first call, or a worker died since the last
        worker = min(self._workers, key=lambda w: len(w.waiting))
        call_id = next(self._ids)
        frame = _frame(pickle.dumps((call_id, fn, args), pickle.HIGHEST_PROTOCOL))
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        worker.waiting[call_id] = future
        try:
            worker.writer.write(frame)
            await worker.writer.drain()
        except (ConnectionError, OSError) as exc:
            worker.waiting.pop(call_id, None)
            # Now, not when its answers' reader sees the end: the next call, however
            # soon, must start a new worker instead of writing to this one again.
            self._drop(worker)
            raise WorkerLost(f"worker process {worker.process.pid} is gone ({exc!r})") from exc
        try:
            return await future
        finally:
            worker.waiting.pop(call_id, None)

    def _drop(self, worker: _Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (for tests and `mailbridge status`)."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    async def close(self) -> None:
        """Stop the workers once their current calls finish."""
        self._closed = True
        async with self._starting:
            workers, self._workers = self._workers, []
        await asyncio.gather(*(self._end(w) for w in workers))

    async def _end(self, worker: _Worker) -> None:
        """Close ``worker``'s socket (it exits at EOF) and wait for it; kill a stuck one."""
        worker.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await worker.writer.wait_closed()
        await asyncio.to_thread(worker.process.join, _STOP_SECONDS)
        if worker.process.is_alive():
            log.error("workers: worker process %s did not stop; killing it", worker.process.pid)
            worker.process.kill()
            await asyncio.to_thread(worker.process.join, _STOP_SECONDS)
        if worker.answers is not None:
            await asyncio.gather(worker.answers, return_exceptions=True)
