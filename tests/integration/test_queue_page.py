"""The /moderate queue page (issue 10): sign-in by emailed link, a hashed, revocable
session cookie, CSRF on every form, several comments decided at once. Real daemon,
real HTTP client with its cookie jar, real Maildir."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from flows import (
    csrf,
    follow,
    jar,
    moderation_email,
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
    FakeClock,
    db_rows,
    db_value,
    import_seed,
    local,
    make_settings,
    moderation_links,
    no_dmarc_zone,
    until,
    wait_for_mail,
)
from yarl import URL

from mailbridge.app import Running, running
from mailbridge.cli import cli


async def mb(*args: str, env: dict[str, str] | None = None) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


@pytest.mark.asyncio
async def test_a_moderator_signs_in_by_email_and_approves_several(daemon: Running) -> None:
    ids = [await post_comment(daemon, parent=2, body=f"Pending number {n}.") for n in range(3)]
    await moderation_email(daemon, "Ann", 3)
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
        assert "3 comments waiting" in page and "Signed in as author@example.org" in page
        assert all(f'value="{i}"' in page for i in ids)
        form = [("csrf", csrf(page)), ("action", "approve"), ("comment", str(ids[0])),
                ("comment", str(ids[2]))]  # fmt: skip
        async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
            assert r.status == 200 and "Done: 2 comments approved." in await r.text()
            page = await r.text()
        assert "1 comment waiting" in page and f'value="{ids[1]}"' in page
        # Without the CSRF token (a forged cross-site form) nothing happens.
        async with session.post(
            url(daemon, "/moderate/decide"),
            data=[("action", "spam"), ("comment", str(ids[1]))],
        ) as r:
            assert r.status == 403
    listed = await mb("comment", str(ids[0]), "--data-dir", str(daemon.settings.data_path))
    assert re.search(r"pending\s+approved\s+author@example.org\s+queue", listed.output)


@pytest.mark.asyncio
async def test_anyone_else_gets_the_same_answer_and_no_email(daemon: Running) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        async with session.post(url(daemon, "/moderate"), data={"email": "who@example.net"}) as r:
            assert r.status == 200 and "a sign-in link is on its way" in await r.text()
        # The moderator's, for the same checks to find (they can fail).
        async with session.post(url(daemon, "/moderate"), data={"email": AUTHOR_EMAIL}) as r:
            assert r.status == 200 and "a sign-in link is on its way" in await r.text()
    await asyncio.sleep(0.3)
    # A sign-in email is queued in the transaction the answer waits for: none to this
    # address, queued or sent; then none in the Maildir (a row is marked sent after
    # its email is there). sign_in_links waited 10 s here for a link never to come.
    to = "SELECT kind FROM outbox WHERE rcpt_to = ?"
    assert await db_rows(daemon, to, "who@example.net") == []
    assert await db_rows(daemon, to, AUTHOR_EMAIL) == [("moderator_login",)]
    assert [str(m["To"]) for m in await wait_for_mail(outbox_dir(daemon), 1)] == [AUTHOR_EMAIL]


@pytest.mark.asyncio
async def test_sessions_are_listed_and_revoked(daemon: Running) -> None:
    data = ["--data-dir", str(daemon.settings.data_path)]
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        await signed_in(daemon, session)
        listed = await mb("sessions", "list", *data)
        assert "active   author@example.org" in listed.output
        session_id = listed.output.split()[0]
        ended = await mb("sessions", "revoke", session_id, *data)
        assert "1 session ended." in ended.output
        async with session.get(url(daemon, "/moderate")) as r:
            assert "Email me a sign-in link" in await r.text()  # signed out
    assert "revoked" in (await mb("sessions", "list", *data)).output


@pytest.mark.asyncio
async def test_a_forged_sign_in_link_is_refused(daemon: Running) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        async with session.post(
            url(daemon, "/moderate/signin/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        ) as r:
            assert r.status == 403
        async with session.get(url(daemon, "/moderate")) as r:
            assert "Email me a sign-in link" in await r.text()


@pytest.mark.asyncio
async def test_decisions_are_undone_from_the_queue_page(daemon: Running) -> None:
    approved = await post_comment(daemon, parent=2, body="Approve me, then think again.")
    spammed = await post_comment(
        daemon, author="Spammer", body="Check out my channel!!! http://spam.example subscribe"
    )
    await moderation_email(daemon, "Ann")
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
        # The spam folder's automatic decision is listed too, for a rescue.
        assert "Decided in the last 30 days" in page and "marked as spam" in page
        assert "automatically" in page
        form = [("csrf", csrf(page)), ("action", "approve"), ("comment", str(approved))]
        async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
            page = await r.text()
        assert page.count("Undo: back to pending") == 2
        undo = {"csrf": csrf(page), "comment": str(approved), "decision": undo_of(page, approved)}
        async with session.post(url(daemon, "/moderate/undo"), data=undo) as r:
            assert r.status == 200
            page = await r.text()
        assert "Undone: the comment is back where it was." in page
        assert f'name="comment" value="{approved}"' in page  # pending again, in the queue
        async with session.post(url(daemon, "/moderate/undo"), data=undo) as r:
            page = await r.text()  # pressed twice: it worked, nothing more changed
            assert "Already undone" in page and "Not undone" not in page
        rescue = {"csrf": csrf(page), "comment": str(spammed), "decision": undo_of(page, spammed)}
        async with session.post(url(daemon, "/moderate/undo"), data=rescue) as r:
            assert "Undone" in await r.text()
        async with session.post(url(daemon, "/moderate/undo"), data={"comment": "1"}) as r:
            assert r.status == 403  # no CSRF token
        async with session.post(
            url(daemon, "/moderate/undo"), data={"csrf": csrf(page), "comment": "x"}
        ) as r:
            assert r.status == 400
    data = ["--data-dir", str(daemon.settings.data_path)]
    shown = await mb("comment", str(spammed), *data)
    assert re.search(r"spam\s+pending\s+author@example.org\s+queue", shown.output)


@pytest.mark.asyncio
async def test_select_all_leaves_alone_what_was_decided_since_the_page_loaded(
    daemon: Running,
) -> None:
    ann = await post_comment(daemon, parent=2, body="Ann waits.")
    bob = await post_comment(daemon, author="Bob", email="bob@example.com", body="Bob waits.")
    cid = await post_comment(daemon, author="Cid", email="cid@example.com", body="Cid waits.")
    bobs = await moderation_email(daemon, "Bob", 3)
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
        assert "3 comments waiting" in page
        # While the page is open, Bob's comment is marked as spam from its email.
        status, _ = await follow(daemon, moderation_links(bobs)["spam"], "POST")
        assert status == 200
        form = [("csrf", csrf(page)), ("action", "approve")]
        form += [("comment", str(i)) for i in (ann, bob, cid)]  # "Select all"
        async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
            page = await r.text()
        assert "Done: 2 comments approved." in page
        assert "Left as it was, decided since the page was loaded:" in page
        assert "<li><strong><bdi>Bob</bdi></strong> on “<bdi>" in page
        assert "</bdi>”: marked as spam</li>" in page
        # The same form sent again (a reload, a double tap) changes nothing more.
        async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
            again = await r.text()
        assert "Done: 0 comments approved." in again and "Left as they were" in again
        assert again.count("”: approved</li>") == 2
    assert await db_value(daemon, "SELECT status FROM comments WHERE id = ?", bob) == "spam"
    assert await db_value(daemon, "SELECT status FROM comments WHERE id = ?", cid) == "approved"
    spam_then = await db_value(
        daemon, "SELECT count(*) FROM moderation_decisions WHERE comment_id = ?", bob
    )
    assert spam_then == 1  # the link's decision only


@pytest.mark.asyncio
async def test_a_moderator_taken_out_of_the_settings_is_signed_out(tmp_path: Path) -> None:
    moderator = "helper@example.net"
    helped = make_settings(tmp_path, moderation={"moderators": [f"Helper <{moderator}>"]})
    await import_seed(helped)
    data = ["--data-dir", str(helped.data_path)]
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        async with running(helped, resolver=no_dmarc_zone()) as daemon:
            ids = [await post_comment(daemon, parent=2, body=f"Pending {n}.") for n in range(2)]
            page = await signed_in(daemon, session, moderator)
            assert "2 comments waiting" in page
            form = [("csrf", csrf(page)), ("action", "spam")]
            form += [("comment", str(i)) for i in ids]
            # Their sign-in link still within its 15 minutes, opened once removed.
            [link] = await sign_in_links(daemon, moderator)
            configured = {"MAILBRIDGE_MODERATION_MODERATORS": moderator}
            listed = await mb("sessions", "list", *data, env=configured)
            assert f"active   {moderator}" in listed.output
        # Taken out of the settings: listed so before they come back.
        listed = await mb("sessions", "list", *data)
        assert f"removed  {moderator}" in listed.output
        # The operator takes them out of moderation.moderators and restarts.
        async with running(make_settings(tmp_path), resolver=no_dmarc_zone()) as daemon:
            async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
                assert r.status == 403 and "Your session has ended" in await r.text()
            async with session.get(url(daemon, "/moderate")) as r:
                assert "Email me a sign-in link" in await r.text()
            async with session.post(local(link, daemon.http_address)) as r:
                assert r.status == 403 and "no longer moderates" in await r.text()
            async with session.get(url(daemon, "/moderate")) as r:
                assert "Email me a sign-in link" in await r.text()
            for comment_id in ids:
                status = await db_value(
                    daemon, "SELECT status FROM comments WHERE id = ?", comment_id
                )
                assert status == "pending"
            listed = await mb("sessions", "list", "--data-dir", str(daemon.settings.data_path))
            assert f"revoked  {moderator}" in listed.output


@pytest.mark.asyncio
async def test_sign_in_emails_are_limited_per_address_from_any_number_of_clients(
    tmp_path: Path,
) -> None:
    # Behind a proxy (trusted), each request from another client address: a botnet.
    behind = make_settings(tmp_path, http={"trusted_proxies": ["127.0.0.1"]})
    await import_seed(behind)
    answers: dict[str, list[int]] = {AUTHOR_EMAIL: [], "nobody@example.net": []}
    async with (
        running(behind, resolver=no_dmarc_zone()) as daemon,
        aiohttp.ClientSession() as session,
    ):
        for n, email in enumerate([AUTHOR_EMAIL, "nobody@example.net"] * 7):
            headers = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
            async with session.post(
                url(daemon, "/moderate"), data={"email": email}, headers=headers
            ) as r:
                answers[email].append(r.status)
                if r.status == 429:
                    assert "use the latest one that arrived" in await r.text()
        # The same answers for a moderator and for anyone: nobody learns who moderates.
        assert answers[AUTHOR_EMAIL] == answers["nobody@example.net"] == [200] * 5 + [429] * 2

        async def five() -> bool:
            return len(await sign_in_links(daemon, AUTHOR_EMAIL)) >= 5

        await until("five sign-in emails", five)
        await asyncio.sleep(0.3)  # nothing more on its way
        assert len(await sign_in_links(daemon, AUTHOR_EMAIL)) == 5


BOX = 'type="checkbox" name="comment" value='  # a comment of the queue's form


def spam_wave(path: Path, count: int) -> Path:
    """An import file of ``count`` pending comments of 2,000 characters each."""
    words = "Cheap watches and loans, visit my page for the best offers today. "
    document = {
        "post": {"key": "wave", "title": "A post a spam wave found", "author": "Author",
                 "email": AUTHOR_EMAIL, "url": "https://blog.example.org/wave/",
                 "published": "2020-01-01T00:00:00+00:00", "body": "..."},
        "comments": [
            {"id": n + 1, "parent": None, "author": f"Seller {n}",
             "email": f"s{n}@example.net", "created": f"2021-01-01T{n // 3600:02d}:"
             f"{n // 60 % 60:02d}:{n % 60:02d}+00:00", "status": "pending",
             "body": f"Offer {n}. " + (words * 40)[:2000]}
            for n in range(count)
        ],
    }  # fmt: skip
    file = path / "wave.json"
    file.write_text(json.dumps(document))
    return file


@pytest.mark.asyncio
async def test_three_thousand_waiting_are_counted_and_paged_for_a_phone(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await import_seed(settings)
    await import_seed(settings, spam_wave(tmp_path, 3000))
    async with (
        running(settings, resolver=no_dmarc_zone()) as daemon,
        aiohttp.ClientSession(cookie_jar=jar()) as session,
    ):
        page = await signed_in(daemon, session)
        assert "<h1>3,000 comments waiting</h1>" in page
        assert "The oldest 50 are below; the next ones appear as these are decided." in page
        assert page.count(BOX) == 50 and "Select all 50 shown</label>" in page
        assert len(page.encode()) < 400_000  # not 200 bodies: megabytes on a phone
        shown = re.findall(BOX + '"([0-9]+)"', page)
        form = [("csrf", csrf(page)), ("action", "spam"), *(("comment", i) for i in shown)]
        async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
            page = await r.text()
        assert "Done: 50 comments marked as spam." in page
        assert "<h1>2,950 comments waiting</h1>" in page
        assert not set(shown) & set(re.findall(BOX + '"([0-9]+)"', page))


@pytest.mark.asyncio
async def test_a_session_is_last_seen_when_the_queue_is_last_opened(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await import_seed(settings)
    clock = FakeClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    data = ["--data-dir", str(settings.data_path)]
    async with (
        running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon,
        aiohttp.ClientSession(cookie_jar=jar()) as session,
    ):
        await signed_in(daemon, session)
        clock.advance(3 * 3600)  # the moderator looks at the queue later, decides nothing
        async with session.get(url(daemon, "/moderate")) as r:
            assert "comments waiting" in await r.text()
        listed = (await mb("sessions", "list", *data)).output
        assert "since 2026-03-02T08:00  last seen 2026-03-02T11:00" in listed


@pytest.mark.asyncio
async def test_a_sign_in_link_opens_one_session(daemon: Running) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as phone:
        await signed_in(daemon, phone)
        [link] = await sign_in_links(daemon, AUTHOR_EMAIL)
        async with phone.post(link) as r:  # a double tap: the queue, as it was
            assert r.status == 200 and "comments waiting" in await r.text()
    # Whoever has the link next (a forwarded email, a shared computer's history).
    async with aiohttp.ClientSession(cookie_jar=jar()) as other:
        async with other.post(link, allow_redirects=False) as r:
            assert r.status == 403 and "This sign-in link was used already" in await r.text()
            assert "Set-Cookie" not in r.headers
        async with other.get(url(daemon, "/moderate")) as r:
            assert "Email me a sign-in link" in await r.text()
    listed = await mb("sessions", "list", "--data-dir", str(daemon.settings.data_path))
    assert len(listed.output.splitlines()) == 1 and "active   author@example.org" in listed.output


@pytest.mark.asyncio
async def test_the_access_log_holds_no_link_token(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailbridge.http.access")
    await post_comment(daemon, parent=2, body="Log me.")
    links = moderation_links(await moderation_email(daemon, "Ann"))
    assert (await follow(daemon, links["approve"]))[0] == 200
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        await signed_in(daemon, session)
        [signin] = await sign_in_links(daemon, AUTHOR_EMAIL)
    lines = [r.getMessage() for r in caplog.records if r.name == "mailbridge.http.access"]
    tokens = [link.rsplit("/", 1)[1] for link in (signin, links["approve"])]
    assert lines and not [line for line in lines if any(t in line for t in tokens)]
    assert sum('"GET /moderate/signin/*** HTTP/1.1" 200' in line for line in lines) == 1
    assert sum('"POST /moderate/signin/*** HTTP/1.1" 303' in line for line in lines) == 1
    assert sum('"GET /moderate/*** HTTP/1.1" 200' in line for line in lines) == 1
    assert sum('"GET /moderate HTTP/1.1" 200' in line for line in lines) == 1


@pytest.mark.asyncio
async def test_the_cookie_is_secure_when_the_site_is_https_whatever_the_headers(
    tmp_path: Path,
) -> None:
    behind = make_settings(tmp_path, site={"public_url": "https://comments.example.org"})
    await import_seed(behind)
    async with (
        running(behind, resolver=no_dmarc_zone()) as daemon,
        aiohttp.ClientSession(cookie_jar=jar()) as session,
    ):
        async with session.post(url(daemon, "/moderate"), data={"email": AUTHOR_EMAIL}) as r:
            assert r.status == 200
        [link] = await sign_in_links(daemon, AUTHOR_EMAIL)
        # The proxy's header, or a client's, changes nothing: public_url decides.
        headers = {"X-Forwarded-Proto": "http"}
        async with session.post(link, headers=headers, allow_redirects=False) as r:
            cookie = r.headers["Set-Cookie"]
        assert "; Secure" in cookie and "HttpOnly" in cookie and "Path=/moderate" in cookie


@pytest.mark.sqlite_only("holds SQLite's database-wide write lock from a second connection")
@pytest.mark.asyncio
async def test_the_queue_can_be_read_while_the_database_takes_no_writes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, database_busy_timeout_seconds=0.5)
    await import_seed(settings)
    clock = FakeClock()
    async with (
        running(settings, clock=clock, resolver=no_dmarc_zone()) as daemon,
        aiohttp.ClientSession(cookie_jar=jar()) as session,
    ):
        await post_comment(daemon, parent=2, body="Readable while locked.")
        await signed_in(daemon, session)
        clock.advance(3600)  # last seen an hour ago: this view would record it
        other = sqlite3.connect(
            settings.database_path, isolation_level=None, check_same_thread=False
        )
        try:
            await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")  # a backup, say
            async with session.get(url(daemon, "/moderate")) as r:
                assert r.status == 200 and "1 comment waiting" in await r.text()
        finally:
            other.execute("ROLLBACK")
            other.close()


@pytest.mark.asyncio
async def test_a_moderator_at_an_intranet_address_signs_in(tmp_path: Path) -> None:
    # The settings take such an address (its domain need not be deliverable from the
    # internet): the sign-in form must too, and answers the same for anyone's.
    inside = make_settings(tmp_path, moderation={"moderators": ["Ops <ops@intranet>"]})
    await import_seed(inside)
    async with (
        running(inside, resolver=no_dmarc_zone()) as daemon,
        aiohttp.ClientSession(cookie_jar=jar()) as session,
    ):
        async with session.post(url(daemon, "/moderate"), data={"email": "who@elsewhere"}) as r:
            assert r.status == 200 and "a sign-in link is on its way" in await r.text()
        page = await signed_in(daemon, session, "ops@intranet")
        assert "Signed in as ops@intranet." in page


@pytest.mark.sqlite_only("holds SQLite's database-wide write lock from a second connection")
@pytest.mark.asyncio
async def test_an_error_line_holds_no_link_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, database_busy_timeout_seconds=0.5)
    await import_seed(settings)
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        await post_comment(daemon, parent=2, body="Approve me while it is locked.")
        approve = moderation_links(await moderation_email(daemon, "Ann"))["approve"]
        other = sqlite3.connect(
            settings.database_path, isolation_level=None, check_same_thread=False
        )
        try:
            await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
            assert (await follow(daemon, approve, "POST"))[0] == 503
        finally:
            other.execute("ROLLBACK")
            other.close()
    # The request's line (the delivery worker, polling meanwhile, may log its own).
    [line] = [
        r.getMessage()
        for r in caplog.records
        if r.name == "mailbridge.web.middleware" and "cannot take writes" in r.getMessage()
    ]
    assert line.startswith("HTTP POST /moderate/***: database cannot take writes")
    assert approve.rsplit("/", 1)[1] not in caplog.text


@pytest.mark.asyncio
async def test_sign_out_needs_the_form_and_ends_the_session_at_once(daemon: Running) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
        cookie = session.cookie_jar.filter_cookies(URL(url(daemon, "/moderate")))
        # A cross-site form (no CSRF token) cannot sign anyone out.
        async with session.post(url(daemon, "/moderate/signout")) as r:
            assert r.status == 403
        async with session.post(url(daemon, "/moderate/signout"), data={"csrf": csrf(page)}) as r:
            assert r.status == 200 and "Email me a sign-in link" in await r.text()
    # The cookie itself, kept by a copy of the browser's profile, opens nothing now.
    async with aiohttp.ClientSession(cookie_jar=jar()) as copy:
        copy.cookie_jar.update_cookies(cookie)
        async with copy.get(url(daemon, "/moderate")) as r:
            assert "Email me a sign-in link" in await r.text()
        form = {"csrf": csrf(page), "action": "approve", "comment": "1"}
        async with copy.post(url(daemon, "/moderate/decide"), data=form) as r:
            assert r.status == 403 and "Your session has ended" in await r.text()


@pytest.mark.asyncio
async def test_an_ipv6_client_is_counted_by_its_network(tmp_path: Path) -> None:
    # One /64 (a home, a phone, a rented server) holds 2^64 addresses to pick from.
    behind = make_settings(tmp_path, http={"trusted_proxies": ["127.0.0.1"]})
    await import_seed(behind)
    statuses = []
    async with (
        running(behind, resolver=no_dmarc_zone()) as daemon,
        aiohttp.ClientSession() as session,
    ):
        for n in range(12):
            client = "2001:db8:1:2::1" if n == 11 else f"2001:db8:1:1::{n + 1:x}"
            form = {"email": f"someone{n}@example.net"}
            headers = {"X-Forwarded-For": client}
            async with session.post(url(daemon, "/moderate"), data=form, headers=headers) as r:
                statuses.append(r.status)
    # Ten from the first /64, then refused; another /64 is another client.
    assert statuses == [200] * 10 + [429, 200]


def guest_post(path: Path) -> Path:
    """An import file: a post by a guest author, with one published comment."""
    document = {
        "post": {"key": "guest-post", "title": "A guest's post", "author": "Guest",
                 "email": "guest@example.net", "url": "https://blog.example.org/guest/",
                 "published": "2020-01-01T00:00:00+00:00", "body": "..."},
        "comments": [{"id": 1, "parent": None, "author": "Reader", "email": "r@example.org",
                      "created": "2020-01-02T00:00:00+00:00", "body": "Nice."}],
    }  # fmt: skip
    file = path / "guest.json"
    file.write_text(json.dumps(document))
    return file


@pytest.mark.asyncio
async def test_a_thread_author_moderates_their_own_threads_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await import_seed(settings)
    await import_seed(settings, guest_post(tmp_path))
    async with running(settings, resolver=no_dmarc_zone()) as daemon:
        theirs = await post_comment(daemon, "guest-post", body="On the guest's post.")
        others = await post_comment(daemon, parent=2, body="On the author's post: not for guests.")
        await post_comment(daemon, author="Bob", email="bob@example.com", body="Bob's words.")
        bobs = moderation_links(await moderation_email(daemon, "Bob", 3))
        assert (await follow(daemon, bobs["reject"], "POST"))[0] == 200
        async with aiohttp.ClientSession(cookie_jar=jar()) as guest:
            page = await signed_in(daemon, guest, "guest@example.net")
            assert "<h1>1 comment waiting</h1>" in page
            assert f'value="{theirs}"' in page and "On the guest" in page
            assert "not for guests" not in page and f'value="{others}"' not in page
            assert "Bob" not in page  # nor the decisions about the author's post
            # A form naming a comment on someone else's post changes nothing.
            form = [("csrf", csrf(page)), ("action", "spam"), ("comment", str(others))]
            async with guest.post(url(daemon, "/moderate/decide"), data=form) as r:
                page = await r.text()
            assert "Done: 0 comments marked as spam." in page and "not for guests" not in page
            assert f"Comment {others}: deleted, or not on a post you moderate" in page
            undo = {"csrf": csrf(page), "comment": str(others)}
            async with guest.post(url(daemon, "/moderate/undo"), data=undo) as r:
                assert r.status == 403 and "not on a post you moderate" in await r.text()
        async with aiohttp.ClientSession(cookie_jar=jar()) as author:
            page = await signed_in(daemon, author)
            assert "<h1>1 comment waiting</h1>" in page and f'value="{others}"' in page
        status = await db_value(daemon, "SELECT status FROM comments WHERE id = ?", others)
        assert status == "pending"


@pytest.mark.asyncio
async def test_an_undo_from_a_page_loaded_before_another_decision_changes_nothing(
    daemon: Running,
) -> None:
    """The queue page shows an approval with Undo; meanwhile a co-moderator rejects the
    comment by link. The Undo pressed on the old page must not put the rejected comment
    back on the page (it used to undo whatever was latest: the rejection)."""
    cid = await post_comment(daemon, parent=2, body="Approved here, rejected there.")
    links = moderation_links(await moderation_email(daemon, "Ann"))
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
        form = [("csrf", csrf(page)), ("action", "approve"), ("comment", str(cid))]
        async with session.post(url(daemon, "/moderate/decide"), data=form) as r:
            page = await r.text()
        undo = {"csrf": csrf(page), "comment": str(cid), "decision": undo_of(page, cid)}
        status, _ = await follow(daemon, links["reject"], "POST")
        assert status == 200
        async with session.post(url(daemon, "/moderate/undo"), data=undo) as r:
            assert r.status == 200
            assert "Not undone" in await r.text()
        # A form without the decision (a page from before it was named) undoes nothing.
        del undo["decision"]
        async with session.post(url(daemon, "/moderate/undo"), data=undo) as r:
            assert "Not undone" in await r.text()
    listed = await mb("comment", str(cid), "--data-dir", str(daemon.settings.data_path))
    assert "status      rejected" in listed.output
    host, port = daemon.http_address
    _status, thread_page = await follow(daemon, f"http://{host}:{port}/threads/{THREAD}")
    assert "Approved here, rejected there." not in thread_page


@pytest.mark.asyncio
async def test_older_decisions_are_reached_past_the_first_fifty(daemon: Running) -> None:
    """After a spam run (or a busy day), the author's own approval of yesterday was past
    the list's first 50 decisions and could not be undone from the queue page."""
    from mailbridge.models import Channel, Decider
    from mailbridge.tokens import Action

    cid = await post_comment(daemon, parent=2, body="Approved before the flood.")
    await moderation_email(daemon, "Ann")
    cli = Decider(Channel.CLI, None)
    await daemon.service.moderate(cid, Action.APPROVE, cli)
    for seed in range(3, 53):  # 50 newer decisions
        await daemon.service.moderate(seed, Action.REJECT, cli)
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
        assert page.count("Undo: back to") == 50
        assert f'name="comment" value="{cid}"><input type="hidden" name="decision"' not in page
        older = re.search(
            r'<a [^>]*href="(/moderate\?before=\d+)#decided">Older decisions</a>', page
        )
        assert older is not None
        async with session.get(url(daemon, older.group(1))) as r:
            page = await r.text()
        assert page.count("Undo: back to") == 1 and ">Older decisions</a>" not in page
        undo = {"csrf": csrf(page), "comment": str(cid), "decision": undo_of(page, cid)}
        async with session.post(url(daemon, "/moderate/undo"), data=undo) as r:
            assert "Undone: the comment is back where it was." in await r.text()
        async with session.get(url(daemon, "/moderate?before=x")) as r:
            assert r.status == 200  # a hand-made page number is the first page


