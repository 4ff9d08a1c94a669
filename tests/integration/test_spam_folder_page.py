"""The spam folder's own page (/moderate/spam, docs/spam.md): signed in as for the
queue, it lists the folder newest first with why, and rescues ("Not spam") or deletes
several at once; the filter learns a rescue as ham. Real daemon, real HTTP client with
its cookie jar, real SQLite file, real Maildir."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from flows import (
    csrf,
    jar,
    outbox_dir,
    post_comment,
    sign_in_links,
    signed_in,
    undo_of,
    url,
)
from support import (
    AUTHOR_EMAIL,
    THREAD,
    db_rows,
    db_value,
    import_seed,
    make_settings,
    no_dmarc_zone,
    started,
)
from yarl import URL

from mailbridge.app import Running, running
from mailbridge.cli import cli
from mailbridge.spam import training

SPAMMY = "Check out my channel!!! http://spam.example/watch subscribe please"
ADDRESS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


async def spam(daemon: Running, author: str, body: str = SPAMMY, **fields: object) -> int:
    """A comment the filter sends to the folder; its id."""
    fields.setdefault("email", f"{author.lower() if author.isascii() else 'rtl'}@spam.example")
    cid = await post_comment(daemon, author=author, body=body, **fields)
    assert await status_of(daemon, cid) == "spam"
    return cid


async def status_of(daemon: Running, cid: int) -> str | None:
    found = await db_value(daemon, "SELECT status FROM comments WHERE id = ?", cid)
    return None if found is None else str(found)


async def trained(daemon: Running) -> dict[str, int]:
    """What the filter knows: how many spam and ham comments."""
    spam_docs, ham_docs = await daemon.store.read(training.trained_docs)
    return {"spam": spam_docs, "ham": ham_docs}


async def mb(*args: str) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args))


async def act(
    session: aiohttp.ClientSession, daemon: Running, page: str, action: str, *ids: int, **more: str
) -> tuple[int, str]:
    form = [("csrf", csrf(page)), ("action", action), *(("comment", str(i)) for i in ids)]
    form += list(more.items())
    async with session.post(url(daemon, "/moderate/spam"), data=form) as r:
        return r.status, await r.text()


async def folder(session: aiohttp.ClientSession, daemon: Running, query: str = "") -> str:
    async with session.get(url(daemon, "/moderate/spam" + query)) as r:
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
        return await r.text()


@pytest.mark.asyncio
async def test_the_folder_lists_newest_first_with_why_and_never_an_address(
    daemon: Running,
) -> None:
    first = await spam(daemon, "Robot", parent=2)
    script = await spam(daemon, "Scripter", f"<script>alert(1)</script> {SPAMMY}")
    rtl = await spam(daemon, "نور", f"{SPAMMY} شكرا")
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        queue = await signed_in(daemon, session)
        assert '<a href="/moderate/spam">Spam (3)</a>' in queue
        page = await folder(session, daemon)
    assert "<h1>Spam: 3 comments</h1>" in page
    places = [page.index(f'name="comment" value="{i}"') for i in (rtl, script, first)]
    assert places == sorted(places)  # newest first
    assert page.count("<strong>Why:</strong> spam score") == 3 and "promotion" in page
    # The comment it answers (seed comment 2), and the post.
    assert "In answer to <bdi>Reader 002</bdi>" in page and "Healing Psychotherapy" in page
    # Escaped and sanitised: the script is text, the name isolated, the body read RTL.
    assert "<script>alert" not in page and "alert(1)" in page
    assert "<bdi>نور</bdi>" in page and '<div class="body" dir="auto">' in page
    # The moderator's own page, but it needs no address: none is shown, not even theirs
    # beyond "Signed in as".
    assert ADDRESS.findall(page.replace("Signed in as author@example.org", "")) == []


@pytest.mark.asyncio
async def test_not_spam_and_delete_for_good_several_at_once(daemon: Running) -> None:
    one, two, three, four = [await spam(daemon, f"Robot{n}", f"{SPAMMY} {n}") for n in range(4)]
    before = await trained(daemon)
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        await signed_in(daemon, session)
        page = await folder(session, daemon)
        # Without the CSRF token (a forged cross-site form) nothing changes.
        form = [("action", "approve"), ("comment", str(one))]
        async with session.post(url(daemon, "/moderate/spam"), data=form) as r:
            assert r.status == 403 and "did not come from this site" in await r.text()
        assert await status_of(daemon, one) == "spam"
        status, page = await act(session, daemon, page, "pending", one)
        assert status == 200 and "Not spam: 1 comment back in the queue." in page
        assert (await page_title(page)).startswith("Not spam: 1 comment back in the queue · ")
        # Rescued into the queue: it is listed there, waiting.
        async with session.get(url(daemon, "/moderate")) as r:
            queue = await r.text()
        assert f'name="comment" value="{one}"' in queue and "<h1>1 comment waiting</h1>" in queue
        status, page = await act(session, daemon, page, "approve", two)
        assert status == 200 and "Not spam: 1 comment published." in page
        # Delete asks first (it cannot be undone), then deletes both.
        status, confirm = await act(session, daemon, page, "delete", three, four)
        assert status == 200 and "Delete 2 comments for good?" in confirm
        assert await status_of(daemon, three) == "spam"
        status, page = await act(session, daemon, confirm, "delete", three, four, sure="yes")
        assert status == 200 and "Deleted for good: 2 comments." in page
        assert "<h1>Spam: 0 comments</h1>" in page and "The spam folder is empty." in page
        # Bad input: a 400 with what to do, not a 500.
        status, text = await act(session, daemon, confirm, "publish", one)
        assert status == 400 and "Not spam" in text
    assert await status_of(daemon, one) == "pending"
    assert await status_of(daemon, two) == "approved"
    assert await status_of(daemon, three) is None and await status_of(daemon, four) is None
    # The filter learnt both rescues as ham, as it learns the author's own decisions.
    after = await trained(daemon)
    assert after["ham"] == before["ham"] + 2 and after["spam"] == before["spam"]
    sql = "SELECT label FROM spam_trained_comments WHERE comment_id IN (?, ?)"
    assert await db_rows(daemon, sql, one, two) == [("ham",), ("ham",)]
    listed = await mb("comment", str(one), "--data-dir", str(daemon.settings.data_path))
    assert re.search(r"spam\s+pending\s+author@example.org\s+queue", listed.output)
    host, port = daemon.http_address
    async with aiohttp.ClientSession() as reader:
        async with reader.get(f"http://{host}:{port}/threads/{THREAD}") as r:
            thread = await r.text()
    assert "subscribe please 1<" in thread and "subscribe please 0<" not in thread


async def page_title(page: str) -> str:
    found = re.search(r"<title>(.*?)</title>", page, re.S)
    assert found
    return found.group(1)


@pytest.mark.asyncio
async def test_nothing_decided_since_the_page_loaded_is_lost(daemon: Running) -> None:
    """The folder open on the phone; meanwhile the comment is approved by the operator,
    another rejected, a third answered after a rescue and marked spam again: the old
    page's buttons change none of them, and say so."""
    approved, rejected, answered = [await spam(daemon, f"Late{n}") for n in range(3)]
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        await signed_in(daemon, session)
        page = await folder(session, daemon)
        data = ["--data-dir", str(daemon.settings.data_path)]
        assert (await mb("comment", str(approved), "--approve", *data)).exit_code == 0
        assert (await mb("comment", str(rejected), "--reject", *data)).exit_code == 0
        assert (await mb("comment", str(answered), "--approve", *data)).exit_code == 0
        await post_comment(daemon, parent=answered, body="An answer to it.", author="Bob",
                           email="bob@example.com")  # fmt: skip
        assert (await mb("comment", str(answered), "--spam", *data)).exit_code == 0
        spam_taught = (await trained(daemon))["spam"]
        status, after = await act(session, daemon, page, "pending", approved, rejected)
        assert status == 200 and "Not spam: 0 comments back in the queue." in after
        assert "decided since the page was loaded" in after
        assert "<bdi>Late0</bdi></strong>" in after and ": published" in after
        assert ": rejected" in after
        status, after = await act(session, daemon, page, "delete", approved, rejected,
                                  answered, sure="yes")  # fmt: skip
        assert "Deleted for good: 0 comments." in after
        assert "Not deleted: somebody answered it" in after
    assert await status_of(daemon, approved) == "approved"
    assert await status_of(daemon, rejected) == "rejected"
    assert await status_of(daemon, answered) == "spam"
    assert (await trained(daemon))["spam"] == spam_taught  # the operator's Spam stands


