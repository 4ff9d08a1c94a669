"""A comment's text edited by an integration, with the text before each edit kept."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from mailbridge.store import withdrawal

__all__ = ["edit_body", "history"]


async def edit_body(
    conn: aiosqlite.Connection, comment_id: int, body: str, now: str, by: str
) -> bool | None:
    """Replace the text, keeping the old one; None for no such comment, False when the
    text is the same (nothing recorded)."""
    async with conn.execute("SELECT body FROM comments WHERE id = ?", (comment_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    if str(row[0]) == body:
        return False
    await conn.execute(
        "INSERT INTO comment_edits (comment_id, body, edited_at, by) VALUES (?, ?, ?, ?)",
        (comment_id, str(row[0]), now, by),
    )
    await conn.execute("UPDATE comments SET body = ? WHERE id = ?", (body, comment_id))
    # Notifications still in the outbox carry the text before the edit (a number taken
    # out of it, say): composed again with the new one.
    at = datetime.fromisoformat(now).timestamp()
    await withdrawal.withdraw(conn, comment_id, now, at, hold=False, because="was edited")
    return True


async def history(conn: aiosqlite.Connection, comment_id: int) -> list[dict[str, str]]:
    """The texts before each edit, oldest first."""
    async with conn.execute(
        "SELECT body, edited_at, by FROM comment_edits WHERE comment_id = ? ORDER BY id",
        (comment_id,),
    ) as cur:
        return [
            {"body": str(r[0]), "edited_at": str(r[1]), "by": str(r[2])}
            for r in await cur.fetchall()
        ]
