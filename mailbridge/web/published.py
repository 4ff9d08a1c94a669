"""Published threads, read fast: versioned, cached, revalidated, paged.

A thread's version is bumped by database triggers on every change its readers can
see (migrations 0010, 0023), so one indexed row says whether anything changed:

- every answer carries a strong ``ETag`` (thread, version, renderer version,
  page), ``Last-Modified`` and ``Cache-Control: public`` with a short max-age and
  ``stale-while-revalidate``, so a CDN in front can serve it;
- ``If-None-Match`` / ``If-Modified-Since`` get ``304`` after that one row;
- the serialized bytes are kept in memory per (thread, version, page), and gzipped
  once beside them, so a repeat read does no other SQL, no rendering, no JSON
  encoding and no compression (compressing a 500 KB thread for each of many readers
  cost CPU, and its buffers, made in aiohttp's threads, grew the daemon's memory);
  readers who arrive while a version is being made wait for that one making;
- big threads are paged by top-level comment (each with all its replies), and a page
  asked for without ``limit`` is bounded in comments too: conversations that hundreds
  answered made a first page of 12.9 MB in a soak (bench/soak_bench.py), for every
  reader's phone, and for the daemon's memory.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import partial
from typing import Any
from urllib.parse import quote

import aiosqlite
from aiohttp import web

from mailbridge.errors import NotFound
from mailbridge.models import MAX_ID, CommentNode, Thread, echoed, whole_number
from mailbridge.render import RENDER_VERSION, render_comment
from mailbridge.settings import CacheSettings
from mailbridge.store import Store, comments, threads
from mailbridge.store import published as published_rows
from mailbridge.store.former_keys import renamed

__all__ = [
    "BIG_THREAD",
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "PAGE_COMMENTS",
    "Page",
    "PublishedThreads",
    "accepts_gzip",
    "compact_json",
    "not_modified",
    "page_args",
    "page_etag",
    "read_page",
    "tree_json",
    "window",
]

# Threads with more published comments than this are paged by default.
BIG_THREAD = 300
DEFAULT_PAGE = 50  # top-level comments per page of a big thread, at most
# and comments per such page, replies included, unless its first conversation alone
# holds more (a conversation is never split).
PAGE_COMMENTS = 300
MAX_PAGE = 500


def tree_json(nodes: list[CommentNode]) -> list[dict[str, Any]]:
    """Published comments as nested JSON, with their sanitised HTML. No email field."""
    return [
        {
            "id": node.comment.id,
            "parent": node.comment.parent_id,
            "author": node.comment.author,
            "created": node.comment.created_at,
            "body": node.comment.body,
            "html": render_comment(node.comment.body),
            "replies": tree_json(node.replies),
        }
        for node in nodes
    ]


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def compact_json(document: dict[str, Any]) -> bytes:
    """``json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()``,
    the same bytes, made a top-level value and a list item at a time.

    One string of the whole answer takes four bytes a character as soon as one of its
    characters lies beyond Latin-1 (an emoji in any comment): building a 9 MB thread
    answer held 36 MB at once, and the daemon kept the memory of its largest builds.
    In pieces, only the comments with such a character are wide, one at a time."""
    parts = [b"{"]
    for n, (key, value) in enumerate(document.items()):
        parts.append(b"," if n else b"")
        parts.append(_ENCODER.encode(key).encode() + b":")
        if isinstance(value, list):
            parts.append(b"[")
            for m, item in enumerate(value):
                parts.append(b"," if m else b"")
                parts.append(_ENCODER.encode(item).encode())
            parts.append(b"]")
        else:
            parts.append(_ENCODER.encode(value).encode())
    parts.append(b"}")
    return b"".join(parts)


@dataclass(frozen=True)
class Page:
    """One page of a thread's top-level comments (each with all its replies)."""

    thread: Thread
    nodes: list[CommentNode]
    total: int  # published comments in the whole thread, replies included
    limit: int | None  # top-level comments per page; None: the whole thread
    # PAGE_COMMENTS for a page asked for without a limit (its links carry none), else None
    budget: int | None
    next_after: int | None  # the ``after`` of the following page; None on the last
    # the ``after`` of the previous page: None when there is none, 0 for the first page
    previous_after: int | None


@dataclass(frozen=True)
class Window:
    start: int  # the first top-level comment shown, and the one after the last
    end: int
    next_after: int | None
    previous_after: int | None