@pytest.mark.asyncio
async def test_a_moderator_marked_spam_deleted_stays_learnt(daemon: Running) -> None:
    cid = await post_comment(daemon, parent=2, body="Cheap watches, very good price.")
    data = ["--data-dir", str(daemon.settings.data_path)]
    assert (await mb("comment", str(cid), "--spam", *data)).exit_code == 0
    taught = await trained(daemon)
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        await signed_in(daemon, session)
        page = await folder(session, daemon)
        assert "Marked as spam by the operator" in page
        _status, page = await act(session, daemon, page, "delete", cid, sure="yes")
        assert "Deleted for good: 1 comment." in page
    assert await status_of(daemon, cid) is None
    assert await trained(daemon) == taught


@pytest.mark.asyncio
async def test_not_spam_on_a_post_closed_in_wordpress_says_it_stays_off_the_blog(
    daemon: Running,
) -> None:
    """The moderation link's page says "Not on the blog" of a comment WordPress will not
    take, its post taking no comments there (813d6de); the spam folder's Not spam,
    the same day, said "published" and no more, and the author looked for it on the
    blog in vain."""
    one, two = [await spam(daemon, f"Late{n}", f"{SPAMMY} {n}") for n in range(2)]

    async def closed_in_wordpress(conn: Any) -> None:  # as the bridge's posts check leaves it
        [(thread,)] = await conn.execute_fetchall(
            "SELECT thread_id FROM comments WHERE id = ?", (one,)
        )
        await conn.execute("INSERT INTO wp_posts (post_id, thread_id) VALUES (7, ?)", (thread,))
        await conn.execute("INSERT INTO wp_state (key, value) VALUES ('post_open:7', '0')")

    await daemon.store.write(closed_in_wordpress)
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        await signed_in(daemon, session)
        page = await folder(session, daemon)
        status, page = await act(session, daemon, page, "approve", one, two)
    assert status == 200 and "Not spam: 2 comments published." in page
    assert "<strong>Not on the blog:</strong> comments are closed on their posts in " in page
    assert "<bdi>Late0</bdi>" in page and "<bdi>Late1</bdi>" in page


