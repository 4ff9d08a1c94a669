"""What mailbridge sent in the notification a reply answers, for the extractor.

Found again from the reply's target: the notification in the outbox (its plain-text
part, exactly as sent) and the comments it carried (the one answered and the one it
answered). When the outbox no longer holds the message (a digest filed under a newer
comment, an old notification), the comments alone still identify the quoted block.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import aiosqlite

__all__ = ["sent_texts"]


def _plain_part(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body(("plain",))
    if body is None:
        return ""
    try:
        content = body.get_content()
    except (LookupError, ValueError):
        return ""
    return content if isinstance(content, str) else ""


_REPLIED_TO = ("reply_notification", "digest")


async def sent_texts(
    conn: aiosqlite.Connection, rcpt: str, comment_id: int, kinds: tuple[str, str] = _REPLIED_TO
) -> list[str]:
    """``kinds``: the emails a reply may answer (a moderator's: ``moderation_request``
    twice); two, so that the statement stays one fixed text."""
    texts: list[str] = []
    async with conn.execute(
        "SELECT m.message FROM outbox o JOIN outbox_messages m ON m.outbox_id = o.id "
        "WHERE o.rcpt_to = ? AND o.comment_id = ? AND o.kind IN (?, ?) "
        "ORDER BY o.id DESC LIMIT 3",
        (rcpt, comment_id, *kinds),
    ) as cur:
        for (raw,) in await cur.fetchall():
            texts.append(_plain_part(bytes(raw)))
    async with conn.execute(
        "SELECT c.body, p.body FROM comments c LEFT JOIN comments p ON p.id = c.parent_id "
        "WHERE c.id = ?",
        (comment_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is not None:
        texts.extend(str(body) for body in row if body)
    return [text for text in texts if text]
