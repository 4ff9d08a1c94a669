"""How far behind the WordPress bridge is, for ``mailbridge status``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from mailbridge.bridges.wordpress import links

__all__ = ["BridgeLag", "bridge_lag", "describe"]


@dataclass(frozen=True)
class BridgeLag:
    last_ok_at: str | None  # the last poll read whole
    last_error: str | None
    last_error_at: str | None
    failing_since: str | None  # set by a failed poll, cleared by a complete one
    cursor: int
    mirrored: int  # comments linked to WordPress
    tombstones: int  # deleted in WordPress, never created again
    pushes_waiting: int  # changes here not yet brought to WordPress
    oldest_push_at: str | None
    pushes_failing: int
    push_error: str | None
    pushes_parked: int = 0  # refused for their post (closed there): wait for it to open


async def bridge_lag(conn: aiosqlite.Connection) -> BridgeLag:
    async def one(sql: str) -> tuple[object, ...]:
        async with conn.execute(sql) as cur:
            row = await cur.fetchone()
        return tuple(row) if row is not None else ()

    linked, tombs = await one(
        # CASE, not sum(a boolean): PostgreSQL does not add booleans up.
        "SELECT count(comment_id), "
        "coalesce(sum(CASE WHEN wp_status = 'deleted' THEN 1 ELSE 0 END), 0) FROM wp_comments"
    )
    waiting, oldest, failing = await one(
        "SELECT count(*), min(queued_at), "  # noqa: S608 - constant
        "coalesce(sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), 0) FROM wp_push "
        f"WHERE NOT {links.PARKED_SQL}"
    )
    (parked,) = await one(f"SELECT count(*) FROM wp_push WHERE {links.PARKED_SQL}")  # noqa: S608
    error = await one(
        "SELECT last_error FROM wp_push WHERE last_error IS NOT NULL "  # noqa: S608 - constant
        f"AND NOT {links.PARKED_SQL} ORDER BY next_attempt_at DESC LIMIT 1"
    )
    return BridgeLag(
        last_ok_at=await links.get_state(conn, "last_ok_at"),
        last_error=await links.get_state(conn, "last_error"),
        last_error_at=await links.get_state(conn, "last_error_at"),
        failing_since=await links.get_state(conn, "failing_since") or None,
        cursor=int(await links.get_state(conn, "cursor") or 0),
        mirrored=int(str(linked)),
        tombstones=int(str(tombs)),
        pushes_waiting=int(str(waiting)),
        oldest_push_at=None if oldest is None else str(oldest),
        pushes_failing=int(str(failing)),
        push_error=str(error[0]) if error else None,
        pushes_parked=int(str(parked)),
    )


def _ago(when: str | None, now: datetime) -> str:
    if when is None:
        return "never"
    seconds = int((now - datetime.fromisoformat(when.replace("Z", "+00:00"))).total_seconds())
    return f"{when} ({seconds} s ago)"


def describe(lag: BridgeLag, site_url: str, now: datetime) -> list[str]:
    """Lines for the operator: how fresh the mirror is, what waits, the last failure."""
    lines = [
        f"WordPress bridge to {site_url}",
        f"  last complete poll: {_ago(lag.last_ok_at, now)}",
        f"  comments linked: {lag.mirrored} (highest WordPress ID seen: {lag.cursor}); "
        f"deleted there: {lag.tombstones}",
        f"  changes waiting to go to WordPress: {lag.pushes_waiting}"
        + (f", oldest since {lag.oldest_push_at}" if lag.oldest_push_at else ""),
    ]
    if lag.pushes_parked:
        lines.append(
            f"  comments WordPress refused as their post takes none (closed, a draft, in the "
            f"trash): {lag.pushes_parked}, kept here only, sent if it takes comments again"
        )
    if lag.pushes_failing:
        lines.append(f"  failing: {lag.pushes_failing}, last error: {lag.push_error}")
    if lag.failing_since:
        lines.append(
            f"  FAILING since {lag.failing_since}: {lag.last_error} (last try {lag.last_error_at})"
        )
    elif lag.last_error:
        lines.append(f"  last failure (recovered since): {lag.last_error} at {lag.last_error_at}")
    return lines
