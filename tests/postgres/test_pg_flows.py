"""The daemon's main flows with its store on a real PostgreSQL (tests/pg.py).

Runs whenever PostgreSQL is available, whatever --store says: a comment posted on the
web, its approval, the notification it queues, the emailed answer filed as a comment,
and the same answer delivered again (to another MX, say) filed once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from flows import reply_notification
from support import import_seed, make_settings, no_dmarc_zone, reply_to_notification

from mailbridge.app import running
from mailbridge.store.postgres.store import PgStore


@pytest.mark.asyncio
async def test_comment_approval_notification_reply_and_dedupe(pg_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, data_url=pg_url)
    await import_seed(settings)
    assert not settings.database_path.exists()  # nothing went to SQLite
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        assert isinstance(daemon.store, PgStore)
        note = await reply_notification(daemon)  # posted, approved, notified
        reply = reply_to_notification(note, "Thanks, Ann: that was my point exactly.")
        host, port = daemon.smtp_address
        for _ in range(2):  # the second delivery is the same message again
            await aiosmtplib.send(reply, hostname=host, port=port, start_tls=False)

        async def filed(conn: Any) -> list[tuple[Any, ...]]:
            async with conn.execute(
                "SELECT c.status, c.source, c.body, i.deliveries FROM comments c "
                "JOIN inbound_messages i ON i.comment_id = c.id WHERE c.source = 'email'"
            ) as cur:
                return [tuple(r) for r in await cur.fetchall()]

        rows = await daemon.store.read(filed)
        assert len(rows) == 1, rows
        status, source, body, deliveries = rows[0]
        assert (status, source, deliveries) == ("pending", "email", 2)
        assert "that was my point exactly" in body
        assert settings.database_path.exists() is False
