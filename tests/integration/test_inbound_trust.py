"""Issue 4 over real SMTP on loopback: authentication, machine mail, bounces, limits,
explanations, and the inbound log. DNS is the only fake: a local zone."""

from __future__ import annotations

import asyncio
import json
import smtplib
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import aiosqlite
import pytest
from flows import moderation_email, outbox_dir, reply_notification
from senderauth.mailkit import new_rsa_key, sign, zone
from support import (
    is_notification,
    read_maildir,
    reply_address,
    reply_to_notification,
    started,
    text_body,
)

from mailbridge.app import Running

READER = "reader002.4a549d@example.org"


async def send(daemon: Running, message: EmailMessage | bytes, rcpt: str, sender: str) -> str:
    host, port = daemon.smtp_address
    async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False) as client:
        await client.mail(sender)
        await client.rcpt(rcpt)
        data = message if isinstance(message, bytes) else message.as_bytes()
        response = await client.data(data)
    return f"{response.code} {response.message}"


async def query(daemon: Running, sql: str, *args: object) -> list[tuple[object, ...]]:
    async def work(conn: aiosqlite.Connection) -> list[tuple[object, ...]]:
        async with conn.execute(sql, args) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    return await daemon.store.read(work)


async def last_inbound(daemon: Running) -> tuple[str, str, dict[str, object]]:
    [(status, reason, checks)] = await query(
        daemon, "SELECT status, reason, checks FROM inbound_messages ORDER BY id DESC LIMIT 1"
    )
    return str(status), str(reason), json.loads(str(checks))


def wire(message: EmailMessage) -> bytes:
    return message.as_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")


# -- sender authentication --------------------------------------------------------

KEY = new_rsa_key().at("example.org")
P_REJECT = {"_dmarc.example.org": "v=DMARC1; p=reject"}


@pytest.mark.asyncio
async def test_a_validly_signed_reply_is_accepted_as_authenticated(tmp_path: Path) -> None:
    async with started(tmp_path, zone(KEY, records=P_REJECT)) as daemon:
        note = await reply_notification(daemon)
        signed = sign(wire(reply_to_notification(note, "Signed and sealed.")), KEY)
        answer = await send(daemon, signed, reply_address(note), READER)
        assert answer.startswith("250 2.0.0 Thank you")
        status, reason, checks = await last_inbound(daemon)
        assert (status, reason) == ("accepted", "None")
        assert checks["auth"]["decision"] == "accept"  # type: ignore[index]
        assert checks["auth"]["result"]["status"] == "authenticated"  # type: ignore[index]


@pytest.mark.asyncio
async def test_a_forged_from_of_a_p_reject_domain_is_refused(tmp_path: Path) -> None:
    """Someone who got hold of the notification writes as its recipient, unsigned."""
    async with started(tmp_path, zone(KEY, records=P_REJECT)) as daemon:
        note = await reply_notification(daemon)
        forged = reply_to_notification(note, "Words put in their mouth.")
        with pytest.raises(aiosmtplib.SMTPDataError) as info:
            await send(daemon, forged, reply_address(note), "attacker@evil.example")
        assert info.value.code == 550 and "p=reject" in info.value.message
        status, reason, _checks = await last_inbound(daemon)
        assert (status, reason) == ("rejected", "auth_failed.dmarc_reject")
        assert await query(daemon, "SELECT count(*) FROM comments WHERE source='email'") == [(0,)]


@pytest.mark.asyncio
async def test_a_failing_signature_of_a_p_reject_domain_is_refused(tmp_path: Path) -> None:
    async with started(tmp_path, zone(KEY, records=P_REJECT)) as daemon:
        note = await reply_notification(daemon)
        signed = sign(wire(reply_to_notification(note, "Original words.")), KEY)
        altered = signed.replace(b"Original words.", b"Altered words!!")
        with pytest.raises(aiosmtplib.SMTPDataError) as info:
            await send(daemon, altered, reply_address(note), READER)
        assert info.value.code == 550 and info.value.message.startswith("5.7.1")


