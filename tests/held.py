"""What the database still holds of an address: every column of every table,
listed from the engine's own catalogue (SQLite's or PostgreSQL's), searched for the
address and its id. An erasure (test_people.py) and the spam folder's purge
(test_spam_retention.py) must leave nothing."""

from __future__ import annotations

from typing import Any

from pg import store_option

from mailbridge.app import Running
from mailbridge.store.engine import dialect_of


async def traces(daemon: Running, email: str, address_id: int) -> list[str]:
    """Every table.column of the database that still holds the address or its id."""

    async def work(conn: Any) -> list[str]:
        found = []
        for table, column in await columns(conn):
            async with conn.execute(f'SELECT "{column}" FROM "{table}"') as cur:
                for (value,) in await cur.fetchall():
                    if isinstance(value, bytes | memoryview):
                        text = bytes(value).decode("latin-1")
                    else:
                        text = str(value)
                    if email.lower() in text.lower():
                        found.append(f"{table}.{column}")
            if "address_id" in column:
                sql = f'SELECT 1 FROM "{table}" WHERE "{column}" = ?'
                async with conn.execute(sql, (address_id,)) as cur:
                    if await cur.fetchone():
                        found.append(f"{table}.{column} = {address_id}")
        return found

    return sorted(set(await daemon.store.read(work)))


async def columns(conn: Any) -> list[tuple[str, str]]:
    """(table, column) of every table of the store, from the engine's own catalogue."""
    if dialect_of(conn) == "postgresql":
        async with conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        ) as cur:
            return [(str(t), str(c)) for t, c in await cur.fetchall()]
    found = []
    async with conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        tables = [str(r[0]) for r in await cur.fetchall()]
    for table in tables:
        async with conn.execute(f"PRAGMA table_info({table})") as cur:
            found += [(table, str(r[1])) for r in await cur.fetchall()]
    return found


def files_holding(daemon: Running, text: str) -> list[str]:
    """The SQLite database's files (the write-ahead log among them) whose raw bytes
    hold ``text``, as a copy of the data directory would take them. Nothing on
    PostgreSQL: its files are the server's (docs/postgresql.md)."""
    if store_option() == "postgresql":
        return []
    return [
        path.name
        for path in sorted(daemon.settings.data_path.iterdir())
        if path.is_file()
        and path.name.startswith("mailbridge.sqlite3")
        and text.lower().encode() in path.read_bytes().lower()
    ]
