"""A bulk decision on the queue page that fails half way. Each comment is decided in a
transaction of its own; when one failed (the database refused the write), the author
got a bare error page and could not tell which of the selected comments were decided.
The page now says how many were, and names exactly those that were not (still
waiting, listed as they are now), so that a second tap decides only the rest."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from flows import csrf, jar, post_comment, signed_in, url
from pg import store_option
from support import db_rows, started

from mailbridge.app import Running


async def failing_on(daemon: Running, comment_id: int) -> None:
    """The database refuses any change of this comment's status: a real error from the
    real engine, in the middle of the batch."""
    if store_option() == "postgresql":
        statements = [
            "CREATE FUNCTION refuse_it() RETURNS trigger LANGUAGE plpgsql AS "
            "'BEGIN RAISE EXCEPTION ''could not write: disk full''; END'",
            "CREATE TRIGGER refuse_it BEFORE UPDATE OF status ON comments FOR EACH ROW "
            f"WHEN (NEW.id = {comment_id}) EXECUTE FUNCTION refuse_it()",
        ]
    else:
        statements = [
            "CREATE TRIGGER refuse_it BEFORE UPDATE OF status ON comments "
            f"WHEN NEW.id = {comment_id} BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        ]

    async def work(conn: object) -> None:
        for sql in statements:
            await conn.execute(sql)  # type: ignore[attr-defined]

    await daemon.store.write(work)


@pytest.mark.asyncio
async def test_a_bulk_approve_that_fails_half_way_says_which_were_decided(
    tmp_path: Path,
) -> None:
    async with started(tmp_path) as daemon:
        ids = [
            await post_comment(daemon, author=name, body=f"A kind word from {name}.")
            for name in ("Alba", "Bruno", "Chiara")
        ]
        await failing_on(daemon, ids[1])
        async with aiohttp.ClientSession(cookie_jar=jar()) as session:
            page = await signed_in(daemon, session)
            form = [("csrf", csrf(page)), ("action", "approve")]
            form += [("comment", str(i)) for i in ids]
            async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
                assert r.status == 200
                page = await r.text()
        statuses = await db_rows(daemon, "SELECT author, status FROM comments WHERE id IN "
                                 f"({ids[0]}, {ids[1]}, {ids[2]}) ORDER BY id")  # fmt: skip
        # Stopped at the failure: the first decided, the rest left as they were.
        assert statuses == [("Alba", "approved"), ("Bruno", "pending"), ("Chiara", "pending")]
        assert "Done: 1 comment approved. Not decided: 2 (an error stopped it)." in page
        assert "<title>Done: 1 comment approved. Not decided: 2 (an error stopped it)" in page
        notice = page.split("Not decided", 1)[1].split("</div>", 1)[0]
        assert "Bruno" in notice and "Chiara" in notice and "Alba" not in notice
        assert "still waiting" in notice
        assert 'role="alert"' in page


SPAMMY = "Check out my channel!!! http://spam.example/watch subscribe please"


@pytest.mark.asyncio
async def test_the_spam_folders_not_spam_that_fails_half_way_says_the_same(
    tmp_path: Path,
) -> None:
    """The spam folder's page decides several at once the same way, and failed the same."""
    async with started(tmp_path) as daemon:
        ids = [
            await post_comment(daemon, author=name, email=f"{name}@spam.example",
                               body=f"{SPAMMY} {name}")
            for name in ("Alba", "Bruno", "Chiara")
        ]  # fmt: skip
        await failing_on(daemon, ids[1])
        async with aiohttp.ClientSession(cookie_jar=jar()) as session:
            await signed_in(daemon, session)
            async with session.get(url(daemon, "/moderate/spam")) as r:
                page = await r.text()
            form = [("csrf", csrf(page)), ("action", "approve")]
            form += [("comment", str(i)) for i in ids]
            async with session.post(url(daemon, "/moderate/spam"), data=form) as r:
                assert r.status == 200
                page = await r.text()
        statuses = await db_rows(daemon, "SELECT author, status FROM comments WHERE id IN "
                                 f"({ids[0]}, {ids[1]}, {ids[2]}) ORDER BY id")  # fmt: skip
        assert statuses == [("Alba", "approved"), ("Bruno", "spam"), ("Chiara", "spam")]
        assert "Not spam: 1 comment published. Not done: 2 (an error stopped it)." in page
        notice = page.split("<strong>Not done:</strong>", 1)[1].split("</div>", 1)[0]
        assert "Bruno" in notice and "Chiara" in notice and "Alba" not in notice
        assert "still spam" in notice
