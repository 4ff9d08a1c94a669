"""An emailed reply that may reveal its writer's personal details (a phone number), on
a bridged post, against a real WordPress. wp-admin shows no reason a comment is held
and approves it in one click, so such a comment stays out of wp-admin until a
moderator approves it here, told what was seen; an ordinary reply goes there held.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flows import approve, follow, moderation_email
from support import (
    AUTHOR_EMAIL,
    make_settings,
    moderation_links,
    no_dmarc_zone,
    reply_address,
    reply_to_notification,
    smtp_send,
)
from wordpress_proxy import a_post, answer_by_email, answered, bridge_for
from wordpress_site import Admin, Site

from mailbridge.app import running

NUMBER = "+44 20 7946 0958"


@pytest.mark.asyncio
async def test_a_reply_with_a_phone_number_reaches_wp_admin_only_once_approved(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    settings = make_settings(tmp_path, moderation={"moderators": [AUTHOR_EMAIL]})
    async with (
        running(settings, resolver=no_dmarc_zone()) as daemon,
        bridge_for(tmp_path, wordpress_site, wordpress_site.url, slug, daemon) as bridge,
    ):
        await bridge.run_once()
        note = await answered(admin, post_id, bridge, daemon)
        await answer_by_email(daemon, note, f"Happy to talk it over: call me on {NUMBER}.")
        moderation = await moderation_email(daemon, "Reader 0")
        assert "may reveal personal details: a phone number" in moderation.as_string()
        await bridge.run_once()
        there = [c["content"]["raw"] for c in await admin.comments(post_id)]
        assert [c for c in there if "7946" in c] == []  # not in wp-admin's queue

        await approve(daemon, moderation)
        await bridge.run_once()
        mine = [c for c in await admin.comments(post_id) if "7946" in c["content"]["raw"]]
        assert [(c["author_name"], c["status"]) for c in mine] == [("Reader 0", "approved")]

        ordinary = reply_to_notification(
            note, "Thank you, that was kind.", message_id="<reply-2@client.example>"
        )
        code = await smtp_send(daemon, "r0@example.org", reply_address(note), ordinary.as_bytes())
        assert code.startswith("250"), code
        await bridge.run_once()
    held = [c for c in await admin.comments(post_id) if c["status"] == "hold"]
    assert ["that was kind" in c["content"]["raw"] for c in held] == [True]


@pytest.mark.asyncio
async def test_an_undone_approval_takes_it_out_of_wp_admin_again(
    tmp_path: Path,
    wordpress_site: Site,
) -> None:
    """Approved here, so created there; the author then sees the number on the page and
    taps Undo: it is deleted there, not put back in wp-admin's queue (where nothing
    says why it waits, and one Approve publishes the number), and created again only
    once approved here again."""
    admin = Admin(wordpress_site)
    post_id, slug = await a_post(admin, 1)
    settings = make_settings(tmp_path, moderation={"moderators": [AUTHOR_EMAIL]})
    async with (
        running(settings, resolver=no_dmarc_zone()) as daemon,
        bridge_for(tmp_path, wordpress_site, wordpress_site.url, slug, daemon) as bridge,
    ):
        await bridge.run_once()
        note = await answered(admin, post_id, bridge, daemon)
        await answer_by_email(daemon, note, f"Happy to talk it over: call me on {NUMBER}.")
        approve_link = moderation_links(await moderation_email(daemon, "Reader 0"))["approve"]

        async def there() -> list[str]:
            await bridge.run_once()
            found = await admin.comments(post_id)
            return [c["status"] for c in found if "7946" in c["content"]["raw"]]

        status, page = await follow(daemon, approve_link, "POST")
        assert status == 200, page
        assert await there() == ["approved"]
        undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
        assert undo is not None
        status, page = await follow(daemon, undo.group(1), "POST")
        assert status == 200 and "Undone" in page, page
        assert await there() == []  # not 'hold', in wp-admin's queue
        status, page = await follow(daemon, approve_link, "POST")
        assert status == 200, page
        assert await there() == ["approved"]  # once
