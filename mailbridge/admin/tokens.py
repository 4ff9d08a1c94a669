"""API tokens: random, shown once, stored as a SHA-256 hash, revocable.

A token carries 256 random bits, so a plain hash is enough to store it (no password
stretching needed) and a lookup by hash is a constant-time question of the database
index, not a comparison an attacker can time character by character.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import aiosqlite

__all__ = ["DEFAULT_SCOPES", "SCOPES", "ApiToken", "create", "list_tokens", "revoke", "verify"]

SCOPES = ("read", "moderate", "people")
DEFAULT_SCOPES = ("read", "moderate")  # "people" (export, erase) only when asked for
_PREFIX = "mbt_"  # recognisable in a leaked file or a secret scanner


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    scopes: frozenset[str]
    created_at: str
    revoked_at: str | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _row(row: aiosqlite.Row) -> ApiToken:
    return ApiToken(int(row[0]), str(row[1]), frozenset(str(row[2]).split()), str(row[3]),
                    None if row[4] is None else str(row[4]))  # fmt: skip


async def create(
    conn: aiosqlite.Connection, name: str, scopes: tuple[str, ...], now: str
) -> tuple[int, str]:
    """A new token: (its id, the token itself, which is never stored)."""
    token = _PREFIX + secrets.token_urlsafe(32)
    # RETURNING, not lastrowid: PostgreSQL has no last row id.
    async with conn.execute(
        "INSERT INTO api_tokens (name, token_hash, scopes, created_at) VALUES (?, ?, ?, ?) "
        "RETURNING id",
        (name, _hash(token), " ".join(sorted(set(scopes))), now),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0]), token


async def verify(conn: aiosqlite.Connection, token: str) -> ApiToken | None:
    """The live token behind ``token``; None for a wrong, unknown or revoked one."""
    # isascii(): ours are; a header's bytes that are not UTF-8 arrive as lone
    # surrogates, which hashing cannot encode (a 500 for anyone, unauthenticated).
    if not token.startswith(_PREFIX) or len(token) > 200 or not token.isascii():
        return None
    async with conn.execute(
        "SELECT id, name, scopes, created_at, revoked_at FROM api_tokens "
        "WHERE token_hash = ? AND revoked_at IS NULL",
        (_hash(token),),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else _row(row)


async def list_tokens(conn: aiosqlite.Connection) -> list[ApiToken]:
    async with conn.execute(
        "SELECT id, name, scopes, created_at, revoked_at FROM api_tokens ORDER BY id"
    ) as cur:
        return [_row(row) for row in await cur.fetchall()]


async def revoke(conn: aiosqlite.Connection, token_id: int, now: str) -> bool:
    async with conn.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
        (now, token_id),
    ) as cur:
        return cur.rowcount > 0
