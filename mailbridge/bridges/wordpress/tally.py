"""Whether a comment approved long ago changed in wp-admin, for one request a poll.

WordPress lists comments by ID, date or post, never by when they last changed, so
the bridge reads again at every poll only those mirrored or decided lately (pull.py);
one approved there long ago and trashed, marked as spam or unapproved in wp-admin
now (a reader's detail seen late, a complaint) waited for the full sync, an hour,
shown meanwhile on its thread's page here, which every notification links to, and
quoted to the thread's followers under any answer to it.

Each poll counts the approved comments there (``X-WP-Total`` of a one-comment page)
and those the bridge last saw approved. Their gap is the approved comments it does
not mirror (pingbacks are not counted; a comment without text, another post's when
``wordpress.posts`` is set: not in the count), which no decision of the bridge's
moves. When it moved and stays moved at the next poll, something was decided there
that the bridge did not see: the full sync runs now. A comment approved while the
poll read (counted there, mirrored at the next poll) moves it for one poll only.
"""

from __future__ import annotations

import aiosqlite

from mailbridge.bridges.wordpress import links
from mailbridge.bridges.wordpress.client import WordPressClient
from mailbridge.store import Store

__all__ = ["ApprovedTally", "moved"]


def moved(settled: str | None, last: str | None, gap: int) -> bool:
    """Whether ``gap`` shows a decision the bridge did not see: apart from the gap the
    last full sync left (``settled``), as at the poll before (``last``)."""
    return settled is not None and str(gap) != settled and str(gap) == last


class ApprovedTally:
    def __init__(self, client: WordPressClient, store: Store, wanted: bool) -> None:
        self._client = client
        self._store = store
        self._wanted = wanted  # wordpress.posts names some posts: count theirs only

    async def _gap(self) -> int | None:
        extra: dict[str, str] = {}
        if self._wanted:
            posts = await self._store.read(links.bridged_posts)
            if not posts:
                return None
            extra["post"] = ",".join(str(post_id) for post_id, _thread in posts)
        page = await self._client.comments(status="approve", per_page=1, extra=extra)
        return page.total - await self._store.read(_approved_here)

    async def moved(self) -> bool:
        """Counted now: whether the full sync is due for a decision unseen."""
        gap = await self._gap()
        if gap is None:
            return False

        async def record(conn: aiosqlite.Connection) -> bool:
            settled = await links.get_state(conn, "approved_gap")
            last = await links.get_state(conn, "approved_gap_last")
            await links.set_state(conn, "approved_gap_last", str(gap))
            if settled is None:
                await links.set_state(conn, "approved_gap", str(gap))
            return moved(settled, last, gap)

        return await self._store.write(record)

    async def settle(self) -> None:
        """After a full sync: the gap it left is the one to compare with."""
        gap = await self._gap()
        if gap is None:
            return

        async def record(conn: aiosqlite.Connection) -> None:
            await links.set_state(conn, "approved_gap", str(gap))
            await links.set_state(conn, "approved_gap_last", str(gap))

        await self._store.write(record)


async def _approved_here(conn: aiosqlite.Connection) -> int:
    """The comments the bridge last saw approved there."""
    async with conn.execute(
        "SELECT count(*) FROM wp_comments WHERE wp_status = 'approved' AND comment_id IS NOT NULL"
    ) as cur:
        row = await cur.fetchone()
    return 0 if row is None else int(row[0])
