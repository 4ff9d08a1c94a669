"""A person erased here (`mailbridge person erase`, the privacy page) whose comments
the bridge put in WordPress, or mirrored from it, against a real WordPress: the copies
there lose their name and address too, as WordPress itself returns them (they were
left as they were: the blog kept showing the erased person's name on their comments,
and wp-admin kept their address).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flows import approve, moderation_email
from support import (
    AUTHOR_EMAIL,
    make_settings,
    no_dmarc_zone,
)
from wordpress_proxy import a_post, answer_by_email, answered, bridge_for
from wordpress_site import Admin, Site

from mailbridge.app import running
from mailbridge.people import data as people

ERASED = "r0@example.org"


def theirs(comments: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """What WordPress holds that names the erased person: (id, name, address)."""
    return [
        (str(c["id"]), c["author_name"], c["author_email"])
        for c in comments
        if c["author_email"].lower() == ERASED or c["author_name"] == "Reader 0"
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["anonymise", "remove"])
async def test_an_erased_writer_leaves_no_name_or_address_in_wordpress(
    tmp_path: Path,
    wordpress_site: Site,
    mode: str,
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
        await answer_by_email(daemon, note, "Thank you, it helped me a lot this week.", ERASED)
        await approve(daemon, await moderation_email(daemon, "Reader 0"))
        await bridge.run_once()
        # Two of theirs there: the one written in WordPress, the emailed one pushed.
        assert len(theirs(await admin.comments(post_id))) == 2

        remove = mode == "remove"
        now = datetime.now(UTC)
        await daemon.store.write(lambda c: people.erase(c, ERASED, remove, now))
        await bridge.run_once()
        there = await admin.comments(post_id)
    assert theirs(there) == []
    gone = [c for c in there if c["author_name"] == people.FORMER]
    assert [(c["author_email"], c["author_ip"]) for c in gone] == [("", "0.0.0.0")] * 2
    if remove:
        # Their words leave the blog with them.
        assert [c["status"] for c in gone] == ["trash", "trash"]
        assert not any("helped me" in c["content"]["raw"] for c in there)
