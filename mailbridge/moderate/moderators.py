"""Who moderates: each thread's author, and the addresses in moderation.moderators.

Asked where a moderator acts on their own (the queue page's sign-in and each of its
requests) and by `mailbridge sessions list`, which tells a session that would be
refused because its address moderates nothing now.
"""

from __future__ import annotations

from collections.abc import Iterable

import aiosqlite

from mailbridge.addresses import same_mailbox

__all__ = ["moderates", "moderates_all"]


def moderates_all(configured: Iterable[str], address: str) -> bool:
    """Whether ``address`` is one of ``configured`` (as the settings write them,
    "Name <addr>" or "addr"): a moderator of every thread. A thread's author
    moderates only the threads they wrote."""
    for entry in configured:
        bare = entry.rsplit("<", 1)[-1].rstrip(">").strip()
        if same_mailbox(address, bare):
            return True
    return False


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
