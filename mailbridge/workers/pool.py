"""A pool of worker processes for pure CPU-bound functions, restarted when one dies."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

__all__ = ["CpuPool", "WorkerLost"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Imported once by the fork server, so a new worker starts in milliseconds, not in
# the second these imports take.
_PRELOAD = ["mailbridge.extract", "mailbridge.workers.tasks"]


class WorkerLost(Exception):
    """A worker process died while it had our work (killed, out of memory)."""


class CpuPool:
    """Runs ``fn(*args)`` in one of ``processes`` worker processes (0: in a thread).

    ``initializer(*initargs)`` runs once in each worker (and once here when there are
    none) to build what the functions share, such as the email templates. Functions
    and arguments cross by pickling: module-level functions and plain data only.
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
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        if processes == 0 and initializer is not None:
            initializer(*initargs)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: a fresh process forked from a clean server, never from this
            # one with its event loop and database threads (fork would copy those).
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)
            self._executor = ProcessPoolExecutor(
                self.processes,
                mp_context=context,
                initializer=self._initializer,
                initargs=self._initargs,
            )
        return self._executor

    async def start(self) -> None:
        """Start the workers now, off the event loop: the first reply must not wait
        for the fork server (or block the loop while it starts)."""
        if self.processes:
            await asyncio.to_thread(lambda: self._pool().submit(int).result())

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` off the event loop's thread; :class:`WorkerLost` if a worker died."""
        if self._closed:
            raise WorkerLost("the worker pool is shut down")
        if self.processes == 0:
            return await asyncio.to_thread(fn, *args)
        pool = self._pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool as exc:
            # Every call in flight fails with it; the next call gets a new pool.
            if self._executor is pool:
                self._executor = None
                pool.shutdown(wait=False, cancel_futures=True)
                log.error("workers: a worker process died (%s); starting new ones", exc)
            raise WorkerLost(str(exc) or "a worker process died") from exc

    def worker_pids(self) -> list[int]:
        """The worker processes' ids (for tests and `mailbridge status`)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return [int(pid) for pid in processes]

    async def close(self) -> None:
        """Stop the workers once their current calls finish."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)