def window(
    roots: list[int],
    limit: int,
    after: int | None,
    through: int | None,
    sizes: Mapping[int, int] | None = None,
    budget: int | None = None,
) -> Window:
    """Which of the top-level comments ``roots`` (in order) a page shows: ``limit`` of
    them after ``after``, and at least up to ``through`` (the top-level comment whose
    conversation holds a linked comment: its reader gets every conversation up to it,
    in order). With a ``budget``, fewer when their conversations (``sizes``: comments
    in each, replies included) would hold more than ``budget`` comments together;
    always one at least. Raises ``HTTPBadRequest`` when ``after`` is not one of
    ``roots``."""
    start = first_shown(roots, after)
    end = start + limit
    if budget is not None and sizes is not None:
        end = _within(roots, range(start, min(end, len(roots))), sizes, budget)
    if through is not None:
        end = max(end, roots.index(through) + 1)
    end = min(end, len(roots))
    more = end < len(roots) and end > start
    previous = None
    if start:
        begin = max(0, start - limit)
        if budget is not None and sizes is not None:
            # The page before: as many of the conversations just before as fit.
            begin = _within(roots, range(start - 1, begin - 1, -1), sizes, budget) + 1
        previous = 0 if begin == 0 else roots[begin - 1]
    return Window(start, end, roots[end - 1] if more else None, previous)


def _within(roots: list[int], order: range, sizes: Mapping[int, int], budget: int) -> int:
    """Walking ``order`` (indexes into ``roots``), the first index whose conversation
    would take the comments past ``budget`` (never the first one walked); if none,
    where the walk stops (``order.stop``)."""
    held = 0
    for n, index in enumerate(order):
        held += sizes.get(roots[index], 1)
        if held > budget and n:
            return index
    return order.stop


def first_shown(roots: list[int], after: int | None) -> int:
    """The index in ``roots`` of a page's first top-level comment, the one after
    ``after``; a 400 when ``after`` is not one of them."""
    if after is None:
        return 0
    if after not in roots:
        raise web.HTTPBadRequest(text="after: no such top-level comment in this thread")
    return roots.index(after) + 1


async def read_page(
    conn: aiosqlite.Connection,
    key: str,
    limit: int | None,
    after: int | None,
    through: int | None = None,
) -> Page:
    """A page of thread ``key``'s published comments, read in one snapshot.

    Without ``limit``, a small thread comes whole and a big one (over ``BIG_THREAD``
    published comments) in pages of ``DEFAULT_PAGE`` conversations holding at most
    ``PAGE_COMMENTS`` comments (see :func:`window`); a page reads only the rows of the
    conversations it shows (and the sizes of those and of the page before). Raises
    ``NotFound`` for no such thread, ``HTTPBadRequest`` when ``after`` is not a
    top-level comment of the thread or ``through`` not a published comment of it."""
    thread = await threads.get_thread(conn, key=key)
    if thread is None:
        raise NotFound(f"no thread '{key}'")
    total = await published_rows.published_count(conn, thread.id)
    root = None
    if through is not None:
        root = await published_rows.conversation_root(conn, thread.id, through)
        if root is None:
            raise web.HTTPBadRequest(text="through: no such published comment in this thread")
    if limit is None and after is None and total <= BIG_THREAD:
        whole = await comments.approved_tree(conn, thread.id)
        return Page(thread, whole, total, None, None, None, None)
    budget = None if limit else PAGE_COMMENTS
    limit = limit or DEFAULT_PAGE
    roots = await published_rows.published_roots(conn, thread.id)
    sizes = None
    if budget is not None:
        start = first_shown(roots, after)
        near = roots[max(0, start - limit) : start + limit]
        sizes = await published_rows.conversation_sizes(conn, thread.id, near)
    shown = window(roots, limit, after, root, sizes, budget)
    nodes = await published_rows.conversations(conn, thread.id, roots[shown.start : shown.end])
    return Page(thread, nodes, total, limit, budget, shown.next_after, shown.previous_after)


