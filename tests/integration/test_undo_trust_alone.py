""" "Approve and trust" pressed on a comment already published (approved from another
device, the queue page) trusts its writer; its Undo takes back that trust alone
(docs/moderation.md, "Undo"). It offered the earlier approval's Undo instead: pressed,
the comment left the page and its writer stayed trusted."""

from __future__ import annotations

import re

import aiohttp
import pytest
from flows import follow, moderation_email, post_comment
from support import THREAD, db_rows, moderation_links

from mailbridge.app import Running

WORDS = "A comment the author is glad to publish."


async def press(daemon: Running, link: str) -> str:
    status, page = await follow(daemon, link, "POST")
    assert status == 200, page
    return page


async def trusted(daemon: Running, email: str) -> list[tuple[object, ...]]:
    return await db_rows(
        daemon,
        "SELECT t.trust FROM address_trust t JOIN addresses a ON a.id = t.address_id "
        "WHERE a.email = ?",
        email,
    )


async def thread_page(daemon: Running) -> str:
    host, port = daemon.http_address
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{host}:{port}/threads/{THREAD}") as resp,
    ):
        assert resp.status == 200
        return await resp.text()


@pytest.mark.asyncio
async def test_undo_of_trust_on_a_published_comment_takes_back_the_trust_alone(
    daemon: Running,
) -> None:
    cid = await post_comment(daemon, parent=2, author="Ann", email="ann@example.com", body=WORDS)
    links = moderation_links(await moderation_email(daemon, "Ann"))
    await press(daemon, links["approve"])
    page = await press(daemon, links["trust"])
    assert await trusted(daemon, "ann@example.com") == [("trusted",)]
    undo = re.search(r'action="(http[^"]+/moderate/undo/[^"]+)"', page)
    assert undo is not None
    # The link opened again (a GET) changes nothing.
    status, asked = await follow(daemon, undo.group(1))
    assert status == 200

    done = await press(daemon, undo.group(1))
    # The comment stays on the page; the trust is gone.
    assert await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", cid) == [("approved",)]
    assert WORDS in await thread_page(daemon)
    assert await trusted(daemon, "ann@example.com") == []
    # And each page said what its button does.
    assert "Undo: stop trusting Ann" in page and "put it back to pending" not in page
    assert "Undo: stop trusting Ann" in asked
    assert "Ann is no longer trusted" in done and "stays published" in done
    # Their next comment waits for the author again.
    later = await post_comment(daemon, parent=2, author="Ann", email="ann@example.com")
    assert await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", later) == [
        ("pending",)
    ]
    # Pressed again: nothing more, and it says so.
    again = await press(daemon, undo.group(1))
    assert "Already undone" in again
    assert await db_rows(daemon, "SELECT status FROM comments WHERE id = ?", cid) == [("approved",)]
