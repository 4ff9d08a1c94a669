"""Undo of a rescue from the spam folder puts the comment back exactly as the filter
had left it. "Not spam: publish" tapped by mistake and undone on the queue page put it
back in the folder as a person's Spam: the folder said "Marked as spam on the queue
page" instead of the filter's reasons, and the spam report, which had not told anyone
of it yet, never did (a person's Spam counts as told). Real daemon, real HTTP client,
real SQLite file (or PostgreSQL), the report read from the outbox."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from flows import csrf, jar, post_comment, signed_in, undo_of, url
from support import db_rows, started

from mailbridge.app import Running

SPAMMY = "Check out my channel!!! http://spam.example/watch subscribe please"


async def why_in_folder(session: aiohttp.ClientSession, daemon: Running, author: str) -> str:
    async with session.get(url(daemon, "/moderate/spam")) as r:
        page = await r.text()
    card = page.split(f"<bdi>{author}</bdi>", 1)[1]
    return card.split("<strong>Why:</strong>", 1)[1].split("</p>", 1)[0]


async def reported(daemon: Running) -> list[str]:
    """The comments' writers the spam reports queued so far list."""
    job = next(job for job in daemon.periodic if job.name == "spam-report")
    await job.run_once()
    rows = await db_rows(
        daemon,
        "SELECT m.message FROM outbox o JOIN outbox_messages m ON m.outbox_id = o.id "
        "WHERE o.kind = 'spam_report'",
    )
    return [bytes(raw).decode("utf-8", "replace") for (raw,) in rows]


@pytest.mark.asyncio
async def test_an_undone_publish_from_the_folder_is_the_filters_catch_again(
    tmp_path: Path,
) -> None:
    async with started(
        tmp_path, spam={"report_hours": 24}, moderation={"moderators": ["Mo <mo@example.org>"]}
    ) as daemon:
        cid = await post_comment(daemon, author="Mistake", email="m@spam.example", body=SPAMMY)
        async with aiohttp.ClientSession(cookie_jar=jar()) as session:
            await signed_in(daemon, session)
            before = await why_in_folder(session, daemon, "Mistake")
            assert before.strip().startswith("spam score")
            async with session.get(url(daemon, "/moderate/spam")) as r:
                page = await r.text()
            form = [("csrf", csrf(page)), ("action", "approve"), ("comment", str(cid))]
            async with session.post(url(daemon, "/moderate/spam"), data=form) as r:
                assert r.status == 200
            async with session.get(url(daemon, "/moderate")) as r:
                queue = await r.text()
            form = [("csrf", csrf(queue)), ("comment", str(cid))]
            form.append(("decision", undo_of(queue, cid)))
            async with session.post(url(daemon, "/moderate/undo"), data=form) as r:
                assert "Undone: the comment is back where it was." in await r.text()
            status = await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", cid)
            assert status == [("spam",)]
            # The folder gives the filter's reasons again, as before the mistake.
            assert await why_in_folder(session, daemon, "Mistake") == before
        # Nobody had been told of it: the next spam report lists it, as it would have.
        reports = await reported(daemon)
        assert reports and all("Mistake" in report for report in reports)


@pytest.mark.asyncio
async def test_the_folder_offers_the_undo_of_what_it_just_published(tmp_path: Path) -> None:
    """ "Not spam: publish" tapped by mistake is undone where it was tapped: the page it
    comes back to names each comment just published with its Undo, which puts it back in
    the folder. Before, the comments left the page and the Undo was only under the queue
    page's Decided."""
    async with started(tmp_path, moderation={"moderators": ["Mo <mo@example.org>"]}) as daemon:
        cid = await post_comment(daemon, author="Mistake", email="m@spam.example", body=SPAMMY)
        other = await post_comment(
            daemon, author="Robot", email="r@spam.example", body=SPAMMY + " again"
        )
        async with aiohttp.ClientSession(cookie_jar=jar()) as session:
            await signed_in(daemon, session)
            async with session.get(url(daemon, "/moderate/spam")) as r:
                page = await r.text()
            form = [("csrf", csrf(page)), ("action", "approve"), ("comment", str(cid))]
            async with session.post(url(daemon, "/moderate/spam"), data=form) as r:
                assert r.status == 200
                assert f"undo={cid}" in str(r.url)
                page = await r.text()
            assert "Not spam: 1 comment published." in page
            decision = undo_of(page, cid)
            assert f'name="comment" value="{other}"><input' not in page  # still spam: no Undo
            form = [("csrf", csrf(page)), ("comment", str(cid)), ("decision", decision)]
            async with session.post(url(daemon, "/moderate/undo"), data=form) as r:
                assert "Undone: the comment is back where it was." in await r.text()
            assert await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", cid) == [
                ("spam",)
            ]
            # The same page again (reloaded, or a link kept): nothing left to undo there.
            async with session.get(url(daemon, f"/moderate/spam?done=approve:1&undo={cid}")) as r:
                again = await r.text()
            assert f'name="comment" value="{cid}"><input type="hidden" name="decision"' not in again
            # Nor does a link naming a comment that is still spam (its latest decision is
            # the filter's, not a publication) show an Undo.
            async with session.get(url(daemon, f"/moderate/spam?undo={other}")) as r:
                assert 'action="/moderate/undo"' not in await r.text()
