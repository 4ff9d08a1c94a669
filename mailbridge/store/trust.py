"""Trusted and blocked commenters (SQL only; the rules are in mailbridge.moderate.trust)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import aiosqlite

__all__ = [
    "Standing",
    "TrustRow",
    "Writer",
    "approved_count",
    "clear",
    "clear_granted",
    "clear_granted_since",
    "granted_by",
    "list_all",
    "set_standing",
    "standing",
    "writer_by_email",
    "writer_by_id",
]


class Standing(enum.StrEnum):
    TRUSTED = "trusted"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class TrustRow:
    email: str
    standing: Standing
    since: str


async def standing(conn: aiosqlite.Connection, address_id: int) -> Standing | None:
    async with conn.execute(
        "SELECT trust FROM address_trust WHERE address_id = ?", (address_id,)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else Standing(row[0])


async def set_standing(
    conn: aiosqlite.Connection,
    address_id: int,
    value: Standing,
    now: str,
    by_address_id: int | None,
) -> None:
    await conn.execute(
        "INSERT INTO address_trust (address_id, trust, since, by_address_id) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (address_id) DO UPDATE SET trust = excluded.trust, since = excluded.since, "
        "by_address_id = excluded.by_address_id",
        (address_id, value.value, now, by_address_id),
    )


async def clear(conn: aiosqlite.Connection, address_id: int) -> bool:
    cur = await conn.execute("DELETE FROM address_trust WHERE address_id = ?", (address_id,))
    return cur.rowcount > 0


async def clear_granted(
    conn: aiosqlite.Connection, address_id: int, at: str, by_address_id: int | None
) -> bool:
    """Take back a trust given at ``at`` by ``by_address_id`` (the time and moderator of
    the decision that gave it: times are to the second, so the operator's `trust add`
    in that second, by nobody, stays); a trust given at another time stays."""
    sql = "DELETE FROM address_trust WHERE address_id = ? AND trust = 'trusted' AND since = ? "
    if by_address_id is None:
        cur = await conn.execute(sql + "AND by_address_id IS NULL", (address_id, at))
    else:
        cur = await conn.execute(sql + "AND by_address_id = ?", (address_id, at, by_address_id))
    return cur.rowcount > 0


async def granted_by(conn: aiosqlite.Connection, address_id: int, by_address_id: int) -> str | None:
    """When ``by_address_id`` trusted the address (ISO time), if the trust is theirs."""
    async with conn.execute(
        "SELECT since FROM address_trust WHERE address_id = ? AND trust = 'trusted' "
        "AND by_address_id = ?",
        (address_id, by_address_id),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def clear_granted_since(
    conn: aiosqlite.Connection, address_id: int, since: str, by_address_id: int
) -> bool:
    """Take back a trust ``by_address_id`` gave at ``since`` or later; one given by
    anyone else (the operator's `trust add`, another moderator) stays."""
    cur = await conn.execute(
        "DELETE FROM address_trust WHERE address_id = ? AND trust = 'trusted' "
        "AND by_address_id = ? AND since >= ?",
        (address_id, by_address_id, since),
    )
    return cur.rowcount > 0


async def list_all(conn: aiosqlite.Connection) -> list[TrustRow]:
    async with conn.execute(
        "SELECT a.email, t.trust, t.since FROM address_trust t "
        "JOIN addresses a ON a.id = t.address_id ORDER BY t.trust, a.email"
    ) as cur:
        return [TrustRow(str(r[0]), Standing(r[1]), str(r[2])) for r in await cur.fetchall()]


async def approved_count(
    conn: aiosqlite.Connection, address_id: int, except_comment: int | None = None
) -> int:
    """How many of this address's comments are published (imported ones included)."""
    async with conn.execute(
        "SELECT count(*) FROM comments WHERE address_id = ? AND status = 'approved' AND id != ?",
        (address_id, except_comment or 0),
    ) as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row[0])


@dataclass(frozen=True)
class Writer:
    """A comment writer's address, standing and published comments, in one statement."""

    address_id: int
    email: str
    standing: Standing | None
    approved: int  # as approved_count


# One row per address: what standing() and approved_count() answer, as subqueries (each
# on an index: address_trust's key, comments by address and status), so a caller that
# needs the address and both pays one statement, not three (issue 14).
_WRITER = (
    "SELECT a.id, a.email, "
    "(SELECT t.trust FROM address_trust t WHERE t.address_id = a.id), "
    "(SELECT count(*) FROM comments c WHERE c.address_id = a.id AND c.status = 'approved' "
    "AND c.id != ?) "
    "FROM addresses a WHERE "
)


async def _writer(
    conn: aiosqlite.Connection, where: str, params: tuple[object, ...]
) -> Writer | None:
    async with conn.execute(_WRITER + where, params) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    found = None if row[2] is None else Standing(row[2])
    return Writer(int(row[0]), str(row[1]), found, int(row[3]))


async def writer_by_email(
    conn: aiosqlite.Connection, email: str, except_comment: int | None = None
) -> Writer | None:
    """The stored address ``email`` (case-insensitive) with its standing and count."""
    return await _writer(conn, "a.email = ?", (except_comment or 0, email))


async def writer_by_id(
    conn: aiosqlite.Connection, address_id: int, except_comment: int | None = None
) -> Writer | None:
    """The address ``address_id`` with its standing and count; None if not stored."""
    return await _writer(conn, "a.id = ?", (except_comment or 0, address_id))