def guest_post(path: Path) -> Path:
    """An import file: a post by a guest author, with one published comment."""
    file = path / "guest.json"
    file.write_text(
        '{"post": {"key": "guest-post", "title": "A guest\'s post", "author": "Guest", '
        '"email": "guest@example.net", "url": "https://blog.example.org/guest/", '
        '"published": "2020-01-01T00:00:00+00:00", "body": "..."}, "comments": []}'
    )
    return file


@pytest.mark.asyncio
async def test_only_a_moderator_of_the_post_sees_or_decides_its_spam(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await import_seed(settings)
    await import_seed(settings, guest_post(tmp_path))
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        theirs = await spam(daemon, "GuestBot", thread="guest-post")
        others = await spam(daemon, "AuthorBot")
        # No session: the sign-in form, and a POST is refused.
        async with aiohttp.ClientSession(cookie_jar=jar()) as nobody:
            async with nobody.get(url(daemon, "/moderate/spam")) as r:
                assert r.status == 200 and "Email me a sign-in link" in await r.text()
            form = {"csrf": "0" * 64, "action": "approve", "comment": str(others)}
            async with nobody.post(url(daemon, "/moderate/spam"), data=form) as r:
                assert r.status == 403 and "sign in again" in await r.text()
            where = URL(url(daemon, "/moderate"))
            nobody.cookie_jar.update_cookies({"mb_session": "forged"}, response_url=where)
            async with nobody.post(url(daemon, "/moderate/spam"), data=form) as r:
                assert r.status == 403
        async with aiohttp.ClientSession(cookie_jar=jar()) as guest:
            await signed_in(daemon, guest, "guest@example.net")
            page = await folder(guest, daemon)
            assert "<h1>Spam: 1 comment</h1>" in page and f'value="{theirs}"' in page
            assert "AuthorBot" not in page and f'value="{others}"' not in page
            _status, page = await act(guest, daemon, page, "approve", others)
            assert f"Comment {others}: deleted, or not on a post you moderate" in page
            _status, page = await act(guest, daemon, page, "delete", others, sure="yes")
            assert "Deleted for good: 0 comments." in page
        assert await status_of(daemon, others) == "spam"


@pytest.mark.asyncio
async def test_the_report_leads_to_the_folder(tmp_path: Path) -> None:
    async with started(tmp_path, spam={"report_hours": 0.0004}) as daemon:  # every 1.4 s
        await spam(daemon, "Reported")
        for _ in range(100):  # bounded wait for the report clock
            new = outbox_dir(daemon) / "new"
            raw = [p.read_bytes() for p in new.iterdir()] if new.exists() else []
            found = [r for r in raw if b"went to spam" in r]
            if found:
                break
            await asyncio.sleep(0.1)
        [report] = found
        base = daemon.settings.site.public_url.rstrip("/")
        assert f"{base}/moderate/spam".encode() in report
        assert b"Open the spam folder</a>" in report


@pytest.mark.asyncio
async def test_a_rescue_into_the_queue_sends_no_moderation_email(tmp_path: Path) -> None:
    """Not spam, to the queue: the moderator has just read it, and it waits on the queue
    page. A rescue before the day's spam report went into the next moderation digest
    ("1 new comment awaits moderation"), one after it did not."""
    moderation = {"mode": "digest", "digest_minutes": 0.02}  # every 1.2 s, for the test
    async with started(tmp_path, moderation=moderation, spam={"report_hours": 0}) as daemon:
        rescued = await spam(daemon, "Rescued", f"{SPAMMY} zebra")
        async with aiohttp.ClientSession(cookie_jar=jar()) as session:
            await signed_in(daemon, session)
            page = await folder(session, daemon)
            _status, page = await act(session, daemon, page, "pending", rescued)
            assert "Not spam: 1 comment back in the queue." in page
        await post_comment(daemon, parent=2, author="Later", body="Posted after the rescue.")
        for _ in range(100):  # bounded: until the digest that carries the later comment
            digests = [
                p.read_bytes()
                for p in (outbox_dir(daemon) / "new").iterdir()
                if b"moderation-digest" in p.read_bytes()
            ]
            if any(b"Posted after the rescue." in d for d in digests):
                break
            await asyncio.sleep(0.1)
        assert any(b"Posted after the rescue." in d for d in digests)
        assert not any(b"zebra" in d for d in digests)
        assert await status_of(daemon, rescued) == "pending"


@pytest.mark.asyncio
async def test_long_spam_is_paged_to_what_a_phone_loads(tmp_path: Path) -> None:
    """Nine robots' walls of text (20,000 characters each, the most a comment takes):
    the first page holds what fits 150,000 characters, Older spam the rest, and
    nothing is shown twice or left out."""
    limits = {"web_comments_per_ip_per_hour": 1000, "comments_per_thread_per_hour": 1000}
    async with started(tmp_path, limits=limits) as daemon:
        walls = []
        for n in range(9):
            body = f"{SPAMMY} wall{n} " + "spam " * 3990
            walls.append(await spam(daemon, f"Wall{n}", body[:20_000]))
        async with aiohttp.ClientSession(cookie_jar=jar()) as session:
            await signed_in(daemon, session)
            first = await folder(session, daemon)
            assert "<h1>Spam: 9 comments</h1>" in first
            older = re.search(r'href="(/moderate/spam\?before=\d+)"', first)
            assert older, "no link to older spam"
            second = await folder(session, daemon, older.group(1)[len("/moderate/spam") :])
        shown = [
            [cid for cid in walls if f'name="comment" value="{cid}"' in page]
            for page in (first, second)
        ]
        assert sorted(shown[0], reverse=True) == sorted(walls, reverse=True)[: len(shown[0])]
        assert 1 <= len(shown[0]) < 9 and sorted(shown[0] + shown[1]) == sorted(walls)
        assert "Older spam" not in second


@pytest.mark.asyncio
async def test_a_moderator_taken_out_of_the_settings_decides_nothing_here(
    tmp_path: Path,
) -> None:
    moderator = "helper@example.net"
    helped = make_settings(tmp_path, moderation={"moderators": [f"Helper <{moderator}>"]})
    await import_seed(helped)
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        async with running(helped, resolver=no_dmarc_zone()) as daemon:
            cid = await spam(daemon, "Kept")
            await signed_in(daemon, session, moderator)
            page = await folder(session, daemon)
            assert f'name="comment" value="{cid}"' in page
        # The operator takes them out of moderation.moderators and restarts.
        async with running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon:
            status, text = await act(session, daemon, page, "delete", cid, sure="yes")
            assert status == 403 and "Your session has ended" in text
            page = await folder(session, daemon)
            assert "Email me a sign-in link" in page and "Kept" not in page
            assert await status_of(daemon, cid) == "spam"


@pytest.mark.asyncio
async def test_an_undone_rescue_teaches_the_filter_nothing(daemon: Running) -> None:
    """A rescue tapped by mistake and undone on the queue page: the comment is back in
    the folder, where the filter put it by itself, and the filter knows what it knew
    before. The Undo taught it "spam", as if the author had marked it so (docs/spam.md:
    an undo forgets; the filter never learns from its own verdicts)."""
    mistake = await spam(daemon, "Mistake")
    before = await trained(daemon)
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        await signed_in(daemon, session)
        page = await folder(session, daemon)
        _status, page = await act(session, daemon, page, "approve", mistake)
        assert (await trained(daemon))["ham"] == before["ham"] + 1
        async with session.get(url(daemon, "/moderate")) as r:
            queue = await r.text()
        form = {"csrf": csrf(queue), "comment": str(mistake), "decision": undo_of(queue, mistake)}
        async with session.post(url(daemon, "/moderate/undo"), data=form) as r:
            assert "Undone: the comment is back where it was." in await r.text()
    assert await status_of(daemon, mistake) == "spam"
    assert await trained(daemon) == before
    sql = "SELECT comment_id FROM spam_trained_comments WHERE comment_id = ?"
    assert await db_rows(daemon, sql, mistake) == []


@pytest.mark.asyncio
async def test_the_reports_link_signs_in_to_the_folder(daemon: Running) -> None:
    """Opened signed out (a new phone, a session ended), the report's link showed the
    sign-in form, and its emailed link opened the queue, not the folder it was asked
    for."""
    cid = await spam(daemon, "Waiting")
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await folder(session, daemon)
        assert "Email me a sign-in link" in page and 'name="next" value="spam"' in page
        form = {"email": AUTHOR_EMAIL, "next": "spam"}
        async with session.post(url(daemon, "/moderate"), data=form) as r:
            assert r.status == 200 and "a sign-in link is on its way" in await r.text()
        [link] = await sign_in_links(daemon, AUTHOR_EMAIL)
        assert link.endswith("?next=spam")
        async with session.get(link) as r:
            assert r.status == 200 and "Sign in" in await r.text()
        async with session.post(link, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/moderate/spam"
        page = await folder(session, daemon)
        assert f'name="comment" value="{cid}"' in page
        # Anything else asked for after signing in is the queue, as before.
        form = {"email": AUTHOR_EMAIL, "next": "https://elsewhere.example/"}
        async with session.post(url(daemon, "/moderate"), data=form) as r:
            assert r.status == 200
        for _ in range(100):  # bounded wait for the second sign-in email
            links = await sign_in_links(daemon, AUTHOR_EMAIL)
            if len(links) == 2:
                break
            await asyncio.sleep(0.05)
        assert len(links) == 2 and [x.endswith("?next=spam") for x in links].count(True) == 1
