"""The moderation digest's clock: every ``moderation.digest_minutes``, moderators get one
email listing the pending comments nobody was emailed about yet (docs/moderation.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mailbridge.notify.notifier import Notifier
from mailbridge.store import Store

__all__ = ["ModerationDigests"]

log = logging.getLogger(__name__)


class ModerationDigests:
    def __init__(
        self, store: Store, notifier: Notifier, minutes: float, queued: Callable[[], None]
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._seconds = minutes * 60.0
        self._queued = queued

    async def run_once(self) -> int:
        sent = await self._store.write(self._notifier.moderation_digests)
        if sent:
            log.info("moderation digest: %d email(s) queued", sent)
            self._queued()
        return sent

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._seconds)
            try:
                await self.run_once()
            except Exception:
                log.exception("moderation digest failed; trying again next time")
