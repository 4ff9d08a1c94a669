"""The bridge's own tables (migration 0017): posts to threads, comments to comments,
the push queue and the poll state."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import aiosqlite

__all__ = [
    "Link",
    "Push",
    "bridged_posts",
    "digest",
    "drop_link",
    "due_pushes",
    "get_state",
    "link_of_comment",
    "link_of_wp",
    "map_post",
    "off_blog",
    "post_of_thread",
    "push_done",
    "push_error",
    "push_failed",
    "save_link",
    "set_state",
    "thread_of_post",
    "unsettled",
    "watched",
]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Link:
    wp_id: int
    comment_id: int | None  # None: held in WordPress, not mirrored
    post_id: int
    wp_status: str  # approved, hold, spam, trash, or deleted (a tombstone)
    content_hash: str = ""
    body_hash: str = ""


@dataclass(frozen=True)
class Push:
    comment_id: int
    version: int
    attempts: int


_LINK = "wp_id, comment_id, post_id, wp_status, content_hash, body_hash"


def _link(row: aiosqlite.Row | tuple[object, ...] | None) -> Link | None:
    if row is None:
        return None
    wp_id, comment_id, post_id, wp_status, content_hash, body_hash = tuple(row)
    return Link(
        int(str(wp_id)),
        None if comment_id is None else int(str(comment_id)),
        int(str(post_id)),
        str(wp_status),
        str(content_hash),
        str(body_hash),
    )


async def get_state(conn: aiosqlite.Connection, key: str) -> str | None:
    async with conn.execute("SELECT value FROM wp_state WHERE key = ?", (key,)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def set_state(conn: aiosqlite.Connection, key: str, value: str) -> None:
    await conn.execute(
        "INSERT INTO wp_state (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


async def thread_of_post(conn: aiosqlite.Connection, post_id: int) -> int | None:
    async with conn.execute("SELECT thread_id FROM wp_posts WHERE post_id = ?", (post_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def post_of_thread(conn: aiosqlite.Connection, key: str) -> int | None:
    """The WordPress post the thread ``key`` is bridged to, if any."""
    async with conn.execute(
        "SELECT p.post_id FROM wp_posts p JOIN threads t ON t.id = p.thread_id WHERE t.key = ?",
        (key,),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def map_post(conn: aiosqlite.Connection, post_id: int, thread_id: int) -> None:
    await conn.execute(
        "INSERT INTO wp_posts (post_id, thread_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (post_id, thread_id),
    )


async def bridged_posts(conn: aiosqlite.Connection) -> list[tuple[int, int]]:
    """(post ID, thread ID) of every bridged post."""
    async with conn.execute("SELECT post_id, thread_id FROM wp_posts ORDER BY post_id") as cur:
        return [(int(r[0]), int(r[1])) for r in await cur.fetchall()]


async def off_blog(conn: aiosqlite.Connection, comment_id: int) -> bool:
    """Whether the comment, approved, stays off the blog for now: one of mailbridge's not
    in WordPress yet, its post last seen taking no comments there (posts.py), which
    refuses its creation (push.py parks it). One there already, held, is approved
    there as usual; an imported one or one deleted there is never sent at all."""
    async with conn.execute(
        "SELECT p.post_id, w.wp_id FROM comments c JOIN wp_posts p ON p.thread_id = c.thread_id "
        "LEFT JOIN wp_comments w ON w.comment_id = c.id WHERE c.id = ? AND c.source <> 'import'",
        (comment_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None or row[1] is not None:
        return False
    return await get_state(conn, f"post_open:{int(row[0])}") == "0"


async def link_of_wp(conn: aiosqlite.Connection, wp_id: int) -> Link | None:
    sql = f"SELECT {_LINK} FROM wp_comments WHERE wp_id = ?"  # noqa: S608 - constant
    async with conn.execute(sql, (wp_id,)) as cur:
        return _link(await cur.fetchone())


async def link_of_comment(conn: aiosqlite.Connection, comment_id: int) -> Link | None:
    sql = f"SELECT {_LINK} FROM wp_comments WHERE comment_id = ?"  # noqa: S608 - constant
    async with conn.execute(sql, (comment_id,)) as cur:
        return _link(await cur.fetchone())


async def save_link(conn: aiosqlite.Connection, link: Link, now: str) -> None:
    await conn.execute(
        f"INSERT INTO wp_comments ({_LINK}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
        "ON CONFLICT (wp_id) DO UPDATE SET comment_id = excluded.comment_id, "
        "post_id = excluded.post_id, wp_status = excluded.wp_status, "
        "content_hash = excluded.content_hash, body_hash = excluded.body_hash, "
        "updated_at = excluded.updated_at",
        (link.wp_id, link.comment_id, link.post_id, link.wp_status, link.content_hash,
         link.body_hash, now),
    )  # fmt: skip


async def drop_link(conn: aiosqlite.Connection, comment_id: int) -> None:
    """Forget the WordPress comment of ``comment_id``, deleted there by the bridge (not
    a tombstone): it is created there afresh when next due."""
    await conn.execute("DELETE FROM wp_comments WHERE comment_id = ?", (comment_id,))


async def unsettled(conn: aiosqlite.Connection, since: str) -> list[int]:
    """WordPress IDs whose fate is still open: held there, or pending here; or
    mirrored comments decided at ``since`` or later, which may be undone there yet."""
    async with conn.execute(
        "SELECT w.wp_id FROM wp_comments w LEFT JOIN comments c ON c.id = w.comment_id "
        "WHERE w.wp_status = 'hold' OR c.status = 'pending' OR (w.comment_id IS NOT NULL "
        "AND w.wp_status <> 'deleted' AND w.updated_at >= ?) ORDER BY w.wp_id",
        (since,),
    ) as cur:
        return [int(r[0]) for r in await cur.fetchall()]


async def mirrored_after(conn: aiosqlite.Connection, after: int, limit: int) -> list[int]:
    """The next ``limit`` WordPress IDs above ``after`` mirrored here as approved there:
    the sweep's next turn (pull.py)."""
    async with conn.execute(
        "SELECT wp_id FROM wp_comments WHERE comment_id IS NOT NULL AND wp_status = 'approved' "
        "AND wp_id > ? ORDER BY wp_id LIMIT ?",
        (after, limit),
    ) as cur:
        return [int(r[0]) for r in await cur.fetchall()]


