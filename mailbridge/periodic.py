"""A task that runs one unit of work in a write transaction every so often.

The moderation digest and the spam report are both "every N, queue the emails for
what happened since the last time"; this runs either, and one failure is logged and
tried again next time, never ending the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mailbridge.store import Store, UnitOfWork

__all__ = ["Periodic"]

log = logging.getLogger(__name__)


class Periodic:
    def __init__(
        self,
        store: Store,
        work: UnitOfWork[int],
        seconds: float,
        queued: Callable[[], None],
        what: str,
    ) -> None:
        self._store = store
        self._work = work
        self._seconds = seconds
        self._queued = queued
        self._what = what

    async def run_once(self) -> int:
        """Run the work now; wake the delivery worker when it queued email."""
        sent = await self._store.write(self._work)
        if sent:
            log.info("%s: %d email(s) queued", self._what, sent)
            self._queued()
        return sent

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._seconds)
            try:
                await self.run_once()
            except Exception:
                log.exception("%s failed; trying again next time", self._what)