@pytest.mark.asyncio
async def test_p_quarantine_holds_for_the_moderator(tmp_path: Path) -> None:
    quarantine = {"_dmarc.example.org": "v=DMARC1; p=quarantine"}
    async with started(tmp_path, zone(KEY, records=quarantine)) as daemon:
        note = await reply_notification(daemon)
        answer = await send(
            daemon, reply_to_notification(note, "Unsigned."), reply_address(note), READER
        )
        assert answer.startswith("250")
        assert (await last_inbound(daemon))[0] == "held"
        moderation = await moderation_email(daemon, "Reader 002", 3)
        assert "HELD FOR A CLOSER LOOK" in text_body(moderation)


@pytest.mark.asyncio
async def test_without_dns_the_degradation_is_explicit(tmp_path: Path) -> None:
    from mailbridge.senderauth import UnavailableResolver

    async with started(
        tmp_path, UnavailableResolver(), auth={"when_dns_unavailable": "tempfail"}
    ) as daemon:
        note = await reply_notification(daemon)
        with pytest.raises(aiosmtplib.SMTPDataError) as info:
            await send(daemon, reply_to_notification(note, "Hello"), reply_address(note), READER)
        assert info.value.code == 451
        status, reason, checks = await last_inbound(daemon)
        assert status == "received"  # the retry will process it
        assert reason == "auth_unavailable.dns_unavailable"
        assert checks["auth"]["result"]["dns"] == "unavailable"  # type: ignore[index]


# -- machine mail -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_out_of_office_is_dropped_without_reply(daemon: Running) -> None:
    note = await reply_notification(daemon)
    ooo = EmailMessage()
    ooo["From"] = READER
    ooo["To"] = reply_address(note)
    ooo["Subject"] = "Automatic reply: Re: Attachment Theory"
    ooo["Auto-Submitted"] = "auto-replied"
    ooo["X-MS-Exchange-Generated-Message-Source"] = "Mailbox Rules Agent"
    ooo.set_content("I am out of the office until Monday.")
    answer = await send(daemon, ooo, reply_address(note), READER)
    assert answer.startswith("250 2.0.0 Automatic message")
    status, reason, checks = await last_inbound(daemon)
    assert (status, reason) == ("dropped", "automated.auto_submitted")
    assert "Auto-Submitted" in str(checks["machine"])
    await asyncio.sleep(0.3)
    assert len(read_maildir(outbox_dir(daemon))) == 2  # nothing sent in answer
    assert await query(daemon, "SELECT count(*) FROM comments WHERE source='email'") == [(0,)]


@pytest.mark.asyncio
async def test_outlook_reply_with_auto_response_suppress_is_still_filed(daemon: Running) -> None:
    note = await reply_notification(daemon)
    reply = reply_to_notification(note, "A real person on Outlook.")
    reply["X-Auto-Response-Suppress"] = "All"
    answer = await send(daemon, reply, reply_address(note), READER)
    assert answer.startswith("250 2.0.0 Thank you")
    assert (await last_inbound(daemon))[0] == "accepted"


# -- bounces ----------------------------------------------------------------------


def dsn(return_path: str, recipient: str, status: str, original_id: str) -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.org\r\nTo: {return_path}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} User unknown\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nTo: {recipient}\r\n\r\n--b--\r\n"
    ).encode()


