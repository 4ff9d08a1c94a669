"""Periodic upkeep while the daemon runs: forget raw inbound bodies past retention."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from mailbridge.clock import Clock, iso
from mailbridge.store import Store, inbound

__all__ = ["Housekeeping"]

log = logging.getLogger(__name__)

_EVERY_SECONDS = 3600.0


class Housekeeping:
    def __init__(self, store: Store, clock: Clock, raw_retention_days: int) -> None:
        self._store = store
        self._clock = clock
        self._retention = timedelta(days=raw_retention_days)

    async def run_once(self) -> int:
        """Drop raw bodies older than the retention; headers and outcomes stay."""
        before = iso(self._clock.now() - self._retention)
        purged = await self._store.write(lambda c: inbound.purge_raw(c, before))
        if purged:
            log.info(
                "housekeeping: forgot the raw bytes of %d inbound message(s) before %s",
                purged,
                before,
            )
        return purged

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("housekeeping failed; trying again later")
            await asyncio.sleep(_EVERY_SECONDS)
