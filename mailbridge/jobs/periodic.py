"""A unit of work run in a write transaction every so often, by one daemon at a time.

The moderation digest, the spam report and housekeeping are each "every N, do this
in a transaction". Each has a due time in the database (``periodic_jobs``), so the
schedule survives restarts and, when several daemons share a database, each run is
done by exactly one of them: the one whose claim moves the due time forward, in the
same transaction as the work (mailbridge.store.jobs). Whichever daemons are alive,
the job runs; a failure is logged, leaves the due time as it was, and is tried again
after a pause, never ending the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import aiosqlite

from mailbridge.jobs.failure_log import FailureLog
from mailbridge.store import Store, UnitOfWork, failing, is_unwritable, jobs

__all__ = ["Periodic"]

log = logging.getLogger(__name__)

# After a failed run: wait this long (or the interval, when shorter) before the next.
_RETRY_SECONDS = 60.0


class Periodic:
    def __init__(
        self,
        store: Store,
        work: UnitOfWork[int],
        seconds: float,
        queued: Callable[[], None],
        what: str,
        *,
        name: str,
        owner: str,
        at_start: bool = False,
        done: str = "email(s) queued",
        now: Callable[[], float] = time.time,
        failure_log: FailureLog | None = None,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``name`` keys the job's row; ``owner`` names this daemon in it. With
        ``at_start`` a job new to the database runs at once, else after ``seconds``.
        ``done`` says what the work's count counts, for the log.
        ``now`` is wall-clock time: daemons on several hosts compare it.
        ``failure_log`` records each failed run for `mailbridge status`; a run that
        succeeds clears it in its own transaction.
        ``then`` is awaited after each run this daemon made, once committed
        (housekeeping's batches of a backlog and scrub of the write-ahead log); after
        the run at start, by :meth:`run`, so that it never holds up the start."""
        self._store = store
        self._work = work
        self._seconds = seconds
        self._queued = queued
        self._what = what
        self.name = name
        self._owner = owner
        self._at_start = at_start
        self._done = done
        self._scheduled = False
        self._now = now
        self._then = then
        self._then_pending = False
        # Runs failed in a row (/metrics: mailbridge_periodic_job_failures): the log's
        # traceback each minute was all that said a digest or the housekeeping failed.
        self.failures = 0
        self._failure_log = failure_log

    async def run_once(self) -> int:
        """Run the work now, whatever the schedule; wake the delivery worker when it
        queued email."""
        done = await self._store.write(self._work)
        if self._then is not None:
            await self._then()
        return self._report(done)

    async def run_if_due(self, then_later: bool = False) -> int | None:
        """Run the work if it is due and no other daemon took this run; None if not.
        ``then_later``: leave ``then`` to :meth:`run`."""

        async def claimed(conn: aiosqlite.Connection) -> int | None:
            if not await jobs.claim(conn, self.name, self._owner, self._now(), self._seconds):
                return None
            done = await self._work(conn)
            if self._failure_log is not None:
                # With the work: whichever daemon sharing the database failed it before,
                # this run's success ends `mailbridge status`'s line.
                await failing.cleared(conn, self.name)
            return done

        done = await self._store.write(claimed)
        if done is not None and self._then is not None:
            if then_later:
                self._then_pending = True
            else:
                await self._then()
        return None if done is None else self._report(done)

    def _report(self, sent: int) -> int:
        if sent:
            log.info("%s: %d %s", self._what, sent, self._done)
            self._queued()
        return sent

    async def _wait(self) -> float:
        """Seconds until the job is due (at most one interval)."""
        due = await self._store.read(lambda c: jobs.due_at(c, self.name))
        if due is None:
            return self._seconds
        return max(0.0, min(self._seconds, due - self._now()))

    async def start(self) -> None:
        """Give the job its first due time if the database has none, and run it now
        if it is due: awaited before the daemon says it has started, so that the
        start-up work is done by then (and retried by :meth:`run` if it failed)."""
        first = self._now() + (0.0 if self._at_start else self._seconds)
        try:
            await self._store.write(lambda c: jobs.schedule(c, self.name, first))
            self._scheduled = True
            await self.run_if_due(then_later=True)
        except Exception as exc:
            await self._failed(exc)
        else:
            await self._succeeded()

    async def run(self) -> None:
        while not self._scheduled:
            await asyncio.sleep(min(self._seconds, _RETRY_SECONDS))
            await self.start()
        while True:
            try:
                if self._then_pending and self._then is not None:
                    self._then_pending = False
                    await self._then()
                await asyncio.sleep(await self._wait())
                await self.run_if_due()
            except Exception as exc:
                await self._failed(exc)
                await asyncio.sleep(min(self._seconds, _RETRY_SECONDS))
            else:
                await self._succeeded()

    async def _succeeded(self) -> None:
        self.failures = 0  # its row in failing_tasks went with the run (run_if_due)

    async def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if is_unwritable(exc):  # an operating condition (locked, disk full): one line
            log.error("%s: database cannot take writes (%s); trying again later", self._what, exc)
            return
        log.exception("%s failed; trying again later", self._what)
        if self._failure_log is not None:  # not unwritable: it could not be written
            await self._failure_log.failed(self.name, f"{type(exc).__name__}: {exc}")
