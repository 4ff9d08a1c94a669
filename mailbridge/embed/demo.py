"""`mailbridge serve --demo-site`: a small static blog on another port, with the widget.

It shows what a site owner gets from one script tag, on a different origin than
mailbridge (as a real blog is): the sample thread's post (``data-thread`` names its
thread) and a new post whose thread is created on its first view. Its origin is
added to ``site.allowed_origins`` for the run. Loopback only by default.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from mailbridge.errors import ConfigError
from mailbridge.settings import Settings
from mailbridge.settings.validate import parse_hostport

__all__ = [
    "SAMPLE_THREAD",
    "DemoPost",
    "demo_app",
    "demo_posts",
    "demo_site_running",
    "with_demo_origin",
]

# The key of the sample thread in examples/ (the README imports it first).
SAMPLE_THREAD = "attachment-theory-healing-relationship"


@dataclass(frozen=True)
class DemoPost:
    slug: str
    title: str
    intro: str
    thread: str | None  # an explicit data-thread key, or None: created on first view


def demo_posts(sample_key: str) -> list[DemoPost]:
    return [
        DemoPost(
            sample_key,
            "Attachment Theory and the Healing Psychotherapy Relationship",
            "The sample post. Its 243 comments come from mailbridge, nested as on the "
            "original blog; reply to any of them.",
            sample_key,
        ),
        DemoPost(
            "hello-world",
            "Hello, world",
            "A new post: its comment thread is created when this page is first viewed.",
            None,
        ),
    ]


def _template(name: str) -> str:
    return resources.files("mailbridge.embed").joinpath("static", name).read_text("utf-8")


def demo_app(mailbridge_url: str, site_origin: str, posts: list[DemoPost]) -> web.Application:
    base = mailbridge_url.rstrip("/")
    post_page, index_page = _template("demo-post.html"), _template("demo-index.html")
    esc = html.escape

    async def index(request: web.Request) -> web.Response:
        items = "\n".join(
            f'<li><a href="/posts/{esc(p.slug)}/">{esc(p.title)}</a> · '
            f'<span data-mailbridge-count="{esc(p.thread or "")}"></span></li>'
            for p in posts
        )
        body = index_page.format(items=items, mailbridge=esc(base))
        return web.Response(text=body, content_type="text/html")

    async def post(request: web.Request) -> web.Response:
        found = [p for p in posts if p.slug == request.match_info["slug"]]
        if not found:
            raise web.HTTPNotFound()
        p = found[0]
        body = post_page.format(
            title=esc(p.title),
            intro=esc(p.intro),
            page_url=esc(f"{site_origin}/posts/{p.slug}/"),
            mailbridge=esc(base),
            thread_attr=f'data-thread="{esc(p.thread)}"' if p.thread else "",
        )
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.add_routes([web.get("/", index), web.get("/posts/{slug}/", post)])
    return app


def with_demo_origin(settings: Settings, listen: str) -> tuple[Settings, str]:
    """``settings`` with the demo site's origin allowed, and that origin."""
    host, port = parse_hostport(listen, "--demo-site")
    origin = f"http://{host}:{port}"
    site = dataclasses.replace(
        settings.site, allowed_origins=(*settings.site.allowed_origins, origin)
    )
    return dataclasses.replace(settings, site=site), origin


@contextlib.asynccontextmanager
async def demo_site_running(settings: Settings, listen: str | None) -> AsyncIterator[None]:
    """Serve the demo blog on ``listen`` (host:port) while the block runs; no-op for None."""
    if listen is None:
        yield
        return
    host, port = parse_hostport(listen, "--demo-site")
    origin = f"http://{host}:{port}"
    app = demo_app(settings.site.public_url, origin, demo_posts(SAMPLE_THREAD))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:  # taken, say: the operator's error, as for smtp and http.listen
        await runner.cleanup()
        raise ConfigError(f"--demo-site: cannot listen on {listen}: {exc.strerror}") from None
    try:
        yield
    finally:
        await runner.cleanup()
