"""Readable HTML pages: the list of threads and each thread's published comments."""

from __future__ import annotations

from aiohttp import web

from mailbridge.errors import NotFound
from mailbridge.moderate.service import CommentService
from mailbridge.render import RENDER_VERSION
from mailbridge.store import Store, threads
from mailbridge.templating import Renderer
from mailbridge.web.published import PublishedThreads, count, not_modified

__all__ = ["Pages"]


class Pages:
    def __init__(
        self,
        service: CommentService,
        store: Store,
        renderer: Renderer,
        site_name: str,
        published: PublishedThreads,
    ):
        self._service = service
        self._store = store
        self._renderer = renderer
        self._site_name = site_name
        self._published = published

    def _html(self, name: str, status: int = 200, **context: object) -> web.Response:
        body = self._renderer.page(name, site_name=self._site_name, **context)
        return web.Response(text=body, status=status, content_type="text/html")

    async def index(self, request: web.Request) -> web.Response:
        listing = await self._store.read(threads.list_threads)
        return self._html("index", threads=listing)

    async def thread(self, request: web.Request) -> web.Response:
        key = request.match_info["thread"]
        missing = web.HTTPNotFound(text=f"There is no thread called “{key}”.")
        try:
            thread_id, version, changed = await self._published.version(key)
        except NotFound:
            raise missing from None
        etag = f'"page.t{thread_id}.v{version}.r{RENDER_VERSION}"'
        headers = self._published.cache_headers(etag, changed)
        if not_modified(request, etag, changed):
            return web.Response(status=304, headers=headers)

        async def page() -> bytes:
            try:
                thread, nodes = await self._service.published_tree(key)
            except NotFound:  # deleted between the version check and now
                raise missing from None
            return self._renderer.page(
                "thread", site_name=self._site_name, thread=thread, nodes=nodes, count=count(nodes)
            ).encode()

        # Rendered once per version, like the thread's JSON, and gzipped once beside it.
        body, zipped = await self._published.encoded(request, ("page", thread_id, version), page)
        response = web.Response(
            body=body, content_type="text/html", charset="utf-8", headers=headers
        )
        if zipped:
            response.headers["Content-Encoding"] = "gzip"
        # The page runs the widget (one rendering of a thread): its script, and its
        # calls to this server's API; nothing from anywhere else.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; connect-src 'self'; "
            "style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        return response
