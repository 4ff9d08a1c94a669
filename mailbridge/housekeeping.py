"""Periodic upkeep while the daemon runs: forget raw inbound bodies past retention,
shared rate-limit hits past their window, and what Akismet was sent about a comment
(the reader's IP address and browser) once no decision on it can be reported.

Run every hour as a periodic job (mailbridge.jobs), by one daemon of those sharing
the database.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.spam import akismet_feedback
from mailbridge.store import Store, inbound, rate_hits

__all__ = ["EVERY_SECONDS", "Housekeeping"]

log = logging.getLogger(__name__)

EVERY_SECONDS = 3600.0


class Housekeeping:
    def __init__(self, store: Store, clock: Clock, raw_retention_days: int) -> None:
        self._store = store
        self._clock = clock
        self._retention = timedelta(days=raw_retention_days)

    async def work(self, conn: aiosqlite.Connection) -> int:
        """Drop raw bodies older than the retention; headers and outcomes stay."""
        now = self._clock.now()
        # Shared rate-limit hits past every window (a day is the longest).
        await rate_hits.purge(conn, (now - timedelta(days=1)).timestamp())
        akismet_before = now - timedelta(days=akismet_feedback.KEEP_DAYS)
        forgot = await akismet_feedback.forget_before(conn, akismet_before.timestamp())
        if forgot:
            log.info(
                "housekeeping: forgot what Akismet was sent about %d comment(s) before %s",
                forgot,
                iso(akismet_before),
            )
        before = iso(now - self._retention)
        purged = await inbound.purge_raw(conn, before)
        if purged:
            log.info(
                "housekeeping: forgot the raw bytes of %d inbound message(s) before %s",
                purged,
                before,
            )
        return purged

    async def run_once(self) -> int:
        return await self._store.write(self.work)
