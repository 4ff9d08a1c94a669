"""An emailed reply that may reveal its writer's personal details (a phone number), on
a bridged post, against a real WordPress. wp-admin shows no reason a comment is held
and approves it in one click, so such a comment stays out of wp-admin until a
moderator approves it here, told what was seen; an ordinary reply goes there held.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flows import approve, moderation_email
from support import (
    AUTHOR_EMAIL,
    make_settings,
    no_dmarc_zone,
    reply_address,
    reply_to_notification,
    smtp_send,
)
from wordpress_proxy import a_post, answered, bridge_for
from wordpress_site import Admin, Site, wordpress_site  # noqa: F401 - the fixture

from mailbridge.app import running

NUMBER = "+44 20 7946 0958"


@pytest.mark.asyncio
async def test_a_reply_with_a_phone_number_reaches_wp_admin_only_once_approved(
    tmp_path: Path,
    wordpress_site: Site,  # noqa: F811
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
        reply = reply_to_notification(note, f"Happy to talk it over: call me on {NUMBER}.")
        code = await smtp_send(daemon, "r0@example.org", reply_address(note), reply.as_bytes())
        assert code.startswith("250"), code
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