@pytest.mark.asyncio
async def test_dsn_to_the_verp_address_is_counted_and_stops_mail(daemon: Running) -> None:
    note = await reply_notification(daemon)
    [(return_path,)] = await query(
        daemon, "SELECT mail_from FROM outbox WHERE kind = 'reply_notification'"
    )
    assert str(return_path).startswith("bounce+") and str(return_path).endswith(
        "@reply.example.org"
    )
    assert note["Return-Path"] == f"<{return_path}>"  # as the Maildir delivery recorded it
    for n in range(daemon.settings.inbound.hard_bounce_limit):
        report = dsn(str(return_path), READER, "5.1.1", str(note["Message-ID"]))
        report = f"Message-ID: <dsn{n}@mx.example.org>\r\n".encode() + report
        answer = await send(daemon, report, str(return_path), "")
        assert answer.startswith("250 2.0.0 Delivery report")
    assert (await last_inbound(daemon))[:2] == ("bounce", "bounce.hard")
    [(hard, suppressed)] = await query(
        daemon,
        "SELECT hard_bounces, suppressed_at IS NOT NULL FROM addresses WHERE email = ?",
        READER,
    )
    assert (hard, suppressed) == (2, 1)
    assert await query(daemon, "SELECT count(*) FROM bounces") == [(2,)]
    # Another answer to Reader 002's comment: no notification to a suppressed address.
    from flows import approve, post_comment

    await post_comment(daemon, parent=2, author="Bob", email="bob@example.com", body="Also me")
    await approve(daemon, await moderation_email(daemon, "Bob", 3))
    await asyncio.sleep(0.3)
    assert [m for m in read_maildir(outbox_dir(daemon)) if "Bob" in str(m["Subject"])] != []
    notes = [m for m in read_maildir(outbox_dir(daemon)) if is_notification(m)]
    assert len(notes) == 1  # only the first one, sent before the bounces


# -- limits -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_sender_rate_limit_answers_450(tmp_path: Path) -> None:
    async with started(tmp_path, limits={"messages_per_sender_per_hour": 2}) as daemon:
        note = await reply_notification(daemon)
        for n in range(2):
            reply = reply_to_notification(note, f"Reply number {n}", message_id=f"<r{n}@x>")
            assert (await send(daemon, reply, reply_address(note), READER)).startswith("250")
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as info:
            await send(
                daemon,
                reply_to_notification(note, "third", message_id="<r3@x>"),
                reply_address(note),
                READER,
            )
        assert info.value.code == 450 and info.value.message.startswith("4.7.1")
        [(reason,)] = await query(
            daemon, "SELECT reason FROM inbound_messages WHERE stage = 'rcpt'"
        )
        assert reason == "sender_rate_limited"


@pytest.mark.asyncio
async def test_thread_rate_limit_answers_450(tmp_path: Path) -> None:
    async with started(tmp_path, limits={"comments_per_thread_per_hour": 1}) as daemon:
        note = await reply_notification(daemon)  # Ann's web comment used the hour's one
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as info:
            await send(daemon, reply_to_notification(note, "hi"), reply_address(note), READER)
        assert info.value.code == 450 and "too many replies" in info.value.message


@pytest.mark.asyncio
async def test_connections_per_ip_are_capped_with_421(tmp_path: Path) -> None:
    # Loopback is not a trusted relay here: this is the limit for everyone else.
    async with started(
        tmp_path,
        limits={"smtp_connections_per_ip": 2},
        auth={"trusted_relay_networks": ["192.0.2.0/24"]},
    ) as daemon:
        host, port = daemon.smtp_address
        open_ones = [await asyncio.to_thread(smtplib.SMTP, host, port, timeout=5) for _ in range(2)]
        try:
            with pytest.raises(smtplib.SMTPConnectError) as info:
                await asyncio.to_thread(smtplib.SMTP, host, port, timeout=5)
            assert info.value.smtp_code == 421
        finally:
            for client in open_ones:
                client.close()
        await asyncio.sleep(0.1)
        # Closing frees the places: a new connection is served again.
        again = await asyncio.to_thread(smtplib.SMTP, host, port, timeout=5)
        assert (await asyncio.to_thread(again.noop))[0] == 250
        again.close()


