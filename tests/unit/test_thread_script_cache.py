"""The spam scorer's memory of threads' scripts (mailbridge/spam/scorer.py,
``ThreadScripts``): the same answer as working it out, kept by thread version, so a
reply to a busy thread no longer reads its 20 latest comments; a new published comment
or title is seen at once. On the engine the suite runs on."""

from __future__ import annotations

import aiosqlite
import pytest

from mailbridge.models import CommentStatus, NewComment, Source
from mailbridge.spam.scorer import ThreadScripts
from mailbridge.spam.scripts import dominant_script
from mailbridge.store import Store, comments, threads

NOW = "2026-12-06T20:00:00Z"
ENGLISH = "Everything I read here helps me understand attachment a little better."
RUSSIAN = "Всё, что я здесь читаю, помогает мне немного лучше понять привязанность."


async def _thread(store: Store, key: str, title: str) -> int:
    async def work(conn: aiosqlite.Connection) -> int:
        thread_id, _ = await threads.upsert_thread(
            conn, key=key, title=title, url=f"https://blog.example/{key}", author="A",
            author_address_id=None, now=NOW,
        )  # fmt: skip
        return thread_id

    return await store.write(work)


async def _add(store: Store, thread_id: int, body: str, status: CommentStatus) -> None:
    new = NewComment(
        thread_id=thread_id, parent_id=None, author="Ann", body=body, status=status,
        source=Source.WEB, created_at=NOW, email="ann@example.org",
    )  # fmt: skip
    await store.write(lambda c: comments.insert_comment(c, new))


async def _script(store: Store, scripts: ThreadScripts, thread_id: int) -> str | None:
    return (await store.read(lambda c: scripts.of(c, thread_id)))[1]


@pytest.mark.asyncio
async def test_kept_by_version_and_seen_to_change(store: Store) -> None:
    scripts = ThreadScripts()
    thread_id = await _thread(store, "t", "On attachment")
    for _ in range(3):
        await _add(store, thread_id, ENGLISH, CommentStatus.APPROVED)
    assert await _script(store, scripts, thread_id) == dominant_script(ENGLISH) == "Latin"

    seen: list[str] = []
    await store.trace(seen.append)
    try:
        assert await _script(store, scripts, thread_id) == "Latin"
        # Pending comments are not the thread's published words: still from memory.
        for _ in range(30):
            await _add(store, thread_id, RUSSIAN, CommentStatus.PENDING)
        assert await _script(store, scripts, thread_id) == "Latin"
    finally:
        await store.trace(None)
    assert seen and not [s for s in seen if "status = 'approved'" in s], seen

    # Published Russian comments move the version: the answer follows at once.
    for _ in range(20):
        await _add(store, thread_id, RUSSIAN, CommentStatus.APPROVED)
    assert await _script(store, scripts, thread_id) == "Cyrillic"
    fresh = ThreadScripts()
    assert await _script(store, fresh, thread_id) == "Cyrillic"


@pytest.mark.asyncio
async def test_no_thread_and_bounded(store: Store) -> None:
    scripts = ThreadScripts()
    assert await store.read(lambda c: scripts.of(c, 999)) == ("", None)
    ids = [await _thread(store, f"t{n}", f"Thread number {n} about attachment") for n in range(70)]
    for thread_id in ids:
        assert await _script(store, scripts, thread_id) == "Latin"
    assert len(scripts._known) == ThreadScripts.KEPT
