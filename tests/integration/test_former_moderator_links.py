"""A moderator taken off moderation.moderators cannot decide with the moderation
emails they still hold, for as long as those links last (14 days), not even once
their address is gone from the database: the spam folder forgets an address only its
deleted comments needed (test_spam_folder_forgets.py), and a link whose address is
gone was taken for an erased moderator's, and obeyed. Real daemon, restarted on the
same data directory with the new settings; real HTTP client; real Maildir."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from flows import csrf, delivered, follow, jar, outbox_dir, post_comment, signed_in, url
from support import (
    db_rows,
    import_seed,
    make_settings,
    moderation_links,
    no_dmarc_zone,
    read_maildir,
)

from mailbridge.app import running

MO = "mo@example.org"
SPAMMY = "Check out my channel!!! http://spam.example/watch subscribe please"


@pytest.mark.asyncio
async def test_a_former_moderators_links_stay_refused_once_their_address_is_gone(
    tmp_path: Path,
) -> None:
    with_mo = make_settings(tmp_path, moderation={"moderators": [f"Mo <{MO}>"]})
    await import_seed(with_mo)
    async with running(with_mo, resolver=no_dmarc_zone()) as daemon:
        ann = await post_comment(daemon, author="Ann", body="A question for the author.")
        # Mo tries the filter out: the comment goes to the spam folder.
        tried = await post_comment(daemon, author="Mo", email=MO, body=SPAMMY)
        held = []
        for _ in range(200):  # bounded: the moderation emails are built after the commit
            await delivered(daemon)
            held = [
                m for m in read_maildir(outbox_dir(daemon))
                if m["To"].addresses[0].addr_spec == MO and "by Ann on" in str(m["Subject"])
            ]  # fmt: skip
            if held:
                break
            await asyncio.sleep(0.05)
        approve = moderation_links(held[0])["approve"]

    without_mo = make_settings(tmp_path)  # Mo leaves the team
    async with running(without_mo, resolver=no_dmarc_zone()) as daemon:
        status, text = await follow(daemon, approve, "POST")
        assert status == 403 and "no longer moderates comments here" in text
        # The author empties the spam folder: Mo's address went with Mo's comment.
        async with aiohttp.ClientSession(cookie_jar=jar()) as session:
            await signed_in(daemon, session)
            async with session.get(url(daemon, "/moderate/spam")) as r:
                page = await r.text()
            form = [("csrf", csrf(page)), ("action", "delete"), ("sure", "yes")]
            async with session.post(
                url(daemon, "/moderate/spam"), data=[*form, ("comment", str(tried))]
            ) as r:
                assert "Deleted for good: 1 comment." in await r.text()
        assert await db_rows(daemon, "SELECT id FROM addresses WHERE email = ?", MO) == []

        status, text = await follow(daemon, approve, "POST")
        assert status == 403 and "no longer moderates comments here" in text
        rows = await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", ann)
        assert rows == [("pending",)]
