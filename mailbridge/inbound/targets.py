"""Resolve what a reply answers: a verified (person, comment) pair from a reply token,
or, for mail sent to an extra address, from the message's headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from email.message import Message
from functools import partial

import aiosqlite

from mailbridge.inbound.recipients import minted_message_ids, reply_tokens_in_headers
from mailbridge.people import data as people
from mailbridge.rejections import BadReplyToken, NoReplyFound, UnknownComment
from mailbridge.store import Store, comments, threads
from mailbridge.store.engine import as_address
from mailbridge.tokens import peek_reply_token, read_reply_token

__all__ = ["ReplyTarget", "TargetResolver"]


@dataclass(frozen=True)
class ReplyTarget:
    """The person a notification went to, and the comment their reply answers."""

    address_id: int
    email: str
    comment_id: int
    thread_id: int
    expires: date | None  # None when found through a minted Message-ID
    via: str  # "envelope", "header", "in-reply-to"


# More to read about a verified target, in its read snapshot.
AlsoRead = Callable[[aiosqlite.Connection, ReplyTarget], Awaitable[None]]


class TargetResolver:
    def __init__(self, store: Store, reply_key: bytes, reply_domain: str) -> None:
        self._store = store
        self._key = reply_key
        self._domain = reply_domain

    async def from_token(
        self, token: str, via: str = "envelope", also: AlsoRead | None = None
    ) -> ReplyTarget:
        """Verify ``token`` against its recipient's current key epoch; ``also`` runs in
        the same read snapshot once it is verified (the RCPT rate counts)."""
        claimed = peek_reply_token(token)  # malformed → BadReplyToken

        async def work(conn: aiosqlite.Connection) -> ReplyTarget:
            state = await threads.address_state(conn, address_id=claimed.address_id)
            if state is None:
                raise BadReplyToken()
            verified = read_reply_token(self._key, token, state.key_epoch)
            answered = await comments.get_comment(conn, verified.comment_id)
            if answered is None:
                raise UnknownComment()
            if people.removed(answered):
                # Filed, it would sit under nothing, its quote of the words taken
                # off the page kept for the moderator.
                raise UnknownComment(
                    "The comment this address replies to was erased at its writer's request."
                )
            target = ReplyTarget(
                state.id, state.email, answered.id, answered.thread_id, verified.expires, via
            )
            if also is not None:
                await also(conn, target)
            return target

        return await self._store.read(work)

    async def from_headers(self, headers: Message) -> ReplyTarget:
        """For mail to an extra address: a reply address in the headers, else a minted ID."""
        for token in reply_tokens_in_headers(headers, self._domain):
            try:
                return await self.from_token(token, via="header")
            except (BadReplyToken, UnknownComment):
                continue
        for message_id in minted_message_ids(headers, self._domain):
            found = await self._store.read(partial(_by_notification, message_id=message_id))
            if found is not None:
                return found
        raise NoReplyFound()


async def _by_notification(conn: aiosqlite.Connection, message_id: str) -> ReplyTarget | None:
    """The notification we sent with this Message-ID: who received it, about which comment."""
    async with conn.execute(
        "SELECT a.id, a.email, c.id, c.thread_id FROM outbox o "  # noqa: S608 - no value
        f"JOIN addresses a ON a.email = {as_address(conn, 'o.rcpt_to')} "
        "JOIN comments c ON c.id = o.comment_id "
        "WHERE o.message_id = ? AND o.kind IN ('reply_notification', 'digest')",
        (message_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    answered = await comments.get_comment(conn, int(row[2]))
    if answered is None or people.removed(answered):
        return None
    return ReplyTarget(int(row[0]), str(row[1]), int(row[2]), int(row[3]), None, "in-reply-to")
