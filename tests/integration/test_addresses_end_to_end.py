"""Addresses through the running daemon (issue 8, finding 2): what the web accepts, the
bytes and envelopes of mail to internationalised addresses (Maildir and a real SMTP
relay), SMTPUTF8, and bad addresses already in a database never blocking a thread."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import pytest
from click.testing import CliRunner
from delivery.sinks import WatchingSink, serving, wait_until
from flows import approve, follow, moderation_email, outbox_dir, post_comment
from support import THREAD, db_rows, parse, started, text_body
from wire import field, header_block, mailbox

from mailbridge.addresses import NON_ASCII_LOCAL_PART, InvalidAddress, normalise
from mailbridge.app import Running
from mailbridge.cli import cli

IDN = "ann@exämple.org"
IDN_ASCII = "ann@xn--exmple-cua.org"  # "exämple".encode("idna") == b"xn--exmple-cua"


async def post(daemon: Running, **fields: object) -> tuple[int, dict[str, Any]]:
    host, port = daemon.http_address
    payload = {"author": "Ann", "email": "ann@example.com", "body": "Hello.", **fields}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://{host}:{port}/api/threads/{THREAD}/comments", json=payload) as resp,
    ):
        return resp.status, await resp.json()


async def maildir(daemon: Running, count: int) -> list[bytes]:
    """Raw files (bounded wait), without the Maildir's Return-Path/Delivered-To lines."""
    folder = outbox_dir(daemon) / "new"
    for _ in range(200):
        found = sorted(folder.glob("*")) if folder.is_dir() else []
        if len(found) >= count:
            break
        await asyncio.sleep(0.05)
    assert len(found) >= count, f"expected {count} messages, found {len(found)}"
    return [p.read_bytes() for p in found]


def envelope_and_message(raw: bytes) -> tuple[bytes, bytes]:
    _trace, _, message = raw.partition(b"\r\nDelivered-To: ")
    rcpt, _, message = message.partition(b"\r\n")
    return rcpt, message


def confirm_link(raw: bytes) -> str:
    match = re.search(r"(\S+/confirm/\S+)", text_body(parse(raw)))
    assert match, "no confirmation link"
    return match.group(1)


# -- the web door ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_web_refuses_unusable_addresses_with_a_reason(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailbridge.web.api")
    status, answer = await post(daemon, email="änn@example.org", notify=True)
    assert (status, answer) == (400, {"error": NON_ASCII_LOCAL_PART, "field": "email"})
    for bad in ("a@b.org, c@d.org", "x@y.org\r\nBcc: z@w.org", "no-at-sign", "ann@[192.0.2.1]"):
        status, answer = await post(daemon, email=bad, notify=True)
        assert status == 400 and answer["field"] == "email", bad
        assert answer["error"].startswith("email is not a usable email address: "), answer
    count = await daemon.store.read(
        lambda c: c.execute_fetchall("SELECT count(*) FROM comments WHERE source = 'web'")
    )
    assert [tuple(r) for r in count] == [(0,)]
    logged = [r.getMessage() for r in caplog.records if "comment API: refused" in r.getMessage()]
    assert len(logged) == 5 and NON_ASCII_LOCAL_PART in logged[0]
    assert all("\n" not in line for line in logged)  # the CR/LF attempt is logged escaped


@pytest.mark.asyncio
async def test_an_idn_address_is_written_as_its_a_label_everywhere(daemon: Running) -> None:
    first = await post_comment(daemon, email=IDN, notify=True, body="Tell me.")
    raws = await maildir(daemon, 2)  # Ann's confirmation, the moderation request
    confirmation = next(r for r in raws if b"Delivered-To: " + IDN_ASCII.encode() in r)
    rcpt, message = envelope_and_message(confirmation)
    assert rcpt == IDN_ASCII.encode()
    assert f"\r\nTo: {IDN_ASCII}\r\n".encode() in header_block(message) + b"\r\n"
    assert b"=?" not in field(message, "To").encode()
    # Confirmed, approved; Bob answers; Ann's notification goes to the same bytes.
    status, _page = await follow(daemon, confirm_link(message), "POST")
    assert status == 200
    await approve(daemon, await moderation_email(daemon, "Ann", 2))
    await post_comment(daemon, parent=first, author="Bob", email="bob@example.com", body="Hi")
    await approve(daemon, await moderation_email(daemon, "Bob", 3))
    raws = await maildir(daemon, 4)
    note = next(m for r in raws for _, m in [envelope_and_message(r)] if b"List-Unsubscribe" in m)
    assert mailbox(field(note, "To")) == ("Ann", IDN_ASCII)
    assert f"<{IDN_ASCII}>".encode() in header_block(note)
    stored = await daemon.store.read(lambda c: c.execute_fetchall("SELECT email FROM addresses"))
    assert (IDN_ASCII,) in [tuple(r) for r in stored]
    assert not any("ä" in r[0] for r in stored)


