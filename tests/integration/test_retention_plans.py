"""The retentions' statements read the old rows alone, not the whole table, on both
engines, with 100,000 recent rows and none to delete (the hourly run's usual case).
Before migration 0039, mail_events had no index on received_at and the events'
retention went by id: a whole-table read each hour (50 ms on SQLite at 100,000 rows),
and bounces had none on outbox_id, which the outbox's retention reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pg import store_option
from support import make_settings

from mailbridge.store import inbound_retention, outbox_retention
from mailbridge.store.opening import open_store

ROWS = 100_000
NOW = "2026-12-01T00:00:00+00:00"
CUT = "2026-09-01T00:00:00+00:00"
CUT_S = 1788220800.0  # CUT in Unix seconds

_FILL = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "


async def _plan(conn: Any, sql: str, args: tuple[Any, ...]) -> str:
    if store_option() == "postgresql":
        rows = await conn.execute_fetchall("EXPLAIN " + sql, args)
        return "\n".join(str(row[0]) for row in rows)
    rows = await conn.execute_fetchall("EXPLAIN QUERY PLAN " + sql, args)
    return "\n".join(str(row[3]) for row in rows)


def _scans(plan: str, table: str) -> bool:
    """Whether ``plan`` reads every row of ``table`` (or of its alias)."""
    if store_option() == "postgresql":
        return re.search(rf"Seq Scan on {table}\b", plan) is not None
    return re.search(rf"\bSCAN {table}\b", plan) is not None


@pytest.mark.asyncio
async def test_the_retentions_read_the_old_rows_through_an_index(tmp_path: Path) -> None:
    store = await open_store(make_settings(tmp_path))
    try:

        async def fill(conn: Any) -> None:
            await conn.execute(
                _FILL + "INSERT INTO mail_events (provider, event_id, kind, outbox_id, "
                "address_id, status, diagnostic, received_at) "
                "SELECT 'ses', 'e' || i, 'hard', i, NULL, '5.1.1', 'full', ? FROM n",
                (ROWS, NOW),
            )
            await conn.execute(
                _FILL + "INSERT INTO outbox (kind, message_id, mail_from, rcpt_to, status, "
                "attempts, next_attempt_at, created_at, sent_at) "
                "SELECT 'reply_notification', '<' || i || '@plan.example>', 'b@example.org', "
                "'r' || i || '@example.net', 'sent', 1, ?, ?, ? FROM n",
                (ROWS, CUT_S + 90 * 86400, NOW, NOW),
            )
            for table in ("mail_events", "outbox", "bounces"):
                await conn.execute(f"ANALYZE {table}")

        await store.write(fill)

        async def plans(conn: Any) -> tuple[str, str]:
            events = await _plan(conn, inbound_retention.OLD_EVENTS, (CUT, 1000))
            args = (*outbox_retention.DONE, CUT_S, CUT, CUT, CUT, 1000)
            return events, await _plan(conn, outbox_retention.OLD_ROWS, args)

        events, sent = await store.read(plans)
        assert not _scans(events, "mail_events"), events
        assert "mail_events_by_time" in events, events
        assert not _scans(sent, "outbox") and not _scans(sent, "o"), sent
        if store_option() == "sqlite":
            # The bounces naming a row (PostgreSQL reads an empty table as it likes).
            assert "bounces_by_outbox" in sent, sent

        async def forget(conn: Any) -> tuple[int, int]:
            settled = await inbound_retention.forget_old(conn, CUT)
            return settled.events, await outbox_retention.forget_old(conn, CUT, CUT_S)

        assert await store.write(forget) == (0, 0)
    finally:
        await store.close()
