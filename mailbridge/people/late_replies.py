"""A reply by email that comes after the comment it answers was erased (anonymised).

It is filed: the comment is still on the page, by "a former commenter". But the
reader's copy of the notification, quoted below the answer, names the erased writer
("Ann replied to your comment"), and so does its To header ("Ann via Blog"): the cut
part, the header section and the raw bytes are not kept, as an erasure leaves the
replies that came before it (mailbridge.people.quoted).
"""

from __future__ import annotations

import aiosqlite

from mailbridge.models import Comment
from mailbridge.people.data import erased
from mailbridge.store import comments

__all__ = ["forget_quote_of_erased"]


async def forget_quote_of_erased(
    conn: aiosqlite.Connection, inbound_id: int, reply: Comment, parent: Comment | None
) -> bool:
    """In the caller's transaction: whether ``reply`` answers an erased comment (and
    what named its writer was dropped). ``parent``: the reply's parent as read in this
    same transaction (an erasure commits in its own transaction, so it cannot change
    in between), or None to read it here."""
    if reply.parent_id is None:
        return False
    if parent is None or parent.id != reply.parent_id:
        parent = await comments.get_comment(conn, reply.parent_id)
    if parent is None or not erased(parent):
        return False
    await conn.execute("UPDATE comments SET elided = '' WHERE id = ?", (reply.id,))
    await conn.execute("UPDATE inbound_messages SET headers = NULL WHERE id = ?", (inbound_id,))
    await conn.execute("DELETE FROM inbound_raw WHERE inbound_id = ?", (inbound_id,))
    return True
