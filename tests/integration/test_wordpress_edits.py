"""A comment's text edited in wp-admin long after it was approved (a typo, a detail
the writer asked to take out), against a real WordPress. WordPress lists comments by
no date of change (a comment has no ``modified``; ``orderby`` takes date, id, post,
parent, type, include), and an edit moves no count, so it waited for the full sync
(``full_sync_minutes``, an hour), the old words shown meanwhile on the thread's page
and quoted in notifications. Each poll now reads one page of 100 mirrored comments
again by ID, on from where the last stopped: an edit shows within one poll per 100
comments, for one request a poll, never one a comment.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest
from support import FakeClock, db_rows
from wordpress_proxy import daemon_and_bridge, proxy_for
from wordpress_site import Admin, Site

COMMENTS = 120  # more than a page: the sweep takes two polls to go round


@pytest.mark.asyncio
async def test_an_old_comment_edited_in_wp_admin_shows_within_a_turn_of_the_sweep(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    admin = Admin(wordpress_site)
    slug = "edited-" + secrets.token_hex(4)
    post = await admin.post(slug, "Edits in wp-admin")
    made = [
        await admin.comment(
            post=post["id"], author_name=f"Reader {n}", author_email=f"r{n}@example.org",
            content=f"Words of reader {n}.", status="approved",
        )
        for n in range(COMMENTS)
    ]  # fmt: skip
    clock = FakeClock()
    async with (
        proxy_for(wordpress_site) as (proxy, url),
        daemon_and_bridge(tmp_path, wordpress_site, url, slug, clock) as (daemon, bridge),
    ):
        await bridge.run_once()  # the first sync
        clock.advance(20 * 60)  # past the 15 minutes read again at every poll, not the hour
        await bridge.run_once()
        assert len(await db_rows(daemon, "SELECT id FROM comments")) == COMMENTS

        first, last = made[0]["id"], made[-1]["id"]
        await admin.call("POST", f"/comments/{first}", {"content": "Words of reader 0, edited."})
        await admin.call("POST", f"/comments/{last}", {"content": "Last words, edited."})
        proxy.seen.clear()
        took = []
        for _ in range(2):  # one turn of the sweep: 120 comments, two pages
            started = time.perf_counter()
            await bridge.run_once()
            took.append(time.perf_counter() - started)
        bodies = {
            str(b) for (b,) in await db_rows(daemon, "SELECT body FROM comments")
        }  # fmt: skip
        assert "Words of reader 0, edited." in bodies and "Words of reader 0." not in bodies
        assert "Last words, edited." in bodies
        assert f"Words of reader {COMMENTS - 1}." not in bodies
        # The words before are kept in the comment's history, as for any edit there.
        history = await db_rows(daemon, "SELECT count(*) FROM comment_edits")
        assert history[0][0] >= 2
        # Requests: a handful a poll, none by comment (no /comments/ID read).
        asked = [s for s in proxy.seen if "rest_route" in s]
        assert not [s for s in asked if "/wp/v2/comments/" in s], asked
        assert len(asked) <= 2 * 5, asked
        print(f"polls took {took[0]:.3f} s and {took[1]:.3f} s; requests: {asked}")
