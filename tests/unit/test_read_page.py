"""A page of a thread read from the store (mailbridge/web/published.py read_page, SQL in
mailbridge/store/published.py) shows exactly what the whole published tree shows, cut
into pages: the same conversations in the same order, the same replies under them,
nothing unpublished (a reply under a rejected comment neither), and the same total.
Random threads on the real store (SQLite file, or PostgreSQL in CI's second run)."""

from __future__ import annotations

import random
from typing import Any

import aiosqlite
import pytest
from aiohttp import web

from mailbridge.models import CommentNode, CommentStatus, NewComment, Source
from mailbridge.store import Store, comments, threads
from mailbridge.store import published as published_rows
from mailbridge.web.published import (
    BIG_THREAD,
    DEFAULT_PAGE,
    PAGE_COMMENTS,
    Page,
    read_page,
    window,
)

STATUSES = [CommentStatus.APPROVED] * 6 + [
    CommentStatus.PENDING,
    CommentStatus.REJECTED,
    CommentStatus.SPAM,
]


async def _thread(store: Store, key: str, size: int, seed: int) -> None:
    """``size`` comments: about a third top-level, the rest replies at any depth; mostly
    approved; created_at often equal (ties are ordered by id)."""
    rng = random.Random(seed)

    async def work(conn: aiosqlite.Connection) -> None:
        thread_id, _ = await threads.upsert_thread(
            conn, key=key, title=key, url=f"https://blog.example/{key}", author="A",
            author_address_id=None, now="2026-12-06T00:00:00Z",
        )  # fmt: skip
        ids: list[int] = []
        for n in range(size):
            parent = rng.choice(ids) if ids and rng.random() < 0.65 else None
            new = NewComment(
                thread_id=thread_id, parent_id=parent, author=f"P{n}", body=f"c{n}",
                status=rng.choice(STATUSES), source=Source.WEB,
                created_at=f"2026-12-06T{rng.randrange(3):02d}:00:00Z",
            )  # fmt: skip
            ids.append((await comments.insert_comment(conn, new))[0])

    await store.write(work)


def _shape(nodes: list[CommentNode]) -> list[Any]:
    return [(n.comment.id, n.comment.body, _shape(n.replies)) for n in nodes]


def count(nodes: list[CommentNode]) -> int:
    """The comments of a tree, replies included: what a page's total must say."""
    return sum(1 + count(n.replies) for n in nodes)


def _ids(nodes: list[CommentNode]) -> list[int]:
    return [i for n in nodes for i in (n.comment.id, *_ids(n.replies))]


async def _whole(store: Store, key: str) -> list[CommentNode]:
    async def work(conn: aiosqlite.Connection) -> list[CommentNode]:
        thread = await threads.get_thread(conn, key=key)
        assert thread is not None
        return await comments.approved_tree(conn, thread.id)

    return await store.read(work)


async def _page(store: Store, key: str, *args: int | None) -> Page:
    return await store.read(lambda c: read_page(c, key, *args))  # type: ignore[arg-type]


@pytest.mark.asyncio
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_pages_together_are_the_whole_tree(store: Store, seed: int) -> None:
    await _thread(store, "t", 160, seed)
    whole = await _whole(store, "t")
    page = await _page(store, "t", None, None, None)
    assert _shape(page.nodes) == _shape(whole) and page.total == count(whole)
    assert page.limit is None and page.next_after is None
    for limit in (1, 7, 50):
        shown: list[CommentNode] = []
        after: int | None = None
        previous: list[int | None] = []
        for _ in range(len(whole) + 1):  # bounded: one page per top-level comment at most
            page = await _page(store, "t", limit, after, None)
            assert page.total == count(whole) and len(page.nodes) <= limit
            previous.append(page.previous_after)
            shown += page.nodes
            if page.next_after is None:
                break
            after = page.next_after
        assert _shape(shown) == _shape(whole)
        # "Earlier comments" of page k is the "after" that made page k - 1.
        made_by = [None, 0, *[whole[k * limit - 1].comment.id for k in range(1, len(previous))]]
        assert previous == made_by[: len(previous)]


@pytest.mark.asyncio
async def test_through_reaches_each_published_comment_and_no_other(store: Store) -> None:
    await _thread(store, "t", 120, 4)
    whole = await _whole(store, "t")
    published = set(_ids(whole))
    for index, conversation in enumerate(whole):
        for comment_id in _ids([conversation]):
            page = await _page(store, "t", 5, None, comment_id)
            assert _shape(page.nodes) == _shape(whole[: max(5, index + 1)])
    hidden = await store.read(_all_ids)
    for comment_id in sorted(hidden - published)[:40]:
        with pytest.raises(web.HTTPBadRequest) as refused:
            await _page(store, "t", 5, None, comment_id)
        assert (refused.value.text or "").startswith("through:")


async def _all_ids(conn: aiosqlite.Connection) -> set[int]:
    async with conn.execute("SELECT id FROM comments") as cur:
        return {int(row[0]) for row in await cur.fetchall()}


