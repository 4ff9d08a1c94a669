"""``mailbridge status``: what the daemon holds and how far behind it is, in one screen.

Read from the database alone, so it works whether or not the daemon runs.
"""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from mailbridge.bridges.wordpress.lag import bridge_lag, describe
from mailbridge.settings import Settings
from mailbridge.store import comments, outbox

__all__ = ["status_lines"]


async def status_lines(conn: aiosqlite.Connection, settings: Settings, now: datetime) -> list[str]:
    async with conn.execute("SELECT status, count(*) FROM comments GROUP BY status") as cur:
        by_status = {str(r[0]): int(r[1]) for r in await cur.fetchall()}
    mail = await outbox.count_by_status(conn)
    async with conn.execute(
        "SELECT min(created_at) FROM outbox WHERE status IN ('queued', 'sending')"
    ) as cur:
        row = await cur.fetchone()
    oldest = row[0] if row is not None else None
    lines = [
        f"Data directory: {settings.data_path}",
        "Comments: " + ", ".join(f"{by_status.get(s, 0)} {s}" for s in
                                 ("approved", "pending", "rejected", "spam")),
        f"Waiting for a moderator: {await comments.pending_count(conn)}",
        "Outbox: " + ", ".join(f"{mail.get(s, 0)} {s}" for s in
                               ("queued", "sending", "sent", "failed"))
        + (f"; oldest waiting since {oldest}" if oldest else ""),
    ]  # fmt: skip
    if settings.wordpress.site_url:
        lines += describe(await bridge_lag(conn), settings.wordpress.site_url, now)
    else:
        lines.append("WordPress bridge: off ([wordpress] site_url is empty)")
    return lines
