"""A thread version's answer is made once, however many readers ask for it at the same
moment (mailbridge/web/published.py): its comments read, encoded and gzipped once, and
kept. A reader who goes away does not stop it for the others; a making that fails fails
for the readers who waited on it, and the next reader tries again. Real store (SQLite
file, or PostgreSQL in CI's second run), real requests through aiohttp's request type."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import aiosqlite
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from mailbridge.errors import NotFound
from mailbridge.models import CommentStatus, NewComment, Source
from mailbridge.settings import CacheSettings
from mailbridge.store import Store, comments, threads
from mailbridge.web.published import Page, PublishedThreads, read_page

NOW = "2026-12-06T06:00:00Z"


class CountingReader:
    """The page read PublishedThreads makes (the real one, on the real store), counted
    and made slow enough (a pause) that the readers below all ask while it runs."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    async def __call__(
        self,
        conn: aiosqlite.Connection,
        key: str,
        limit: int | None,
        after: int | None,
        through: int | None,
    ) -> Page:
        self.calls += 1
        await asyncio.sleep(0.05)
        if self.fail:
            raise NotFound(f"no thread '{key}'")
        return await read_page(conn, key, limit, after, through)


async def _seed(store: Store) -> None:
    async def work(conn: aiosqlite.Connection) -> None:
        thread_id, _ = await threads.upsert_thread(
            conn, key="t", title="T", url="https://blog.example/t", author="A",
            author_address_id=None, now=NOW,
        )  # fmt: skip
        for n in range(20):
            new = NewComment(
                thread_id=thread_id, parent_id=None, author=f"P{n}", body=f"Comment *{n}*.",
                status=CommentStatus.APPROVED, source=Source.WEB, created_at=NOW,
            )  # fmt: skip
            await comments.insert_comment(conn, new)

    await store.write(work)


def _body(answer: web.StreamResponse) -> bytes:
    assert isinstance(answer, web.Response) and isinstance(answer.body, bytes)
    return answer.body


def _request(gzipped: bool = False) -> Any:
    headers = {"Accept-Encoding": "gzip" if gzipped else "identity"}
    return make_mocked_request(
        "GET", "/api/threads/t/comments", headers=headers, match_info={"thread": "t"}
    )


@pytest.mark.asyncio
async def test_readers_at_the_same_moment_share_one_making(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seed(store)
    reader = CountingReader()
    published = PublishedThreads(store, CacheSettings(), reader)
    compressions = []
    real_compress = gzip.compress

    def counted(data: bytes, *args: Any, **kwargs: Any) -> bytes:
        compressions.append(len(data))
        return real_compress(data, *args, **kwargs)

    monkeypatch.setattr(gzip, "compress", counted)
    answers = await asyncio.gather(
        *(published.comments(_request(gzipped=n % 2 == 1)) for n in range(12))
    )
    assert reader.calls == 1 and len(compressions) == 1
    plain = {_body(a) for a in answers if "Content-Encoding" not in a.headers}
    zipped = {_body(a) for a in answers if a.headers.get("Content-Encoding") == "gzip"}
    assert len(plain) == 1 and len(zipped) == 1
    assert gzip.decompress(zipped.pop()) == (body := plain.pop())
    assert json.loads(body)["total"] == 20
    # Kept: a later reader makes nothing.
    await published.comments(_request(gzipped=True))
    assert reader.calls == 1 and len(compressions) == 1


@pytest.mark.asyncio
async def test_a_reader_who_goes_away_does_not_stop_the_others(store: Store) -> None:
    await _seed(store)
    reader = CountingReader()
    published = PublishedThreads(store, CacheSettings(), reader)
    first = asyncio.ensure_future(published.comments(_request()))
    others = [asyncio.ensure_future(published.comments(_request())) for _ in range(3)]
    await asyncio.sleep(0.01)
    first.cancel()
    answers = await asyncio.gather(*others)
    assert first.cancelled() and reader.calls == 1
    assert all(a.status == 200 and json.loads(_body(a))["total"] == 20 for a in answers)


@pytest.mark.asyncio
async def test_a_failed_making_fails_its_waiters_and_the_next_reader_tries_again(
    store: Store,
) -> None:
    await _seed(store)
    reader = CountingReader()
    published = PublishedThreads(store, CacheSettings(), reader)
    reader.fail = True  # the thread deleted between the version check and the read
    answers = await asyncio.gather(
        *(published.comments(_request()) for _ in range(4)), return_exceptions=True
    )
    assert reader.calls == 1
    assert all(getattr(a, "status", None) == 404 for a in answers), answers
    reader.fail = False
    answer = await published.comments(_request())
    assert answer.status == 200 and reader.calls == 2
