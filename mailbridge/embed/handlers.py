"""HTTP side of the widget: its scripts, thread creation by page, and comment counts."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from importlib import resources

import aiosqlite
from aiohttp import web

from mailbridge.clock import Clock, iso
from mailbridge.embed.pages import PageThread, page_thread
from mailbridge.errors import ThreadRefused
from mailbridge.settings import Settings
from mailbridge.store import Store, threads
from mailbridge.store.former_keys import current_keys, renamed
from mailbridge.web.guard import client_ip
from mailbridge.web.limits import RateLimiter
from mailbridge.web.middleware import json_error

__all__ = ["EmbedHandlers"]

log = logging.getLogger(__name__)

MAX_COUNTS = 100
_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,99}$")


def _asset(name: str) -> tuple[bytes, str]:
    body = resources.files("mailbridge.embed").joinpath("static", name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


class EmbedHandlers:
    def __init__(
        self, store: Store, settings: Settings, clock: Clock, limiter: RateLimiter
    ) -> None:
        self._store = store
        self._clock = clock
        self._allowed = settings.site.allowed_origins
        self._prefix = settings.site.thread_path_prefix
        self._proxies = frozenset(settings.http.trusted_proxies)
        self._limiter = limiter
        self._assets = {name: _asset(name) for name in ("embed.js", "count.js")}

    async def script(self, request: web.Request) -> web.StreamResponse:
        body, etag = self._assets[request.path.lstrip("/")]
        headers = {"ETag": etag, "Cache-Control": "public, max-age=300"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        response = web.Response(
            body=body, content_type="text/javascript", charset="utf-8", headers=headers
        )
        response.enable_compression()
        return response

    async def counts(self, request: web.Request) -> web.Response:
        """GET /api/counts?thread=a&thread=b: published comments per thread, one request."""
        keys = request.query.getall("thread", [])
        if not keys or len(keys) > MAX_COUNTS:
            return json_error(400, f"name 1 to {MAX_COUNTS} threads with ?thread=KEY", "thread")

        async def work(conn: aiosqlite.Connection) -> tuple[dict[str, int], dict[str, str]]:
            # A list page keeps a renamed WordPress post's old slug until it is made
            # again: counted as the thread it names now, as its link is sent on there.
            renamed = await current_keys(conn, keys)
            wanted = list(dict.fromkeys(renamed.get(k, k) for k in keys))
            marks = ",".join("?" * len(wanted))
            async with conn.execute(
                "SELECT t.key, count(c.id) FROM threads t LEFT JOIN comments c "  # noqa: S608
                f"ON c.thread_id = t.id AND c.status = 'approved' WHERE t.key IN ({marks}) "
                "GROUP BY t.key",
                wanted,
            ) as cur:
                return {str(k): int(n) for k, n in await cur.fetchall()}, renamed

        found, renamed = await self._store.read(work)
        answer: dict[str, object] = {"counts": {k: found.get(renamed.get(k, k), 0) for k in keys}}
        if renamed:  # each former key asked, and the key it names now
            answer["renamed"] = renamed
        response = web.json_response(answer)
        response.headers["Cache-Control"] = "public, max-age=30"
        return response

    async def thread_for_page(self, request: web.Request) -> web.Response:
        """POST /api/threads {"url", "title", "key"?}: the page's thread, created on first view."""
        if request.content_type != "application/json":
            return json_error(415, "send application/json")
        try:
            data = json.loads((await request.read()).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return json_error(400, "malformed JSON")
        if not isinstance(data, dict) or set(data) - {"url", "title", "key"}:
            return json_error(400, 'send {"url": ..., "title": ..., "key": optional}')
        origin = request.headers.get("Origin")
        key = data.get("key")
        if key is not None and (not isinstance(key, str) or not _KEY.match(key)):
            return json_error(400, "key: lowercase letters, digits and dashes", "key")
        try:
            page = page_thread(
                data.get("url"), data.get("title"), origin, self._allowed, self._prefix
            )
        except ThreadRefused as refused:
            log.info("thread for page refused (origin %r): %s", origin, refused.reason)
            return json_error(refused.status, refused.reason, refused.field)
        if key is not None:
            page = PageThread(key=key, url=page.url, title=page.title)
        existing = await self._store.read(lambda c: _find(c, page, by_url=key is None))
        if existing is not None:
            return web.json_response({"key": existing, "created": False})
        ip = client_ip(request, self._proxies)
        wait = await self._limiter.hit(ip, self._clock.now().timestamp())
        if wait is not None:
            response = json_error(429, "Too many new threads from your network; try later.")
            response.headers["Retry-After"] = str(wait)
            return response
        now = iso(self._clock.now())
        _id, created = await self._store.write(
            lambda c: threads.upsert_thread(
                c,
                key=page.key,
                title=page.title,
                url=page.url,
                author="",
                author_address_id=None,
                now=now,
            )
        )
        log.info("thread %s %s for %s", page.key, "created" if created else "found", page.url)
        return web.json_response({"key": page.key, "created": created}, status=201)


async def _find(conn: aiosqlite.Connection, page: PageThread, *, by_url: bool) -> str | None:
    """An existing thread for this page: by its key, else (no key given) by its URL."""
    async with conn.execute(
        # "? = 1": PostgreSQL takes no integer as a truth value.
        "SELECT key FROM threads WHERE key = ? OR (? = 1 AND url = ?) "
        "ORDER BY key = ? DESC LIMIT 1",
        (page.key, by_url, page.url, page.key),
    ) as cur:
        row = await cur.fetchone()
    if row is None and not by_url:
        # A page naming a renamed WordPress post's old slug (a template not made again):
        # made anew under it, the thread took the old key from the emails sent before.
        return await renamed(conn, page.key)
    return None if row is None else str(row[0])