@pytest.mark.asyncio
async def test_the_queue_page_says_what_looks_private_and_the_thread_does_not(
    daemon: Running,
) -> None:
    held = await post_comment(daemon, parent=2, body="Call me on 0151 496 0123, any time.")
    await moderation_email(daemon, "Ann")
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
        assert f'value="{held}"' in page
        assert "<strong>Held:</strong> it may reveal personal details: a phone number" in page
        async with session.get(url(daemon, "/threads/attachment-theory-healing-relationship")) as r:
            public = await r.text()
    assert "personal details" not in public and "0151 496 0123" not in public


@pytest.mark.asyncio
async def test_an_imported_pending_comment_that_looks_private_says_so(
    daemon: Running, tmp_path: Path
) -> None:
    # Comments waiting in the old system come in pending, with no moderation email:
    # the queue page is where they are decided, so it must say what it says of others.
    export = {
        "post": {"key": "moved-here", "title": "Moved here", "author": "Joseph Burgo",
                 "email": AUTHOR_EMAIL, "url": "https://blog.example.org/moved-here/"},
        "comments": [
            {"id": 1, "parent": None, "author": "Bea", "email": "bea@example.net",
             "created": "2020-01-02T03:04:05+00:00", "status": "pending",
             "body": "Thank you. Ring me on 0151 496 0123 if you like."},
            {"id": 2, "parent": None, "author": "Cy", "email": "cy@example.net",
             "created": "2020-01-02T03:04:06+00:00", "status": "pending",
             "body": "A plain remark."},
        ],
    }  # fmt: skip
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    result = await mb("import", "--data-dir", str(daemon.settings.data_path), str(path))
    assert result.exit_code == 0, result.output
    await post_comment(daemon, parent=2, body="A new one, to sign in by.")
    await moderation_email(daemon, "Ann")
    async with aiohttp.ClientSession(cookie_jar=jar()) as session:
        page = await signed_in(daemon, session)
    cards = page.split('class="card"')
    [bea] = [c for c in cards if "Ring me on" in c]
    [cy] = [c for c in cards if "A plain remark." in c]
    assert "<strong>Held:</strong> it may reveal personal details: a phone number" in bea
    assert 'data-private="1"' in bea and "Held:" not in cy
