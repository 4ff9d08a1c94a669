"""The daily spam report (docs/spam.md): one email per moderator, what went to the spam
folder since the last one on the threads they moderate, counted and listed for them
alone, each with a link that publishes it after all.

Chosen per moderator: a list of fifty chosen across the whole site, sent to each
moderator filtered to their threads, left a guest author's comment out when a robot
run on another post filled it (marked reported all the same: never told), and told
every author the whole site's count as their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.headerregistry import Address

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.models import Thread
from mailbridge.notify.mail import DigestEntry, Mailer
from mailbridge.store import comments, threads
from mailbridge.tokens import Action

__all__ = ["send"]

# The notifier's: who moderates a thread, as addresses to write to.
Moderators = Callable[[aiosqlite.Connection, Thread], Awaitable[list[Address]]]


async def send(
    conn: aiosqlite.Connection, mail: Mailer, moderators: Moderators, clock: Clock
) -> int:
    """In the caller's transaction: queue the reports; how many. Everything reported is
    marked so (moderation_mailed_at), so the next report tells only what is new."""
    waiting = await comments.spam_not_reported_per_thread(conn)
    if not waiting:
        return 0
    now = iso(clock.now())
    theirs: dict[str, tuple[Address, list[int]]] = {}  # a moderator's threads with spam
    by_id: dict[int, Thread] = {}
    for thread_id in sorted(waiting):
        thread = await threads.get_thread(conn, thread_id=thread_id)
        assert thread is not None
        by_id[thread_id] = thread
        for moderator in await moderators(conn, thread):
            theirs.setdefault(moderator.addr_spec.lower(), (moderator, []))[1].append(thread_id)
    queued = 0
    for moderator, thread_ids in theirs.values():
        moderator_id = await threads.upsert_address(conn, moderator.addr_spec, now)
        entries = []
        for comment in await comments.spam_not_reported(conn, thread_ids):
            rescue = mail.addressing.moderation_link(comment.id, Action.APPROVE, moderator_id)
            entries.append(DigestEntry(comment, by_id[comment.thread_id], {"approve": rescue}))
        total = sum(waiting[thread_id] for thread_id in thread_ids)
        if await mail.spam_report(conn, moderator, entries, total):
            queued += 1
    await comments.mark_spam_reported(conn, now)
    return queued