# -- a real relay: RCPT TO and SMTPUTF8 ---------------------------------------------------


async def relay_outcome(daemon: Running) -> tuple[str, str | None]:
    for _ in range(200):  # bounded: 10 s
        rows = await daemon.store.read(
            lambda c: c.execute_fetchall(
                "SELECT status, last_error FROM outbox WHERE kind = 'confirmation'"
            )
        )
        if rows and rows[0][0] in ("sent", "failed"):
            return str(rows[0][0]), rows[0][1]
        await asyncio.sleep(0.05)
    raise AssertionError("the confirmation was never sent nor failed")


@pytest.mark.asyncio
async def test_the_relay_is_given_the_a_label(tmp_path: Path) -> None:
    sink = WatchingSink()
    with serving(sink, enable_SMTPUTF8=False) as port:
        async with started(tmp_path, outbound={"transport": f"smtp://127.0.0.1:{port}"}) as d:
            await post_comment(d, email=IDN, notify=True)
            assert await relay_outcome(d) == ("sent", None)
        wait_until(lambda: sink.count() >= 1, 10, "the confirmation")
    [received] = [r for r in sink.received if r.rcpt_tos == [IDN_ASCII]]
    assert "SMTPUTF8" not in received.mail_options  # nothing here needs it
    assert f"\r\nTo: {IDN_ASCII}\r\n".encode() in header_block(received.raw) + b"\r\n"


@pytest.mark.asyncio
async def test_smtputf8_local_part_through_a_relay_that_offers_it(tmp_path: Path) -> None:
    sink = WatchingSink()
    with serving(sink, enable_SMTPUTF8=True) as port:
        async with started(
            tmp_path,
            outbound={"transport": f"smtp://127.0.0.1:{port}", "smtputf8": True},
        ) as d:
            await post_comment(d, email="Änn@exämple.org", notify=True)
            assert await relay_outcome(d) == ("sent", None)
        wait_until(lambda: sink.count() >= 1, 10, "the confirmation")
    [received] = [r for r in sink.received if r.rcpt_tos == ["Änn@xn--exmple-cua.org"]]
    assert "SMTPUTF8" in received.mail_options
    # RFC 6532: the address as UTF-8 in the header, not an encoded word.
    assert "\r\nTo: Änn@xn--exmple-cua.org\r\n".encode() in header_block(received.raw) + b"\r\n"


@pytest.mark.asyncio
async def test_smtputf8_local_part_fails_permanently_where_the_relay_lacks_it(
    tmp_path: Path,
) -> None:
    sink = WatchingSink()
    with serving(sink, enable_SMTPUTF8=False) as port:
        async with started(
            tmp_path,
            outbound={"transport": f"smtp://127.0.0.1:{port}", "smtputf8": True},
        ) as d:
            await post_comment(d, email="änn@example.org", notify=True)
            status, reason = await relay_outcome(d)
    assert status == "failed"
    assert reason is not None and "does not offer SMTPUTF8" in reason, reason
    assert not [r for r in sink.received if r.rcpt_tos == ["änn@example.org"]]


# -- bad addresses already stored ------------------------------------------------------

STORED_BAD = [
    "ännä@example.org",
    "a@b.org, c@d.org",
    "x@y.org\r\nBcc: z@w.org",
    "",
    "no-at-sign",
]


def usable(address: str, smtputf8: bool) -> bool:
    try:
        normalise(address, smtputf8=smtputf8)
    except InvalidAddress:
        return False
    return True


