"""The spam folder page's Delete for good forgets the addresses its comments leave
referred to by nothing, as the folder's own purge does (spam.keep_days,
test_spam_retention.py): a robot types a real person's address, asking to be
notified; deleted for good from a phone, the comment went and the address stayed for
good, with the subscription held for a rescue that can no longer come. What something
else still needs stays, and nothing of it is left in the database's files (the
write-ahead log kept it until a checkpoint). Real daemon, real HTTP client, real
SQLite file."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from flows import csrf, jar, post_comment, signed_in, url
from held import files_holding, traces
from support import db_rows, started

ROBOT = "victim.of.a.robot@example.net"
SPAMMY = "Check out my channel!!! http://spam.example/watch subscribe please"


@pytest.mark.asyncio
async def test_delete_for_good_forgets_an_address_nothing_else_needs(tmp_path: Path) -> None:
    async with started(tmp_path, moderation={"moderators": ["Mo <mo@example.org>"]}) as daemon:
        doomed = [
            await post_comment(daemon, author=author, email=email, body=f"{SPAMMY} {n}",
                               notify=True)
            for n, (author, email) in enumerate((
                ("Robot", ROBOT),
                ("Reader", "reader@example.net"),  # also wrote a comment that was kept
                ("Mo", "mo@example.org"),  # a moderator trying the filter out
            ))
        ]  # fmt: skip
        await post_comment(daemon, author="Reader", email="reader@example.net",
                           body="I found this moving, thank you.")  # fmt: skip
        spam = "SELECT count(*) FROM comments WHERE status = 'spam'"
        assert await db_rows(daemon, spam) == [(3,)]
        [(robot_id,)] = await db_rows(daemon, "SELECT id FROM addresses WHERE email = ?", ROBOT)
        assert "subscription_requests.address_id = " + str(robot_id) in await traces(
            daemon, ROBOT, robot_id
        )
        async with aiohttp.ClientSession(cookie_jar=jar()) as session:
            await signed_in(daemon, session)
            async with session.get(url(daemon, "/moderate/spam")) as r:
                page = await r.text()
            form = [("csrf", csrf(page)), ("action", "delete"), ("sure", "yes")]
            form += [("comment", str(cid)) for cid in doomed]
            async with session.post(url(daemon, "/moderate/spam"), data=form) as r:
                assert r.status == 200 and "Deleted for good: 3 comments." in await r.text()
        assert await db_rows(daemon, spam) == [(0,)]
        assert await traces(daemon, ROBOT, robot_id) == []
        # Nor in the database's files: the write-ahead log kept the deleted pages.
        assert files_holding(daemon, ROBOT) == []
        kept = await db_rows(
            daemon,
            "SELECT email FROM addresses WHERE email IN (?, ?) ORDER BY email",
            "mo@example.org", "reader@example.net",
        )  # fmt: skip
        assert kept == [("mo@example.org",), ("reader@example.net",)]
