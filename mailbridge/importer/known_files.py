"""Files imported whole, known by the SHA-256 of their bytes.

Importing the same export again (a cron job, an operator unsure whether the last run
finished) is answered from this record instead of reading the file again: hashing is
about a second per gigabyte, reading and looking up every comment about twenty. Only
a finished import is recorded, so an interrupted one is simply read again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

__all__ = ["KnownFile", "digest", "find", "remember"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class KnownFile:
    sha256: str
    format: str
    threads: int
    comments: int
    imported_at: str


def digest(path: Path) -> tuple[str, int]:
    """(SHA-256 in hex, size in bytes) of the file, read in chunks: memory stays flat."""
    hasher = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


async def find(conn: aiosqlite.Connection, sha256: str) -> KnownFile | None:
    async with conn.execute(
        "SELECT sha256, format, threads, comments, imported_at FROM import_files WHERE sha256 = ?",
        (sha256,),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else KnownFile(*row)


async def remember(conn: aiosqlite.Connection, known: KnownFile, size: int) -> None:
    """Record a finished import (again: the latest time)."""
    await conn.execute(
        "INSERT INTO import_files (sha256, format, size, threads, comments, imported_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET "
        "threads = excluded.threads, comments = excluded.comments, "
        "imported_at = excluded.imported_at",
        (known.sha256, known.format, size, known.threads, known.comments, known.imported_at),
    )
