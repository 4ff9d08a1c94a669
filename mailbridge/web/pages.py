"""Readable HTML pages: the list of threads and each thread's published comments."""

from __future__ import annotations

from aiohttp import web

from mailbridge.errors import NotFound
from mailbridge.moderate.service import CommentService
from mailbridge.store import Store, threads
from mailbridge.templating import Renderer

__all__ = ["Pages"]


class Pages:
    def __init__(self, service: CommentService, store: Store, renderer: Renderer, site_name: str):
        self._service = service
        self._store = store
        self._renderer = renderer
        self._site_name = site_name

    def _html(self, name: str, status: int = 200, **context: object) -> web.Response:
        body = self._renderer.page(name, site_name=self._site_name, **context)
        return web.Response(text=body, status=status, content_type="text/html")

    async def index(self, request: web.Request) -> web.Response:
        listing = await self._store.read(threads.list_threads)
        return self._html("index", threads=listing)

    async def thread(self, request: web.Request) -> web.Response:
        key = request.match_info["thread"]
        try:
            thread, nodes = await self._service.published_tree(key)
        except NotFound:
            raise web.HTTPNotFound(text=f"There is no thread called “{key}”.") from None
        count = 0
        pending = list(nodes)
        while pending:
            node = pending.pop()
            count += 1
            pending.extend(node.replies)
        return self._html("thread", thread=thread, nodes=nodes, count=count)
