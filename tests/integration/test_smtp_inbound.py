"""Replies over real SMTP (aiosmtplib client → the daemon's aiosmtpd server on loopback)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from email.message import EmailMessage

import aiosmtplib
import aiosqlite
import pytest
from flows import moderation_email, reply_notification
from support import LOGGED, THREAD, reply_address, reply_to_notification, text_body

from mailbridge.app import Running
from mailbridge.tokens import make_reply_token


async def send(daemon: Running, message: EmailMessage | bytes, rcpt: str, sender: str) -> None:
    host, port = daemon.smtp_address
    await aiosmtplib.send(
        message, sender=sender, recipients=[rcpt], hostname=host, port=port, start_tls=False
    )


async def query(daemon: Running, sql: str, *args: object) -> list[tuple[object, ...]]:
    async def work(conn: aiosqlite.Connection) -> list[tuple[object, ...]]:
        async with conn.execute(sql, args) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    return await daemon.store.read(work)


async def refused(
    daemon: Running, message: EmailMessage | bytes, rcpt: str, sender: str = "someone@example.net"
) -> tuple[int, str]:
    with pytest.raises(aiosmtplib.SMTPResponseException) as info:
        try:
            await send(daemon, message, rcpt, sender)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise exc.recipients[0] from None
    return info.value.code, info.value.message


@pytest.mark.asyncio
async def test_reply_becomes_a_pending_comment_under_the_right_parent(daemon: Running) -> None:
    note = await reply_notification(daemon)
    [(ann_id,)] = await query(daemon, "SELECT id FROM comments WHERE author = 'Ann'")
    reply = reply_to_notification(
        note,
        "Thank you, Ann 🙂 — that helps.",
        sender="Jane Q. Realname <reader002.4a549d@example.org>",
    )
    await send(daemon, reply, reply_address(note), "reader002.4a549d@example.org")
    # 250 was only given after commit: the comment is there as soon as send() returns.
    rows = await query(
        daemon,
        "SELECT parent_id, author, body, status, source, notify FROM comments WHERE source='email'",
    )
    assert rows == [
        (ann_id, "Reader 002", "Thank you, Ann 🙂 — that helps.", "pending", "email", 1)
    ]
    # The blog name, not the From display name: it may be a real name never published.
    assert "Realname" not in str(rows)
    moderation = await moderation_email(daemon, "Reader 002", 3)
    assert "by email" in text_body(moderation)
    [(status, reason)] = await query(daemon, "SELECT status, reason FROM inbound_messages")
    assert (status, reason) == ("accepted", None)


@pytest.mark.asyncio
async def test_same_message_id_twice_makes_one_comment(daemon: Running) -> None:
    note = await reply_notification(daemon)
    reply = reply_to_notification(note, "Only once, please.", message_id="<dup@client.example>")
    for _ in range(3):
        await send(daemon, reply, reply_address(note), "reader002.4a549d@example.org")
    assert await query(daemon, "SELECT count(*) FROM comments WHERE source='email'") == [(1,)]
    assert await query(daemon, "SELECT deliveries FROM inbound_messages") == [(3,)]


@pytest.mark.asyncio
async def test_from_mismatch_is_refused_and_logged(daemon: Running) -> None:
    note = await reply_notification(daemon)
    forged = reply_to_notification(note, "I am not who I say", sender="mallory@example.net")
    code, text = await refused(daemon, forged, reply_address(note), "mallory@example.net")
    assert code == 550 and text.startswith("5.7.1") and "belongs to someone else" in text
    assert await query(daemon, "SELECT count(*) FROM comments WHERE source='email'") == [(0,)]
    rows = await query(
        daemon, f"SELECT m.status, m.reason, m.mail_from, length(r.raw) > 0 FROM {LOGGED}"
    )
    assert rows == [("rejected", "sender_mismatch", "mallory@example.net", 1)]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("rcpt", "code", "status", "reason"),
    [
        ("someone@gmail.com", 550, "5.7.1", "relay_denied"),  # never an open relay
        ("abuse@reply.example.org", 550, "5.1.1", "unknown_recipient"),
        ("reply+abc@reply.example.org", 550, "5.1.1", "bad_token"),
        ("reply+" + "a" * 32 + "@reply.example.org", 550, "5.1.1", "bad_token"),
        ("bounce+" + "a" * 24 + "@reply.example.org", 550, "5.1.1", "bad_token"),
    ],
)
async def test_unknown_recipients_and_bad_tokens_are_refused_at_rcpt(
    daemon: Running, rcpt: str, code: int, status: str, reason: str
) -> None:
    got_code, text = await refused(daemon, b"Subject: hi\r\n\r\nhello\r\n", rcpt)
    assert (got_code, text[:5]) == (code, status)
    # No message was transferred, but the operator still sees the attempt and why.
    rows = await query(
        daemon, f"SELECT m.stage, m.status, m.reason, m.rcpt_to, r.raw FROM {LOGGED}"
    )
    assert rows == [("rcpt", "refused", reason, rcpt, None)]


@pytest.mark.asyncio
async def test_tampered_token_is_refused(daemon: Running) -> None:
    note = await reply_notification(daemon)
    address = reply_address(note)
    token = address.split("+", 1)[1].split("@")[0]
    tampered = address.replace(token, token[:10] + ("b" if token[10] != "b" else "c") + token[11:])
    code, text = await refused(
        daemon, reply_to_notification(note, "hi"), tampered, "reader002.4a549d@example.org"
    )
    assert code == 550 and "not valid" in text


@pytest.mark.asyncio
async def test_expired_reply_address_points_to_the_thread(daemon: Running) -> None:
    [(address_id,)] = await query(
        daemon, "SELECT id FROM addresses WHERE email = 'reader002.4a549d@example.org'"
    )
    assert isinstance(address_id, int)
    token = make_reply_token(daemon.keyring.reply, address_id, 3, date.today() - timedelta(days=1))
    code, text = await refused(
        daemon, b"Subject: x\r\n\r\nhi\r\n", f"reply+{token}@reply.example.org"
    )
    assert code == 550 and "expired" in text
    assert f"/threads/{THREAD}#comment-3" in text


@pytest.mark.asyncio
async def test_one_reply_address_per_transaction(daemon: Running) -> None:
    note = await reply_notification(daemon)
    host, port = daemon.smtp_address
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False) as client:
        await client.mail("reader002.4a549d@example.org")
        first = await client.rcpt(reply_address(note))
        assert first.code == 250
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as info:
            await client.rcpt(reply_address(note))
        assert info.value.code == 452


@pytest.mark.asyncio
async def test_message_without_from_is_refused(daemon: Running) -> None:
    note = await reply_notification(daemon)
    code, text = await refused(daemon, b"Subject: x\r\n\r\nhello\r\n", reply_address(note))
    assert code == 550 and "From" in text


TOO_LARGE = (
    "552 5.3.4 The message is larger than this server accepts (10,485,760 bytes, about 10 MB, "
    "attachments included): send your reply again without attachments, or with smaller ones."
)


async def _raw_session(daemon: Running, *lines: bytes) -> bytes:
    """Each line sent after EHLO, as a client without SIZE sends it; the last answer."""
    reader, writer = await asyncio.open_connection(*daemon.smtp_address)
    try:
        await reader.readline()
        writer.write(b"EHLO mx.example.net\r\n")
        for _ in range(20):  # bounded: the EHLO answer's lines
            if (await reader.readline())[:4] == b"250 ":
                break
        answer = b""
        for line in lines:
            writer.write(line)
            answer = await reader.readline()
    finally:
        writer.close()
    return answer


@pytest.mark.asyncio
async def test_oversized_message_is_refused_with_552(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    note = await reply_notification(daemon)
    limit = daemon.settings.smtp.max_message_size
    assert limit == 10_485_760
    big = reply_to_notification(note, "x" * 70 + ("\n" + "y" * 70) * (limit // 70))
    caplog.set_level("INFO", logger="mailbridge")
    answer = await _raw_session(
        daemon,
        b"MAIL FROM:<reader002.4a549d@example.org>\r\n",
        f"RCPT TO:<{reply_address(note)}>\r\n".encode(),
        b"DATA\r\n",
        big.as_bytes().replace(b"\n", b"\r\n") + b"\r\n.\r\n",
    )
    # What the sending server bounces to the commenter: the limit, and what to do.
    assert answer == TOO_LARGE.encode() + b"\r\n"
    assert "refused at the end of DATA: larger than smtp.max_message_size" in caplog.text
    assert await query(daemon, "SELECT count(*) FROM comments WHERE source='email'") == [(0,)]


@pytest.mark.asyncio
async def test_a_size_announced_over_the_limit_is_refused_at_mail_saying_so(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="mailbridge")
    answer = await _raw_session(daemon, b"MAIL FROM:<reader@example.net> SIZE=20000000\r\n")
    assert answer == TOO_LARGE.encode() + b"\r\n"
    assert "refused at MAIL (its SIZE): larger than smtp.max_message_size" in caplog.text


@pytest.mark.asyncio
async def test_a_line_over_a_mebibyte_is_refused_saying_so(
    daemon: Running, caplog: pytest.LogCaptureFixture
) -> None:
    note = await reply_notification(daemon)
    caplog.set_level("INFO", logger="mailbridge")
    # A reply whose 1.1 MB of words is one line (no transfer encoding folds it).
    one_line = b"From: reader002.4a549d@example.org\nSubject: Re\n\n" + b"word " * 220_000
    answer = await _raw_session(
        daemon,
        b"MAIL FROM:<reader002.4a549d@example.org>\r\n",
        f"RCPT TO:<{reply_address(note)}>\r\n".encode(),
        b"DATA\r\n",
        one_line.replace(b"\n", b"\r\n") + b"\r\n.\r\n",
    )
    assert answer == (
        b"500 5.5.6 Line too long: a line of this message is longer than 1,048,576 bytes; "
        b"send it again with shorter lines.\r\n"
    )
    assert "refused at the end of DATA: a line longer than 1048576 bytes" in caplog.text


@pytest.mark.asyncio
async def test_attachments_are_not_published_but_the_moderator_is_told(daemon: Running) -> None:
    note = await reply_notification(daemon)
    reply = reply_to_notification(note, "Here is the photo I mentioned.")
    reply.add_attachment(
        b"\x89PNG\r\n\x1a\n" + b"\0" * 2048, maintype="image", subtype="png", filename="garden.png"
    )
    await send(daemon, reply, reply_address(note), "reader002.4a549d@example.org")
    [(body,)] = await query(daemon, "SELECT body FROM comments WHERE source = 'email'")
    assert body == "Here is the photo I mentioned."
    moderation = text_body(await moderation_email(daemon, "Reader 002", 3))
    assert "1 attachment, which is never published" in moderation
    assert "garden.png, image/png, 2.1 kB" in moderation
