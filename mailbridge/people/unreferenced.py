"""The addresses the spam folder's deleted comments leave behind (``spam.keep_days``).

A robot types an address into the form (often a real person's, scraped somewhere).
Once its comments leave the spam folder (mailbridge.moderate.spam_retention), the
address stayed for good, with the messages received from it, the emails sent to it
(a confirmation request) and its bounces, in the database and every backup, though
nothing needed it any more. It goes now, with all of that, as an erasure takes it
(mailbridge.people.data), unless something still refers to it: a comment, a
subscription or request (an unsubscription too: a wish kept), a notification due, a
trust or block (a block must outlive the robot's comments), a moderator's session,
decision or role (a thread's author, or ``moderation.moderators``), an email on
its way to it, or mail they wrote to the postmaster. The subscription asked for with
a comment bound for the spam folder (held for a rescue, no confirmation sent) goes
with the last of their comments on that thread: nothing can be rescued to send it.

In bulk, one statement per table for the whole batch: an erasure per address read
the inbound log and the outbox once each, 500 times an hour.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import aiosqlite

from mailbridge.addresses import same_mailbox
from mailbridge.moderate.moderators import configured_address
from mailbridge.store import deleted_counts
from mailbridge.store.engine import json_list

__all__ = ["forget_unreferenced"]

# Each names an address that must stay: a person's wish, a moderator, mail under way.
_REFERRED = (
    "SELECT address_id FROM comments",
    "SELECT address_id FROM subscriptions",
    "SELECT address_id FROM subscription_requests",
    "SELECT address_id FROM pending_notifications",
    "SELECT address_id FROM outbox_items",
    "SELECT address_id FROM address_trust",
    "SELECT by_address_id FROM address_trust",
    "SELECT address_id FROM moderator_sessions",
    "SELECT moderator_address_id FROM moderation_decisions",
    "SELECT author_address_id FROM threads",
)


async def _unreferenced(
    conn: aiosqlite.Connection, candidates: Sequence[int]
) -> list[tuple[int, str]]:
    ids = json_list(conn, "bigint")
    refused = " UNION ".join(f"{sql} WHERE {sql.split()[1]} IN {ids}" for sql in _REFERRED)
    rows = await conn.execute_fetchall(
        f"SELECT a.id, a.email FROM addresses a WHERE a.id IN {ids} "  # noqa: S608
        f"AND a.id NOT IN ({refused}) "
        # An email queued or being sent to it: the worker still needs the row.
        "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.status IN ('queued', 'sending') "
        "AND lower(o.rcpt_to) = lower(a.email)) "
        # Mail they wrote to the postmaster ("why was my comment not published?") is the
        # operator's, not the robot's: an erasure takes it, this purge does not.
        "AND NOT EXISTS (SELECT 1 FROM inbound_messages m WHERE m.status = 'postmaster' "
        "AND lower(m.mail_from) = lower(a.email))",
        (json.dumps(list(candidates)),) * (len(_REFERRED) + 1),
    )
    return [(int(r[0]), str(r[1])) for r in rows]


async def forget_unreferenced(
    conn: aiosqlite.Connection,
    writers: Iterable[tuple[int, int]],
    moderators: Sequence[str],
) -> int:
    """In the caller's transaction, once the spam folder's comments are deleted: of
    their ``writers`` (address id, thread id), forget the addresses nothing refers to
    any more (above), with what was received from them or sent to them; how many.
    ``moderators``: moderation.moderators."""
    pairs = sorted(set(writers))
    if not pairs:
        return 0
    await conn.executemany(
        "DELETE FROM subscription_requests WHERE address_id = ? AND thread_id = ? "
        "AND NOT EXISTS (SELECT 1 FROM comments c WHERE c.address_id = ? AND c.thread_id = ?)",
        [(a, t, a, t) for a, t in pairs],
    )
    wanted = sorted({address_id for address_id, _thread_id in pairs})
    found = [
        (address_id, email)
        for address_id, email in await _unreferenced(conn, wanted)
        if not any(same_mailbox(email, configured_address(m)) for m in moderators)
    ]
    if not found:
        return 0
    ids = json.dumps([address_id for address_id, _email in found])
    emails = json.dumps([email.lower() for _address_id, email in found])
    by_id, texts = json_list(conn, "bigint"), json_list(conn, "text")
    # As mailbridge.people.data.erase: the messages received from them and the bounce
    # reports about them (raw bytes with them), the bounces, the rejection replies'
    # record, the emails sent to them (bytes and items with them), then the address.
    received = (
        f"SELECT id FROM inbound_messages WHERE address_id IN {by_id} "  # noqa: S608
        f"OR lower(mail_from) IN {texts} "
        f"UNION SELECT inbound_id FROM bounces WHERE address_id IN {by_id}"
    )
    rows = await conn.execute_fetchall(received, (ids, emails, ids))
    gone = json.dumps([int(r[0]) for r in rows])
    await conn.execute(
        f"DELETE FROM bounces WHERE address_id IN {by_id} OR inbound_id IN {by_id}",  # noqa: S608
        (ids, gone),
    )
    await deleted_counts.delete_inbound(conn, f"id IN {by_id}", gone)  # counters go on
    await conn.execute(
        f"DELETE FROM rejection_replies WHERE lower(sender) IN {texts}",  # noqa: S608
        (emails,),
    )
    await conn.execute(
        f"DELETE FROM mail_events WHERE address_id IN {by_id} OR outbox_id IN "  # noqa: S608
        f"(SELECT id FROM outbox WHERE lower(rcpt_to) IN {texts})",
        (ids, emails),
    )
    await deleted_counts.delete_outbox(conn, f"lower(rcpt_to) IN {texts}", emails)
    await conn.execute(f"DELETE FROM addresses WHERE id IN {by_id}", (ids,))  # noqa: S608
    return len(found)
