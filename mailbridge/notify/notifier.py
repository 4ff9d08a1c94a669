"""Who is told what, and when.

* A pending comment: every moderator of its thread gets a moderation email.
* A published comment: the author of the comment it answers, if they want replies,
  and everyone following the whole thread, except its own author; nobody twice, not
  even when a moderator unpublishes and publishes it again (only on its first
  publication; batched notifications withdrawn meanwhile go out on republication).
  With a batch window, those notifications wait (``pending_notifications``) and the
  :class:`~mailbridge.notify.digest.Digester` sends each person one email per window.
* A subscription asked for on the web: confirmed first by email (double opt-in),
  unless the address is confirmed already. Replying by email confirms an address.
* A stored address that cannot be used (stored before addresses were checked) is
  skipped, logged and marked suppressed with the reason; everyone else is mailed.

Everything runs inside the caller's write transaction.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.headerregistry import Address

import aiosqlite

from mailbridge.addresses import mailbox, normalise, parse_mailbox
from mailbridge.clock import Clock, iso
from mailbridge.errors import InvalidAddress
from mailbridge.models import Comment, CommentStatus, Source, Thread
from mailbridge.notify import spam_report
from mailbridge.notify.drafts import Draft
from mailbridge.notify.mail import DigestEntry, DigestItem, Mailer, excerpt
from mailbridge.notify.writer import WriterFacts, writer_facts
from mailbridge.outbound.compose import clean_header_text
from mailbridge.rejections import Rejection
from mailbridge.settings import Settings
from mailbridge.store import comments, published, subscriptions, threads, withdrawal
from mailbridge.store.subscriptions import Level, Pending
from mailbridge.templating import Renderer
from mailbridge.tokens import Keyring

__all__ = ["ModeratorNotStored", "Notifier"]

log = logging.getLogger(__name__)


class ModeratorNotStored(Exception):
    """Drafting needs a write (the first time): a moderator's address has no row yet,
    or the thread owner's stored address is to be recorded unusable or respelled."""


_CONFIRMATION_EVERY = timedelta(hours=24)  # at most one confirmation email a day


