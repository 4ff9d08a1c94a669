"""A person's data (issue 11), end to end: a seed commenter gets a notification,
answers it by email, a bounce report names them; their data is exported (CLI), then
erased (admin API, "people" scope). Afterwards every column of every table of the
real database (SQLite's or PostgreSQL's, listed from the engine's own catalogue) is
searched for the address and its id: nothing is left, and their comments stay, by
"a former commenter"."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner
from flows import moderation_email, outbox_dir, reply_notification
from held import traces
from support import (
    db_rows,
    import_seed,
    make_settings,
    no_dmarc_zone,
    read_maildir,
    reply_address,
    reply_to_notification,
    smtp_send,
    until,
)

from mailbridge.app import Running, running
from mailbridge.cli import cli

READER = "reader002.4a549d@example.org"


async def mb(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), input, env)


def bounce_report(return_path: str, original_id: str) -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.org\r\nTo: {return_path}\r\n"
        "Message-ID: <dsn1@mx.example.org>\r\nSubject: Undelivered Mail\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; {READER}\r\nAction: failed\r\nStatus: 4.2.2\r\n"
        "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nTo: {READER}\r\n\r\n--b--\r\n"
    ).encode()


@pytest.mark.asyncio
async def test_export_then_erase_leaves_nothing_of_the_address(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    note = await reply_notification(daemon)  # Ann answered Reader 002; they are notified
    reply = reply_to_notification(note, "Thank you, Ann, that helps me a lot.")
    assert (await smtp_send(daemon, READER, reply_address(note), reply.as_bytes())).startswith(
        "250"
    )
    await moderation_email(daemon, "Reader 002", 3)
    [(return_path,)] = await db_rows(
        daemon, "SELECT mail_from FROM outbox WHERE kind = 'reply_notification'")  # fmt: skip
    [(address_id,)] = await db_rows(daemon, "SELECT id FROM addresses WHERE email = ?", READER)
    report = bounce_report(str(return_path), str(note["Message-ID"]))
    assert (await smtp_send(daemon, "", str(return_path), report)).startswith("250")

    data = ["--data-dir", str(daemon.settings.data_path)]
    before = json.loads((await mb("person", "export", READER, *data)).output)
    assert before["address"]["email"] == READER
    assert any("that helps me" in c["body"] for c in before["comments"])
    assert len(before["comments"]) >= 2 and before["subscriptions"]
    assert before["messages_received"] and before["emails_sent"] and before["bounces"]
    assert await traces(daemon, READER, address_id)  # the scan does find what is held

    made = await mb("token", "create", "--name", "privacy", "--scope", "people", *data)
    token = re.search(r"^(mbt_\S+)$", made.output, re.M)
    assert token
    host, port = daemon.http_address
    url = f"http://{host}:{port}/api/admin/people"
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    caplog.set_level(logging.INFO)
    async with aiohttp.ClientSession(headers=headers) as session:
        answers = []
        for email in (READER, "never-seen@example.org"):
            async with session.post(f"{url}/erase", json={"email": email}) as r:
                answers.append((r.status, await r.json()))
        # Held or not, the same answer: no probing of addresses.
        assert answers[0] == answers[1] == (202, {"status": "erased"})
        async with session.post(f"{url}/export", json={"email": READER}) as r:
            after = await r.json()
        async with session.get(
            f"http://{host}:{port}/api/threads/attachment-theory-healing-relationship/comments"
            "?per_page=100"
        ) as r:
            page = await r.text()
    assert after == {"address": None, "comments": [], "subscriptions": [],
                     "messages_received": [], "emails_sent": [], "bounces": [],
                     "mail_events": [], "trust": None, "akismet_checks": []}  # fmt: skip
    assert await traces(daemon, READER, address_id) == []
    assert READER not in caplog.text and "an erasure by token" in caplog.text
    # Their words stay in the conversation, by "a former commenter".
    kept = await db_rows(
        daemon, "SELECT author, body FROM comments WHERE body LIKE '%that helps me%'"
    )
    assert kept == [("a former commenter", "Thank you, Ann, that helps me a lot.")]
    assert "a former commenter" in page


@pytest.mark.asyncio
async def test_remove_mode_and_the_cli(daemon: Running) -> None:
    data = ["--data-dir", str(daemon.settings.data_path)]
    remove = {"MAILBRIDGE_PRIVACY_ERASED_COMMENTS": "remove"}
    refused = await mb("person", "erase", READER, *data, input="n\n", env=remove)
    assert refused.exit_code == 1  # asked, and answered no: nothing done
    erased = await mb("person", "erase", READER, "--yes", *data, env=remove)
    assert erased.exit_code == 0 and "comments removed" in erased.output
    assert READER not in erased.output
    rows = await db_rows(
        daemon, "SELECT author, body, status FROM comments WHERE author = 'a former commenter'"
    )
    assert rows and all(r == ("a former commenter", "", "rejected") for r in rows)
    nothing = await mb("person", "erase", "nobody@example.org", "--yes", *data)
    assert "Erased: nothing held." in nothing.output


@pytest.mark.asyncio
async def test_a_person_erases_their_data_themselves_through_a_link(daemon: Running) -> None:
    from support import local, text_body

    note = await reply_notification(daemon)
    assert f"{daemon.settings.site.public_url}/privacy" in text_body(note)  # every footer
    host, port = daemon.http_address
    base = f"http://{host}:{port}"
    async with aiohttp.ClientSession() as session:
        answers = []
        for email in (READER, "stranger@example.org"):
            async with session.post(f"{base}/privacy", data={"email": email}) as r:
                answers.append((r.status, await r.text()))
        assert answers[0] == answers[1] and "a link is on its way" in answers[0][1]
        links: list[str] = []
        for _ in range(200):  # bounded wait for the worker
            mails = [m for m in read_maildir(outbox_dir(daemon)) if "Your data" in m["Subject"]]
            links = re.findall(r"(http\S+/privacy/[\w-]+)", "".join(text_body(m) for m in mails))
            if links:
                break
            await asyncio.sleep(0.05)
        assert len(mails) == 1 and str(mails[0]["To"]).endswith(READER)  # only the held one
        link = local(links[0], daemon.http_address)
        async with session.get(link) as r:
            page = await r.text()
            assert r.status == 200 and "Download all of it" in page
            assert r.headers["Referrer-Policy"] == "no-referrer"
        async with session.get(link + "/export.json") as r:
            held = json.loads(await r.text())
            assert "attachment" in r.headers["Content-Disposition"]
        assert held["address"]["email"] == READER and held["comments"]
        async with session.post(link + "/erase", data={}) as r:
            assert r.status == 400  # the box was not ticked: nothing erased
        async with session.post(link + "/erase", data={"confirm": "yes"}) as r:
            assert r.status == 200 and "Erased" in await r.text()
        async with session.get(link) as r:
            assert "Nothing is held" in await r.text()
        async with session.get(link.rsplit("/", 1)[0] + "/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") as r:
            assert r.status == 403
    assert await db_rows(daemon, "SELECT count(*) FROM addresses WHERE email = ?", READER) == [(0,)]


@pytest.mark.asyncio
async def test_privacy_links_are_limited_per_address_from_any_number_of_clients(
    tmp_path: Path,
) -> None:
    # Behind a trusted proxy, each request from another client address (a botnet): the
    # per-client limit alone let anyone flood a commenter's inbox with these links.
    behind = make_settings(tmp_path, http={"trusted_proxies": ["127.0.0.1"]})
    await import_seed(behind)
    answers: dict[str, list[int]] = {READER: [], "stranger@example.org": []}
    async with (
        running(behind, resolver=no_dmarc_zone()) as daemon,
        aiohttp.ClientSession() as session,
    ):
        host, port = daemon.http_address
        for n, email in enumerate([READER, "stranger@example.org"] * 7):
            headers = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
            async with session.post(
                f"http://{host}:{port}/privacy", data={"email": email}, headers=headers
            ) as r:
                answers[email].append(r.status)
                if r.status == 429:
                    assert "use the latest one that arrived" in await r.text()
        # The same answers for a commenter and for anyone: nobody learns who is held.
        assert answers[READER] == answers["stranger@example.org"] == [200] * 5 + [429] * 2

        def links() -> int:
            return sum("Your data" in m["Subject"] for m in read_maildir(outbox_dir(daemon)))

        async def five() -> bool:
            return links() >= 5

        await until("five privacy links", five)
        await asyncio.sleep(0.3)  # nothing more on its way
        assert links() == 5


@pytest.mark.asyncio
async def test_a_refused_reply_is_logged_without_its_senders_address(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """The logs (journald, a collector) are out of an erasure's reach: a reply refused
    (here an out-of-office answer) named its sender in full, as no other refusal does."""
    note = await reply_notification(daemon)
    away = reply_to_notification(note, "I am away until Monday.")
    away["Auto-Submitted"] = "auto-replied"
    caplog.set_level(logging.INFO, logger="mailbridge")
    answer = await smtp_send(daemon, READER, reply_address(note), away.as_bytes())
    assert answer.startswith("250"), answer
    [(inbound_id, status)] = await db_rows(
        daemon, "SELECT id, status FROM inbound_messages WHERE message_id = ?",
        "<reply-1@client.example>",
    )  # fmt: skip
    assert status == "dropped"
    line = next(r.getMessage() for r in caplog.records if f"inbound {inbound_id} " in r.getMessage()
                and " from <" in r.getMessage())  # fmt: skip
    assert "from <***@example.org>" in line
    assert READER not in caplog.text


@pytest.mark.sqlite_only("SQLite's own files; PostgreSQL's are the server's (autovacuum)")
@pytest.mark.asyncio
async def test_the_database_files_keep_no_copy_of_an_erased_address(daemon: Running) -> None:
    """While the daemon ran, the write-ahead log next to the database kept the pages as
    they were before an erasure, the address in them, for any copy of the data
    directory to take. Read raw, after one erasure by the daemon (admin API) and one
    by the command: neither address is anywhere in the files."""
    await reply_notification(daemon)  # Ann answered Reader 002, who was notified
    data = ["--data-dir", str(daemon.settings.data_path)]
    made = await mb("token", "create", "--name", "privacy", "--scope", "people", *data)
    token = re.search(r"^(mbt_\S+)$", made.output, re.M)
    assert token
    host, port = daemon.http_address
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.post(f"http://{host}:{port}/api/admin/people/erase", json={"email": READER}) as r,
    ):
        assert r.status == 202
    erased = await mb("person", "erase", "ann@example.com", "--yes", *data)
    assert erased.exit_code == 0, erased.output

    files = [p for p in sorted(daemon.settings.data_path.iterdir()) if p.is_file()]
    assert any(p.name.endswith("-wal") for p in files)  # the daemon still runs
    for address in (READER, "ann@example.com"):
        assert [p.name for p in files if address.encode() in p.read_bytes()] == []