@pytest.mark.asyncio
@pytest.mark.parametrize("index", range(len(STORED_BAD)))
async def test_bad_stored_addresses_never_block_the_thread(tmp_path: Path, index: int) -> None:
    """The thread's owner and a parent commenter hold bad addresses (inserted with SQL,
    as an import from before these checks could leave them): comments are still taken,
    approval still works, everyone else is still mailed, and no header is injected."""
    owner_bad = STORED_BAD[index]
    parent_bad = STORED_BAD[(index + 1) % len(STORED_BAD)]
    async with started(tmp_path, moderation={"moderators": ["mod@example.org"]}) as daemon:
        data_dir = daemon.settings.data_path

        async def bad_addresses(db: Any) -> str:
            # Through the daemon's own store: the same SQL on either engine.
            await db.execute(
                "UPDATE addresses SET email = ? WHERE id = "
                "(SELECT author_address_id FROM threads WHERE key = ?)",
                (owner_bad, THREAD),
            )
            await db.execute(
                "UPDATE addresses SET email = ? WHERE id = "
                "(SELECT address_id FROM comments WHERE id = 2)",
                (parent_bad,),
            )
            # Someone with a good address follows the whole thread.
            async with db.execute("SELECT address_id FROM comments WHERE id = 3") as cur:
                (follower,) = await cur.fetchone()
            await db.execute(
                "INSERT INTO subscriptions (address_id, thread_id, level, source, updated_at) "
                "VALUES (?, 1, 'thread', 'test', '2026-01-01') ON CONFLICT "
                "(address_id, coalesce(thread_id, 0)) DO UPDATE SET level = 'thread'",
                (follower,),
            )
            async with db.execute("SELECT email FROM addresses WHERE id = ?", (follower,)) as cur:
                (email,) = await cur.fetchone()
            return str(email)

        follower_email = await daemon.store.write(bad_addresses)
        await post_comment(daemon, parent=2, author="Ann", body="Answering a bad address.")
        await approve(daemon, await moderation_email(daemon, "Ann", 1))
        # The thread keeps taking comments.
        await post_comment(daemon, author="Bob", email="bob@example.com", body="Still open.")
        await moderation_email(daemon, "Bob", 3)
        raws = await maildir(daemon, 3)
        recorded = await db_rows(
            daemon, "SELECT email, suppressed_reason FROM addresses WHERE suppressed_at IS NOT NULL"
        )
        smtputf8 = daemon.settings.outbound.smtputf8
    delivered = sorted(envelope_and_message(r)[0] for r in raws)
    assert delivered == sorted([b"mod@example.org", b"mod@example.org", follower_email.encode()])
    for raw in raws:
        block = header_block(envelope_and_message(raw)[1])
        assert b"\nBcc:" not in block and b"z@w.org" not in block
        assert b"c@d.org" not in block
    # Each bad address that mailbridge met is recorded with its reason, and listed.
    reasons = [r[1] for r in recorded]
    assert reasons and all(r.startswith("not a usable address: ") for r in reasons), reasons
    # The owner's, met while its moderation email was drafted, too (that draft is made on
    # a read snapshot: the record needs a write of its own).
    unusable = {a for a in (owner_bad, parent_bad) if not usable(a, smtputf8)}
    assert {r[0] for r in recorded} == unusable
    listing = await asyncio.to_thread(
        CliRunner().invoke, cli, ["bounces", "--data-dir", str(data_dir)]
    )
    assert listing.exit_code == 0 and "not a usable address" in listing.output
    assert "\r" not in listing.output and "\nBcc:" not in listing.output


# -- inbound: the reply's From matched in normal form -----------------------------------


@pytest.mark.asyncio
async def test_a_reply_from_the_unicode_spelling_matches(daemon: Running) -> None:
    first = await post_comment(daemon, email=IDN, notify=True, body="Tell me.")
    raws = await maildir(daemon, 2)
    confirmation = next(r for r in raws if b"Delivered-To: " + IDN_ASCII.encode() in r)
    await follow(daemon, confirm_link(envelope_and_message(confirmation)[1]), "POST")
    await approve(daemon, await moderation_email(daemon, "Ann", 2))
    await post_comment(daemon, parent=first, author="Bob", email="bob@example.com", body="Hi")
    await approve(daemon, await moderation_email(daemon, "Bob", 3))
    raws = await maildir(daemon, 4)
    note = next(m for r in raws for _, m in [envelope_and_message(r)] if b"List-Unsubscribe" in m)
    _name, reply_to = mailbox(field(note, "Reply-To"))
    # An SMTPUTF8 client writes the domain in Unicode (RFC 6532), as its user typed it.
    reply = (
        "From: Ann <ann@EXÄMPLE.org>\r\n"
        f"To: {reply_to}\r\n"
        "Subject: Re: thanks\r\n"
        "Message-ID: <idn-reply@client.example>\r\n"
        "Date: Wed, 25 Nov 2026 18:37:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        "Thank you, Bob, that helps.\r\n"
    ).encode()
    host, port = daemon.smtp_address
    await aiosmtplib.send(
        reply,
        sender="ann@xn--exmple-cua.org",
        recipients=[reply_to],
        hostname=host,
        port=port,
        start_tls=False,
    )
    rows = await daemon.store.read(
        lambda c: c.execute_fetchall(
            "SELECT status, reason FROM inbound_messages WHERE message_id = ?",
            ("<idn-reply@client.example>",),
        )
    )
    assert [tuple(r) for r in rows] == [("accepted", None)]


@pytest.mark.asyncio
async def test_smtputf8_local_part_in_the_maildir(tmp_path: Path) -> None:
    async with started(tmp_path, outbound={"smtputf8": True}) as daemon:
        await post_comment(daemon, email="Änn@Exämple.org", notify=True)
        raws = await maildir(daemon, 2)
    confirmation = next(r for r in raws if "Delivered-To: Änn@xn--exmple-cua.org".encode() in r)
    block = header_block(envelope_and_message(confirmation)[1])
    assert "\r\nTo: Änn@xn--exmple-cua.org\r\n".encode() in block + b"\r\n"
    assert b"=?" not in field(envelope_and_message(confirmation)[1], "To").encode()
