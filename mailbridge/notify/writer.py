"""What a moderator should know about a comment's writer, for the moderation email."""

from __future__ import annotations

import json
from dataclasses import dataclass

import aiosqlite

from mailbridge.models import Comment, Source
from mailbridge.store import trust
from mailbridge.store.trust import Standing

__all__ = ["WriterFacts", "writer_facts"]


@dataclass(frozen=True)
class WriterFacts:
    approved_before: int = 0  # the writer's comments already published
    standing: str = ""  # "trusted", "blocked" or ""
    # For an emailed reply: whether its From domain was DKIM/DMARC-authenticated,
    # in words ("authenticated: From example.org; DMARC pass ...").
    authentication: str = ""
    authenticated: bool | None = None  # None: not an email, or no record
    auto_approved: str = ""  # why it was published without waiting, or ""


def _auth_words(checks: dict[str, object]) -> tuple[str, bool | None]:
    """The inbound pipeline's one-line summary (mailbridge.inbound.standard)."""
    auth = checks.get("auth")
    if not isinstance(auth, dict):
        return "", None
    result = auth.get("result")
    status = result.get("status") if isinstance(result, dict) else None
    summary = str(auth.get("summary") or status or auth.get("code") or "")
    return summary, status == "authenticated" if status else None


async def writer_facts(
    conn: aiosqlite.Connection, comment: Comment, auto_approved: str | None
) -> tuple[str | None, WriterFacts]:
    """The writer's address (None if it is not stored) and what to say about them,
    read in ``conn``'s transaction: address, standing and count in one statement."""
    assert comment.address_id is not None
    writer = await trust.writer_by_id(conn, comment.address_id, comment.id)
    approved = 0 if writer is None else writer.approved
    standing = None if writer is None else writer.standing
    words, authenticated = "", None
    if comment.source is Source.EMAIL:
        async with conn.execute(
            "SELECT checks FROM inbound_messages WHERE comment_id = ? ORDER BY id DESC LIMIT 1",
            (comment.id,),
        ) as cur:
            row = await cur.fetchone()
        if row is not None and row[0]:
            checks = json.loads(row[0])
            if isinstance(checks, dict):
                words, authenticated = _auth_words(checks)
    return None if writer is None else writer.email, WriterFacts(
        approved_before=approved,
        standing=standing.value if isinstance(standing, Standing) else "",
        authentication=words,
        authenticated=authenticated,
        auto_approved=auto_approved or "",
    )
