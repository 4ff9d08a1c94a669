"""Who moderates: each thread's author, and the addresses in moderation.moderators.

Asked wherever a moderator acts: the queue page's sign-in and each of its requests,
`mailbridge sessions list` (a session whose address moderates nothing now), each
moderation link (an address taken off the settings, or no longer the thread's author,
must not decide with the emails it still holds) and each reply to a moderation email.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import aiosqlite

from mailbridge.addresses import same_mailbox
from mailbridge.store import comments, threads

__all__ = ["configured_address", "moderates", "moderates_all", "still_moderates"]


def configured_address(configured: str) -> str:
    """The address part of a configured moderator ("Ann <ann@x>" or "ann@x")."""
    match = re.search(r"<([^<>]+)>\s*$", configured)
    return match.group(1) if match else configured.strip()


def moderates_all(configured: Iterable[str], address: str) -> bool:
    """Whether ``address`` is one of ``configured``: a moderator of every thread. A
    thread's author moderates only the threads they wrote."""
    return any(same_mailbox(address, configured_address(entry)) for entry in configured)


async def moderates(conn: aiosqlite.Connection, configured: Iterable[str], address: str) -> bool:
    """Whether ``address`` moderates anything: one of ``configured`` or a thread's author."""
    if moderates_all(configured, address):
        return True
    async with conn.execute(
        "SELECT 1 FROM threads t JOIN addresses a ON a.id = t.author_address_id "
        "WHERE a.email = ? LIMIT 1",
        (address,),
    ) as cur:
        return await cur.fetchone() is not None


async def still_moderates(
    conn: aiosqlite.Connection, configured: Sequence[str], moderator_id: int, comment_id: int
) -> bool:
    """True while ``moderator_id`` moderates the thread of ``comment_id`` (True for a
    comment gone: the caller says it no longer exists; False for an address gone)."""
    comment = await comments.get_comment(conn, comment_id)
    if comment is None:
        return True
    thread = await threads.get_thread(conn, thread_id=comment.thread_id)
    if thread is None or thread.author_address_id == moderator_id:
        return True
    email = await threads.address_email(conn, moderator_id)
    if email is None:
        # Erased, or forgotten with the spam folder's comments (people/unreferenced.py):
        # who it was cannot be told, so not that it moderates now. Obeyed, the links of
        # a moderator taken off the settings worked again once their address was gone;
        # a moderator still, they decide on the queue page, signed in anew.
        return False
    if moderates_all(configured, email):
        return True
    author = thread.author_address_id
    owner = await threads.address_email(conn, author) if author is not None else None
    return owner is not None and same_mailbox(email, owner)
