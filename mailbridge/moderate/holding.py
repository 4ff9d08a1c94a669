"""Holding a comment for a moderator, with the reason its moderation email gives."""

from __future__ import annotations

import aiosqlite

from mailbridge.models import Comment
from mailbridge.moderate.private import held_note
from mailbridge.store import comments

__all__ = ["flag_private"]


async def flag_private(
    conn: aiosqlite.Connection, comment: Comment, findings: list[str]
) -> Comment:
    """Hold a comment that looks like it carries its writer's contact details; the
    moderation email says what was seen (``findings``: mailbridge.moderate.private)."""
    if not findings:
        return comment
    note = held_note(findings)
    reason = f"{comment.held_reason}; {note}" if comment.held_reason else note
    await comments.set_held_reason(conn, comment.id, reason)
    flagged = await comments.get_comment(conn, comment.id)
    assert flagged is not None
    return flagged
