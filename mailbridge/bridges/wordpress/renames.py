"""A bridged post's thread keeps up with its post: its title, link and slug.

A thread is keyed by its post's slug (as ``mailbridge import`` keys a WXR's posts), and
that key is in every link to the conversation mailbridge has emailed. Renamed in
WordPress (its title, and the slug wp-admin offers with it), the thread takes the new
title, link and key at the bridge's next look at the post (posts.py), and the old key
stays its own: a link to it (in every email sent before) is sent on to the new one
(web/pages.py, published.py). So another post given that slug later (a new "hello
world") gets a thread of its own, ``SLUG-ID``, as WordPress's export keeps two posts
of one slug apart (importer/wxr.py): its comments were mirrored into the renamed
post's thread, and the old links showed its conversation.
"""

from __future__ import annotations

import html
import re

import aiosqlite

from mailbridge.bridges.wordpress import links
from mailbridge.bridges.wordpress.client import WpPost
from mailbridge.embed.pages import MAX_TITLE
from mailbridge.importer.records import clean_line, safe_url, usable_key
from mailbridge.outbound.headers import cluster_cut
from mailbridge.store.former_keys import WAS, post_of_key

__all__ = ["follow", "key_for", "link_of", "title_of", "usable_slug"]


def title_of(post: WpPost) -> str:
    """The post's title as one line of text (WordPress renders it as HTML), or its slug.

    WordPress's is anyone's with a post to write there: what an import drops is dropped
    (control characters; bidi overrides, which turned the rest of an email's sentence
    around the title backwards), and it is cut as a page's title from the widget is
    (a title of megabytes was in every email and page of the thread)."""
    title = clean_line(html.unescape(re.sub(r"<[^>]*>", "", post.title))) or post.slug
    return cluster_cut(clean_line(title), MAX_TITLE).rstrip()


async def _other_owner(conn: aiosqlite.Connection, key: str, post_id: int) -> bool:
    """Whether ``key`` is another post's thread's, now or before a rename."""
    owner_now = await post_of_key(conn, key)
    if owner_now is not None and owner_now != post_id:
        return True
    was = await links.get_state(conn, WAS + key)
    if was is None:
        return False
    async with conn.execute("SELECT post_id FROM wp_posts WHERE thread_id = ?", (int(was),)) as cur:
        owner = await cur.fetchone()
    return owner is None or int(owner[0]) != post_id


# WordPress's own limit (wp_posts.post_name): a slug of non-Latin words, percent-encoded,
# is long, but never longer.
_LONGEST_SLUG = 200


def usable_slug(slug: str) -> bool:
    """Whether a slug from WordPress can key a thread, as an import's may (one word, no /
    ? # or control character) and as long as WordPress's can be: the answer is the
    site's, and a site taken over wrote a line break into the log and '..' into every
    link emailed."""
    return usable_key(slug) and len(slug) <= _LONGEST_SLUG


def link_of(post: WpPost) -> str:
    """The post's address, when it is an http(s) one ("" otherwise): the thread page's
    "Read the post" links to it, and javascript: is no post's address."""
    return safe_url(post.link)


async def key_for(conn: aiosqlite.Connection, post: WpPost) -> str:
    """The key of the post's thread: its slug, unless that names another post's thread
    (or is none WordPress would give: its ID then, as for a post without a slug)."""
    slug = post.slug if usable_slug(post.slug) else str(post.id)
    if not await _other_owner(conn, slug, post.id):
        return slug
    return f"{slug[:80]}-{post.id}"


async def follow(conn: aiosqlite.Connection, thread_id: int, post: WpPost) -> str | None:
    """Bring the thread's title, link and key to the post's; its former key, if it
    changed (still reaching it)."""
    async with conn.execute(
        "SELECT key, title, url FROM threads WHERE id = ?", (thread_id,)
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    old, title, url = str(row[0]), title_of(post), link_of(post) or str(row[2])
    key = old
    if post.slug != old and usable_slug(post.slug):  # else kept as it is
        key = await key_for(conn, post)  # its own thread's SLUG-ID stays as it is
        async with conn.execute(
            "SELECT id FROM threads WHERE key = ? AND id <> ?", (key, thread_id)
        ) as cur:
            if await cur.fetchone() is not None:
                key = old  # a thread of mailbridge's own has it: kept as it is
    if (key, title, url) == (old, str(row[1]), str(row[2])):
        return None
    # Title in the UPDATE: the thread's version moves (migration 0010's trigger), so
    # no page or JSON cached under the old key or title is served again.
    await conn.execute(
        "UPDATE threads SET key = ?, title = ?, url = ? WHERE id = ?", (key, title, url, thread_id)
    )
    if key == old:
        return None
    await links.set_state(conn, WAS + old, str(thread_id))
    await conn.execute("DELETE FROM wp_state WHERE key = ?", (WAS + key,))
    return old
