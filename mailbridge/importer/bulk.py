"""Store one imported thread with a handful of statements, not a dozen per comment.

Importing was bound by round trips to the database thread (about sixteen per
comment: the address, the comment, its subscription, each its own statement). Here
a thread's addresses, comments and subscriptions each go in one ``executemany``, in
the caller's transaction. New comments get their ids up front (the writer holds
``BEGIN IMMEDIATE``, so nobody else can take one), which lets a reply name its
parent before either is written. Every import test (each format, repeats, orphans,
refused addresses, the export round trip) runs through here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiosqlite

from mailbridge.importer.records import ImportedComment
from mailbridge.store.engine import dialect_of
from mailbridge.store.subscriptions import Level

__all__ = ["Stored", "store_comments"]

_IN_CHUNK = 500  # SQLite allows 32766 variables; stay far below
_IMPORTED = "comments WHERE thread_id = ? AND source = 'import'"


@dataclass
class Stored:
    """What one call stored, and what it could not place."""

    added: int = 0
    existing: int = 0
    duplicates: int = 0  # not stored: a comment before it in this call has its id
    orphans: int = 0  # placed at the top level: their parent is not in the file
    deferred: list[int] = field(default_factory=list)  # indexes: their parent is not yet
    ids: dict[str, int] = field(default_factory=dict)  # source id -> comment id, all stored


async def store_comments(
    conn: aiosqlite.Connection,
    thread_id: int,
    ordered: list[ImportedComment],
    usable: Callable[[ImportedComment], str | None],
    *,
    notify: bool,
    now: str,
    progress: Callable[[int], None],
    defer: bool = False,
) -> Stored:
    """Store ``ordered`` unless stored before. A parent must come before its replies
    or be stored already; a reply whose parent is neither is placed at the top level,
    or with ``defer`` left out and listed (a streamed file's parent may come later).
    ``usable`` gives a new comment's address, if it can be used; comments stored
    before are not checked again (a repeat import is cheap)."""
    ids = await _known(conn, thread_id, ordered)
    done = Stored()
    # First which items are stored now and under which parent (a new one by its place
    # in ``chosen``), then their ids, taken in one go for all of them.
    chosen: list[tuple[int | None, int | None, ImportedComment]] = []
    fresh: dict[str, int] = {}  # source id -> place in chosen
    for index, item in enumerate(ordered):
        if item.source_id in fresh:  # the file's own duplicate, not an earlier import's
            done.duplicates += 1
            continue
        if item.source_id in ids:
            done.existing += 1
            continue
        parent = item.parent_source_id
        parent_id = ids.get(parent) if parent else None
        parent_new = fresh.get(parent) if parent and parent_id is None else None
        if parent and parent_id is None and parent_new is None:
            if defer:
                done.deferred.append(index)
                continue
            done.orphans += 1
        fresh[item.source_id] = len(chosen)
        chosen.append((parent_id, parent_new, item))
    new_ids = await _new_comment_ids(conn, len(chosen))
    placed: list[tuple[int, int | None, ImportedComment]] = []  # (id, parent id, item)
    for comment_id, (parent_id, parent_new, item) in zip(new_ids, chosen, strict=True):
        if parent_new is not None:
            parent_id = new_ids[parent_new]
        ids[item.source_id] = comment_id
        placed.append((comment_id, parent_id, item))
    # Addresses only for what is stored now: each is checked (and a refusal counted) once.
    emails = [usable(item) for _id, _parent, item in placed]
    address_ids = await _addresses(conn, {e for e in emails if e}, now)
    rows: list[tuple[object, ...]] = []
    subscribers: set[int] = set()
    for (comment_id, parent_id, item), email in zip(placed, emails, strict=True):
        address_id = address_ids.get(_fold(email)) if email else None
        rows.append(
            # author and body were cleaned when the comment was read (ImportedComment).
            (comment_id, thread_id, parent_id, address_id, item.author, item.body,
             item.status.value, item.source_id, int(notify and item.notify), item.created_at,
             item.held_reason)
        )  # fmt: skip
        if notify and item.notify and address_id is not None:
            subscribers.add(address_id)
    done.added = len(rows)
    done.ids = ids
    if rows:
        insert = (
            "INSERT INTO comments (id, thread_id, parent_id, address_id, author, body, "
            "status, source, source_ref, notify, created_at, attachments, held_reason, "
            "elided) VALUES (?, ?, ?, ?, ?, ?, ?, 'import', ?, ?, ?, '[]', ?, '')"
        )
        if dialect_of(conn) == "postgresql":
            # The row triggers stay (their cost is SQLite's, see below); the ids came
            # from the sequence, which stays past them.
            await conn.executemany(insert, rows)
        else:
            async with _row_triggers_suspended(conn):
                await conn.executemany(insert, rows)
            await _after_insert(conn, thread_id, placed[0][0], placed[-1][0])
    if subscribers:
        # As subscribe_imported, in bulk: confirmed (the owner vouches for them), and
        # told about answers unless they chose otherwise before.
        await conn.executemany(
            "UPDATE addresses SET confirmed_at = ? WHERE id = ? AND confirmed_at IS NULL",
            [(now, a) for a in sorted(subscribers)],
        )
        await conn.executemany(
            "INSERT INTO subscriptions (address_id, thread_id, level, source, updated_at) "
            "VALUES (?, ?, ?, 'import', ?) "
            "ON CONFLICT (address_id, coalesce(thread_id, 0)) DO NOTHING",
            [(a, thread_id, Level.REPLIES.value, now) for a in sorted(subscribers)],
        )
    progress(len(ordered) - len(done.deferred))
    return done


async def _new_comment_ids(conn: aiosqlite.Connection, count: int) -> list[int]:
    """``count`` comment ids, ascending, past every id ever given (a deleted comment's
    too: links signed for it stay valid, so its id must never name another)."""
    if count == 0:
        return []
    if dialect_of(conn) == "postgresql":
        # From the sequence itself, so it never goes back under an id given before.
        async with conn.execute(
            "SELECT nextval(pg_get_serial_sequence('comments', 'id')) "
            "FROM generate_series(1, CAST(? AS integer))",
            (count,),
        ) as cur:
            return sorted(int(r[0]) for r in await cur.fetchall())
    # The writer holds BEGIN IMMEDIATE: nobody else takes an id meanwhile. Inserting
    # these ids moves sqlite_sequence past them (AUTOINCREMENT, sql/0027).
    async with conn.execute(
        "SELECT max(coalesce((SELECT max(id) FROM comments), 0), "
        "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'comments'), 0))"
    ) as cur:
        row = await cur.fetchone()
    first = int(row[0]) + 1 if row is not None else 1
    return list(range(first, first + count))


# The comments table's AFTER INSERT triggers (migrations 0010, 0017). With any row
# trigger present SQLite builds every inserted row again for it, which doubled an
# import's insert time (docs/performance.md); _after_insert does their work per batch.
_INSERT_TRIGGERS = ("thread_version_on_insert", "wp_push_on_insert")


@asynccontextmanager
async def _row_triggers_suspended(conn: aiosqlite.Connection) -> AsyncIterator[None]:
    """The insert triggers dropped for the block and created again after it, from their
    own stored definitions, inside the caller's transaction: no other connection ever
    sees them missing, and a rollback undoes the drop with everything else."""
    marks = ",".join("?" * len(_INSERT_TRIGGERS))
    async with conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({marks})",  # noqa: S608
        _INSERT_TRIGGERS,
    ) as cur:
        saved = [(str(name), str(sql)) for name, sql in await cur.fetchall()]
    for name, _sql in saved:
        await conn.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        for _name, sql in saved:
            await conn.execute(sql)


async def _after_insert(conn: aiosqlite.Connection, thread_id: int, first: int, last: int) -> None:
    """What the insert triggers do for each other comment, once for the batch: the
    thread's version (ETags), and the WordPress bridge's queue when it is bridged."""
    await conn.execute(
        "UPDATE threads SET version = version + 1, "
        "changed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ?",
        (thread_id,),
    )
    await conn.execute(
        "INSERT INTO wp_push (comment_id) SELECT id FROM comments "
        "WHERE thread_id = ? AND id BETWEEN ? AND ? "
        "AND EXISTS (SELECT 1 FROM wp_posts WHERE thread_id = ?) "
        "ON CONFLICT (comment_id) DO UPDATE SET version = version + 1, next_attempt_at = 0",
        (thread_id, first, last, thread_id),
    )


async def _known(
    conn: aiosqlite.Connection, thread_id: int, items: list[ImportedComment]
) -> dict[str, int]:
    """The ids of those of ``items`` and of their parents stored before (one indexed
    look-up per 500, whatever the thread's size)."""
    refs = sorted({i.source_id for i in items} | {i.parent_source_id for i in items
                                                     if i.parent_source_id})  # fmt: skip
    found: dict[str, int] = {}
    for start in range(0, len(refs), _IN_CHUNK):
        chunk = refs[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT source_ref, id FROM {_IMPORTED} AND source_ref IN ({marks})"  # noqa: S608
        async with conn.execute(sql, (thread_id, *chunk)) as cur:
            found.update({str(r[0]): int(r[1]) for r in await cur.fetchall()})
    return found


async def _addresses(conn: aiosqlite.Connection, emails: set[str], now: str) -> dict[str, int]:
    """Each address's id (made when new), keyed as NOCASE compares (see _fold)."""
    if not emails:
        return {}
    await conn.executemany(
        "INSERT INTO addresses (email, created_at) VALUES (?, ?) ON CONFLICT (email) DO NOTHING",
        [(e, now) for e in sorted(emails)],
    )
    found: dict[str, int] = {}
    listed = sorted(emails)
    for start in range(0, len(listed), _IN_CHUNK):
        chunk = listed[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        async with conn.execute(
            f"SELECT id, email FROM addresses WHERE email IN ({marks})",  # noqa: S608
            chunk,
        ) as cur:
            found.update({_fold(str(r[1])): int(r[0]) for r in await cur.fetchall()})
    return found


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _fold(email: str) -> str:
    """As SQLite's NOCASE compares: ASCII letters without regard to case, nothing else."""
    return email.translate(_ASCII_LOWER)