class Notifier:
    def __init__(self, settings: Settings, keyring: Keyring, renderer: Renderer, clock: Clock):
        self._settings = settings
        self._clock = clock
        self.mail = Mailer(settings, keyring, renderer, clock)

    # -- moderation ------------------------------------------------------------

    async def _mailable(
        self,
        conn: aiosqlite.Connection,
        address_id: int,
        stored: str,
        name: str = "",
        *,
        reading: bool = False,
    ) -> Address | None:
        """The stored address as we send to it; None, logged and recorded (the address
        is suppressed with the reason, see ``mailbridge bounces``) when it cannot be used.

        Databases from before addresses were checked may hold anything (a list, a line
        break, non-ASCII before the @): one such address must not stop the others.
        ``reading``: ``conn`` is a read snapshot, where a write fails on PostgreSQL (a
        read-only transaction) and is rolled back unseen on SQLite; what must be
        recorded raises :class:`ModeratorNotStored` so the caller drafts in a write.
        """
        try:
            address = normalise(stored, smtputf8=self._settings.outbound.smtputf8)
        except InvalidAddress as exc:
            if reading:
                state = await threads.address_state(conn, address_id=address_id)
                if state is not None and state.suppressed_at is None:
                    raise ModeratorNotStored(f"address {address_id}") from exc
                return None  # recorded already
            reason = f"not a usable address: {exc.reason}"
            if await threads.suppress_address(conn, address_id, reason, iso(self._clock.now())):
                log.warning("address %d: not mailing it, %s (now suppressed)", address_id, reason)
            return None
        if address != stored:
            if reading:
                raise ModeratorNotStored(f"address {address_id}")
            await threads.respell_address(conn, address_id, address)
        return mailbox(clean_header_text(name), address)

    async def _moderators(
        self, conn: aiosqlite.Connection, thread: Thread, *, reading: bool = False
    ) -> list[Address]:
        return [found for found, _id in await self._moderator_ids(conn, thread, reading=reading)]

    async def _moderator_ids(
        self, conn: aiosqlite.Connection, thread: Thread, *, reading: bool = False
    ) -> list[tuple[Address, int | None]]:
        """The thread's moderators, each with its address id when this transaction has
        it already: the thread's author's, read here by that id (its address is the
        stored one, respelled in this transaction if need be). None: look it up."""
        smtputf8 = self._settings.outbound.smtputf8
        found: dict[str, tuple[Address, int | None]] = {}
        for configured in self._settings.moderation.moderators:
            name, email = parse_mailbox(configured, smtputf8=smtputf8)  # checked at start-up
            found.setdefault(email.lower(), (mailbox(clean_header_text(name), email), None))
        if thread.author_address_id is not None:
            stored = await threads.address_email(conn, thread.author_address_id)
            owner = None
            if stored is not None:
                owner = await self._mailable(
                    conn, thread.author_address_id, stored, reading=reading
                )
            if owner is not None:
                found.setdefault(owner.addr_spec.lower(), (owner, thread.author_address_id))
        return list(found.values())

    async def moderation_requests(
        self, conn: aiosqlite.Connection, comment: Comment, auto_approved: str | None = None
    ) -> int:
        """Queue one moderation email per moderator of the comment's thread, built here.

        With ``auto_approved`` (why), the comment is already published: the email
        says so and its links undo it."""
        drafts = await self.moderation_drafts(conn, comment, auto_approved)
        if not drafts:
            return 0
        queued = 0
        for draft in drafts:
            if await self.mail.moderation_request(conn, draft):
                queued += 1
        await comments.mark_moderation_mailed(conn, [comment.id], iso(self._clock.now()))
        return queued

    async def moderation_drafts(
        self,
        conn: aiosqlite.Connection,
        comment: Comment,
        auto_approved: str | None = None,
        *,
        digest_rule: bool = True,
        reading: bool = False,
        parent: tuple[Comment | None] | None = None,
    ) -> list[Draft] | None:
        """The moderation emails ``comment`` calls for, one per moderator, unbuilt.

        None when it is left for the next digest (``moderation.mode``; not asked with
        ``digest_rule`` False: the caller asked when the comment came); empty when the
        thread has no moderator. ``reading``: ``conn`` is a read snapshot, so a
        moderator whose address is not stored yet raises :class:`ModeratorNotStored`
        (the caller drafts again in a write) instead of being stored. ``parent``: the
        comment's parent as ``conn``'s transaction read it, (None,) for none; None:
        read here."""
        thread = await threads.get_thread(conn, thread_id=comment.thread_id)
        assert thread is not None
        if digest_rule and auto_approved is None and await self.leave_for_digest(conn):
            return None  # moderation.mode: the next digest carries it
        moderators = await self._moderator_ids(conn, thread, reading=reading)
        if not moderators:
            log.warning(
                "comment %d on %s is pending but the thread has no moderator "
                "(set [moderation] moderators)",
                comment.id,
                thread.key,
            )
            return []
        quoted = None if parent is None else parent[0]
        if parent is None and comment.parent_id is not None:
            quoted = await comments.get_comment(conn, comment.parent_id)
        author_email = None
        about = WriterFacts()
        if comment.address_id is not None:
            author_email, about = await writer_facts(conn, comment, auto_approved)
        now = iso(self._clock.now())
        drafts = []
        for moderator, known in moderators:
            # The links name the moderator (by address id), so each decision records who.
            if known is not None:  # the thread's author, read above in this transaction
                moderator_id = known
            elif reading:
                found = await threads.address_id_of(conn, moderator.addr_spec)
                if found is None:
                    raise ModeratorNotStored(moderator.addr_spec)
                moderator_id = found
            else:
                moderator_id = await threads.upsert_address(conn, moderator.addr_spec, now)
            drafts.append(
                self.mail.moderation_draft(
                    moderator, moderator_id, thread, comment, quoted, author_email, about
                )
            )
        return drafts

    async def leave_for_digest(self, conn: aiosqlite.Connection) -> bool:
        """Whether a comment pending now waits for the next moderation digest."""
        mode = self._settings.moderation.mode
        if mode == "digest":
            return True
        if mode == "auto":
            limit = self._settings.moderation.digest_when_pending_over
            return await comments.pending_over(conn, limit)
        return False

    async def moderation_digests(self, conn: aiosqlite.Connection) -> int:
        """One email per moderator listing the pending comments nobody was emailed
        about yet, each with its own one-tap links, as many as one email holds, and how
        many more wait; returns how many were queued. A comment not listed to each of
        its moderators waits for the next digest."""
        nobody_sitewide = not self._settings.moderation.moderators
        waiting = await comments.not_yet_mailed(conn, authored_only=nobody_sitewide)
        if not waiting:
            return 0
        now = iso(self._clock.now())
        per_moderator: dict[str, tuple[Address, list[DigestEntry]]] = {}
        for comment in waiting:
            thread = await threads.get_thread(conn, thread_id=comment.thread_id)
            assert thread is not None
            for moderator, known in await self._moderator_ids(conn, thread):
                moderator_id = known
                if moderator_id is None:
                    moderator_id = await threads.upsert_address(conn, moderator.addr_spec, now)
                entry = DigestEntry(
                    comment=comment,
                    thread=thread,
                    links=self.mail.addressing.moderation_links(comment.id, moderator_id),
                )
                key = moderator.addr_spec.lower()
                per_moderator.setdefault(key, (moderator, []))[1].append(entry)
        # How many wait per moderator, those past the batch read above included.
        totals: dict[str, int] = {}
        for thread_id, count in await comments.not_yet_mailed_per_thread(conn):
            thread = await threads.get_thread(conn, thread_id=thread_id)
            assert thread is not None
            for moderator in await self._moderators(conn, thread):
                key = moderator.addr_spec.lower()
                totals[key] = totals.get(key, 0) + count
        queued = 0
        left: set[int] = set()
        for key, (moderator, entries) in per_moderator.items():
            waiting_here = max(totals.get(key, 0), len(entries))
            listed, sent = await self.mail.moderation_digest(conn, moderator, entries, waiting_here)
            queued += sent
            left.update(e.comment.id for e in entries[listed:])
        # A comment with no moderator yet stays too: the first one configured hears of it.
        told = {e.comment.id for _m, entries in per_moderator.values() for e in entries}
        await comments.mark_moderation_mailed(
            conn, [c.id for c in waiting if c.id in told and c.id not in left], now
        )
        return queued

    async def spam_reports(self, conn: aiosqlite.Connection) -> int:
        """The daily spam report, one per moderator (mailbridge.notify.spam_report)."""
        return await spam_report.send(conn, self.mail, self._moderators, self._clock)

    # -- publication -----------------------------------------------------------

    async def _audience(self, conn: aiosqlite.Connection, comment: Comment) -> list[Pending]:
        """Who hears about a newly published comment, and why; each person once."""
        found: list[Pending] = []
        seen = {comment.address_id}  # never about one's own comment
        if comment.parent_id is not None:
            parent = await comments.get_comment(conn, comment.parent_id)
            # Unpublished too: told when it is published (comment_published holds it).
            if (
                parent is not None
                and parent.address_id is not None
                and parent.address_id not in seen
                and await subscriptions.is_confirmed(conn, parent.address_id)
                and await subscriptions.effective_level(conn, parent.address_id, comment.thread_id)
                in (Level.REPLIES, Level.THREAD)
            ):
                found.append(Pending(parent.address_id, comment.id, "reply"))
                seen.add(parent.address_id)
        for address_id in await subscriptions.thread_subscribers(conn, comment.thread_id):
            if address_id not in seen:
                found.append(Pending(address_id, comment.id, "thread"))
                seen.add(address_id)
        return found

    async def comment_published(self, conn: aiosqlite.Connection, comment: Comment) -> int:
        """Notify (or, with a batch window, schedule) everyone who should hear about it.

        Under a comment off the page (pending, spam, an approval undone) it is not
        shown either: its notifications wait withdrawn, and go out when that comment
        is published, with the replies approved under it meanwhile (they were
        never sent: the person answered was never told)."""
        audience = await self._audience(conn, comment)
        window = self._settings.notifications.batch_window_seconds
        now = self._clock.now()
        due = now.timestamp() + window
        if not await self._shown(conn, comment):
            for pending in audience:
                await subscriptions.add_pending(conn, pending, iso(now), due, held=True)
            return 0
        count = 0
        for pending in audience:
            if window > 0:
                count += await subscriptions.add_pending(conn, pending, iso(now), due)
            else:
                count += await self.deliver(conn, pending.address_id, [pending])
        return count + await subscriptions.restore_pending(conn, comment.id, due)

    async def _shown(self, conn: aiosqlite.Connection, comment: Comment) -> bool:
        """Whether readers see it: it and every comment above it published."""
        root = await published.conversation_root(conn, comment.thread_id, comment.id)
        return root is not None

    async def comment_unpublished(self, conn: aiosqlite.Connection, comment: Comment) -> int:
        """A published comment was rejected: hold back its notifications, and those of
        the replies under it (they quote it).

        What still waits, for its batch window or in the outbox (a window of 0, a
        relay that deferred it), is withdrawn, not deleted, so that a moderator who
        corrects a mistaken tap still gets its readers told, once; what a worker took
        or sent already cannot be recalled.
        """
        now = self._clock.now()
        held = await subscriptions.withdraw_pending(conn, comment.id, iso(now))
        return held + await withdrawal.withdraw(
            conn, comment.id, iso(now), now.timestamp(), hold=True
        )

    async def comment_republished(self, conn: aiosqlite.Connection, comment: Comment) -> int:
        """A comment published before is published again: nobody is told a second time,
        only what was withdrawn while it was unpublished goes out, after a new window."""
        if not await self._shown(conn, comment):
            return 0  # still off the page: published with the comment above it
        due = self._clock.now().timestamp() + self._settings.notifications.batch_window_seconds
        return await subscriptions.restore_pending(conn, comment.id, due)

    async def deliver(
        self, conn: aiosqlite.Connection, address_id: int, pending: list[Pending]
    ) -> int:
        """Send one person what is waiting for them: one email per thread."""
        state = await threads.address_state(conn, address_id=address_id)
        if state is None:
            return 0
        by_thread: dict[int, list[DigestItem]] = {}
        for entry in pending:
            comment = await comments.get_comment(conn, entry.comment_id)
            if comment is None or comment.status is not CommentStatus.APPROVED:
                continue  # unpublished meanwhile: nothing to tell
            # Asked again now: "stop" pressed within the batch window (the previous
            # email's one-click) stops what waits too.
            wanted = await subscriptions.effective_level(conn, address_id, comment.thread_id)
            if wanted is not Level.THREAD and (entry.why != "reply" or wanted is not Level.REPLIES):
                continue
            parent = None
            if comment.parent_id is not None:
                parent = await comments.get_comment(conn, comment.parent_id)
                if parent is None or parent.status is not CommentStatus.APPROVED:
                    # Under a comment off the page: not shown, and the email would quote
                    # the unpublished comment.
                    continue
            address = self.mail.addressing.reply_address(address_id, state.key_epoch, comment)
            thread = await threads.get_thread(conn, thread_id=comment.thread_id)
            assert thread is not None
            by_thread.setdefault(thread.id, []).append(
                DigestItem(
                    comment=comment,
                    parent=parent,
                    why=entry.why,
                    url=self.mail.addressing.links(thread, comment.id).comment,
                    reply_address=address,
                    parent_excerpt=excerpt_of(parent),
                )
            )
        if not by_thread:
            return 0
        # Addressed by the name they use on the blog.
        display = await comments.latest_author_name(conn, address_id) or ""
        to = await self._mailable(conn, address_id, state.email, display)
        if to is None:
            return 0
        sent = 0
        for thread_id, items in by_thread.items():
            thread = await threads.get_thread(conn, thread_id=thread_id)
            assert thread is not None
            sent += await self.mail.notification(conn, to, address_id, thread, items)
        return sent

    # -- subscriptions ---------------------------------------------------------

    async def subscription_requested(
        self, conn: aiosqlite.Connection, address_id: int, thread: Thread, level: Level
    ) -> bool:
        """A web commenter asked to be emailed. Returns True when a confirmation was sent."""
        now = self._clock.now()
        if await subscriptions.is_confirmed(conn, address_id) and not await self._widens(
            conn, address_id, thread.id, level
        ):
            current = await subscriptions.effective_level(conn, address_id, thread.id)
            if current is Level.THREAD and level is Level.REPLIES:
                # Following the thread hears the replies too: the widget's default
                # ("replies to my comment") must not stop the rest.
                return False
            await subscriptions.set_level(conn, address_id, thread.id, level, "web", iso(now))
            return False
        await subscriptions.request(conn, address_id, thread.id, level, iso(now))
        email = await threads.address_email(conn, address_id)
        assert email is not None
        to = await self._mailable(conn, address_id, email)
        if to is None:
            return False
        not_since = iso(now - _CONFIRMATION_EVERY)
        if not await subscriptions.mark_confirmation_sent(conn, address_id, iso(now), not_since):
            log.info("address %d: a confirmation email went out less than a day ago", address_id)
            return False
        return await self.mail.confirmation(conn, to, address_id, thread, level.value)

    async def _widens(
        self, conn: aiosqlite.Connection, address_id: int, thread_id: int, level: Level
    ) -> bool:
        """Whether a web request would send a confirmed address more than its owner
        chose: anyone can type an address into the form, so undoing their "stop" or
        following a whole thread for them is confirmed by email first."""
        current = await subscriptions.effective_level(conn, address_id, thread_id)
        return current is Level.NONE or (level is Level.THREAD and current is not Level.THREAD)

    async def subscription_held(
        self, conn: aiosqlite.Connection, address_id: int, thread_id: int, level: Level
    ) -> None:
        """Asked for with a comment bound for the spam folder: remembered, and no
        confirmation email (to an address a robot may have typed) unless it is rescued."""
        await subscriptions.request(conn, address_id, thread_id, level, iso(self._clock.now()))

    async def subscription_rescued(self, conn: aiosqlite.Connection, comment: Comment) -> int:
        """A comment out of the spam folder: the confirmation its writer asked for."""
        if comment.source is not Source.WEB or comment.address_id is None:
            return 0
        level = await subscriptions.requested_level(conn, comment.address_id, comment.thread_id)
        thread = await threads.get_thread(conn, thread_id=comment.thread_id)
        if level is None or thread is None:
            return 0
        return int(await self.subscription_requested(conn, comment.address_id, thread, level))

    async def replied_by_email(
        self, conn: aiosqlite.Connection, address_id: int, thread_id: int
    ) -> None:
        """Replying proves the address works and asks to hear back, unless they said no."""
        now = iso(self._clock.now())
        await subscriptions.confirm_address(conn, address_id, now)
        if await subscriptions.effective_level(conn, address_id, thread_id) is None:
            await subscriptions.set_level(conn, address_id, thread_id, Level.REPLIES, "email", now)

    async def rejection_notice(
        self,
        conn: aiosqlite.Connection,
        email: str,
        address_id: int,
        comment_id: int,
        rejection: Rejection,
        *,
        in_reply_to: str | None,
        thread_id: int,
    ) -> bool:
        """Tell a person why their reply was not posted: at most once per hour per sender.

        Only called for a verified person (the sender matched the reply address and
        was not a machine), so this never answers a robot or a forged sender.
        """
        hour = self._clock.now().strftime("%Y-%m-%dT%H")
        async with conn.execute(
            "INSERT INTO rejection_replies (sender, hour, reason) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            (email, hour, rejection.code),
        ) as cur:
            if await cur.fetchone() is None:
                log.info(
                    "not explaining %s to address %d again this hour", rejection.code, address_id
                )
                return False
        thread = await threads.get_thread(conn, thread_id=thread_id)
        assert thread is not None
        to = await self._mailable(conn, address_id, email)
        if to is None:
            return False
        return await self.mail.rejection_notice(
            conn, to, address_id, thread, comment_id, rejection, in_reply_to
        )


def excerpt_of(comment: Comment | None) -> str:
    return excerpt(comment.body) if comment else ""
