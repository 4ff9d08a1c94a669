"""Moderation emails built after the comment commits, on another core (issue 14).

A new pending comment's transaction only leaves a row in ``moderation_mail_queue``,
so an emailed reply's 250 waits for its own commit, not for an email to be rendered
and composed. This task then takes a batch of rows and, for each comment:

1. drafts its emails in a short write transaction (it reads the comment's context
   and records the moderators' addresses);
2. has the worker processes render and compose them (mailbridge.workers), outside
   any transaction;
3. queues them in the outbox and takes the rows, in one transaction. Taking a row
   is a conditional DELETE: when several daemons share the database and built the
   same comment's emails, only the one that takes its row queues them.

Nothing is lost in between: a row goes only with its emails, and at start the task
finishes what a stop left. A comment decided before its email was queued gets none
(the moderator has nothing left to decide); one published at once (trusted) still
tells the moderators, with links to undo.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.models import Comment, CommentStatus
from mailbridge.notify.drafts import Draft
from mailbridge.notify.notifier import ModeratorNotStored, Notifier
from mailbridge.store import Store, comments, is_unwritable, moderation_queue
from mailbridge.workers import CpuPool
from mailbridge.workers.tasks import build_email

__all__ = ["ModerationMailer"]

log = logging.getLogger(__name__)

BATCH = 32  # comments per round: one transaction each side of the building
_IDLE_POLL = 60.0
# How long a daemon's claim on a batch lasts (shared stores): past it, a daemon that
# died while building is replaced by another.
_CLAIM_SECONDS = 120.0
_RETRY = (1.0, 5.0, 30.0, 60.0)  # after a failed round: the workers, a template


@dataclass(frozen=True)
class _Taken:
    comment_id: int
    auto_approved: str | None
    drafts: list[Draft] | None  # None: left for the next digest
    writer: int | None = None  # the comment's address when drafted


def _still_wanted(comment: Comment | None, auto_approved: str | None) -> bool:
    """A waiting comment decided meanwhile needs no moderation email any more."""
    if comment is None:
        return False
    return auto_approved is not None or comment.status is CommentStatus.PENDING


class ModerationMailer:
    def __init__(
        self,
        store: Store,
        notifier: Notifier,
        pool: CpuPool,
        clock: Clock,
        queued: Callable[[], None] = lambda: None,
        owner: str = "",
    ) -> None:
        self._store = store
        self._owner = owner  # names this daemon in the rows it claims (shared stores)
        self._notifier = notifier
        self._pool = pool
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
        """Build and queue the emails of every comment waiting; how many were queued."""
        total = 0
        while not self._stopping:
            rows = None
            if self._store.shared:
                # Several daemons: each builds the batch it claimed, not every one.
                now = time.time()
                rows = await self._store.write(
                    functools.partial(
                        moderation_queue.claim_batch,
                        limit=BATCH,
                        owner=self._owner,
                        now=now,
                        until=now + _CLAIM_SECONDS,
                    )
                )
                if not rows:
                    break
            draft = functools.partial(self._draft, rows=rows)
            try:
                # Read on a snapshot: the writer, which every reply waits for, is not
                # held while the drafts are made (a dozen statements per comment).
                taken = await self._store.read(draft)
            except ModeratorNotStored:  # an address to store or record first: write
                taken = await self._store.write(functools.partial(draft, reading=False))
            if not taken:
                break
            drafts = [d for t in taken for d in t.drafts or ()]
            built = await asyncio.gather(*(self._pool.run(build_email, d) for d in drafts))
            messages = dict(zip((id(d) for d in drafts), built, strict=True))
            queued = await self._store.write(functools.partial(self._queue, taken, messages))
            if queued:
                self._queued()
            total += queued
        return total

    async def _draft(
        self,
        conn: aiosqlite.Connection,
        reading: bool = True,
        rows: list[tuple[int, str | None]] | None = None,
    ) -> list[_Taken]:
        taken = []
        if rows is None:
            rows = await moderation_queue.take(conn, BATCH)
        for comment_id, why in rows:
            # With its parent, in one statement of this transaction (the draft quotes it).
            comment, parent = await comments.with_parent(conn, comment_id)
            drafts: list[Draft] | None = []
            if comment is not None and _still_wanted(comment, why):
                # The digest rule was asked when the comment came (CommentService).
                drafts = await self._notifier.moderation_drafts(
                    conn, comment, why, digest_rule=False, reading=reading, parent=(parent,)
                )
            writer = None if comment is None else comment.address_id
            taken.append(_Taken(comment_id, why, drafts, writer))
        return taken

    async def _queue(
        self, taken: list[_Taken], messages: dict[int, bytes], conn: aiosqlite.Connection
    ) -> int:
        queued = 0
        now = iso(self._clock.now())
        for item in taken:
            if not await moderation_queue.claim(conn, item.comment_id):
                continue  # another daemon on this database queued its emails first
            if not item.drafts:
                continue  # decided, left for the digest, or no moderator (logged)
            comment = await comments.get_comment(conn, item.comment_id)
            if not _still_wanted(comment, item.auto_approved):
                continue  # decided while its emails were being built
            if comment is not None and comment.address_id != item.writer:
                # Its writer was erased meanwhile: the emails built show their name and
                # address. Not sent; the next moderation digest lists it as it is now.
                continue
            for draft in item.drafts:
                if await self._notifier.mail.queue_built(conn, draft, messages[id(draft)]):
                    queued += 1
            await comments.mark_moderation_mailed(conn, [item.comment_id], now)
        return queued

    async def run(self) -> None:
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                await self.run_once()
                failures, timeout = 0, _IDLE_POLL
            except Exception as exc:
                # The rows stay: the next round builds them again.
                if is_unwritable(exc):  # an operating condition (disk full...): one line
                    log.error("moderation emails: database cannot take writes (%s)", exc)
                else:
                    log.exception("moderation emails: building failed; trying again shortly")
                timeout = _RETRY[min(failures, len(_RETRY) - 1)]
                failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
