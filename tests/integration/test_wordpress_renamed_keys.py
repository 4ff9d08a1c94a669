"""A post renamed in real WordPress: its old key, which the emails sent before, a list
page not made again, an operator's script or notes still carry, names the renamed
thread everywhere a key is read, not only on the pages and the comment API.

Before, the old key was ``thread_not_found`` to the admin API's comment list and its
close/open (or, worse, ``POST /api/admin/threads`` and the widget's ``POST
/api/threads`` made a second, empty thread under it, which took over the links of the
emails sent before), ``mailbridge export OLD`` said "no thread", and ``/api/counts``
answered 0 for a post with comments (a list page showing old slugs showed no count).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from integration.test_web_bad_input import admin_token
from support import command_env, db_rows, make_settings, no_dmarc_zone
from wordpress_proxy import bridge_for
from wordpress_site import Admin, Site

from mailbridge.app import Running, running
from mailbridge.cli import cli

BLOG = "https://blog.example.org"


async def ask(
    daemon: Running, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    host, port = daemon.http_address
    sent = {"Content-Type": "application/json", **(headers or {})}
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, f"http://{host}:{port}{path}", headers=sent,
            data=None if body is None else json.dumps(body),
        ) as answer,
    ):  # fmt: skip
        return answer.status, await answer.json()


@pytest.mark.asyncio
async def test_a_renamed_posts_old_key_is_its_thread_to_every_reader_of_keys(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    admin = Admin(wordpress_site)
    old = "keyed-" + secrets.token_hex(4)
    new = old + "-now"
    post = await admin.post(old, "A first title")
    for n in range(2):
        await admin.comment(
            post=post["id"], author_name=f"Reader {n}", author_email=f"r{n}@example.org",
            content=f"Comment number {n}.", status="approved",
        )  # fmt: skip
    settings = make_settings(tmp_path, site={"allowed_origins": [BLOG]})
    async with (
        running(settings, resolver=no_dmarc_zone()) as daemon,
        bridge_for(
            tmp_path, wordpress_site, wordpress_site.url, old, daemon, posts_check_minutes=0
        ) as bridge,
    ):  # fmt: skip
        await bridge.run_once()
        await admin.call("POST", f"/posts/{post['id']}", {"title": "A better title", "slug": new})
        await bridge.run_once()
        assert await db_rows(daemon, "SELECT key FROM threads") == [(new,)]

        # The widget's counts on a list page still carrying the old slug.
        status, counts = await ask(daemon, "GET", f"/api/counts?thread={old}&thread={new}")
        assert status == 200
        assert counts == {"counts": {old: 2, new: 2}, "renamed": {old: new}}
        status, counts = await ask(daemon, "GET", f"/api/counts?thread={new}&thread=nothing")
        assert counts == {"counts": {new: 2, "nothing": 0}}  # no "renamed" when none is

        # The admin API.
        auth = {"Authorization": f"Bearer {await admin_token(daemon)}"}
        status, listed = await ask(daemon, "GET", f"/api/admin/comments?thread={old}", None, auth)
        assert status == 200, listed
        assert sorted(c["body"] for c in listed["comments"]) == [
            "Comment number 0.", "Comment number 1.",
        ]  # fmt: skip
        assert {c["thread"] for c in listed["comments"]} == {new}  # the key now
        status, refused = await ask(daemon, "POST", f"/api/admin/threads/{old}/close", None, auth)
        assert status == 409, refused
        assert refused["code"] == "thread_in_wordpress"
        assert (
            f"'{old}' (renamed '{new}' in WordPress) is WordPress post {post['id']}"
            in (refused["message"])
        )
        made = {"key": old, "title": "A script's title", "url": f"{BLOG}/{old}/"}
        status, thread = await ask(daemon, "POST", "/api/admin/threads", made, auth)
        assert status == 200, thread
        assert thread["key"] == new and thread["created"] is False
        assert thread["title"] == "A better title"

        # The widget on a page whose template still names the old slug.
        page = {"url": f"{BLOG}/{old}/", "title": "A first title", "key": old}
        status, found = await ask(daemon, "POST", "/api/threads", page, {"Origin": BLOG})
        assert (status, found) == (200, {"key": new, "created": False})
        assert await db_rows(daemon, "SELECT key FROM threads") == [(new,)]  # no second one

        # mailbridge export with the old key.
        args = ["export", "--data-dir", str(daemon.settings.data_path), old, "-o", "-"]
        result = await asyncio.to_thread(CliRunner().invoke, cli, args, env=command_env(args))
        assert result.exit_code == 0, result.output
        exported = json.loads(result.stdout)
        assert exported["post"]["key"] == new, exported["post"]
        assert len(exported["comments"]) == 2
        assert f"'{old}' is thread '{new}' now (renamed in WordPress)." in result.stderr
