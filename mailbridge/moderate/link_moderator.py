"""Whether the moderator a moderation link names still moderates the comment's thread.

A link names the address it was sent to and works for ``moderation.link_days``; an
address taken off ``moderation.moderators`` meanwhile (or no longer the thread's
author) must not decide with the emails it still holds, as a reply from it is refused
(mailbridge.inbound.moderation).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import aiosqlite

from mailbridge.addresses import same_mailbox
from mailbridge.store import comments, threads

__all__ = ["configured_address", "still_moderates"]


def configured_address(configured: str) -> str:
    """The address part of a configured moderator ("Ann <ann@x>" or "ann@x")."""
    match = re.search(r"<([^<>]+)>\s*$", configured)
    return match.group(1) if match else configured.strip()


async def still_moderates(
    conn: aiosqlite.Connection, configured: Sequence[str], moderator_id: int, comment_id: int
) -> bool:
    """True while ``moderator_id`` moderates the thread of ``comment_id`` (True for a
    comment gone: the caller says it no longer exists; True for an erased address)."""
    comment = await comments.get_comment(conn, comment_id)
    if comment is None:
        return True
    thread = await threads.get_thread(conn, thread_id=comment.thread_id)
    if thread is None:
        return True
    if thread.author_address_id == moderator_id:
        return True
    email = await threads.address_email(conn, moderator_id)
    if email is None:
        # Erased since (privacy): who it was cannot be told, and a moderator who erased
        # their own data keeps the links they hold (tests/integration/test_web_bad_input).
        return True
    allowed = [configured_address(c) for c in configured]
    if thread.author_address_id is not None:
        allowed.append(await threads.address_email(conn, thread.author_address_id) or "")
    return any(a and same_mailbox(email, a) for a in allowed)
