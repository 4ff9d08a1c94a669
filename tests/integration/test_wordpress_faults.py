"""The WordPress bridge when WordPress misbehaves (issue 12, "bad input"): a real
WordPress behind a small proxy of the test's that injects the faults a real site
shows. 500s, a maintenance page in HTML, 401 for a revoked password: a clear log
line, a retry with backoff, nothing lost or doubled. A create whose answer is lost:
the repeat is refused by WordPress as a duplicate, and the bridge links the comment
that exists instead of making a second. Comments that come while the pages are read:
the pass is read again, and each comment is mirrored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from aiohttp import web
from click.testing import CliRunner
from flows import post_comment
from scraping import Samples, samples, scrape
from support import (
    db_rows,
    db_value,
    free_port,
    is_notification,
    make_settings,
    no_dmarc_zone,
    read_maildir,
    until,
)
from wordpress_site import Admin, Site, wordpress_site  # noqa: F401 - the fixture

from mailbridge.app import Running, running
from mailbridge.bridges.wordpress import WordPressBridge
from mailbridge.bridges.wordpress.client import WordPressDown
from mailbridge.cli import cli
from mailbridge.clock import SystemClock
from mailbridge.models import Channel, Decider
from mailbridge.tokens import Action

Fault = Callable[[web.Request], Awaitable[web.StreamResponse | None]]


@dataclass
class Proxy:
    """Forwards to the real WordPress; ``faults`` (first match wins, each used once)
    answer instead, or act around the forwarding."""

    target: str
    faults: list[Fault] = field(default_factory=list)
    per_page: str | None = None  # rewrites per_page, to get several pages from a few
    seen: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(f"{request.method} {request.path_qs}")
        for fault in list(self.faults):
            answer = await fault(request)
            if answer is not None:
                self.faults.remove(fault)
                return answer
        return await self.forward(request)

    async def forward(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        if self.per_page and "per_page" in query:
            query["per_page"] = self.per_page
        headers = {
            k: v for k, v in request.headers.items() if k in ("Authorization", "Content-Type")
        }
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, self.target + request.path, params=query, headers=headers,
                data=await request.read(),
            ) as answer,
        ):  # fmt: skip
            body = await answer.read()
            keep = {
                k: v for k, v in answer.headers.items()
                if k in ("Content-Type", "X-WP-Total", "X-WP-TotalPages")
            }  # fmt: skip
            return web.Response(status=answer.status, body=body, headers=keep)


@contextlib.asynccontextmanager
async def proxy_for(site: Site) -> AsyncIterator[tuple[Proxy, str]]:
    proxy = Proxy(site.url)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield proxy, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def answer(status: int, body: str, content_type: str, times: int = 1) -> list[Fault]:
    async def fault(request: web.Request) -> web.StreamResponse | None:
        return web.Response(status=status, text=body, content_type=content_type)

    return [fault for _ in range(times)]


async def a_post(admin: Admin, comments: int) -> tuple[int, str]:
    slug = "faults-" + secrets.token_hex(4)
    post = await admin.post(slug, "A post for faults")
    for n in range(comments):
        await admin.comment(
            post=post["id"], author_name=f"Reader {n}", author_email=f"r{n}@example.org",
            content=f"Comment number {n}.", status="approved",
        )  # fmt: skip
    return int(post["id"]), slug


def daemon_for(
    tmp_path: Path, site: Site, url: str, slug: str, **wordpress: Any
) -> contextlib.AbstractAsyncContextManager[Running]:
    settings = make_settings(
        tmp_path,
        wordpress={
            "site_url": url, "user": site.user, "app_password": site.app_password,
            "posts": [slug], "poll_seconds": 0.1, "requests_per_second": 100.0, **wordpress,
        },
    )  # fmt: skip
    return running(settings, resolver=no_dmarc_zone())


@pytest.mark.asyncio
async def test_down_maintenance_and_refused_then_back(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = Admin(wordpress_site)
    _post, slug = await a_post(admin, 5)
    caplog.set_level(logging.WARNING, logger="mailbridge.bridges")
    async with proxy_for(wordpress_site) as (proxy, url):
        proxy.faults += answer(
            500, '{"code":"internal_server_error","message":"boom"}', "application/json"
        )

        async def elsewhere(request: web.Request) -> web.StreamResponse | None:
            return web.Response(status=301, headers={"Location": "https://www.example.org/"})

        proxy.faults.append(elsewhere)  # the site answers at www. (or https://)

        async def staging(request: web.Request) -> web.StreamResponse | None:
            page = "<html><head><title>401 Unauthorized</title></head></html>"
            return web.Response(
                status=401, text=page, content_type="text/html",
                headers={"WWW-Authenticate": 'Basic realm="Staging"'},
            )  # fmt: skip

        proxy.faults.append(staging)  # the web server's own login in front of WordPress
        proxy.faults += answer(
            200, "<html><body>Briefly unavailable for maintenance</body></html>", "text/html"
        )
        refused = '{"code":"incorrect_password","message":"not a valid application password"}'
        proxy.faults += answer(401, refused, "application/json")
        no_api = '{"code":"rest_no_route","message":"No route was found","data":{"status":404}}'
        proxy.faults += answer(404, no_api, "application/json")
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "the thread mirrored",
                lambda: _equals(db_value(daemon, "SELECT count(*) FROM comments"), 5),
            )
            await asyncio.sleep(0.5)  # more polls: still 5, each once
            assert await db_value(daemon, "SELECT count(DISTINCT source_ref) FROM comments") == 5
            assert await db_value(daemon, "SELECT count(*) FROM comments") == 5
            error = await db_value(daemon, "SELECT value FROM wp_state WHERE key = 'last_error'")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "answered 500 internal_server_error: boom" in logged
    assert "answered 200 with text/html, not JSON" in logged
    assert "answered 401 incorrect_password" in logged and "wordpress.app_password" in logged
    assert 'answered 401 before WordPress did (WWW-Authenticate: Basic realm="Staging")' in logged
    assert "let requests to ?rest_route= through to WordPress" in logged
    assert "no REST API here (is wordpress.site_url right?)" in logged
    assert "answered 301, redirecting to https://www.example.org/ (set wordpress.site_url" in logged
    assert "trying again in" in logged
    assert "no REST API here" in error  # the last failure stays visible to `mailbridge status`


@pytest.mark.asyncio
async def test_a_create_whose_answer_is_lost_is_not_made_twice(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 2)
    async with proxy_for(wordpress_site) as (proxy, url):

        async def lost(request: web.Request) -> web.StreamResponse | None:
            if request.method != "POST" or request.query.get("rest_route") != "/wp/v2/comments":
                return None
            await proxy.forward(request)  # WordPress stores it ...
            assert request.transport is not None
            request.transport.close()  # ... and the answer never arrives
            return web.Response(status=500)

        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "the thread mirrored",
                lambda: _equals(db_value(daemon, "SELECT count(*) FROM comments"), 2),
            )
            proxy.faults.append(lost)
            local_id = await post_comment(
                daemon, slug, author="Cy", email="cy@example.com", body="Said once."
            )
            await until(
                "the comment linked",
                lambda: _equals(
                    db_value(
                        daemon, "SELECT count(*) FROM wp_comments WHERE comment_id = ?", local_id
                    ),
                    1,
                ),
            )
            await asyncio.sleep(0.5)
    creates = [s for s in proxy.seen if s == "POST /?rest_route=/wp/v2/comments"]
    assert len(creates) == 2  # the lost one, and the repeat WordPress called a duplicate
    mine = [c for c in await admin.comments(post_id) if c["author_name"] == "Cy"]
    assert len(mine) == 1 and mine[0]["status"] == "hold"


@pytest.mark.asyncio
async def test_comments_that_go_while_pages_are_read(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    # One read already goes (trashed in wp-admin) between two pages: the rest move up
    # one place, and one would be skipped at the boundary: the pass is read again.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 25)
    newest = max(c["id"] for c in await admin.comments(post_id))
    caplog.set_level(logging.WARNING, logger="mailbridge.bridges")
    async with proxy_for(wordpress_site) as (proxy, url):
        proxy.per_page = "10"

        async def goes(request: web.Request) -> web.StreamResponse | None:
            if request.query.get("page") != "2":
                return None
            await admin.call("POST", f"/comments/{newest}", {"status": "trash"})
            return await proxy.forward(request)

        proxy.faults.append(goes)
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "every comment mirrored",
                lambda: _equals(db_value(daemon, "SELECT count(*) FROM comments"), 24),
            )
            await asyncio.sleep(0.5)
            assert await db_value(daemon, "SELECT count(DISTINCT source_ref) FROM comments") == 24
            assert await db_value(daemon, "SELECT count(*) FROM comments") == 24
    assert "came or went while they were read" in caplog.text


async def _equals(value: Awaitable[Any], wanted: Any) -> bool:
    return bool(await value == wanted)


@pytest.mark.asyncio
async def test_status_shows_the_lag_and_why(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    admin = Admin(wordpress_site)
    _post, slug = await a_post(admin, 3)
    async with proxy_for(wordpress_site) as (proxy, url):
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "a complete poll",
                lambda: _equals(
                    db_value(daemon, "SELECT count(*) FROM wp_state WHERE key = 'last_ok_at'"), 1
                ),
            )
            data_dir = str(daemon.settings.data_path)
        env = {
            "MAILBRIDGE_WORDPRESS_SITE_URL": url,
            "MAILBRIDGE_WORDPRESS_USER": wordpress_site.user,
            "MAILBRIDGE_WORDPRESS_APP_PASSWORD": wordpress_site.app_password,
        }
        healthy = await asyncio.to_thread(
            CliRunner().invoke, cli, ["status", "--data-dir", data_dir], env=env
        )
        assert healthy.exit_code == 0, healthy.output
        assert "Comments: 3 approved, 0 pending" in healthy.output
        assert "comments linked: 3" in healthy.output
        assert "changes waiting to go to WordPress: 0" in healthy.output
        assert "s ago)" in healthy.output and "FAILING" not in healthy.output

        # WordPress goes down: the next polls fail, and status says so, and why.
        proxy.faults += answer(503, "<html>Service Unavailable</html>", "text/html", 1000)
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "a failed poll",
                lambda: _equals(
                    db_value(daemon, "SELECT count(*) FROM wp_state WHERE key = 'last_error_at'"), 1
                ),
            )
        down = await asyncio.to_thread(
            CliRunner().invoke, cli, ["status", "--data-dir", data_dir], env=env
        )
        assert "FAILING since " in down.output
        assert "GET /comments: answered 503 (not WordPress JSON)" in down.output


@pytest.mark.asyncio
async def test_a_post_trashed_in_wp_admin_takes_its_comments_off(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    # Trashing a post marks its comments 'post-trashed' (put back when the post is
    # restored): read by ID, that is a status the bridge must take, not a bad answer.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 2)
    async with proxy_for(wordpress_site) as (_proxy, url):
        async with daemon_for(tmp_path, wordpress_site, url, slug, full_sync_minutes=0.005) as (
            daemon
        ):
            await until(
                "the thread mirrored",
                lambda: _equals(db_value(daemon, "SELECT count(*) FROM comments"), 2),
            )
            await admin.call("DELETE", f"/posts/{post_id}")  # to the trash, not for good
            await until(
                "its comments off the page here",
                lambda: _equals(
                    db_value(daemon, "SELECT count(*) FROM comments WHERE status = 'rejected'"), 2
                ),
            )
            await until(
                "a complete poll after it",
                lambda: _equals(
                    db_value(daemon, "SELECT value FROM wp_state WHERE key = 'failing_since'"), ""
                ),
            )


@pytest.mark.asyncio
async def test_comments_closed_there_refuse_that_comment_only(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    # WordPress answers 403 rest_comment_closed to a comment on a post whose comments
    # were closed (or closed by age: "Automatically close comments on posts older
    # than"): that post's refusal, not the credentials'.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    caplog.set_level(logging.WARNING, logger="mailbridge.bridges")
    async with proxy_for(wordpress_site) as (_proxy, url):
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "the thread mirrored",
                lambda: _equals(db_value(daemon, "SELECT count(*) FROM comments"), 1),
            )
            await admin.call("POST", f"/posts/{post_id}", {"comment_status": "closed"})
            late = await post_comment(
                daemon, slug, author="Ed", email="ed@example.com", body="Too late?"
            )
            error = await until(
                "the refusal recorded",
                lambda: db_value(
                    daemon, "SELECT last_error FROM wp_push WHERE comment_id = ?", late
                ),
            )
            bridge_error = await db_value(
                daemon, "SELECT count(*) FROM wp_state WHERE key = 'last_error'"
            )
    assert "403 rest_comment_closed" in error
    assert bridge_error == 0  # the bridge itself never failed: polls went on
    assert "wordpress.app_password" not in caplog.text
    assert f"comment {late} not pushed: WordPress answered 403 rest_comment_closed" in caplog.text


@pytest.mark.asyncio
async def test_what_waited_out_an_outage_goes_as_soon_as_wordpress_is_back(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    # WordPress down is the site's failure, not the comment's: the bridge's backoff
    # spaces the tries, and the first poll that gets through brings the comment along
    # (it was put off by its own backoff too, up to an hour after WordPress was back).
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    async with (
        proxy_for(wordpress_site) as (proxy, url),
        running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon,
    ):
        settings = make_settings(
            tmp_path,
            wordpress={
                "site_url": url, "user": wordpress_site.user,
                "app_password": wordpress_site.app_password, "posts": [slug],
            },
        )  # fmt: skip
        bridge = WordPressBridge(settings, daemon.store, daemon.service, SystemClock())
        try:
            assert await bridge.run_once() == 1
            await post_comment(daemon, slug, author="Fay", email="fay@example.com", body="Hi.")
            proxy.faults += answer(503, "<html>Service Unavailable</html>", "text/html", 3)
            for _ in range(3):
                with pytest.raises(WordPressDown):
                    await bridge.run_once()
            await bridge.run_once()  # WordPress is back
        finally:
            await bridge.aclose()
    mine = [c for c in await admin.comments(post_id) if c["author_name"] == "Fay"]
    assert len(mine) == 1 and mine[0]["status"] == "hold"


@pytest.mark.asyncio
async def test_a_revoked_application_password_shows_in_metrics(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    # An alert on pushes waiting stays silent while nothing is to be pushed, yet
    # nothing comes from WordPress either: the failure itself is a metric, with why.
    admin = Admin(wordpress_site)
    _post, slug = await a_post(admin, 1)
    refused = '{"code":"incorrect_password","message":"not a valid application password"}'
    async with proxy_for(wordpress_site) as (proxy, url):
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:

            async def failing(reason: str, value: int) -> Samples | None:
                status, _type, text = await scrape(daemon)
                assert status == 200
                got = samples(text)
                polled = got["mailbridge_wordpress_last_poll_timestamp_seconds"][()] > 0
                now = got["mailbridge_wordpress_failing"][(("reason", reason),)]
                return got if polled and now == value else None

            await until("a whole poll", lambda: failing("credentials", 0))
            proxy.faults += answer(401, refused, "application/json", 1000)
            down = await until("the refusal in /metrics", lambda: failing("credentials", 1))
            assert down["mailbridge_wordpress_failing"][(("reason", "unreachable"),)] == 0
            proxy.faults.clear()  # the owner made a new password and set it
            await until("recovered in /metrics", lambda: failing("credentials", 0))


@pytest.mark.asyncio
async def test_a_comment_deleted_on_both_sides_at_once(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    # Deleted for good in wp-admin, and deleted here before a poll saw it: trashing it
    # there finds nothing (404), which is what was wanted, not a failure of the bridge.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 2)
    async with running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon:
        settings = make_settings(
            tmp_path,
            wordpress={
                "site_url": wordpress_site.url, "user": wordpress_site.user,
                "app_password": wordpress_site.app_password, "posts": [slug],
            },
        )  # fmt: skip
        bridge = WordPressBridge(settings, daemon.store, daemon.service, SystemClock())
        try:
            await bridge.run_once()
            mirrored = "SELECT wp_id, comment_id FROM wp_comments WHERE comment_id IS NOT NULL"
            wp_id, local_id = (await db_rows(daemon, mirrored))[0]
            await admin.call("DELETE", f"/comments/{wp_id}", force="true")
            assert await daemon.service.delete(local_id)
            await bridge.run_once()
            await bridge.run_once()
            assert await db_value(daemon, "SELECT count(*) FROM wp_push") == 0
            tomb = "SELECT wp_status FROM wp_comments WHERE wp_id = ?"
            assert await db_value(daemon, tomb, wp_id) == "deleted"
        finally:
            await bridge.aclose()
    assert len(await admin.comments(post_id)) == 1


@pytest.mark.asyncio
async def test_a_site_without_pretty_permalinks(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    # On Apache with "Plain" permalinks there is no .htaccess rewriting /wp-json/ to
    # WordPress: Apache answers its own 404 there. ?rest_route= reaches the API on
    # every site, pretty permalinks or not (WordPress's REST API handbook).
    admin = Admin(wordpress_site)
    _post, slug = await a_post(admin, 2)
    async with proxy_for(wordpress_site) as (proxy, url):

        async def no_rewrite(request: web.Request) -> web.StreamResponse | None:
            if not request.path.startswith("/wp-json/"):
                return None
            proxy.faults.append(no_rewrite)  # every time, not once
            page = "<html><head><title>404 Not Found</title></head><body>Not Found</body></html>"
            return web.Response(status=404, text=page, content_type="text/html")

        proxy.faults.append(no_rewrite)
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "the thread mirrored",
                lambda: _equals(db_value(daemon, "SELECT count(*) FROM comments"), 2),
            )


@pytest.mark.asyncio
async def test_approve_and_reply_in_wp_admin_notifies_the_one_answered(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    # wp-admin's "Approve and Reply" on a held comment: the comment is approved and the
    # owner's answer published at once. The answer is new (above the cursor), its
    # parent is not (held so far): the parent must be mirrored first, or the answer
    # lands at the top of the thread and the person answered is never told.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    gil = await admin.comment(
        post=post_id, author_name="Gil", author_email="gil@example.org",
        content="Is there a part two?", status="hold",
    )  # fmt: skip
    async with running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon:
        settings = make_settings(
            tmp_path,
            wordpress={
                "site_url": wordpress_site.url, "user": wordpress_site.user,
                "app_password": wordpress_site.app_password, "posts": [slug],
            },
        )  # fmt: skip
        bridge = WordPressBridge(settings, daemon.store, daemon.service, SystemClock())
        try:
            assert await bridge.run_once() == 1  # Reader 0's; Gil's is held there
            await admin.call("POST", f"/comments/{gil['id']}", {"status": "approved"})
            await admin.comment(
                post=post_id, parent=gil["id"], author_name="Owner",
                author_email="owner@example.com", content="Yes, next week.", status="approved",
            )  # fmt: skip
            await bridge.run_once()
        finally:
            await bridge.aclose()
        parents = await db_rows(
            daemon,
            "SELECT c.author, p.author FROM comments c LEFT JOIN comments p ON p.id = c.parent_id "
            "ORDER BY c.id",
        )
        assert parents == [("Reader 0", None), ("Gil", None), ("Owner", "Gil")]
        mails = await until(
            "Gil's notification",
            lambda: _mail_to(daemon, "gil@example.org"),
        )
    assert "Yes, next week." in mails[0].get_body(("plain",)).get_content()


async def _mail_to(daemon: Running, address: str) -> list[Any]:
    outbox = daemon.settings.data_path / "outbox"
    return [
        m for m in read_maildir(outbox)
        if is_notification(m) and m["To"].addresses[0].addr_spec == address
    ]  # fmt: skip


@pytest.mark.asyncio
async def test_the_same_words_twice_are_two_comments_here_one_there(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    # Someone sends the same answer twice (the first seemed lost). WordPress refuses the
    # second as a duplicate of the first (409): that is not the first's lost answer, and
    # must not take over its link: rejecting the repeat here trashed the first there.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    async with running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon:
        settings = make_settings(
            tmp_path,
            wordpress={
                "site_url": wordpress_site.url, "user": wordpress_site.user,
                "app_password": wordpress_site.app_password, "posts": [slug],
            },
        )  # fmt: skip
        bridge = WordPressBridge(settings, daemon.store, daemon.service, SystemClock())
        try:
            await bridge.run_once()
            said = {"author": "Hal", "email": "hal@example.com", "body": "Count me in."}
            first = await post_comment(daemon, slug, **said)
            await bridge.run_once()
            again = await post_comment(daemon, slug, **said)
            await bridge.run_once()
            linked = "SELECT wp_id FROM wp_comments WHERE comment_id = ?"
            wp_first = await db_value(daemon, linked, first)
            assert wp_first is not None
            assert await db_value(daemon, linked, again) is None
            decider = Decider(Channel.CLI, None)
            await daemon.service.moderate(first, Action.APPROVE, decider)
            await daemon.service.moderate(again, Action.REJECT, decider)
            await bridge.run_once()
            await bridge.run_once()
            assert await db_value(daemon, "SELECT count(*) FROM wp_push") == 0
        finally:
            await bridge.aclose()
    mine = [c for c in await admin.comments(post_id) if c["author_name"] == "Hal"]
    assert [(c["id"], c["status"]) for c in mine] == [(wp_first, "approved")]


@pytest.mark.asyncio
async def test_a_busy_site_where_comments_keep_coming_during_the_first_sync(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    # A large site's first sync reads hundreds of pages; on a busy one a comment comes
    # meanwhile, every time. Newest first, a new comment only moves what follows one
    # place down (read twice, never skipped): the pass goes on rather than starting
    # over, which on such a site never ended.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 25)
    async with proxy_for(wordpress_site) as (proxy, url):
        proxy.per_page = "10"
        arrived = 0

        async def busy(request: web.Request) -> web.StreamResponse | None:
            nonlocal arrived
            if request.method != "GET" or request.query.get("page") in (None, "1"):
                return None
            if arrived < 4:  # while every pass of the first sync is read
                proxy.faults.append(busy)
                arrived += 1
                await admin.comment(
                    post=post_id, author_name="Busy", author_email=f"b{arrived}@example.org",
                    content=f"Came in between, {arrived}.", status="approved",
                )  # fmt: skip
            return await proxy.forward(request)

        proxy.faults.append(busy)
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "every comment mirrored",
                lambda: _equals(db_value(daemon, "SELECT count(*) FROM comments"), 25 + arrived),
            )
            await asyncio.sleep(0.3)  # more polls: each still once
            assert await db_value(daemon, "SELECT count(DISTINCT source_ref) FROM comments") == 29
            assert await db_value(daemon, "SELECT count(*) FROM comments") == 29
            assert (
                await db_value(daemon, "SELECT value FROM wp_state WHERE key = 'last_error'")
                is None
            )


@pytest.mark.asyncio
async def test_held_comments_of_posts_not_bridged_are_not_watched(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
) -> None:
    # With wordpress.posts, the rest of the site is not bridged: its held comments were
    # watched all the same, and read again by ID at every poll, for ever once approved
    # there (never mirrored, so never settled): a growing load on a busy site.
    admin = Admin(wordpress_site)
    _post, slug = await a_post(admin, 1)
    other = await admin.post("other-" + secrets.token_hex(4), "Not bridged")
    held = await admin.comment(
        post=other["id"], author_name="Ivy", author_email="ivy@example.org",
        content="Held elsewhere.", status="hold",
    )  # fmt: skip
    async with proxy_for(wordpress_site) as (proxy, url):
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "a complete poll",
                lambda: _equals(
                    db_value(daemon, "SELECT count(*) FROM wp_state WHERE key = 'last_ok_at'"), 1
                ),
            )
            await admin.call("POST", f"/comments/{held['id']}", {"status": "approved"})
            proxy.seen.clear()
            await asyncio.sleep(0.5)  # several polls
            assert await db_value(daemon, "SELECT count(*) FROM comments") == 1
    asked = [parse_qs(urlsplit(s.split()[1]).query).get("include", [""])[0] for s in proxy.seen]
    assert [a for a in asked if str(held["id"]) in a.split(",")] == []
