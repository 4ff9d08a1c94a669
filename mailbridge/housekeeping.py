"""Periodic upkeep while the daemon runs: forget raw inbound bodies past retention,
the bytes of sent emails once no reply to them can be filed, shared rate-limit hits
past their window, what Akismet was sent about a comment (the reader's IP address
and browser) once no decision on it can be reported, the spam folder's comments
past ``spam.keep_days`` (mailbridge.moderate.spam_retention), the inbound log's
rows past ``inbound.keep_days`` (mailbridge.store.inbound_retention), and the outbox's
rows of emails done with past the same (mailbridge.store.outbox_retention).

What it deletes is personal data (addresses, words, headers): after a run that deleted
any, :meth:`Housekeeping.scrub` empties SQLite's write-ahead log, as an erasure does,
so that no copy of the data directory keeps it (docs/privacy.md).

Run every hour as a periodic job (mailbridge.jobs), by one daemon of those sharing
the database. The purges that can face a backlog (the inbound log and the outbox after
a robot flood refused at RCPT or the first run after an upgrade, the spam folder, the
raw messages of a big log) delete a
batch in the hour's transaction and, once it is committed, the rest batch after batch,
each in a transaction of its own (:meth:`Housekeeping.drain`): a reply arriving
meanwhile waits for one batch at most. Before, each deleted at most one batch an hour,
and a site refusing more than 5,000 robots an hour saw its log grow without bound.
A run drains for :data:`DRAIN_SECONDS` at most; what is left goes the next hour.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from functools import partial

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.moderate import spam_retention
from mailbridge.moderate.spam_retention import purge_spam
from mailbridge.spam import akismet_feedback
from mailbridge.store import (
    Store,
    inbound,
    inbound_retention,
    listings,
    outbox,
    outbox_retention,
    rate_hits,
    withdrawal,
)
from mailbridge.webhooks.events import WebhookEvents

__all__ = ["DRAIN_SECONDS", "EVERY_SECONDS", "Housekeeping"]

log = logging.getLogger(__name__)

EVERY_SECONDS = 3600.0
# A run's batches stop after this long: a backlog of millions of rows goes over a few
# hours, and the writer is never given to the purge for most of an hour.
DRAIN_SECONDS = 300.0


async def _give_way() -> None:
    # Lets a unit that waits for the writer (a reply's commit) take it before the next
    # batch asks for it again.
    await asyncio.sleep(0)


def _said(forgot: int, what: str, before: str) -> int:
    if forgot:
        log.info("housekeeping: forgot " + what + " before %s", forgot, before)
    return forgot


class Housekeeping:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        raw_retention_days: int,
        *,
        sent_days: int,
        spam_days: int = 0,
        log_days: int = 90,
        moderation_days: int = 14,
        events: WebhookEvents | None = None,
        moderators: Sequence[str] = (),
        drain_seconds: float = DRAIN_SECONDS,
        batches: tuple[int, int] = (spam_retention.BATCH, inbound_retention.BATCH),
        raw_batch: int = inbound.RAW_BATCH,
        between: Callable[[], Awaitable[None]] = _give_way,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``sent_days``: how long a sent email's bytes are kept (smtp.reply_token_days:
        the extractor reads a notification to cut it from a reply, and no reply to it
        is filed once its address has expired). ``spam_days``: spam.keep_days (0: the
        folder is kept); ``log_days``: inbound.keep_days; ``moderation_days``: how
        long an email to moderators keeps its bytes (moderation.link_days: a reply
        to it is refused after, and nothing else reads them); ``events``: told of each
        comment deleted from it; ``moderators``: moderation.moderators, whose addresses
        the folder's purge keeps. ``drain_seconds``: how long a run's batches go on
        (:meth:`drain`); ``between``: awaited between two of them; ``batches``: the
        spam folder's comments and the log's rows (and the outbox's) a batch;
        ``raw_batch``: the raw messages past inbound.raw_retention_days a batch."""
        self._store = store
        self._clock = clock
        self._retention = timedelta(days=raw_retention_days)
        self._sent = timedelta(days=sent_days)
        self._spam = timedelta(days=spam_days) if spam_days else None
        self._log = timedelta(days=log_days)
        # A moderation reply address is valid to the end of its last day: one more.
        self._moderation = timedelta(days=min(moderation_days + 1, sent_days))
        # Rows of personal data deleted by runs not yet followed by a scrub.
        self._unscrubbed = 0
        self._events = events
        self._moderators = tuple(moderators)
        self._drain_seconds = drain_seconds
        self._spam_batch, self._log_batch = batches
        self._raw_batch = raw_batch
        self._between = between
        self._monotonic = monotonic
        # The purges whose first batch of the hour was full, in the order the drain
        # goes on with them, each with its cut-off.
        self._left: dict[str, str] = {}
        self._replies_before = ""  # set by each run (work)
        self._sent_before_s = 0.0  # the same, in Unix seconds

    async def work(self, conn: aiosqlite.Connection) -> int:
        """The hour's upkeep (above); returns how many raw bodies were forgotten."""
        now = self._clock.now()
        forgot = 0
        # Shared rate-limit hits past every window (a day is the longest).
        await rate_hits.purge(conn, (now - timedelta(days=1)).timestamp())
        akismet_before = now - timedelta(days=akismet_feedback.KEEP_DAYS)
        forgot += _said(
            await akismet_feedback.forget_before(conn, akismet_before.timestamp()),
            "what Akismet was sent about %d comment(s)",
            iso(akismet_before),
        )
        sent_before = iso(now - self._sent)
        forgot += _said(
            await outbox.forget_sent(conn, sent_before),
            "the bytes of %d email(s) sent",
            sent_before,
        )
        # What a sent email carried goes with its bytes: an erasure finds by it the
        # emails to others that showed the erased person's words (mailbridge.people.quoted).
        forgot += _said(
            await withdrawal.forget_sent(conn, sent_before),
            "what %d notification(s) sent carried",
            sent_before,
        )
        # Emails to moderators list pending comments, their writers' names and
        # addresses, the spam folder's catch: kept no longer than a reply to them counts.
        moderation_before = iso(now - self._moderation)
        forgot += _said(
            await outbox.forget_sent(conn, moderation_before, outbox.MODERATION_KINDS),
            "the bytes of %d email(s) to moderators sent",
            moderation_before,
        )
        await withdrawal.forget_sent(conn, moderation_before, outbox.MODERATION_KINDS)
        # What the moderation digests past recall listed (mailbridge.store.listings).
        await listings.forget_settled(conn)
        self._left = {}
        if self._spam is not None:
            spam_before = iso(now - self._spam)
            full, gone = await self._purge_spam(conn, spam_before)
            forgot += gone
            if full:
                self._left["spam"] = spam_before
        log_before = iso(now - self._log)
        # A reply's row stays while its address works (to the end of its last day):
        # kept for this run's batches, the drain's too.
        replies_before = now - max(self._log, self._sent + timedelta(days=1))
        self._replies_before = iso(replies_before)
        # A done email's outbox row goes after the same period (its reply address, and
        # the bounces and events that name it: mailbridge.store.outbox_retention).
        self._sent_before_s = replies_before.timestamp()
        full, gone = await self._forget_log(conn, log_before)
        forgot += gone
        if full:
            self._left["log"] = log_before
        before = iso(now - self._retention)
        full, purged = await self._purge_raw(conn, before)
        forgot += purged
        if full:
            self._left["raw"] = before
        self._unscrubbed += forgot
        return purged

    async def _purge_raw(self, conn: aiosqlite.Connection, before: str) -> tuple[bool, int]:
        """One batch of the raw messages' retention: (whether it was full, rows deleted)."""
        purged = await inbound.purge_raw(conn, before, self._raw_batch)
        _said(purged, "the raw bytes of %d inbound message(s)", before)
        return purged >= self._raw_batch, purged

    async def _purge_spam(self, conn: aiosqlite.Connection, before: str) -> tuple[bool, int]:
        """One batch of the spam folder's purge: (whether it was full, rows deleted)."""
        now = self._clock.now()
        folder = await purge_spam(
            conn, before, self._events, now, self._moderators, self._spam_batch
        )
        _said(folder.comments, "%d comment(s) of the spam folder", before)
        if folder.addresses:
            # Never the addresses themselves: the log outlives them.
            log.info("housekeeping: forgot %d address(es) only those comments held",
                     folder.addresses)  # fmt: skip
        return folder.comments >= self._spam_batch, folder.comments + folder.addresses

    async def _forget_log(self, conn: aiosqlite.Connection, before: str) -> tuple[bool, int]:
        """One batch of the inbound log's retention: (whether it was full, rows deleted)."""
        settled = await inbound_retention.forget_old(
            conn, before, self._log_batch, replies_before=self._replies_before
        )
        _said(settled.messages, "%d message(s) of the inbound log", before)
        _said(settled.events, "%d mail event(s) (bounces, complaints)", before)
        # After the log's batch: an email's row goes once the bounces read about it
        # have gone with their messages.
        sent = await outbox_retention.forget_old(
            conn, self._replies_before, self._sent_before_s, self._log_batch
        )
        _said(sent, "the outbox rows of %d email(s) done with", self._replies_before)
        full = max(settled.messages, settled.events, sent) >= self._log_batch
        return full, settled.messages + settled.bounces + settled.events + sent

    async def drain(self) -> None:
        """After a run committed: the rest of the purges whose batch was full, batch
        after batch, each in a transaction of its own, for ``drain_seconds`` at most."""
        deadline = self._monotonic() + self._drain_seconds
        steps = {"spam": self._purge_spam, "log": self._forget_log, "raw": self._purge_raw}
        while self._left:
            if self._monotonic() >= deadline:
                log.info("housekeeping: more to forget than %g s allowed; the rest goes "
                         "in the next run", self._drain_seconds)  # fmt: skip
                return
            await self._between()
            name, before = next(iter(self._left.items()))
            full, gone = await self._store.write(partial(steps[name], before=before))
            if not full:
                del self._left[name]
            self._unscrubbed += gone

    async def after_run(self) -> None:
        """Once a run committed (Periodic's ``then``): :meth:`drain`, then :meth:`scrub`."""
        try:
            await self.drain()
        except Exception:
            await self.scrub()  # what the batches before the failure deleted
            raise
        # Not when cancelled (the daemon stopping): the store may be closing; the next
        # run scrubs what this one deleted (_unscrubbed).
        await self.scrub()

    async def scrub(self) -> None:
        """After a run committed: if it deleted anything, empty SQLite's write-ahead
        log, which kept the pages as they were (the addresses among them) for any copy
        of the data directory to take until a checkpoint, and its file's old frames
        until one truncates it. Nothing on PostgreSQL (docs/postgresql.md)."""
        if not self._unscrubbed:
            return
        if await self._store.scrub():
            self._unscrubbed = 0
        else:
            log.info("housekeeping: a reader kept the write-ahead log from being emptied; "
                     "the next run tries again")  # fmt: skip

    async def run_once(self) -> int:
        purged = await self._store.write(self.work)
        await self.after_run()
        return purged
