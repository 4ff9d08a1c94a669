"""The WordPress bridge when WordPress misbehaves (issue 12, "bad input"): a real
WordPress behind a small proxy of the test's that injects the faults a real site
shows (tests/wordpress_proxy.py). 500s, a maintenance page in HTML, 401 for a revoked
password, a redirect, the web server's own login: a clear log line, a retry with
backoff, /metrics saying so, nothing lost or doubled. A create whose answer is lost:
the repeat is refused by WordPress as a duplicate, and the bridge links the comment
that exists instead of making a second. Comments that go while the pages are read:
the pass is read again; comments that come: it goes on; each comment mirrored once.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiohttp import web
from click.testing import CliRunner
from flows import post_comment
from scraping import Samples, samples, scrape
from support import db_value, until
from wordpress_proxy import a_post, answer, daemon_for, equals, proxy_for
from wordpress_site import Admin, Site

from mailbridge.cli import cli


@pytest.mark.asyncio
async def test_down_maintenance_and_refused_then_back(
    tmp_path: Path,
    wordpress_site: Site,
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
                lambda: equals(db_value(daemon, "SELECT count(*) FROM comments"), 5),
            )
            await asyncio.sleep(0.5)  # more polls: still 5, each once
            assert await db_value(daemon, "SELECT count(DISTINCT source_ref) FROM comments") == 5
            assert await db_value(daemon, "SELECT count(*) FROM comments") == 5
            error = await db_value(daemon, "SELECT value FROM wp_state WHERE key = 'last_error'")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "answered 500 internal_server_error: boom" in logged
    assert (
        "answered 200 with text/html, not JSON (a maintenance page, or is wordpress.site_url"
        in logged
    )
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
    wordpress_site: Site,
) -> None:
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 2)
    async with proxy_for(wordpress_site) as (proxy, url):

        async def lost(request: web.Request) -> web.StreamResponse | None:
            if request.method != "POST" or request.query.get("rest_route") != "/wp/v2/comments":
                return None
            if "mailbridge" in request.query:  # asking whether the post takes comments
                return None
            await proxy.forward(request)  # WordPress stores it ...
            assert request.transport is not None
            request.transport.close()  # ... and the answer never arrives
            return web.Response(status=500)

        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "the thread mirrored",
                lambda: equals(db_value(daemon, "SELECT count(*) FROM comments"), 2),
            )
            proxy.faults.append(lost)
            local_id = await post_comment(
                daemon, slug, author="Cy", email="cy@example.com", body="Said once."
            )
            await until(
                "the comment linked",
                lambda: equals(
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
    wordpress_site: Site,
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
                lambda: equals(db_value(daemon, "SELECT count(*) FROM comments"), 24),
            )
            await asyncio.sleep(0.5)
            assert await db_value(daemon, "SELECT count(DISTINCT source_ref) FROM comments") == 24
            assert await db_value(daemon, "SELECT count(*) FROM comments") == 24
    assert "came or went while they were read" in caplog.text


@pytest.mark.asyncio
async def test_status_shows_the_lag_and_why(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    admin = Admin(wordpress_site)
    _post, slug = await a_post(admin, 3)
    async with proxy_for(wordpress_site) as (proxy, url):
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:
            await until(
                "a complete poll",
                lambda: equals(
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
                lambda: equals(
                    db_value(daemon, "SELECT count(*) FROM wp_state WHERE key = 'last_error_at'"), 1
                ),
            )
        down = await asyncio.to_thread(
            CliRunner().invoke, cli, ["status", "--data-dir", data_dir], env=env
        )
        assert "FAILING since " in down.output
        assert "GET /comments: answered 503 (not WordPress JSON)" in down.output


@pytest.mark.asyncio
async def test_a_revoked_application_password_shows_in_metrics(
    tmp_path: Path,
    wordpress_site: Site,
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
async def test_the_bridges_own_failure_shows_in_metrics(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    # An answer the bridge cannot take (here an ID beyond the database's integers, as a
    # broken plugin or cache might send) fails the bridge itself at every poll: it was
    # only logged, /metrics said all was well, and `mailbridge status` named no failure.
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    odd = (
        f'[{{"id": {2**64}, "post": {post_id}, "parent": 0, "author_name": "Odd", '
        '"author_email": "odd@example.org", "content": {"raw": "Odd."}, '
        '"status": "approved", "date_gmt": "2026-01-01T00:00:00", "type": "comment"}]'
    )
    async with proxy_for(wordpress_site) as (proxy, url):
        async with daemon_for(tmp_path, wordpress_site, url, slug) as daemon:

            async def failing(value: int) -> Samples | None:
                status, _type, text = await scrape(daemon)
                assert status == 200
                got = samples(text)
                polled = got["mailbridge_wordpress_last_poll_timestamp_seconds"][()] > 0
                now = got["mailbridge_wordpress_failing"][(("reason", "error"),)]
                return got if polled and now == value else None

            await until("a whole poll", lambda: failing(0))

            async def newest(request: web.Request) -> web.StreamResponse | None:
                if request.query.get("rest_route") != "/wp/v2/comments" or (
                    request.method != "GET" or "include" in request.query
                ):
                    return None
                proxy.faults.append(newest)  # every time, not once
                return web.Response(text=odd, content_type="application/json")

            proxy.faults.append(newest)
            down = await until("the failure in /metrics", lambda: failing(1))
            assert down["mailbridge_wordpress_failing"][(("reason", "unreachable"),)] == 0
            env = {
                "MAILBRIDGE_WORDPRESS_SITE_URL": url,
                "MAILBRIDGE_WORDPRESS_USER": wordpress_site.user,
                "MAILBRIDGE_WORDPRESS_APP_PASSWORD": wordpress_site.app_password,
            }
            status = await asyncio.to_thread(
                CliRunner().invoke, cli,
                ["status", "--data-dir", str(daemon.settings.data_path)], env=env,
            )  # fmt: skip
            assert "FAILING since " in status.output, status.output
            # The id too large for the store: SQLite's driver raises OverflowError,
            # psycopg NumericValueOutOfRange (bigint out of range).
            assert (
                "the bridge failed: OverflowError" in status.output
                or "the bridge failed: NumericValueOutOfRange" in status.output
            ), status.output
            proxy.faults.clear()
            await until("recovered in /metrics", lambda: failing(0))


@pytest.mark.asyncio
async def test_a_site_without_pretty_permalinks(
    tmp_path: Path,
    wordpress_site: Site,
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
                lambda: equals(db_value(daemon, "SELECT count(*) FROM comments"), 2),
            )


@pytest.mark.asyncio
async def test_a_busy_site_where_comments_keep_coming_during_the_first_sync(
    tmp_path: Path,
    wordpress_site: Site,
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
                # 29, not 25 + arrived: read while the fourth was still coming, that sum
                # was met at 28, before the last comment was there to be mirrored.
                lambda: equals(db_value(daemon, "SELECT count(*) FROM comments"), 29),
            )
            await asyncio.sleep(0.3)  # more polls: each still once
            assert await db_value(daemon, "SELECT count(DISTINCT source_ref) FROM comments") == 29
            assert await db_value(daemon, "SELECT count(*) FROM comments") == 29
            assert (
                await db_value(daemon, "SELECT value FROM wp_state WHERE key = 'last_error'")
                is None
            )
