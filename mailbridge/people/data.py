"""Everything held about one address, found and exported, or erased.

One place knows every table that can hold a person's address or words, so export
and erasure cannot drift apart; tests/integration/test_people.py scans every table
and column of a real database after an erasure to prove nothing is left.

Erasure keeps the conversation readable: the person's comments stay, shown as by "a
former commenter" (``privacy.erased_comments = "anonymise"``), or lose their text
and leave the page (``"remove"``). Everything else goes: the address, its
subscriptions and pending notifications, the emails sent to it (outbox), the
messages received from it (inbound log, raw messages included), bounces and what
mail services reported of the emails sent to it (mail_events), trust,
moderator sessions, earlier texts of edited comments and what the spam filter
learnt from their comments. The spam folder's retention forgets, in bulk, the
addresses its deleted comments leave referred to by nothing, and what this would take
with them (mailbridge.people.unreferenced): a table added here belongs there too.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiosqlite

from mailbridge.clock import iso
from mailbridge.models import Comment
from mailbridge.people import events_sent, moderation_unsent, quoted
from mailbridge.spam import training
from mailbridge.store import Store, deleted_counts, withdrawal
from mailbridge.store.engine import json_list

__all__ = [
    "FORMER", "Erased", "address_id_of", "erase", "erase_from", "erased", "export", "removed"
]  # fmt: skip

log = logging.getLogger(__name__)

FORMER = "a former commenter"


def removed(comment: Comment) -> bool:
    """Whether erasure took this comment's text (the "remove" mode below)."""
    return comment.address_id is None and comment.author == FORMER and comment.body == ""


def erased(comment: Comment) -> bool:
    """Whether erasure took this comment's writer (either mode)."""
    return comment.address_id is None and comment.author == FORMER


@dataclass
class Erased:
    """How many of each kind of record an erasure changed (no address in it)."""

    counts: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.counts.items() if v) or "nothing held"


