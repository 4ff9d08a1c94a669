"""Periodic upkeep while the daemon runs: forget raw inbound bodies past retention,
the bytes of sent emails once no reply to them can be filed, shared rate-limit hits
past their window, what Akismet was sent about a comment (the reader's IP address
and browser) once no decision on it can be reported, the spam folder's comments
past ``spam.keep_days`` (mailbridge.moderate.spam_retention), and the inbound log's
rows past ``inbound.keep_days`` (mailbridge.store.inbound_retention).

What it deletes is personal data (addresses, words, headers): after a run that deleted
any, :meth:`Housekeeping.scrub` empties SQLite's write-ahead log, as an erasure does,
so that no copy of the data directory keeps it (docs/privacy.md).

Run every hour as a periodic job (mailbridge.jobs), by one daemon of those sharing
the database.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.moderate.spam_retention import purge_spam
from mailbridge.spam import akismet_feedback
from mailbridge.store import (
    Store,
    inbound,
    inbound_retention,
    listings,
    outbox,
    rate_hits,
    withdrawal,
)
from mailbridge.webhooks.events import WebhookEvents

__all__ = ["EVERY_SECONDS", "Housekeeping"]

log = logging.getLogger(__name__)

EVERY_SECONDS = 3600.0


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
    ) -> None:
        """``sent_days``: how long a sent email's bytes are kept (smtp.reply_token_days:
        the extractor reads a notification to cut it from a reply, and no reply to it
        is filed once its address has expired). ``spam_days``: spam.keep_days (0: the
        folder is kept); ``log_days``: inbound.keep_days; ``moderation_days``: how
        long an email to moderators keeps its bytes (moderation.link_days: a reply
        to it is refused after, and nothing else reads them); ``events``: told of each
        comment deleted from it; ``moderators``: moderation.moderators, whose addresses
        the folder's purge keeps."""
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
        if self._spam is not None:
            spam_before = iso(now - self._spam)
            folder = await purge_spam(conn, spam_before, self._events, now, self._moderators)
            forgot += _said(folder.comments, "%d comment(s) of the spam folder", spam_before)
            if folder.addresses:
                # Never the addresses themselves: the log outlives them.
                log.info("housekeeping: forgot %d address(es) only those comments held",
                         folder.addresses)  # fmt: skip
                forgot += folder.addresses
        log_before = iso(now - self._log)
        # A reply's row stays while its address works (to the end of its last day).
        replies_before = iso(now - max(self._log, self._sent + timedelta(days=1)))
        settled = await inbound_retention.forget_old(
            conn, log_before, replies_before=replies_before
        )
        forgot += _said(settled.messages, "%d message(s) of the inbound log", log_before)
        forgot += settled.bounces
        forgot += _said(settled.events, "%d mail event(s) (bounces, complaints)", log_before)
        before = iso(now - self._retention)
        purged = await inbound.purge_raw(conn, before)
        forgot += _said(purged, "the raw bytes of %d inbound message(s)", before)
        self._unscrubbed += forgot
        return purged

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
        await self.scrub()
        return purged
