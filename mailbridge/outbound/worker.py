"""The delivery worker: take due outbox rows, send them, record every outcome.

Sent rows are marked sent; a temporary failure is retried with exponential
backoff and jitter until ``give_up_hours``; a permanent failure (5xx) is marked
failed with the relay's answer. Nothing is ever deleted, so nothing is lost:
the operator sees every message that was not sent and why.

Up to ``concurrency`` sends run at once, at most ``per_domain`` of them to one
recipient domain. A row being sent is leased to this worker (``lease_seconds``,
renewed while the send runs), so no other worker takes it; each outcome commits
in the worker's next transaction, with the lease of the rows that take the freed
slots (one commit per round instead of two per message). After a crash the lease
runs out and the row is sent again with the same Message-ID: at most one
duplicate per message in flight (sent or not, its outcome not yet committed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Coroutine, Mapping
from datetime import datetime
from functools import partial
from typing import Any, Protocol

import aiosqlite

from mailbridge import logfmt
from mailbridge.clock import Clock, iso
from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.outbound.loggable import masked, site_of
from mailbridge.outbound.outcomes import Outcome, mark_sent, record_outcomes
from mailbridge.outbound.refusals import fail_refused_recipient
from mailbridge.outbound.transport import Transport
from mailbridge.settings import OutboundSettings
from mailbridge.store import Store, is_unwritable, leasing, outbox

__all__ = ["DeliveryWorker", "Signer", "backoff_seconds"]

log = logging.getLogger(__name__)

# DKIM: the message in, the message with its signatures out; off the event loop
# (mailbridge.workers.offload.signing).
Signer = Callable[[bytes], Coroutine[Any, Any, bytes]]
# Rows that are not email: their kind, and why one fails when nothing sends that
# kind any more (the operator removed the endpoints or the key since it was queued).
POSTED_KINDS = {
    "webhook": "no [[webhooks]] are configured any more",  # mailbridge.webhooks.events
    "akismet": "spam.akismet_key is not set any more",  # mailbridge.spam.akismet_feedback
}


class RowPoster(Protocol):
    """Sends one outbox row that is not an email (a webhook event, an Akismet report)."""

    async def deliver(self, row: outbox.OutboxRow) -> None: ...


# A lease round's result: which outcomes were recorded, the rows leased, whether
# some chosen rows were failed as suppressed.
_StepResult = tuple[list[bool], list[outbox.OutboxRow], bool]

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
        *,
        concurrency: int = 1,
        per_domain: int = 1,
        sign: Signer | None = None,
        lease_seconds: float = outbox.DEFAULT_LEASE_SECONDS,
        send_timeout: float = 600.0,
        posters: Mapping[str, RowPoster] | None = None,
        hard_bounce_limit: int | None = None,
    ) -> None:
        """``sign`` is awaited on each message right before each send (DKIM).

        ``hard_bounce_limit``: the relay's hard 5xx to RCPT TO counts as a bounce of
        the recipient, suppressed at this many (``inbound.hard_bounce_limit``); None:
        not counted.

        ``send_timeout`` bounds one attempt (signing and the whole SMTP dialogue);
        past it the attempt counts as a temporary failure. ``posters``: by kind (of
        :data:`POSTED_KINDS`), what sends the rows that are not email.
        """
        if concurrency < 1 or per_domain < 1 or lease_seconds <= 0 or send_timeout <= 0:
            raise ValueError("concurrency, per_domain, lease_seconds, send_timeout must be > 0")
        self._store = store
        self._transport = transport
        self._settings = settings
        self._clock = clock
        self._rng = rng or random.Random()
        self._concurrency = concurrency
        self._per_domain = per_domain
        self._sign = sign
        self._posters = dict(posters or {})
        self._lease_seconds = lease_seconds
        self._send_timeout = send_timeout
        self._hard_bounce_limit = hard_bounce_limit
        # Names this worker's leases; host and pid tell the operator who holds a row.
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._stopping = False
        # The domain of the last row leased: past a domain at its cap, the other
        # domains are visited in turn from here (leasing.pick_fair).
        self._turn = ""

    def wake(self) -> None:
        """Something was queued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Take no new rows; sends in flight finish and record their outcome."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self.deliver_due()
                if self._stopping:
                    break
                await self._sleep_until_next()
            except Exception as exc:
                # Never let one bad iteration end delivery for the life of the daemon.
                if is_unwritable(exc):  # an operating condition (disk full...): one line
                    log.error("outbox: database cannot take writes (%s); retrying shortly", exc)
                else:
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
        """Send everything due now, ``concurrency`` at a time; return how many were tried.

        Returns once nothing due is left and every send has recorded its outcome
        (or at once after :meth:`stop`, when the sends in flight are done).
        """
        attempted = 0
        inflight: dict[asyncio.Task[Outcome], outbox.OutboxRow] = {}
        # Leased, not yet started: up to ``concurrency`` rows wait here, so a finished
        # send is followed at once by the next while the database records its outcome.
        ready: deque[outbox.OutboxRow] = deque()
        # DKIM signatures of the ready rows, begun as they are leased: a send starts
        # with its message signed instead of waiting for the signer (a worker process).
        signing: dict[int, asyncio.Task[bytes]] = {}
        busy: Counter[str] = Counter()  # rows leased and not finished, per domain
        # Outcomes of finished sends, recorded by the next step together with the lease
        # of more rows: one transaction per round, not two per message.
        pending: list[Outcome] = []
        step: asyncio.Task[_StepResult] | None = None
        stepping: list[Outcome] = []  # the outcomes the running step records
        # The last step found nothing to lease, and no send finished since it began:
        # lease again only once one does (its domain's slot is free again).
        drained = False
        finished = 0  # sends finished so far
        finished_at_step = 0
        renew_every = self._lease_seconds / 3
        renew_at = time.monotonic() + renew_every
        try:
            while True:  # bounded by the due rows and stop()
                while ready and len(inflight) < self._concurrency and not self._stopping:
                    row = ready.popleft()
                    send = asyncio.create_task(
                        self._deliver(row, signing.pop(row.id, None)), name=f"outbox-{row.id}"
                    )
                    inflight[send] = row
                if step is None:
                    want = 2 * self._concurrency - len(inflight) - len(ready)
                    if self._stopping or drained:
                        want = 0
                    unlease = list(ready) if self._stopping else []
                    if pending or want > 0 or unlease:
                        stepping, pending = pending, []
                        for row in unlease:  # stopping: given back, never started
                            busy[row.domain] -= 1
                        if unlease:
                            ready.clear()
                            _drop(signing)
                        work = partial(
                            self._step, outcomes=stepping, slots=want, busy=busy, unlease=unlease
                        )
                        step = asyncio.create_task(self._store.write(work))
                        finished_at_step = finished
                if step is None and not inflight:
                    return attempted
                waiting: set[asyncio.Task[Any]] = set(inflight)
                if step is not None:
                    waiting.add(step)
                done, _pending = await asyncio.wait(
                    waiting,
                    timeout=max(0.0, renew_at - time.monotonic()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for task in done:
                    if step is not None and task is step:
                        ended, step = step, None
                        try:
                            recorded, rows, refill = ended.result()
                        except Exception:
                            await self._record_alone(stepping)
                            raise
                        self._report(stepping, recorded)
                        stepping = []
                        for row in rows:
                            busy[row.domain] += 1
                            ready.append(row)
                            if self._sign is not None and row.kind not in POSTED_KINDS:
                                signing[row.id] = asyncio.create_task(self._sign(row.message))
                        drained = not rows and not refill and finished == finished_at_step
                        continue
                    row = inflight.pop(task)
                    busy[row.domain] -= 1
                    attempted += 1
                    finished += 1
                    drained = False
                    if not task.cancelled() and task.exception() is None:
                        pending.append(task.result())
                    elif not task.cancelled():
                        log.error(
                            "outbox %d %s: outcome not recorded (%r); it is sent again "
                            "when its lease expires",
                            row.id,
                            row.message_id,
                            task.exception(),
                        )
                held = [*(r.id for r in inflight.values()), *(r.id for r in ready)]
                if held and time.monotonic() >= renew_at:
                    await self._renew(held)
                    renew_at = time.monotonic() + renew_every
        finally:
            # Cancelled (the daemon is going down hard): stop the sends. Their rows (and
            # those leased, not started) keep their leases and are sent again, same
            # Message-ID, once those run out.
            for task in inflight:
                task.cancel()
            _drop(signing)
            if step is not None:
                step.cancel()
            if inflight or step is not None:
                await asyncio.gather(*inflight, *([step] if step else []), return_exceptions=True)
            if step is not None and (step.cancelled() or step.exception() is not None):
                pending = stepping + pending  # rolled back: record them again
            if pending:  # finished sends: their outcome is known, keep it
                await self._record_alone(pending)

    async def _step(
        self,
        conn: aiosqlite.Connection,
        outcomes: list[Outcome],
        slots: int,
        busy: Counter[str],
        unlease: list[outbox.OutboxRow],
    ) -> _StepResult:
        """One transaction: record ``outcomes``, give back ``unlease`` (stopping),
        then lease rows for ``slots``."""
        recorded = await record_outcomes(conn, outcomes)
        if unlease:
            await outbox.unlease(conn, [r.id for r in unlease], self.owner)
        rows, refill = await self._lease(conn, slots, busy) if slots > 0 else ([], False)
        return recorded, rows, refill

    async def _record_alone(self, outcomes: list[Outcome]) -> None:
        """Record ``outcomes`` in a transaction of their own (after a failed step)."""

        try:
            recorded = await self._store.write(partial(record_outcomes, outcomes=outcomes))
        except Exception as exc:
            for outcome in outcomes:
                log.error(
                    "outbox %d %s: outcome not recorded (%r); it is sent again "
                    "when its lease expires",
                    outcome.row.id,
                    outcome.row.message_id,
                    exc,
                )
            return
        self._report(outcomes, recorded)

    def _report(self, outcomes: list[Outcome], recorded: list[bool]) -> None:
        """Log each committed outcome, under its row's id."""
        for outcome, done in zip(outcomes, recorded, strict=True):
            row = outcome.row
            token = logfmt.outbox_id.set(row.id)
            try:
                if outcome.sent_at is not None:
                    log.info(
                        "outbox %d %s (%s): sent via %s",
                        row.id,
                        row.message_id,
                        row.kind,
                        site_of(row.rcpt_to)
                        if row.kind in POSTED_KINDS
                        else self._transport.description,
                    )
                elif not done:
                    log.warning(
                        "outbox %d %s: outcome not recorded, the row was taken by another worker",
                        row.id,
                        row.message_id,
                    )
            finally:
                logfmt.outbox_id.reset(token)

    async def _lease(
        self, conn: aiosqlite.Connection, slots: int, busy: Counter[str]
    ) -> tuple[list[outbox.OutboxRow], bool]:
        """One transaction: take back expired leases, fail suppressed rows, lease more.

        Returns the leased rows and whether any chosen row was failed as suppressed.
        """
        now = self._clock.now().timestamp()
        leased = await leasing.lease_step(
            conn,
            now,
            slots=slots,
            per_domain=self._per_domain,
            busy=busy,
            owner=self.owner,
            lease_seconds=self._lease_seconds,
            after=self._turn,
        )
        if leased.released:
            log.warning(
                "outbox: %d message(s) left in flight by a stopped worker (lease expired); "
                "sending them again with their Message-ID",
                leased.released,
            )
        for row in leased.suppressed:
            log.warning("outbox %d %s: %s", row.id, row.message_id, row.reason)
        if leased.rows:
            self._turn = leased.rows[-1].domain  # the next lease goes on from here
        return leased.rows, bool(leased.suppressed)

    async def _renew(self, ids: list[int]) -> None:
        until = self._clock.now().timestamp() + self._lease_seconds

        async def renew(conn: aiosqlite.Connection) -> int:
            if await outbox.renew_leases(conn, ids, self.owner, until) == len(ids):
                return 0
            # Not renewed is mostly sent meanwhile (its outcome committed before this
            # write); only a row another worker is sending was taken.
            return await outbox.held_by_others(conn, ids, self.owner)

        taken = await self._store.write(renew)
        if taken:
            log.warning("outbox: %d lease(s) were taken by another worker", taken)

    async def _attempt(
        self, row: outbox.OutboxRow, signed: asyncio.Task[bytes] | None = None
    ) -> str | None:
        """Send ``row``; the mail service's id for it when its API named one."""
        if row.kind in POSTED_KINDS:  # not an email
            poster = self._posters.get(row.kind)
            if poster is None:
                raise PermanentDeliveryError(POSTED_KINDS[row.kind])
            await poster.deliver(row)
            return None
        message = row.message
        if self._sign is not None:
            try:
                message = await (signed if signed is not None else self._sign(message))
            except Exception as exc:
                log.exception("outbox %d %s: signing failed", row.id, row.message_id)
                raise TemporaryDeliveryError(f"signing failed: {exc!r}") from exc
        return await self._transport.send(row.mail_from, row.rcpt_to, message)

    async def _deliver(
        self, row: outbox.OutboxRow, signed: asyncio.Task[bytes] | None = None
    ) -> Outcome:
        """Attempt ``row``; the outcome is recorded by the caller (deliver_due)."""
        logfmt.outbox_id.set(row.id)  # its own task: on every line logged about this row
        try:
            async with asyncio.timeout(self._send_timeout):
                provider_id = await self._attempt(row, signed)
        except PermanentDeliveryError as exc:
            detail = exc.detail
            log.error("outbox %d %s: refused permanently: %s", row.id, row.message_id,
                      _loggable(detail, row))  # fmt: skip
            if exc.at_rcpt and self._hard_bounce_limit is not None:
                return Outcome(row, partial(fail_refused_recipient, row=row, error=detail,
                                            owner=self.owner, hard_limit=self._hard_bounce_limit,
                                            now=iso(self._clock.now())))  # fmt: skip
            return Outcome(row, partial(outbox.mark_failed, row_id=row.id, error=detail,
                                        owner=self.owner,
                                        at=self._clock.now().timestamp()))  # fmt: skip
        except TemporaryDeliveryError as exc:
            return self._retry_later(row, exc.detail, exc.retry_after)
        except TimeoutError:
            return self._retry_later(row, f"no outcome within {self._send_timeout:.0f} s")
        except Exception as exc:  # a bug or an unforeseen library error: keep the message
            log.exception("outbox %d %s: unexpected error while sending", row.id, row.message_id)
            return self._retry_later(row, f"unexpected error: {exc!r}")
        now = iso(self._clock.now())
        sent = partial(mark_sent, row_id=row.id, now_iso=now, provider_id=provider_id)
        return Outcome(row, sent, sent_at=now, provider_id=provider_id)

    def _retry_later(
        self, row: outbox.OutboxRow, detail: str, wait: float | None = None
    ) -> Outcome:
        now = self._clock.now()
        since = datetime.fromisoformat(row.since or row.created_at)
        age_hours = (now - since).total_seconds() / 3600
        if age_hours >= self._settings.give_up_hours:
            reason = f"gave up after {row.attempts} attempts over {age_hours:.0f} h: {detail}"
            log.error("outbox %d %s: %s", row.id, row.message_id, _loggable(reason, row))
            return Outcome(row, partial(outbox.mark_failed, row_id=row.id, error=reason,
                                        owner=self.owner, at=now.timestamp()))  # fmt: skip
        delay = backoff_seconds(
            row.attempts,
            self._settings.retry_base_seconds,
            self._settings.retry_max_seconds,
            self._rng,
        )
        if wait is not None:  # the service's Retry-After, capped as every delay is
            delay = max(delay, min(wait, self._settings.retry_max_seconds))
        log.warning(
            "outbox %d %s: attempt %d failed (%s); retrying in %.0f s",
            row.id,
            row.message_id,
            row.attempts,
            _loggable(detail, row),
            delay,
        )
        at = now.timestamp() + delay
        return Outcome(
            row, partial(outbox.reschedule, row_id=row.id, at=at, error=detail, owner=self.owner)
        )


def _loggable(detail: str, row: outbox.OutboxRow) -> str:
    """A relay's answer for the log: relays name the recipient in it."""
    if row.kind in POSTED_KINDS:  # not an email: its rcpt_to is an endpoint
        return detail
    return masked(detail, row.rcpt_to, row.mail_from)


def _drop(signing: dict[int, asyncio.Task[bytes]]) -> None:
    """Forget signatures begun for rows that will not be sent now."""
    for task in signing.values():
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()  # seen: a failure here is not "never retrieved"
    signing.clear()