@pytest.mark.asyncio
async def test_a_big_thread_is_paged_without_asking(store: Store) -> None:
    await _thread(store, "big", 3 * BIG_THREAD, 5)
    whole = await _whole(store, "big")
    assert count(whole) > BIG_THREAD  # (mostly approved: the seed makes enough)
    page = await _page(store, "big", None, None, None)
    assert page.limit == 50 and _shape(page.nodes) == _shape(whole[:50])
    with pytest.raises(web.HTTPBadRequest) as refused:  # a reply is not a page's start
        await _page(store, "big", None, whole[0].replies[0].comment.id, None)
    assert (refused.value.text or "").startswith("after:")


@pytest.mark.asyncio
async def test_a_page_of_more_conversations_than_one_statement_takes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link to the last comment of a huge thread asks for every conversation before
    it: read in several statements (SQLite takes 32,766 parameters at most)."""
    monkeypatch.setattr(published_rows, "ROOTS_PER_QUERY", 7)
    await _thread(store, "t", 160, 6)
    whole = await _whole(store, "t")
    assert len(whole) > 3 * 7
    last = _ids(whole[-1:])[-1]
    page = await _page(store, "t", 5, None, last)
    assert _shape(page.nodes) == _shape(whole) and page.next_after is None


async def _conversations(store: Store, key: str, sizes: list[int]) -> None:
    """A thread of conversations of these sizes (a top-level comment and its replies,
    each answering the one before), all approved."""

    async def work(conn: aiosqlite.Connection) -> None:
        thread_id, _ = await threads.upsert_thread(
            conn, key=key, title=key, url=f"https://blog.example/{key}", author="A",
            author_address_id=None, now="2026-12-06T00:00:00Z",
        )  # fmt: skip
        for n, size in enumerate(sizes):
            parent = None
            for m in range(size):
                new = NewComment(
                    thread_id=thread_id, parent_id=parent, author=f"P{n}", body=f"c{n}.{m}",
                    status=CommentStatus.APPROVED, source=Source.WEB,
                    created_at=f"2026-12-06T00:{n // 60:02d}:{n % 60:02d}Z",
                )  # fmt: skip
                parent = (await comments.insert_comment(conn, new))[0]

    await store.write(work)


@pytest.mark.asyncio
async def test_a_default_page_is_bounded_in_comments_too(store: Store) -> None:
    """One conversation that many answered made a first page of megabytes: without a
    limit, a page stops before its comments pass PAGE_COMMENTS (one conversation at
    least, never split); following its links (none with a limit) shows every
    conversation once, and each "earlier" link leads back without a gap."""
    sizes = [1, 2, 120, 3, 250, 400, 5, 1, 1, 90, 90, 90, 2] + [1] * 70
    await _conversations(store, "t", sizes)
    whole = await _whole(store, "t")
    assert count(whole) == sum(sizes) > BIG_THREAD
    pages: list[Page] = []
    after: int | None = None
    for _ in range(len(sizes) + 1):  # bounded: a page shows one conversation at least
        page = await _page(store, "t", None, after, None)
        assert page.limit == DEFAULT_PAGE and page.budget == PAGE_COMMENTS
        assert 1 <= len(page.nodes) <= DEFAULT_PAGE
        assert count(page.nodes) <= PAGE_COMMENTS or len(page.nodes) == 1
        pages.append(page)
        if page.next_after is None:
            break
        after = page.next_after
    shown = [n for p in pages for n in p.nodes]
    assert _shape(shown) == _shape(whole)
    assert [len(p.nodes) for p in pages] == [4, 1, 1, 28, 49]  # 126, 250, 400, 300, 49
    # Each page's "earlier" page reaches it: its conversations, then this page's first.
    for page in pages[1:]:
        earlier = await _page(store, "t", None, page.previous_after or None, None)
        first = page.nodes[0].comment.id
        assert earlier.next_after is not None
        follows = [n.comment.id for n in earlier.nodes]
        assert first in follows or earlier.next_after == _before(whole, first)
    # An explicit limit is what it says, whatever the comments.
    page = await _page(store, "t", 6, None, None)
    assert page.budget is None and len(page.nodes) == 6


def _before(whole: list[CommentNode], comment_id: int) -> int:
    ids = [n.comment.id for n in whole]
    return ids[ids.index(comment_id) - 1]


def _w(*args: Any) -> tuple[int, int, int | None, int | None]:
    shown = window(*args)
    return shown.start, shown.end, shown.next_after, shown.previous_after


def test_window_keeps_one_conversation_and_walks_back_as_far_as_fits() -> None:
    roots = [10, 20, 30, 40, 50]
    sizes = {10: 5, 20: 400, 30: 2, 40: 2, 50: 2}
    assert _w(roots, 50, None, None, sizes, 300) == (0, 1, 10, None)  # 20 alone is 400
    assert _w(roots, 50, 10, None, sizes, 300) == (1, 2, 20, 0)  # ... but comes alone
    assert _w(roots, 50, 20, None, sizes, 300) == (2, 5, None, 10)  # earlier: 20 alone
    assert _w(roots, 50, None, 40, sizes, 300) == (0, 4, 40, None)  # through wins
    assert _w(roots, 2, 20, None) == (2, 4, 40, 0)  # no budget: the limit
    assert _w(roots, 2, 40, None) == (4, 5, None, 20)
