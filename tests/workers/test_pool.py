"""The worker pool (mailbridge.workers): real worker processes, one killed on purpose."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from mailbridge.workers import CpuPool, WorkerLost
from mailbridge.workers import tasks as worker_tasks

# Functions cross to a worker by name: mailbridge's own, never this module's (an
# installed mailbridge's workers cannot import the tests).
whose = worker_tasks.ready


@pytest.mark.asyncio
async def test_work_runs_in_another_process_started_with_the_templates() -> None:
    pool = CpuPool(1, initializer=worker_tasks.start, initargs=(None, {}))
    try:
        await pool.start()
        [worker] = pool.worker_pids()
        pid, ready = await pool.run(whose)
        assert pid == worker != os.getpid()
        assert ready
    finally:
        await pool.close()
    assert pool.worker_pids() == []


@pytest.mark.asyncio
async def test_a_killed_worker_fails_its_call_and_the_next_call_gets_a_new_one() -> None:
    pool = CpuPool(1, initializer=worker_tasks.start, initargs=(None, {}))
    try:
        await pool.start()
        [first] = pool.worker_pids()
        os.kill(first, signal.SIGKILL)
        with pytest.raises(WorkerLost):
            # The pool may notice the death at this call or while it is in flight.
            for _ in range(50):
                await pool.run(whose)
        pid, _ready = await pool.run(whose)
        assert pid != first
        assert pid in pool.worker_pids()
    finally:
        await pool.close()


@pytest.mark.asyncio
async def test_a_death_that_only_a_write_noticed_starts_a_new_worker_at_the_next_call() -> None:
    # The write of a call can find the worker gone before the reader of its answers
    # sees the end of its socket (CI met this): the very next call must not write to
    # it again. Reading is paused here so that the write is the first to notice.
    pool = CpuPool(1, initializer=worker_tasks.start, initargs=(None, {}))
    try:
        await pool.start()
        [worker] = pool._workers
        worker.writer.transport.pause_reading()  # type: ignore[attr-defined]
        os.kill(worker.process.pid or 0, signal.SIGKILL)
        await asyncio.to_thread(worker.process.join, 10)
        with pytest.raises(WorkerLost, match="is gone"):
            for _ in range(50):  # until the kernel refuses a write (at the first, here)
                await pool.run(whose)
        pid, _ready = await pool.run(whose)
        assert pid != worker.process.pid
        assert pool.worker_pids() == [pid]
    finally:
        await pool.close()


@pytest.mark.asyncio
async def test_without_processes_it_runs_in_a_thread_of_this_one() -> None:
    pool = CpuPool(0, initializer=worker_tasks.start, initargs=(None, {}))
    try:
        pid, ready = await pool.run(whose)
        assert pid == os.getpid()
        assert ready
        assert pool.worker_pids() == []
    finally:
        await pool.close()
