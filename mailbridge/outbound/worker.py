"""The delivery worker: take due outbox rows, send them, record every outcome.

Sent rows are marked sent; a temporary failure is retried with exponential
backoff and jitter until ``give_up_hours``; a permanent failure (5xx) is marked
failed with the relay's answer. Nothing is ever deleted, so nothing is lost:
the operator sees every message that was not sent and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import datetime

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.outbound.transport import Transport
from mailbridge.settings import OutboundSettings
from mailbridge.store import Store, outbox

__all__ = ["DeliveryWorker", "backoff_seconds"]

log = logging.getLogger(__name__)

_BATCH = 20
_IDLE_POLL = 60.0  # also catches rows queued by another process (e.g. the CLI)
_ERROR_PAUSE = 5.0


def backoff_seconds(attempts: int, base: float, cap: float, rng: random.Random) -> float:
    """Delay before the next attempt: base·2^(n-1), capped, with ±25 % jitter."""
    delay: float = min(cap, base * 2.0 ** max(0, attempts - 1))
    return delay * rng.uniform(0.75, 1.25)


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        transport: Transport,
        settings: OutboundSettings,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._transport = transport
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Something was queued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        released = await self._store.write(outbox.release_stale)
        if released:
            log.warning(
                "outbox: %d message(s) were in flight at the last stop; resending", released
            )
        while not self._stopping:
            try:
                await self.deliver_due()
                if self._stopping:
                    break
                await self._sleep_until_next()
            except Exception:
                # Never let one bad iteration end delivery for the life of the daemon.
                log.exception("outbox: delivery loop error; retrying shortly")
                if self._stopping:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _ERROR_PAUSE)

    async def _sleep_until_next(self) -> None:
        # Clear before looking: a wake() after this point is kept, and a commit before
        # it is visible to next_due, so no queued message waits for the idle poll.
        self._wake.clear()
        if self._stopping:
            return
        due = await self._store.read(outbox.next_due)
        now = self._clock.now().timestamp()
        timeout = _IDLE_POLL if due is None else max(0.0, min(_IDLE_POLL, due - now))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def deliver_due(self) -> int:
        """Send everything due now; return how many rows were attempted."""
        attempted = 0
        while not self._stopping:
            rows = await self._store.write(self._lease)
            if not rows:
                break
            for row in rows:
                await self._deliver(row)
                attempted += 1
        return attempted

    async def _lease(self, conn: aiosqlite.Connection) -> list[outbox.OutboxRow]:
        return await outbox.lease_due(conn, self._clock.now().timestamp(), _BATCH)

    async def _deliver(self, row: outbox.OutboxRow) -> None:
        try:
            await self._transport.send(row.mail_from, row.rcpt_to, row.message)
        except PermanentDeliveryError as exc:
            detail = exc.detail
            log.error("outbox %d %s: refused permanently: %s", row.id, row.message_id, detail)
            await self._store.write(lambda c: outbox.mark_failed(c, row.id, detail))
            return
        except TemporaryDeliveryError as exc:
            await self._retry_later(row, exc.detail)
            return
        except Exception as exc:  # a bug or an unforeseen library error: keep the message
            log.exception("outbox %d %s: unexpected error while sending", row.id, row.message_id)
            await self._retry_later(row, f"unexpected error: {exc!r}")
            return
        now = iso(self._clock.now())
        await self._store.write(lambda c: outbox.mark_sent(c, row.id, now))
        log.info(
            "outbox %d %s (%s): sent via %s",
            row.id,
            row.message_id,
            row.kind,
            self._transport.description,
        )

    async def _retry_later(self, row: outbox.OutboxRow, detail: str) -> None:
        now = self._clock.now()
        age_hours = (now - datetime.fromisoformat(row.created_at)).total_seconds() / 3600
        if age_hours >= self._settings.give_up_hours:
            reason = f"gave up after {row.attempts} attempts over {age_hours:.0f} h: {detail}"
            log.error("outbox %d %s: %s", row.id, row.message_id, reason)
            await self._store.write(lambda c: outbox.mark_failed(c, row.id, reason))
            return
        delay = backoff_seconds(
            row.attempts,
            self._settings.retry_base_seconds,
            self._settings.retry_max_seconds,
            self._rng,
        )
        log.warning(
            "outbox %d %s: attempt %d failed (%s); retrying in %.0f s",
            row.id,
            row.message_id,
            row.attempts,
            detail,
            delay,
        )
        at = now.timestamp() + delay
        await self._store.write(lambda c: outbox.reschedule(c, row.id, at, detail))