async def address_id_of(conn: aiosqlite.Connection, email: str) -> int | None:
    async with conn.execute(
        "SELECT id FROM addresses WHERE lower(email) = lower(?)", (email,)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def _rows(conn: aiosqlite.Connection, sql: str, *args: object) -> list[dict[str, Any]]:
    async with conn.execute(sql, args) as cur:
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


async def export(conn: aiosqlite.Connection, email: str) -> dict[str, Any]:
    """What is held about ``email``: the same shape, empty, when nothing is."""
    found: dict[str, Any] = {
        "address": None,
        "comments": [],
        "subscriptions": [],
        "messages_received": [],
        "emails_sent": [],
        "bounces": [],
        "mail_events": [],
        "trust": None,
        "akismet_checks": [],
    }
    address_id = await address_id_of(conn, email)
    if address_id is None:
        return found
    [found["address"]] = await _rows(
        conn,
        "SELECT email, created_at, confirmed_at, hard_bounces, soft_bounces, suppressed_at, "
        "suppressed_reason FROM addresses WHERE id = ?",
        address_id,
    )
    found["comments"] = await _rows(
        conn,
        "SELECT c.id, t.key AS thread, c.parent_id, c.author, c.body, c.status, c.source, "
        "c.created_at, c.published_at FROM comments c JOIN threads t ON t.id = c.thread_id "
        "WHERE c.address_id = ? ORDER BY c.id",
        address_id,
    )
    found["subscriptions"] = await _rows(
        conn,
        "SELECT t.key AS thread, s.level, s.source, s.updated_at FROM subscriptions s "
        "LEFT JOIN threads t ON t.id = s.thread_id WHERE s.address_id = ? ORDER BY s.id",
        address_id,
    )
    found["messages_received"] = await _rows(
        conn,
        "SELECT id, received_at, status, reason, comment_id FROM inbound_messages "
        "WHERE address_id = ? OR lower(mail_from) = lower(?) ORDER BY id",
        address_id,
        email,
    )
    found["emails_sent"] = await _rows(
        conn,
        "SELECT id, kind, comment_id, status, created_at, sent_at FROM outbox "
        "WHERE lower(rcpt_to) = lower(?) ORDER BY id",
        email,
    )
    found["bounces"] = await _rows(
        conn,
        "SELECT kind, status, diagnostic, received_at FROM bounces WHERE address_id = ?",
        address_id,
    )
    # What mail services reported of the emails sent to them (docs/inbound-webhooks.md).
    found["mail_events"] = await _rows(
        conn,
        "SELECT provider, kind, status, diagnostic, received_at FROM mail_events "
        "WHERE address_id = ? ORDER BY id",
        address_id,
    )
    trust = await _rows(
        conn, "SELECT trust, since FROM address_trust WHERE address_id = ?", address_id
    )
    found["trust"] = trust[0] if trust else None
    # What Akismet was sent about their web comments (their IP address among it).
    found["akismet_checks"] = [
        {**row, "form": json.loads(row["form"])}
        for row in await _rows(
            conn,
            "SELECT a.comment_id, a.form, a.believed, a.checked_at FROM akismet_checks a "
            "JOIN comments c ON c.id = a.comment_id WHERE c.address_id = ? ORDER BY a.comment_id",
            address_id,
        )
    ]
    return found


async def _run(conn: aiosqlite.Connection, sql: str, *args: object) -> int:
    async with conn.execute(sql, args) as cur:
        return max(cur.rowcount, 0)


# Rows that belong to the address alone: gone with it.
_BY_ADDRESS = (
    ("subscriptions", "DELETE FROM subscriptions WHERE address_id = ?"),
    ("subscription requests", "DELETE FROM subscription_requests WHERE address_id = ?"),
    ("pending notifications", "DELETE FROM pending_notifications WHERE address_id = ?"),
    ("notification items", "DELETE FROM outbox_items WHERE address_id = ?"),
    ("trust", "DELETE FROM address_trust WHERE address_id = ?"),
    ("moderator sessions", "DELETE FROM moderator_sessions WHERE address_id = ?"),
)


async def erase(
    conn: aiosqlite.Connection, email: str, remove_comments: bool, now: datetime
) -> Erased:
    """Erase what is held about ``email`` in the caller's transaction."""
    done = Erased()
    address_id = await address_id_of(conn, email)
    n = done.counts
    # Messages received from them or about them (bounce reports), and the bounces.
    received = json.dumps([int(r["id"]) for r in await _rows(
        conn,
        "SELECT id FROM inbound_messages WHERE address_id = ? OR lower(mail_from) = lower(?) "
        "UNION SELECT inbound_id FROM bounces WHERE address_id = ? AND inbound_id IS NOT NULL",
        address_id, email, address_id,
    )])  # fmt: skip
    n["bounces"] = await _run(
        conn,
        f"DELETE FROM bounces WHERE address_id = ? OR inbound_id IN {json_list(conn, 'bigint')}",  # noqa: S608
        address_id,
        received,
    )
    # The metrics' counters keep what these counted (a counter must not go down).
    n["messages received"] = await deleted_counts.delete_inbound(
        conn, f"id IN {json_list(conn, 'bigint')}", received
    )
    n["rejection replies"] = await _run(
        conn, "DELETE FROM rejection_replies WHERE lower(sender) = lower(?)", email
    )
    # What mail services said of the emails sent to them (a bounce, their complaint).
    n["mail events"] = await _run(
        conn,
        "DELETE FROM mail_events WHERE address_id = ? OR outbox_id IN "
        "(SELECT id FROM outbox WHERE lower(rcpt_to) = lower(?))",
        address_id,
        email,
    )
    if address_id is None:
        n["emails sent"] = await deleted_counts.delete_outbox(
            conn, "lower(rcpt_to) = lower(?)", email
        )
        return done
    ids = [int(r["id"]) for r in await _rows(
        conn, "SELECT id FROM comments WHERE address_id = ?", address_id)]  # fmt: skip
    for comment_id in ids:
        await training.forget(conn, comment_id)
    theirs = json.dumps(ids)
    await moderation_unsent.relist_own(conn, theirs)
    # Emails sent to them, and the moderation emails that showed their address.
    sent = (
        "lower(rcpt_to) = lower(?) OR (kind = 'moderation_request' "
        f"AND comment_id IN {json_list(conn, 'bigint')})"
    )
    n["emails sent"] = await deleted_counts.delete_outbox(conn, sent, email, theirs)
    # Notifications to others not sent yet carry their name and words (theirs, or quoted
    # above a reply to them): withdrawn, and composed again as the page shows them now.
    for comment_id in ids:
        await withdrawal.withdraw(
            conn, comment_id, iso(now), now.timestamp(), hold=False, because="was erased"
        )
    # Moderation emails not sent yet that quote them are withdrawn; sent to others,
    # the emails that showed their name or words lose their bytes.
    n["moderation emails withdrawn"] = await moderation_unsent.withdraw_unsent(conn, theirs)
    n["emails to others that quoted them"] = await quoted.forget_quoting(conn, theirs)
    n["replies that quoted them"] = await quoted.forget_replies_quoting(conn, theirs)
    n["webhook events"] = await events_sent.forget_events(conn, ids)
    n["Akismet checks"] = await _run(
        conn,
        f"DELETE FROM akismet_checks WHERE comment_id IN {json_list(conn, 'bigint')}",  # noqa: S608
        theirs,
    )
    n["earlier texts"] = await _run(
        conn,
        f"DELETE FROM comment_edits WHERE comment_id IN {json_list(conn, 'bigint')}",  # noqa: S608
        theirs,
    )
    # Their copies in WordPress (made by the bridge, or mirrored from there) show their
    # name and keep their address: pushed again, to be anonymised there too (only a
    # change of text or status queues one by itself).
    n["WordPress copies"] = await _run(
        conn,
        "INSERT INTO wp_push (comment_id) SELECT comment_id FROM wp_comments "  # noqa: S608
        f"WHERE comment_id IN {json_list(conn, 'bigint')} "
        "ON CONFLICT (comment_id) DO UPDATE SET version = wp_push.version + 1, next_attempt_at = 0",
        theirs,
    )
    if remove_comments:
        n["comments removed"] = await _run(
            conn,
            "UPDATE comments SET author = ?, body = '', status = 'rejected', address_id = NULL, "
            "elided = '', held_reason = NULL, source_ref = NULL WHERE address_id = ?",
            FORMER,
            address_id,
        )
    else:
        n["comments anonymised"] = await _run(
            conn,
            "UPDATE comments SET author = ?, address_id = NULL, elided = '', held_reason = NULL, "
            "source_ref = NULL WHERE address_id = ?",
            FORMER,
            address_id,
        )
    for name, sql in _BY_ADDRESS:
        n[name] = await _run(conn, sql, address_id)
    await _run(conn, "UPDATE address_trust SET by_address_id = NULL WHERE by_address_id = ?",
               address_id)  # fmt: skip
    await _run(conn, "UPDATE moderation_decisions SET moderator_address_id = NULL "
               "WHERE moderator_address_id = ?", address_id)  # fmt: skip
    await _run(conn, "UPDATE threads SET author_address_id = NULL WHERE author_address_id = ?",
               address_id)  # fmt: skip
    n["address"] = await _run(conn, "DELETE FROM addresses WHERE id = ?", address_id)
    return done


async def erase_from(store: Store, email: str, remove_comments: bool, now: datetime) -> Erased:
    """Erase what is held about ``email`` in a transaction of its own, then leave no
    copy of it in the database's files (Store.scrub: SQLite's write-ahead log kept
    the pages as they were, the address in them, while the daemon ran)."""
    done = await store.write(lambda c: erase(c, email, remove_comments, now))
    if not await store.scrub():
        log.info("privacy: a reader kept the database's log from being emptied now; "
                 "its next checkpoint overwrites what was erased")  # fmt: skip
    return done
