"""A long-running job (the IMAP inbox, the WordPress bridge) run by one daemon at a time.

Of the daemons sharing a database, the one holding the job's lead runs it; the lead
is a row with an expiry (mailbridge.store.jobs.hold), renewed every third of it. A
daemon killed keeps the lead until it expires, then another takes it; a daemon
stopped cleanly gives it up at once. A holder that cannot renew (the database gone)
stops the job before its lead can expire, so two never run it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from mailbridge.store import Store, jobs

__all__ = ["Lead"]

log = logging.getLogger(__name__)

LEAD_SECONDS = 30.0


class Lead:
    def __init__(
        self,
        store: Store,
        name: str,
        owner: str,
        job: Callable[[], Coroutine[Any, Any, None]],
        *,
        seconds: float = LEAD_SECONDS,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._name = name
        self._owner = owner
        self._job = job
        self._seconds = seconds
        self._now = now

    async def _hold(self) -> bool:
        now = self._now()
        try:
            return await self._store.write(
                lambda c: jobs.hold(c, self._name, self._owner, now, now + self._seconds)
            )
        except Exception as exc:  # cannot tell: act as if another daemon held it
            log.warning("%s: cannot renew the lead (%s)", self._name, exc)
            return False

    async def run(self) -> None:
        every = self._seconds / 3
        while True:
            if not await self._hold():
                await asyncio.sleep(every)  # another daemon runs it, or the database is away
                continue
            log.info("%s: this daemon runs it", self._name)
            task = asyncio.create_task(self._job(), name=f"mailbridge-{self._name}")
            try:
                while not task.done():
                    await asyncio.wait({task}, timeout=every)
                    if not task.done() and not await self._hold():
                        log.warning("%s: lead lost; stopping it here", self._name)
                        break
                if task.done():
                    await task  # the job ended (or raised): as before, the task ends
                    return
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                with contextlib.suppress(Exception):
                    await self._store.write(lambda c: jobs.let_go(c, self._name, self._owner))
