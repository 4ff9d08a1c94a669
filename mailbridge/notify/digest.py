"""Send batched notifications when their window closes: one email per person and thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import aiosqlite

from mailbridge.clock import Clock
from mailbridge.notify.notifier import Notifier
from mailbridge.store import Store, subscriptions

__all__ = ["Digester"]

log = logging.getLogger(__name__)

_IDLE_POLL = 60.0


class Digester:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        clock: Clock,
        queued: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._queued = queued  # wakes the delivery worker
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run_once(self) -> int:
        """Send every person whose window closed; return how many emails were queued."""
        now = self._clock.now().timestamp()
        due = await self._store.read(lambda c: subscriptions.due_addresses(c, now))
        sent = 0
        for address_id in due:

            async def work(conn: aiosqlite.Connection, address_id: int = address_id) -> int:
                # Taking the waiting rows and queueing the email commit together.
                pending = await subscriptions.pop_pending(conn, address_id)
                return await self._notifier.deliver(conn, address_id, pending)

            sent += await self._store.write(work)
        if sent:
            log.info("notifications: %d batched email(s) queued", sent)
            self._queued()
        return sent

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_once()
                due = await self._store.read(subscriptions.next_due)
            except Exception:
                log.exception("notifications: batching failed; trying again shortly")
                due = None
            now = self._clock.now().timestamp()
            timeout = _IDLE_POLL if due is None else max(0.05, min(_IDLE_POLL, due - now))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