class _Bytes:
    """An LRU of serialized answers, bounded in bytes.

    Keys are ``(kind, thread id, version, ...)``. Caching a thread's newer version
    drops its older ones: no request can get them any more (the version is read
    first), and on a busy thread they filled the whole budget (a soak's memory grew
    by it, bench/soak_bench.py)."""

    def __init__(self, budget: int) -> None:
        self._budget = budget
        self._used = 0
        self._items: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
        self._by_thread: dict[tuple[object, ...], set[tuple[object, ...]]] = {}

    def get(self, key: tuple[object, ...]) -> bytes | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: tuple[object, ...], value: bytes) -> None:
        if len(value) > self._budget:
            return
        thread, version = key[:2], key[2]
        for old_key in list(self._by_thread.get(thread, ())):
            older = old_key[2]
            if isinstance(version, int) and isinstance(older, int) and older < version:
                self._drop(old_key)
        self._drop(key)
        self._items[key] = value
        self._used += len(value)
        self._by_thread.setdefault(thread, set()).add(key)
        while self._used > self._budget:
            self._drop(next(iter(self._items)))

    def _drop(self, key: tuple[object, ...]) -> None:
        old = self._items.pop(key, None)
        if old is not None:
            self._used -= len(old)
        keys = self._by_thread.get(key[:2])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_thread[key[:2]]

    def __len__(self) -> int:
        return len(self._items)


def page_args(request: web.Request) -> tuple[int | None, int | None, int | None]:
    """``limit``, ``after`` and ``through`` from the query; a 400 with a reason if bad."""

    def number(name: str, low: int, high: int) -> int | None:
        raw = request.query.get(name)
        if raw is None:
            return None
        value = whole_number(raw, low, high)
        if value is None:
            raise web.HTTPBadRequest(text=f"{name} must be a whole number from {low} to {high}")
        return value

    return number("limit", 1, MAX_PAGE), number("after", 1, MAX_ID), number("through", 1, MAX_ID)


def page_etag(kind: str, thread_id: int, version: int, *paging: int | None) -> str:
    """The strong ETag of one page of a thread version: ``kind`` ("" for the JSON,
    "page." for the HTML page), then the thread, its version, the renderer's, and the
    page asked for (``limit``, ``after``, ``through``; a ``through`` only when given)."""
    limit, after, through = paging
    tail = f".{through}" if through else ""
    return f'"{kind}t{thread_id}.v{version}.r{RENDER_VERSION}.{limit or 0}.{after or 0}{tail}"'


def accepts_gzip(request: web.Request) -> bool:
    """Whether the client takes gzip: the same test aiohttp's own compression makes
    (the coding named in Accept-Encoding), with q=0 honoured as a refusal."""
    for coding in request.headers.get("Accept-Encoding", "").lower().split(","):
        name, _, params = coding.partition(";")
        if name.strip() in ("gzip", "x-gzip"):
            q = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def not_modified(request: web.Request, etag: str, changed: datetime) -> bool:
    match = request.headers.get("If-None-Match")
    if match is not None:
        tags = [t.strip().removeprefix("W/") for t in match.split(",")]
        return etag in tags or "*" in tags
    since = request.headers.get("If-Modified-Since")
    if since is not None:
        try:
            return changed <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


# read_page's shape: how PublishedThreads reads a page (a test counts the reads).
PageReader = Callable[
    [aiosqlite.Connection, str, int | None, int | None, int | None], Awaitable[Page]
]


