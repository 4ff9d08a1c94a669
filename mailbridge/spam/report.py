"""The spam report's clock: every ``spam.report_hours``, moderators get one email
counting what went to the spam folder since the last one, with a link to rescue each
(docs/spam.md). Spam never gets a moderation email of its own; this is how the
author still sees it, once a day, without a flood."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from mailbridge.notify import Notifier
from mailbridge.store import Store

__all__ = ["SpamReports"]

log = logging.getLogger(__name__)


class SpamReports:
    def __init__(
        self, store: Store, notifier: Notifier, hours: float, queued: Callable[[], None]
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._seconds = hours * 3600.0
        self._queued = queued

    async def run_once(self) -> int:
        sent = await self._store.write(self._notifier.spam_reports)
        if sent:
            log.info("spam report: %d email(s) queued", sent)
            self._queued()
        return sent

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._seconds)
            try:
                await self.run_once()
            except Exception:
                log.exception("spam report failed; trying again next time")
