"""Moderator sessions for the queue page (SQL only). Tokens are stored hashed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import aiosqlite

__all__ = [
    "SessionRow",
    "active",
    "create",
    "hash_token",
    "list_all",
    "opened_by",
    "revoke",
    "touch",
]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionRow:
    id: int
    address_id: int
    email: str
    created_at: str
    last_seen_at: str
    expires_at: str
    revoked_at: str | None
    user_agent: str


async def create(
    conn: aiosqlite.Connection,
    token: str,
    address_id: int,
    now: str,
    expires_at: str,
    user_agent: str,
    link: str | None = None,
) -> int:
    link_hash = None if link is None else hash_token(link)
    # RETURNING, not lastrowid: PostgreSQL has no last row id.
    async with conn.execute(
        "INSERT INTO moderator_sessions (token_hash, address_id, created_at, last_seen_at, "
        "expires_at, user_agent, link_hash) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (hash_token(token), address_id, now, now, expires_at, user_agent[:200], link_hash),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


_SELECT = (
    "SELECT s.id, s.address_id, a.email, s.created_at, s.last_seen_at, s.expires_at, "
    "s.revoked_at, s.user_agent FROM moderator_sessions s JOIN addresses a ON a.id = s.address_id"
)


def _row(r: aiosqlite.Row) -> SessionRow:
    return SessionRow(int(r[0]), int(r[1]), str(r[2]), r[3], r[4], r[5], r[6], r[7])


async def active(conn: aiosqlite.Connection, token: str, now: str) -> SessionRow | None:
    """The live session for a cookie's token: not revoked, not expired."""
    async with conn.execute(
        _SELECT + " WHERE s.token_hash = ? AND s.revoked_at IS NULL AND s.expires_at > ?",
        (hash_token(token), now),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else _row(row)


async def opened_by(conn: aiosqlite.Connection, link: str) -> int | None:
    """The id of the session a sign-in link opened, if it opened one (ended or not)."""
    async with conn.execute(
        "SELECT id FROM moderator_sessions WHERE link_hash = ?", (hash_token(link),)
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else int(row[0])


async def touch(conn: aiosqlite.Connection, session_id: int, now: str) -> None:
    await conn.execute(
        "UPDATE moderator_sessions SET last_seen_at = ? WHERE id = ?", (now, session_id)
    )


async def list_all(conn: aiosqlite.Connection) -> list[SessionRow]:
    async with conn.execute(_SELECT + " ORDER BY s.id DESC LIMIT 500") as cur:
        return [_row(r) for r in await cur.fetchall()]


async def revoke(conn: aiosqlite.Connection, session_id: int | None, now: str) -> int:
    """Revoke one session, or every live one (None); return how many."""
    if session_id is None:
        cur = await conn.execute(
            "UPDATE moderator_sessions SET revoked_at = ? WHERE revoked_at IS NULL", (now,)
        )
    else:
        cur = await conn.execute(
            "UPDATE moderator_sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (now, session_id),
        )
    return cur.rowcount
