"""Readable HTML pages: the list of threads and each thread's published comments."""

from __future__ import annotations

from aiohttp import web

from mailbridge.errors import NotFound
from mailbridge.models import echoed
from mailbridge.store import Store, threads
from mailbridge.templating import Renderer
from mailbridge.web.published import Page, PublishedThreads, page_args

__all__ = ["Pages"]


class Pages:
    def __init__(
        self,
        store: Store,
        renderer: Renderer,
        site_name: str,
        published: PublishedThreads,
    ):
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
        """GET /threads/{key}[?limit=N&after=ID&through=ID]: the widget, and for readers without
        scripts the published comments, paged as the API pages them (a big thread's
        page held every comment: 2.4 MB for 5,000, downloaded by every reader)."""
        key = request.match_info["thread"]
        missing = web.HTTPNotFound(text=f"There is no thread called “{echoed(key)}”.")
        limit, after, through = page_args(request)
        try:
            thread_id, version, changed = await self._published.version(key)
        except NotFound:
            await self._published.moved(request, key)
            raise missing from None

        async def page() -> bytes:
            try:
                shown = await self._published.page(key, limit, after, through)
            except NotFound:  # deleted between the version check and now
                raise missing from None
            here = shown.thread.path
            return self._renderer.page(
                "thread",
                site_name=self._site_name,
                thread=shown.thread,
                nodes=shown.nodes,
                count=shown.total,
                next_url=_page_url(here, shown, shown.next_after),
                previous_url=_page_url(here, shown, shown.previous_after),
            ).encode()

        # Rendered once per version, like the thread's JSON, and gzipped once beside it.
        response = await self._published.answer(
            request, ("page", thread_id, version, limit, after, through), changed, page, "text/html"
        )
        # The page runs the widget (one rendering of a thread): its script, and its
        # calls to this server's API; nothing from anywhere else.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; script-src 'self'; connect-src 'self'; "
            "style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        return response


def _page_url(here: str, shown: Page, after: int | None) -> str | None:
    """A link to another page of the thread page: ``after`` 0 is the first page. A page
    asked for without a limit links to pages without one (bounded in comments too)."""
    if shown.limit is None or after is None:
        return None
    size = "" if shown.budget else f"limit={shown.limit}"
    if after == 0:
        return f"{here}?{size}" if size else here
    return f"{here}?{size}&after={after}" if size else f"{here}?after={after}"