@pytest.mark.asyncio
async def test_recipients_per_message_are_capped(tmp_path: Path) -> None:
    async with started(tmp_path, limits={"smtp_recipients_per_message": 2}) as daemon:
        host, port = daemon.smtp_address
        async with aiosmtplib.SMTP(hostname=host, port=port, start_tls=False) as client:
            await client.mail("someone@example.net")
            codes = []
            for n in range(3):
                try:
                    codes.append((await client.rcpt(f"x{n}@elsewhere.example")).code)
                except aiosmtplib.SMTPRecipientRefused as exc:
                    codes.append(exc.code)
        assert codes == [550, 550, 452]


# -- explanations -----------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_empty_reply_is_explained_once_and_never_to_a_machine(daemon: Running) -> None:
    note = await reply_notification(daemon)
    for n in range(2):
        empty = reply_to_notification(note, "", message_id=f"<empty{n}@x>")
        answer = await send(daemon, empty, reply_address(note), READER)
        assert answer.startswith("250 2.0.0 Received, but not posted")
        assert (await last_inbound(daemon))[:2] == ("rejected", "empty_reply")
    mails = await notification_for_explanations(daemon, 1)
    assert "nothing of your own was left" in text_body(mails[0])
    assert mails[0]["Auto-Submitted"] == "auto-replied"
    assert mails[0]["In-Reply-To"] == "<empty0@x>"
    # A machine with an empty message is dropped as a machine: never answered.
    robot = reply_to_notification(note, "", message_id="<robot@x>")
    robot["Auto-Submitted"] = "auto-generated"
    await send(daemon, robot, reply_address(note), READER)
    assert (await last_inbound(daemon))[0] == "dropped"
    await asyncio.sleep(0.3)
    assert len(await notification_for_explanations(daemon, 1)) == 1


async def notification_for_explanations(daemon: Running, count: int) -> list[EmailMessage]:
    for _ in range(100):
        found = [m for m in read_maildir(outbox_dir(daemon)) if "was not posted" in m["Subject"]]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError("no explanation email")


# -- matching and privacy -----------------------------------------------------------


@pytest.mark.asyncio
async def test_a_reply_to_from_is_matched_by_in_reply_to(tmp_path: Path) -> None:
    async with started(tmp_path, smtp={"extra_recipients": ["comments@example.org"]}) as daemon:
        note = await reply_notification(daemon)
        reply = reply_to_notification(note, "I pressed reply, not reply-to.")
        del reply["To"]
        reply["To"] = "comments@example.org"
        answer = await send(daemon, reply, "comments@example.org", READER)
        assert answer.startswith("250 2.0.0 Thank you")
        _status, _reason, checks = await last_inbound(daemon)
        assert checks["target"] == {
            "comment": checks["target"]["comment"],  # type: ignore[index]
            "via": "in-reply-to",
        }
        [(body,)] = await query(daemon, "SELECT body FROM comments WHERE source='email'")
        assert body == "I pressed reply, not reply-to."


@pytest.mark.asyncio
async def test_revoking_an_address_refuses_its_old_reply_addresses(daemon: Running) -> None:
    from mailbridge.store import threads

    note = await reply_notification(daemon)
    await daemon.store.write(lambda c: threads.bump_key_epoch(c, READER))
    with pytest.raises(aiosmtplib.SMTPRecipientRefused) as info:
        await send(daemon, reply_to_notification(note, "late"), reply_address(note), READER)
    assert info.value.code == 550 and "not valid" in info.value.message


@pytest.mark.asyncio
async def test_a_connection_is_closed_after_the_session_limit(tmp_path: Path) -> None:
    async with started(tmp_path, smtp={"max_session_seconds": 0.5}) as daemon:
        host, port = daemon.smtp_address
        reader, writer = await asyncio.open_connection(host, port)
        assert (await reader.readline()).startswith(b"220")
        for _ in range(20):  # busy, never idle: only the session limit can end it
            writer.write(b"NOOP\r\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 5)
            if line.startswith(b"421"):
                break
            await asyncio.sleep(0.1)
        assert line.startswith(b"421 4.4.2")
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed
        writer.close()
