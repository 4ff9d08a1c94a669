"""SQL for comments: insert, read, tree, and compare-and-set status changes."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict

import aiosqlite

from mailbridge.models import (
    AttachmentNote,
    Comment,
    CommentNode,
    CommentStatus,
    NewComment,
    Source,
)
from mailbridge.store.engine import dialect_of, json_list
from mailbridge.store.threads import upsert_address

__all__ = [
    "add_comment",
    "approved_tree",
    "comment_from_row",
    "get_comment",
    "insert_comment",
    "latest_author_name",
    "lock_for_decision",
    "mark_published",
    "set_status",
    "with_parent",
]


def comment_from_row(row: sqlite3.Row) -> Comment:
    return Comment(
        id=row["id"],
        thread_id=row["thread_id"],
        parent_id=row["parent_id"],
        address_id=row["address_id"],
        author=row["author"],
        body=row["body"],
        status=CommentStatus(row["status"]),
        source=Source(row["source"]),
        notify=bool(row["notify"]),
        created_at=row["created_at"],
        attachments=tuple(AttachmentNote(**item) for item in json.loads(row["attachments"])),
        held_reason=row["held_reason"],
        published_at=row["published_at"],
        elided=row["elided"],
    )


async def insert_comment(conn: aiosqlite.Connection, new: NewComment) -> tuple[int, bool]:
    """Store ``new``; return (id, created). With a ``source_ref`` it is idempotent."""
    comment, created = await add_comment(conn, new)
    return comment.id, created


async def add_comment(conn: aiosqlite.Connection, new: NewComment) -> tuple[Comment, bool]:
    """Store ``new``; return (the comment as stored, created), idempotent as
    :func:`insert_comment`. The row comes back from the INSERT itself (``RETURNING *``),
    not from a SELECT after it: no trigger on ``comments`` changes the row it inserts
    (they bump the thread's version and mark WordPress pushes)."""
    address_id = None
    if new.email:
        address_id = await upsert_address(conn, new.email, new.created_at)
    async with conn.execute(
        "INSERT INTO comments (thread_id, parent_id, address_id, author, body, status, source, "
        "source_ref, notify, created_at, attachments, held_reason, elided) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (thread_id, source, source_ref) DO NOTHING RETURNING *",
        (
            new.thread_id,
            new.parent_id,
            address_id,
            new.author,
            new.body,
            new.status.value,
            new.source.value,
            new.source_ref,
            int(new.notify),
            new.created_at,
            json.dumps([asdict(a) for a in new.attachments]),
            new.held_reason,
            new.elided,
        ),
    ) as cur:
        row = await cur.fetchone()
    if row is not None:
        return comment_from_row(row), True
    async with conn.execute(
        "SELECT * FROM comments WHERE thread_id = ? AND source = ? AND source_ref = ?",
        (new.thread_id, new.source.value, new.source_ref),
    ) as cur:
        existing = await cur.fetchone()
    assert existing is not None
    return comment_from_row(existing), False


async def get_comment(conn: aiosqlite.Connection, comment_id: int) -> Comment | None:
    async with conn.execute("SELECT * FROM comments WHERE id = ?", (comment_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else comment_from_row(row)


async def with_parent(
    conn: aiosqlite.Connection, comment_id: int
) -> tuple[Comment | None, Comment | None]:
    """The comment and its parent (None without one), in one statement: what
    get_comment of each answers, from one read of the same snapshot."""
    async with conn.execute(
        "SELECT * FROM comments WHERE id IN (?, (SELECT parent_id FROM comments WHERE id = ?))",
        (comment_id, comment_id),
    ) as cur:
        found = {c.id: c for c in map(comment_from_row, await cur.fetchall())}
    comment = found.get(comment_id)
    if comment is None or comment.parent_id is None:
        return comment, None
    return comment, found.get(comment.parent_id)


async def lock_for_decision(conn: aiosqlite.Connection, comment_id: int) -> None:
    """Hold the comment's row until the transaction ends, before reading what a decision
    depends on. SQLite has one writer, so nothing to do; on PostgreSQL two daemons (an
    undo on one, a moderator's reply on the other) read the same status, and the later
    UPDATE overruled the newer decision (an undo re-published a rejected comment)."""
    if dialect_of(conn) == "postgresql":
        await conn.execute("SELECT id FROM comments WHERE id = ? FOR UPDATE", (comment_id,))


async def set_status(
    conn: aiosqlite.Connection, comment_id: int, status: CommentStatus, now: str
) -> CommentStatus | None:
    """Set the status; return the previous one (None if the comment does not exist)."""
    async with conn.execute("SELECT status FROM comments WHERE id = ?", (comment_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    previous = CommentStatus(row[0])
    if previous is not status:
        await conn.execute(
            "UPDATE comments SET status = ?, moderated_at = ? WHERE id = ?",
            (status.value, now, comment_id),
        )
    return previous


async def approved_tree(conn: aiosqlite.Connection, thread_id: int) -> list[CommentNode]:
    """The approved comments of a thread as a tree, oldest first at every level.

    A reply whose parent is not approved is not shown: publishing it would show an
    answer to something readers cannot see.
    """
    async with conn.execute(
        "SELECT * FROM comments WHERE thread_id = ? AND status = 'approved' "
        "ORDER BY created_at, id",
        (thread_id,),
    ) as cur:
        rows = await cur.fetchall()
    nodes = {row["id"]: CommentNode(comment_from_row(row)) for row in rows}
    roots: list[CommentNode] = []
    for node in nodes.values():
        parent_id = node.comment.parent_id
        if parent_id is None:
            roots.append(node)
        elif parent_id in nodes:
            nodes[parent_id].replies.append(node)
    return roots


async def latest_author_name(conn: aiosqlite.Connection, address_id: int) -> str | None:
    """The name this address signed its most recent published comment with.

    Published only: anyone may post a comment with anyone's address, and the name of
    such a comment (pending, spam, rejected) would head that address's notifications
    ("To: <the name>") and sign their emailed replies. A moderator has seen a published
    one."""
    async with conn.execute(
        # In comments_by_address's order (its rowid last), up to the first approved one.
        "SELECT author FROM comments WHERE address_id = ? AND status = 'approved' "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        (address_id,),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def same_answer(
    conn: aiosqlite.Connection, parent_id: int, author: str, body: str
) -> tuple[int, CommentStatus] | None:
    """An answer to ``parent_id`` by ``author`` with exactly ``body``, published or
    waiting (held for a moderator), if any: its id and status."""
    async with conn.execute(
        "SELECT id, status FROM comments WHERE parent_id = ? AND author = ? AND body = ? "
        "AND status IN ('approved', 'pending') ORDER BY id LIMIT 1",
        (parent_id, author, body),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else (int(row[0]), CommentStatus(row[1]))


async def mark_published(conn: aiosqlite.Connection, comment_id: int, now: str) -> bool:
    """Record the first publication; False if the comment was published before."""
    cur = await conn.execute(
        "UPDATE comments SET published_at = ? WHERE id = ? AND published_at IS NULL",
        (now, comment_id),
    )
    return cur.rowcount > 0


async def set_held_reason(conn: aiosqlite.Connection, comment_id: int, reason: str) -> None:
    await conn.execute("UPDATE comments SET held_reason = ? WHERE id = ?", (reason, comment_id))


async def spam_folder(
    conn: aiosqlite.Connection, since: str, limit: int = 200
) -> tuple[list[Comment], int]:
    """Comments that went to spam since ``since`` (ISO), newest first, and how many
    there are in all (more than ``limit`` after a robot run)."""
    async with conn.execute(
        "SELECT * FROM comments WHERE status = 'spam' AND created_at >= ? ORDER BY id DESC LIMIT ?",
        (since, limit),
    ) as cur:
        found = [comment_from_row(row) for row in await cur.fetchall()]
    async with conn.execute(
        "SELECT count(*) FROM comments WHERE status = 'spam' AND created_at >= ?", (since,)
    ) as cur:
        row = await cur.fetchone()
    return found, 0 if row is None else int(row[0])


# The spam folder's page (mailbridge.web.spam_folder): newest first, a page at a time;
# with an address, only on the threads it wrote (what a thread's author moderates).
_FOLDER = "SELECT * FROM comments WHERE status = 'spam' AND id < ? "
_AUTHORED = "AND thread_id IN (SELECT id FROM threads WHERE author_address_id = ?) "


async def spam_page(
    conn: aiosqlite.Connection, limit: int, before: int | None, only: int | None
) -> list[Comment]:
    """Comments in the spam folder, newest first, older than comment ``before`` when
    given (the next page); ``only``: on the threads whose author is that address."""
    sql, args = _FOLDER, [before if before is not None else 2**62]
    if only is not None:
        sql, args = sql + _AUTHORED, [*args, only]
    async with conn.execute(sql + "ORDER BY id DESC LIMIT ?", (*args, limit)) as cur:
        return [comment_from_row(row) for row in await cur.fetchall()]


async def spam_count(conn: aiosqlite.Connection, only: int | None) -> int:
    """How many comments are in the spam folder (``only``: as in :func:`spam_page`)."""
    sql = "SELECT count(*) FROM comments WHERE status = 'spam' "
    args: tuple[int, ...] = ()
    if only is not None:
        sql, args = sql + _AUTHORED, (only,)
    async with conn.execute(sql, args) as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def spam_not_reported_per_thread(conn: aiosqlite.Connection) -> dict[int, int]:
    """How many comments went to spam with no moderator told yet, per thread."""
    async with conn.execute(
        "SELECT thread_id, count(*) FROM comments "
        "WHERE status = 'spam' AND moderation_mailed_at IS NULL GROUP BY thread_id"
    ) as cur:
        return {int(row[0]): int(row[1]) for row in await cur.fetchall()}


async def spam_not_reported(
    conn: aiosqlite.Connection, thread_ids: list[int], limit: int = 50
) -> list[Comment]:
    """Of the comments on these threads that went to spam with no moderator told yet,
    the ``limit`` likeliest to be a person's (lowest score first); the daily spam
    report lists them, to each moderator those of the threads they moderate."""
    async with conn.execute(
        # held_reason starts "spam score 0.62: ..." (two decimals), so its order is the
        # score's. By id, a day of 50 robots pushed a person's comment out of the list.
        "SELECT * FROM comments WHERE status = 'spam' AND moderation_mailed_at IS NULL "  # noqa: S608
        f"AND thread_id IN {json_list(conn, 'bigint')} ORDER BY held_reason, id LIMIT ?",
        (json.dumps(thread_ids), limit),
    ) as cur:
        return [comment_from_row(row) for row in await cur.fetchall()]


async def mark_spam_reported(conn: aiosqlite.Connection, now: str) -> None:
    await conn.execute(
        "UPDATE comments SET moderation_mailed_at = ? "
        "WHERE status = 'spam' AND moderation_mailed_at IS NULL",
        (now,),
    )


# Pending comments, and those on the threads one address wrote (what a thread's author
# moderates), oldest first.
_PENDING = "SELECT * FROM comments WHERE status = 'pending' ORDER BY id LIMIT ?"
_PENDING_AUTHORED = (
    "SELECT * FROM comments WHERE status = 'pending' AND thread_id IN "
    "(SELECT id FROM threads WHERE author_address_id = ?) ORDER BY id LIMIT ?"
)


async def pending_queue(
    conn: aiosqlite.Connection, limit: int = 200, author_address_id: int | None = None
) -> list[Comment]:
    """Pending comments, oldest first (the order they arrived in); with
    ``author_address_id``, only those on the threads that address wrote."""
    args: tuple[int, ...]
    if author_address_id is None:
        query, args = _PENDING, (limit,)
    else:
        query, args = _PENDING_AUTHORED, (author_address_id, limit)
    async with conn.execute(query, args) as cur:
        return [comment_from_row(row) for row in await cur.fetchall()]


async def mark_moderation_mailed(
    conn: aiosqlite.Connection, comment_ids: list[int], now: str
) -> None:
    await conn.executemany(
        "UPDATE comments SET moderation_mailed_at = ? WHERE id = ?",
        [(now, comment_id) for comment_id in comment_ids],
    )


async def moderation_mailed(conn: aiosqlite.Connection, comment_id: int) -> str | None:
    """When the moderators were told of the comment (a moderation email, digest or
    spam report; a person's decision counts): None while not yet."""
    async with conn.execute(
        "SELECT moderation_mailed_at FROM comments WHERE id = ?", (comment_id,)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None or row[0] is None else str(row[0])


async def set_moderation_mailed(
    conn: aiosqlite.Connection, comment_id: int, when: str | None
) -> None:
    """Put back what :func:`moderation_mailed` read (an Undo restores it)."""
    await conn.execute(
        "UPDATE comments SET moderation_mailed_at = ? WHERE id = ?", (when, comment_id)
    )


async def pending_count(conn: aiosqlite.Connection, author_address_id: int | None = None) -> int:
    args: tuple[int, ...] = ()
    if author_address_id is None:
        query = "SELECT count(*) FROM comments WHERE status = 'pending'"
    else:
        query = (
            "SELECT count(*) FROM comments WHERE status = 'pending' AND thread_id IN "
            "(SELECT id FROM threads WHERE author_address_id = ?)"
        )
        args = (author_address_id,)
    async with conn.execute(query, args) as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row[0])


async def pending_over(conn: aiosqlite.Connection, limit: int) -> bool:
    """Whether more than ``limit`` comments are pending: at most ``limit + 1`` index
    entries read, where a count reads every pending one (thousands in a flood, each time
    a comment comes)."""
    async with conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM comments WHERE status = 'pending' LIMIT ?) AS p",
        (limit + 1,),
    ) as cur:
        row = await cur.fetchone()
    return row is not None and int(row[0]) > limit


async def not_yet_mailed_per_thread(conn: aiosqlite.Connection) -> list[tuple[int, int]]:
    """(thread id, count) of every comment :func:`not_yet_mailed` would return, unlimited."""
    async with conn.execute(
        "SELECT thread_id, count(*) FROM comments WHERE status = 'pending' "
        "AND moderation_mailed_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM moderation_mail_queue q WHERE q.comment_id = comments.id) "
        "GROUP BY thread_id ORDER BY thread_id"
    ) as cur:
        return [(int(r[0]), int(r[1])) for r in await cur.fetchall()]


async def not_yet_mailed(
    conn: aiosqlite.Connection, limit: int = 200, *, authored_only: bool = False
) -> list[Comment]:
    """Pending comments no moderator has been emailed about (for the digest), but not
    those whose own emails are being built (a row in moderation_mail_queue): the
    moderators would hear of them twice. ``authored_only``: on threads with an author
    (with no site-wide moderator, the others have nobody to tell: they wait, and must
    not fill the ``limit``)."""
    async with conn.execute(
        "SELECT * FROM comments WHERE status = 'pending' AND moderation_mailed_at IS NULL "
        "AND NOT EXISTS (SELECT 1 FROM moderation_mail_queue q WHERE q.comment_id = comments.id) "
        "AND (? = 0 OR EXISTS (SELECT 1 FROM threads t WHERE t.id = comments.thread_id "
        "AND t.author_address_id IS NOT NULL)) "
        "ORDER BY id LIMIT ?",
        (int(authored_only), limit),
    ) as cur:
        return [comment_from_row(row) for row in await cur.fetchall()]