async def watched(conn: aiosqlite.Connection) -> set[int]:
    """WordPress IDs last seen approved or held: a full sync must see each again."""
    async with conn.execute(
        "SELECT wp_id FROM wp_comments WHERE wp_status IN ('approved', 'hold')"
    ) as cur:
        return {int(r[0]) for r in await cur.fetchall()}


async def due_pushes(conn: aiosqlite.Connection, now: float, limit: int = 50) -> list[Push]:
    async with conn.execute(
        "SELECT comment_id, version, attempts FROM wp_push WHERE next_attempt_at <= ? "
        "ORDER BY comment_id LIMIT ?",
        (now, limit),
    ) as cur:
        return [Push(int(r[0]), int(r[1]), int(r[2])) for r in await cur.fetchall()]


async def push_done(conn: aiosqlite.Connection, push: Push) -> None:
    """Done, unless the comment changed again meanwhile (its version moved on)."""
    await conn.execute(
        "DELETE FROM wp_push WHERE comment_id = ? AND version = ?", (push.comment_id, push.version)
    )


async def push_error(conn: aiosqlite.Connection, push: Push, error: str) -> None:
    """The last error, for ``mailbridge status``; the comment stays due."""
    await conn.execute(
        "UPDATE wp_push SET last_error = ? WHERE comment_id = ?", (error[:500], push.comment_id)
    )


# next_attempt_at of a push WordPress refused for its post (comments closed there, the
# post a draft or in the trash): not tried on a timer, it waits for the post to take
# comments again (unpark_post) or for the comment to change (the triggers set 0).
PARKED_AT = 1e18
PARKED_SQL = f"next_attempt_at >= {PARKED_AT:.0f}"


async def push_parked(conn: aiosqlite.Connection, push: Push, error: str) -> None:
    """Refused for its post: parked, unless the comment changed meanwhile (then that
    change is tried, once)."""
    await conn.execute(
        "UPDATE wp_push SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
        "WHERE comment_id = ? AND version = ?",
        (error[:500], PARKED_AT, push.comment_id, push.version),
    )


async def unpark_post(conn: aiosqlite.Connection, post_id: int) -> None:
    """The post takes comments again: its parked pushes are due now."""
    await conn.execute(
        "UPDATE wp_push SET next_attempt_at = 0, attempts = 0 "  # noqa: S608 - constant
        f"WHERE {PARKED_SQL} AND comment_id IN (SELECT c.id FROM comments c "
        "JOIN wp_posts p ON p.thread_id = c.thread_id WHERE p.post_id = ?)",
        (post_id,),
    )


async def push_failed(conn: aiosqlite.Connection, push: Push, error: str, next_at: float) -> None:
    await conn.execute(
        "UPDATE wp_push SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
        "WHERE comment_id = ?",
        (error[:500], next_at, push.comment_id),
    )
