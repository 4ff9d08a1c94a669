"""A thread's former keys: a bridged post renamed in WordPress takes a new key, and its
old one, in every link emailed before, stays its own (mailbridge.bridges.wordpress.renames
keeps them; the web pages and the API send an old key on, and an import of a file made
before the rename files it under the thread's key now). Only the database: the web and
the import command read them without loading the bridge."""

from __future__ import annotations

import aiosqlite

__all__ = ["WAS", "current_key", "current_keys", "imported_key", "post_of_key", "renamed"]

WAS = "key_was:"  # wp_state: a former key, and the thread it names still


async def renamed(conn: aiosqlite.Connection, key: str) -> str | None:
    """The key now of the thread once keyed ``key``; None when it is no former key."""
    async with conn.execute("SELECT value FROM wp_state WHERE key = ?", (WAS + key,)) as cur:
        was = await cur.fetchone()
    if was is None:
        return None
    async with conn.execute("SELECT key FROM threads WHERE id = ?", (int(was[0]),)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def current_key(conn: aiosqlite.Connection, key: str) -> str | None:
    """The key now of the thread ``key`` names: itself when a thread has it, else the
    renamed thread's it was once; None when it names none. What every reader of a key
    (the admin API, export, the widget's counts) takes, as the pages do."""
    async with conn.execute("SELECT 1 FROM threads WHERE key = ?", (key,)) as cur:
        if await cur.fetchone() is not None:
            return key
    return await renamed(conn, key)


async def current_keys(conn: aiosqlite.Connection, keys: list[str]) -> dict[str, str]:
    """Of ``keys``, those no thread has now but a renamed thread had: to its key now.
    Two queries for them all, then one indexed read for each former key only."""
    if not keys:
        return {}
    marks = ",".join("?" * len(keys))
    sql = f"SELECT key FROM threads WHERE key IN ({marks})"  # noqa: S608 - placeholders
    async with conn.execute(sql, keys) as cur:
        live = {str(row[0]) for row in await cur.fetchall()}
    gone = [WAS + key for key in dict.fromkeys(keys) if key not in live]
    if not gone:
        return {}
    marks = ",".join("?" * len(gone))
    sql = f"SELECT key, value FROM wp_state WHERE key IN ({marks})"  # noqa: S608
    async with conn.execute(sql, gone) as cur:
        was = {str(k)[len(WAS) :]: int(v) for k, v in await cur.fetchall()}
    found: dict[str, str] = {}
    for key, thread_id in was.items():
        async with conn.execute("SELECT key FROM threads WHERE id = ?", (thread_id,)) as cur:
            row = await cur.fetchone()
        if row is not None:
            found[key] = str(row[0])
    return found


async def imported_key(conn: aiosqlite.Connection, key: str, post_id: str) -> str:
    """The key a post of an import file keyed ``key`` (WordPress's ``post_id``, when
    the file says) is imported under. A file made before its post was renamed (a WXR
    imported again) names the old key: the thread it names now, or, for another post
    given that slug since, a thread of its own, ``SLUG-ID``, as the WordPress bridge
    keys it (bridges/wordpress/renames.py). Imported under the old key, it was a second
    copy of the conversation, and the links of the emails sent before opened that copy."""
    async with conn.execute("SELECT 1 FROM threads WHERE key = ?", (key,)) as cur:
        if await cur.fetchone() is not None:
            return key
    now = await renamed(conn, key)
    if now is None:
        return key
    if not post_id.isdigit():
        return now  # the file names no post: the renamed one's, as its key says
    owner = await post_of_key(conn, now)
    return now if owner is None or owner == int(post_id) else f"{key[:80]}-{post_id}"


async def post_of_key(conn: aiosqlite.Connection, key: str) -> int | None:
    """The WordPress post whose thread is keyed ``key`` now, if any."""
    async with conn.execute(
        "SELECT p.post_id FROM threads t JOIN wp_posts p ON p.thread_id = t.id WHERE t.key = ?",
        (key,),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])
