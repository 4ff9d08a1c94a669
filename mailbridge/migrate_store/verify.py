"""After the copy: each table's rows counted and checksummed on both ends, the same way.

The checksum is SHA-256 over the table's rows in key order (bytes order for text
keys on both engines), each value in a canonical encoding that does not depend on
the engine or driver: a tag and the value, lengths before text and bytes so that no
two rows encode alike. Numbers compare by value (SQLite may hand back ``0`` where
PostgreSQL's double precision gives ``0.0``); text is UTF-8; ``NULL`` is its own tag.
Reading is streamed like the copy, so verifying takes memory for a few rows only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from mailbridge.migrate_store.schema import Table
from mailbridge.migrate_store.side import Side

__all__ = ["Check", "TableCheck", "checksum", "encode", "verify"]


def encode(value: object) -> bytes:
    """One value's canonical bytes."""
    if value is None:
        return b"N"
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    if isinstance(value, int):
        return b"I%d;" % value
    if isinstance(value, float):
        return b"F" + value.hex().encode() + b";"
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        return b"S%d:" % len(data) + data
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return b"B%d:" % len(data) + data
    raise TypeError(f"no canonical encoding for {type(value).__name__}")


@dataclass(frozen=True)
class Check:
    rows: int
    sha256: str


def checksum(side: Side, table: Table) -> Check:
    digest = hashlib.sha256()
    digest.update(",".join(table.columns).encode() + b"\n")
    count = 0
    rows = side.rows(table, None, None)
    try:
        for row in rows:
            count += 1
            digest.update(b"R" + b"".join(encode(v) for v in row))
    finally:
        rows.close()
    return Check(count, digest.hexdigest())


@dataclass(frozen=True)
class TableCheck:
    table: str
    source: Check
    destination: Check

    @property
    def ok(self) -> bool:
        return self.source == self.destination


def verify(source: Side, destination: Side, tables: list[Table]) -> list[TableCheck]:
    return [TableCheck(t.name, checksum(source, t), checksum(destination, t)) for t in tables]
