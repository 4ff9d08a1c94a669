"""Events for the configured endpoints, queued in the caller's transaction.

An event is queued in the outbox in the same transaction as the change that caused
it, one row per endpoint that wants it, so it is sent if and only if the change
commits, never blocks the request, and survives a restart. The row's Message-ID is
the event's ``webhook-id``: the same on every retry, so a receiver can drop a
duplicate (a send whose answer was lost is sent again).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.models import Comment, comment_fields
from mailbridge.settings import WebhookSettings
from mailbridge.store import outbox, threads

__all__ = ["KIND", "WebhookEvents"]

KIND = "webhook"


class WebhookEvents:
    def __init__(self, endpoints: Sequence[WebhookSettings], clock: Clock) -> None:
        self._endpoints = tuple(endpoints)
        self._clock = clock

    async def comment(self, conn: aiosqlite.Connection, event: str, comment: Comment) -> int:
        """Queue ``event`` about ``comment`` for every endpoint that wants it."""
        wanted = [e for e in self._endpoints if event in e.events]
        if not wanted:
            return 0
        thread = await threads.get_thread(conn, thread_id=comment.thread_id)
        now = self._clock.now()
        payload = {
            "type": event,
            "timestamp": iso(now),
            "data": {"comment": comment_fields(comment, thread.key if thread else None)},
        }
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        queued = 0
        for endpoint in wanted:
            row = await outbox.enqueue(
                conn,
                outbox.Outgoing(
                    kind=KIND,
                    comment_id=None,  # an event per change, not one per comment
                    message_id="msg_" + secrets.token_hex(12),
                    mail_from=event,
                    rcpt_to=endpoint.url,
                    message=body,
                ),
                now.timestamp(),
                iso(now),
            )
            queued += row is not None
        return queued
