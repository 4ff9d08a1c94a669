"""Notifications in the outbox that carry a comment taken off the page (sql/0029).

Each notification (or batch digest) lists in ``outbox_items`` the comments it carries,
for whom and why. While it is still queued, or a dead letter the operator could
retry, a comment taken off the page (Undo, Reject, Spam, deletion), erased at its
writer's request or edited withdraws every such email, and those of the replies under
it (they quote it): the row becomes ``withdrawn`` and is never sent, and its bytes
are deleted (they hold the words withdrawn). Each comment it
carried waits again in ``pending_notifications``: held while off the page (published
again, it is composed afresh and sent once), due at once otherwise (the other comments
of a digest, an erasure, an edit). A row a worker has leased (``sending``) or sent is
past recall. A withdrawn row keeps no bytes: only its note says what it was.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import aiosqlite

from mailbridge.store.engine import json_list
from mailbridge.store.subscriptions import below

__all__ = ["WITHDRAWN_DEAD_LETTER", "forget_sent", "record_items", "withdraw"]

_DEAD = " (a dead letter: "
# SQL: a row withdrawn after it had failed for good. The deliveries counter of
# /metrics counts dead letters ever: one withdrawn must not leave it (a counter that
# goes down reads as a reset, and the dead-letter alert on its increase fires).
WITHDRAWN_DEAD_LETTER = f"(status = 'withdrawn' AND last_error LIKE 'withdrawn: %{_DEAD}%')"


async def record_items(
    conn: aiosqlite.Connection, message_id: str, address_id: int, items: Sequence[tuple[int, str]]
) -> None:
    """What the notification queued as ``message_id`` to ``address_id`` carries:
    (comment id, why) each."""
    await conn.executemany(
        "INSERT INTO outbox_items (outbox_id, comment_id, address_id, why) "
        "SELECT id, ?, ?, ? FROM outbox WHERE message_id = ?",
        [(comment_id, address_id, why, message_id) for comment_id, why in items],
    )


async def withdraw(
    conn: aiosqlite.Connection,
    comment_id: int,
    now: str,
    now_s: float,
    *,
    hold: bool,
    because: str = "was taken off the page",
) -> int:
    """Withdraw the unsent notifications carrying ``comment_id`` or a reply under it;
    how many. ``hold``: those comments wait withdrawn (the comment is off the page
    until published again); else everything carried is due again at once, to be
    composed afresh (an erasure, an edit: the name and words as they are now).
    ``because`` ends the outbox's note ("withdrawn: comment 7 was edited ...")."""
    under = below()
    rows = await conn.execute_fetchall(
        # comment_id NULL takes the row out of "one email per event and recipient"
        # (sql/0030), which the note keeps.
        "UPDATE outbox SET status = 'withdrawn', lease_owner = NULL, lease_expires_at = NULL, "  # noqa: S608
        # A dead letter says so: it stays counted as one (WITHDRAWN_DEAD_LETTER).
        "comment_id = NULL, last_error = ? || coalesce(' (it was about comment ' || "
        "comment_id || ')', '') || CASE WHEN status = 'failed' "
        f"THEN '{_DEAD}' || coalesce(last_error, '') || ')' "
        "ELSE coalesce(' (last attempt: ' || last_error || ')', '') END "
        # Its unary + keeps SQLite on the ids (rowid look-ups), not every queued row.
        "WHERE +status IN ('queued', 'failed') AND id IN (SELECT outbox_id FROM outbox_items "
        f"WHERE comment_id IN ({under})) RETURNING id",
        (f"withdrawn: comment {comment_id} {because} before this went out", comment_id),
    )  # fmt: skip
    ids = [int(row[0]) for row in rows]
    if not ids:
        return 0
    held: set[int] = set()
    if hold:
        held = {int(row[0]) for row in await conn.execute_fetchall(under, (comment_id,))}
    marks = ",".join("?" * len(ids))
    items = await conn.execute_fetchall(
        "SELECT DISTINCT address_id, comment_id, why FROM outbox_items "  # noqa: S608
        f"WHERE outbox_id IN ({marks})",
        ids,
    )
    # What a withdrawn email carried is in pending_notifications from here on; its bytes,
    # never to be sent, go: they hold the words taken off the page, edited out or erased
    # (`mailbridge outbox ID --body` showed them, and every backup kept them).
    await conn.execute(f"DELETE FROM outbox_items WHERE outbox_id IN ({marks})", ids)  # noqa: S608
    await conn.execute(f"DELETE FROM outbox_messages WHERE outbox_id IN ({marks})", ids)  # noqa: S608
    await conn.executemany(
        "INSERT INTO pending_notifications (address_id, comment_id, why, created_at, due_at, "
        "withdrawn_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (address_id, comment_id) DO NOTHING",
        [
            (int(a), int(c), str(why), now, now_s, now if int(c) in held else None)
            for a, c, why in items
        ],
    )
    return len(ids)


async def forget_sent(
    conn: aiosqlite.Connection, before: str, kinds: tuple[str, ...] | None = None
) -> int:
    """Forget what the emails sent before ``before`` (ISO time), of ``kinds`` only
    when given, carried, with their bytes (an erasure reads it until then; a
    withdrawal never: sent is past recall).
    Driven by the items still kept, not by the whole outbox's history."""
    of_kinds = "" if kinds is None else f" AND o.kind IN {json_list(conn, 'text')}"
    cur = await conn.execute(
        "DELETE FROM outbox_items WHERE outbox_id IN (SELECT i.outbox_id "  # noqa: S608
        "FROM outbox_items i JOIN outbox o ON o.id = i.outbox_id "
        f"WHERE o.status = 'sent' AND o.sent_at < ?{of_kinds})",
        (before,) if kinds is None else (before, json.dumps(kinds)),
    )
    return cur.rowcount
