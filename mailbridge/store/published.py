"""SQL for a thread's published comments read a page at a time.

A big thread's first page used to be cut from the whole thread: every comment's row
read and made into an object (40 to 60 ms for 5,000) to show 50 conversations. These
read the thread's top-level comment ids, then only the rows of the conversations
shown. "Published" is what :func:`mailbridge.store.comments.approved_tree` shows: an
approved comment whose every ancestor is approved too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import aiosqlite

from mailbridge.models import CommentNode
from mailbridge.store.comments import comment_from_row

__all__ = [
    "ROOTS_PER_QUERY",
    "conversation_root",
    "conversation_sizes",
    "conversations",
    "published_count",
    "published_roots",
]

# Each step down joins a comment to its approved replies (index comments_by_parent).
_COUNT = (
    "WITH RECURSIVE shown(id) AS ("
    " SELECT id FROM comments WHERE thread_id = ? AND status = 'approved' AND parent_id IS NULL"
    " UNION ALL"
    " SELECT c.id FROM comments c JOIN shown s ON c.parent_id = s.id"
    " WHERE c.status = 'approved')"
    " SELECT count(*) FROM shown"
)


async def published_count(conn: aiosqlite.Connection, thread_id: int) -> int:
    """How many comments of the thread readers see (replies included)."""
    async with conn.execute(_COUNT, (thread_id,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def published_roots(conn: aiosqlite.Connection, thread_id: int) -> list[int]:
    """The ids of the thread's published top-level comments, oldest first."""
    async with conn.execute(
        "SELECT id FROM comments WHERE thread_id = ? AND status = 'approved'"
        " AND parent_id IS NULL ORDER BY created_at, id",
        (thread_id,),
    ) as cur:
        return [int(row[0]) for row in await cur.fetchall()]


async def conversation_root(
    conn: aiosqlite.Connection, thread_id: int, comment_id: int
) -> int | None:
    """The top-level comment whose conversation holds ``comment_id``, or None when that
    is not a published comment of the thread (itself or an ancestor not approved)."""
    async with conn.execute(
        "WITH RECURSIVE up(id, parent_id, status, thread_id, depth) AS ("
        " SELECT id, parent_id, status, thread_id, 0 FROM comments WHERE id = ?"
        " UNION ALL"
        " SELECT c.id, c.parent_id, c.status, c.thread_id, up.depth + 1"
        " FROM comments c JOIN up ON c.id = up.parent_id WHERE up.depth < 10000)"
        " SELECT id, parent_id, status, thread_id FROM up",
        (comment_id,),
    ) as cur:
        chain = list(await cur.fetchall())
    if not chain or chain[-1][1] is not None:
        return None
    if any(row[2] != "approved" or row[3] != thread_id for row in chain):
        return None
    return int(chain[-1][0])


# Top-level ids per statement: a page reaching a comment far into a huge thread may
# hold thousands of conversations, and a statement takes at most 32,766 parameters
# in SQLite (65,535 in PostgreSQL).
ROOTS_PER_QUERY = 500


def _over_shown(count: int, select: str) -> str:
    """``select`` over ``shown(id, root)``: the published comments of ``count``
    conversations, each with the top-level id it belongs to. The statement's
    parameters: the top-level ids, then the thread's id. Only placeholders and the
    callers' constant ``select`` are joined in."""
    marks = ",".join("?" * count)
    return (
        "WITH RECURSIVE shown(id, root) AS ("  # noqa: S608
        f" SELECT id, id FROM comments WHERE id IN ({marks}) AND thread_id = ?"
        " AND status = 'approved' AND parent_id IS NULL"
        " UNION ALL"
        " SELECT c.id, s.root FROM comments c JOIN shown s ON c.parent_id = s.id"
        f" WHERE c.status = 'approved') {select}"
    )


def _chunks(roots: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(roots), ROOTS_PER_QUERY):
        yield roots[start : start + ROOTS_PER_QUERY]


async def conversations(
    conn: aiosqlite.Connection, thread_id: int, roots: Sequence[int]
) -> list[CommentNode]:
    """The published conversations of ``roots`` (top-level ids, in the order given),
    each with its published replies, oldest first at every level."""
    nodes: dict[int, CommentNode] = {}
    for some in _chunks(roots):
        async with conn.execute(
            _over_shown(
                len(some),
                "SELECT * FROM comments WHERE id IN (SELECT id FROM shown) ORDER BY created_at, id",
            ),
            (*some, thread_id),
        ) as cur:
            rows = await cur.fetchall()
        found = {row["id"]: CommentNode(comment_from_row(row)) for row in rows}
        for node in found.values():
            parent_id = node.comment.parent_id
            if parent_id is not None and parent_id in found:
                found[parent_id].replies.append(node)
        nodes.update(found)
    return [nodes[root] for root in roots if root in nodes]


async def conversation_sizes(
    conn: aiosqlite.Connection, thread_id: int, roots: Sequence[int]
) -> dict[int, int]:
    """How many published comments each conversation of ``roots`` (top-level ids)
    holds, itself and its replies at any depth (ids only: no row is read whole)."""
    sizes: dict[int, int] = {}
    for some in _chunks(roots):
        async with conn.execute(
            _over_shown(len(some), "SELECT root, count(*) FROM shown GROUP BY root"),
            (*some, thread_id),
        ) as cur:
            sizes.update((int(row[0]), int(row[1])) for row in await cur.fetchall())
    return sizes
