"""A thread's version moves with its published view only (migration 0023): a pending,
rejected or spam comment arriving, changing or going leaves every cached page, ETag
and 304 of its thread valid; anything a reader can see change bumps it. On the engine
the suite runs on (SQLite, or PostgreSQL in CI's second run)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiosqlite
import pytest

from mailbridge.models import CommentStatus, NewComment, Source
from mailbridge.store import Store, comments, threads

NOW = "2026-12-06T06:00:00Z"
Work = Callable[[aiosqlite.Connection], Awaitable[object]]


async def _thread(store: Store, key: str) -> int:
    async def work(conn: aiosqlite.Connection) -> int:
        thread_id, _ = await threads.upsert_thread(
            conn, key=key, title=key, url=f"https://blog.example/{key}", author="A",
            author_address_id=None, now=NOW,
        )  # fmt: skip
        return thread_id

    return await store.write(work)


async def _add(
    store: Store, thread_id: int, status: CommentStatus, parent: int | None = None
) -> int:
    new = NewComment(
        thread_id=thread_id, parent_id=parent, author="Ann", body="words", status=status,
        source=Source.WEB, created_at=NOW, email="ann@example.org",
    )  # fmt: skip
    return (await store.write(lambda c: comments.insert_comment(c, new)))[0]


async def _version(store: Store, key: str) -> int:
    found = await store.read(lambda c: threads.version_of(c, key))
    assert found is not None
    return found[1]


async def _bumps(store: Store, key: str, work: Work) -> bool:
    before = await _version(store, key)
    await store.write(work)
    after = await _version(store, key)
    assert after in (before, before + 1, before + 2)
    return after != before


def _sql(sql: str, *args: object) -> Work:
    async def work(conn: aiosqlite.Connection) -> object:
        return await conn.execute(sql, args)

    return work


def _status(comment_id: int, status: CommentStatus) -> Work:
    return lambda c: comments.set_status(c, comment_id, status, NOW)


@pytest.mark.asyncio
async def test_what_readers_cannot_see_leaves_the_version_alone(store: Store) -> None:
    thread_id = await _thread(store, "t")
    start = await _version(store, "t")
    pending = await _add(store, thread_id, CommentStatus.PENDING)
    await _add(store, thread_id, CommentStatus.SPAM)
    assert await _version(store, "t") == start
    assert not await _bumps(store, "t", _status(pending, CommentStatus.SPAM))
    assert not await _bumps(store, "t", _status(pending, CommentStatus.REJECTED))
    assert not await _bumps(
        store, "t", _sql("UPDATE comments SET body = 'x' WHERE id = ?", pending)
    )
    assert not await _bumps(store, "t", _sql("DELETE FROM comments WHERE id = ?", pending))


@pytest.mark.asyncio
async def test_what_readers_can_see_bumps_it(store: Store) -> None:
    thread_id, other = await _thread(store, "t"), await _thread(store, "u")
    before = await _version(store, "t")
    shown = await _add(store, thread_id, CommentStatus.APPROVED)
    assert await _version(store, "t") == before + 1  # published as it arrived (an import)
    pending = await _add(store, thread_id, CommentStatus.PENDING, parent=shown)
    assert await _bumps(store, "t", _status(pending, CommentStatus.APPROVED))  # published
    assert await _bumps(store, "t", _sql("UPDATE comments SET body = 'y' WHERE id = ?", pending))
    assert await _bumps(store, "t", _status(pending, CommentStatus.REJECTED))  # unpublished
    leaf = await _add(store, thread_id, CommentStatus.APPROVED)
    assert await _bumps(store, "t", _sql("DELETE FROM comments WHERE id = ?", leaf))
    moved = await _add(store, thread_id, CommentStatus.APPROVED)
    u_before = await _version(store, "u")
    assert await _bumps(
        store, "t", _sql("UPDATE comments SET thread_id = ? WHERE id = ?", other, moved)
    )
    assert await _version(store, "u") == u_before + 1  # both threads' views changed
    assert await _bumps(store, "u", _sql("UPDATE threads SET title = 'new' WHERE id = ?", other))