class PublishedThreads:
    def __init__(
        self,
        store: Store,
        cache: CacheSettings,
        reader: PageReader = read_page,
        language: str = "en",
    ) -> None:
        """``language`` (site.language) is said with every thread: the widget's lang on
        a host page that names none."""
        self._store = store
        self._language = language
        self._reader = reader
        self._settings = cache
        self._bytes = _Bytes(cache.memory_mb * 1024 * 1024)
        self._making: dict[tuple[object, ...], asyncio.Future[bytes]] = {}

    async def _cached(self, key: tuple[object, ...], make: Callable[[], Awaitable[bytes]]) -> bytes:
        """The bytes cached under ``key``, else ``make()``'s, made once and kept.

        Readers who ask while they are being made wait for that one making: a thread
        changes, and every reader of the next moment used to build it (reading all of
        its comments, encoding and compressing them) side by side, each holding its
        own copy; the memory of a busy thread grew with them. A reader who goes away
        does not cancel the making for the others (``shield``)."""
        found = self._bytes.get(key)
        if found is not None:
            return found
        making = self._making.get(key)
        if making is None:
            making = asyncio.ensure_future(make())
            self._making[key] = making
            making.add_done_callback(partial(self._made, key))
        return await asyncio.shield(making)

    def _made(self, key: tuple[object, ...], making: asyncio.Future[bytes]) -> None:
        # Runs before any waiter resumes (added first), so they find it cached.
        self._making.pop(key, None)
        if not making.cancelled() and making.exception() is None:
            self._bytes.put(key, making.result())

    def forget(self) -> None:
        """Empty the in-memory cache (for benchmarks measuring first reads)."""
        self._bytes = _Bytes(self._settings.memory_mb * 1024 * 1024)

    def cache_headers(self, etag: str, changed: datetime) -> dict[str, str]:
        s = self._settings
        return {
            "ETag": etag,
            "Last-Modified": format_datetime(changed, usegmt=True),
            "Cache-Control": (
                f"public, max-age={s.max_age_seconds}, "
                f"stale-while-revalidate={s.stale_while_revalidate_seconds}"
            ),
            "Vary": "Accept-Encoding",
        }

    async def version(self, key: str) -> tuple[int, int, datetime]:
        found = await self._store.read(lambda c: threads.version_of(c, key))
        if found is None:
            raise NotFound(f"no thread '{key}'")
        thread_id, version, changed_at = found
        changed = datetime.fromisoformat(changed_at.replace("Z", "+00:00")).astimezone(UTC)
        return thread_id, version, changed

    async def comments(self, request: web.Request) -> web.StreamResponse:
        """GET /api/threads/{key}/comments[?limit=N&after=ID&through=ID]."""
        key = request.match_info["thread"]
        try:
            limit, after, through = page_args(request)
            thread_id, version, changed = await self.version(key)
        except NotFound:
            await self.moved(request, key, "/api{}/comments")
            message = f"no thread '{echoed(key)}'"
            return web.json_response({"error": message, "field": "thread"}, status=404)
        return await self.answer(
            request,
            ("api", thread_id, version, limit, after, through),
            changed,
            lambda: self._build(key, limit, after, through),
            "application/json",
        )

    async def moved(self, request: web.Request, key: str, shape: str = "{}") -> None:
        """A thread's key before its WordPress post was renamed (bridges/wordpress/
        renames.py), in every link emailed before: sent on to its key now, or nothing."""
        now = await self._store.read(lambda c: renamed(c, key))
        if now is not None:
            path = shape.format("/threads/" + quote(now, safe=""))
            # As sent (raw): decoded, a %23 in it began a fragment and the words after
            # it left the query.
            raw = request.rel_url.raw_query_string
            query = f"?{raw}" if raw else ""
            raise web.HTTPMovedPermanently(path + query)

    async def answer(
        self,
        request: web.Request,
        key: tuple[str, int, int, int | None, int | None, int | None],
        changed: datetime,
        make: Callable[[], Awaitable[bytes]],
        content_type: str,
    ) -> web.Response:
        """A page of a thread version, ``key`` = (kind, thread id, version, limit, after,
        through): its ETag and cache headers, a 304 when the client has it, else the
        bytes cached under ``key``, made once by ``make`` if need be, and gzipped, once,
        when the client takes gzip."""
        kind, thread_id, version, *paging = key
        etag = page_etag("" if kind == "api" else f"{kind}.", thread_id, version, *paging)
        headers = self.cache_headers(etag, changed)
        if not_modified(request, etag, changed):
            return web.Response(status=304, headers=headers)
        body = await self._cached(key, make)
        if accepts_gzip(request):
            body = await self._cached(
                (*key, "gzip"), lambda: asyncio.to_thread(gzip.compress, body, 6, mtime=0)
            )
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)

    async def page(
        self, key: str, limit: int | None, after: int | None, through: int | None = None
    ) -> Page:
        """A page of thread ``key`` (see :func:`read_page`)."""
        return await self._store.read(lambda c: self._reader(c, key, limit, after, through))

    async def _build(
        self, key: str, limit: int | None, after: int | None, through: int | None
    ) -> bytes:
        try:
            page = await self.page(key, limit, after, through)
        except NotFound:  # deleted between the version check and now
            raise web.HTTPNotFound(text=f"no thread '{echoed(key)}'") from None
        thread = page.thread
        next_url = None
        if page.next_after is not None:
            # A page asked for without a limit links to the next one without one too.
            size = "" if page.budget else f"limit={page.limit}&"
            next_url = f"/api{thread.path}/comments?{size}after={page.next_after}"
        document = {
            "thread": {
                "key": thread.key,
                "title": thread.title,
                "url": thread.url,
                "closed": thread.closed,
                "language": self._language,
            },
            "total": page.total,
            "comments": tree_json(page.nodes),
            "next": next_url,
        }
        return compact_json(document)
