"""What a hostile tester found on the SMTP side (issue 8, findings 4, 5, 8, 9), over
real SMTP on loopback with the whole daemon: each test fails without its fix."""

from __future__ import annotations

import asyncio
import datetime
import re
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import aiosqlite
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flows import outbox_dir, reply_notification
from support import (
    LOGGED,
    read_maildir,
    reply_address,
    reply_to_notification,
    started,
    text_body,
    wait_for_mail,
)

from mailbridge.app import Running
from mailbridge.store.inbound import Disposition

REPLY_DOMAIN = "reply.example.org"
READER = "reader002.4a549d@example.org"  # the seed's author of comment 2


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


async def last_inbound(daemon: Running) -> tuple[str, str]:
    [(status, reason)] = await query(
        daemon, "SELECT status, reason FROM inbound_messages ORDER BY id DESC LIMIT 1"
    )
    return str(status), str(reason)


def wire(message: EmailMessage) -> bytes:
    return message.as_bytes().replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")


async def comment_bodies(daemon: Running) -> list[str]:
    rows = await query(daemon, "SELECT body FROM comments WHERE source = 'email' ORDER BY id")
    return [str(body) for (body,) in rows]


# -- finding 8: a NUL byte ----------------------------------------------------------


@pytest.mark.asyncio
async def test_a_nul_byte_does_not_cut_the_comment(daemon: Running) -> None:
    note = await reply_notification(daemon)
    reply = reply_to_notification(note, "PLACEHOLDER")
    raw = wire(reply).replace(b"PLACEHOLDER", b"Before the nul\x00 and every word after it.")
    assert b"\x00" in raw
    answer = await send(daemon, raw, reply_address(note), READER)
    assert answer.startswith("250 2.0.0 Thank you")
    [body] = await comment_bodies(daemon)
    assert body == "Before the nul and every word after it."
    # The moderation email, as bytes in the Maildir, carries the whole comment.
    assert await maildir_holds(daemon, b"Before the nul and every word after it.")


@pytest.mark.asyncio
async def test_a_line_longer_than_smtp_allows_is_accepted_not_bounced(daemon: Running) -> None:
    # RFC 5321 allows 1,000 octets a line; some clients send a whole paragraph (or all
    # of their HTML) as one line. Postfix accepts such mail, so mailbridge does too.
    note = await reply_notification(daemon)
    words = " ".join(f"word{n}" for n in range(1_000))  # one line of about 6,900 octets
    reply = reply_to_notification(note, "PLACEHOLDER")
    raw = wire(reply).replace(b"PLACEHOLDER", words.encode())
    assert max(len(line) for line in raw.split(b"\r\n")) > 5_000
    answer = await send(daemon, raw, reply_address(note), READER)
    assert answer.startswith("250 2.0.0 Thank you"), answer
    assert await comment_bodies(daemon) == [words]


async def maildir_holds(daemon: Running, phrase: bytes, seconds: float = 10.0) -> bool:
    """True once a message file in the outgoing Maildir holds ``phrase`` (bounded wait)."""
    for _ in range(int(seconds / 0.1)):
        for path in (outbox_dir(daemon) / "new").iterdir():
            if phrase in path.read_bytes().replace(b"=\r\n", b""):
                return True
        await asyncio.sleep(0.1)
    return False


# -- finding 4: size and structure ---------------------------------------------------


@pytest.mark.asyncio
async def test_an_overlong_reply_is_not_posted_and_the_writer_is_told(daemon: Running) -> None:
    note = await reply_notification(daemon)
    before = len(read_maildir(outbox_dir(daemon)))
    long_text = "\n".join(f"Line {n} of a very long answer." for n in range(1, 1_001))
    assert len(long_text) > 20_000
    answer = await send(daemon, reply_to_notification(note, long_text), reply_address(note), READER)
    assert answer.startswith("250 2.0.0 Received, but not posted: the reply is 3")
    assert "at most 20,000" in answer
    assert await comment_bodies(daemon) == []
    status, reason = await last_inbound(daemon)
    assert (status, reason) == ("rejected", "too_long")
    # The raw message stays in the inbound log for the operator (reprocess after a change).
    [(size, has_raw)] = await query(
        daemon,
        f"SELECT m.size, r.raw IS NOT NULL FROM {LOGGED} ORDER BY m.id DESC LIMIT 1",
    )
    assert int(str(size)) > 20_000 and has_raw
    mails = await wait_for_mail(outbox_dir(daemon), before + 1)
    await asyncio.sleep(0.5)  # nothing more may come: no moderation email
    mails = read_maildir(outbox_dir(daemon))
    assert len(mails) == before + 1
    [explanation] = [m for m in mails if "longer than a comment can be" in text_body(m)]
    assert explanation["To"].addresses[0].addr_spec == READER


def nested(depth: int, message: EmailMessage) -> bytes:
    head = b"".join(
        f"{name}: {value}\r\n".encode()
        for name, value in message.items()
        if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version")
    )
    parts = [head, b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b0"\r\n\r\n']
    for i in range(depth):
        parts.append(
            f'--b{i}\r\nContent-Type: multipart/mixed; boundary="b{i + 1}"\r\n\r\n'.encode()
        )
    parts.append(
        f"--b{depth}\r\nContent-Type: text/plain\r\n\r\nHello deep\r\n--b{depth}--\r\n".encode()
    )
    parts.extend(f"--b{i}--\r\n".encode() for i in reversed(range(depth)))
    return b"".join(parts)


@pytest.mark.asyncio
async def test_mime_nested_a_thousand_deep_is_refused_not_published(daemon: Running) -> None:
    note = await reply_notification(daemon)
    raw = nested(1_000, reply_to_notification(note, "unused"))
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(daemon, raw, reply_address(note), READER)
    assert refused.value.code == 550 and "nested too deeply" in refused.value.message
    assert await comment_bodies(daemon) == []
    assert await last_inbound(daemon) == ("rejected", "unreadable_structure")
    # Ordinary nesting still works.
    raw = nested(5, reply_to_notification(note, "unused", message_id="<shallow@x>"))
    assert (await send(daemon, raw, reply_address(note), READER)).startswith("250 2.0.0 Thank")
    assert await comment_bodies(daemon) == ["Hello deep"]


# -- finding 5: the MTA in front ----------------------------------------------------


@pytest.mark.asyncio
async def test_the_trusted_relay_may_open_as_many_connections_as_postfix(tmp_path: Path) -> None:
    # Loopback is in auth.trusted_relay_networks by default: the MTA on this host.
    async with started(tmp_path, limits={"smtp_connections_per_ip": 2}) as daemon:
        host, port = daemon.smtp_address
        clients = [await asyncio.to_thread(smtplib.SMTP, host, port, timeout=5) for _ in range(20)]
        try:
            for client in clients:
                assert (await asyncio.to_thread(client.noop))[0] == 250
        finally:
            for client in clients:
                client.close()
    async with started(
        tmp_path / "b",
        limits={"smtp_connections_per_ip": 20, "smtp_connections_per_trusted_relay": 3},
    ) as daemon:
        host, port = daemon.smtp_address
        clients = [await asyncio.to_thread(smtplib.SMTP, host, port, timeout=5) for _ in range(3)]
        try:
            with pytest.raises(smtplib.SMTPConnectError) as info:
                await asyncio.to_thread(smtplib.SMTP, host, port, timeout=5)
            assert info.value.smtp_code == 421
        finally:
            for client in clients:
                client.close()


# -- finding 9: refused recipients, postmaster, STARTTLS ----------------------------


@pytest.mark.asyncio
async def test_a_session_is_closed_after_a_few_refused_recipients(tmp_path: Path) -> None:
    async with started(tmp_path, limits={"smtp_refused_recipients_per_session": 5}) as daemon:
        host, port = daemon.smtp_address
        client = aiosmtplib.SMTP(hostname=host, port=port, start_tls=False)
        await client.connect()
        codes: list[int] = []
        with pytest.raises(aiosmtplib.SMTPException):
            for n in range(5_000):  # bounded; the server must stop it long before
                await client.mail("guesser@example.net")
                try:
                    await client.rcpt(f"reply+guess{n}@{REPLY_DOMAIN}")
                except aiosmtplib.SMTPRecipientRefused as exc:
                    codes.append(exc.code)
                await client.rset()
        assert codes == [550] * 5 + [421]
        client.close()
        [(refused,)] = await query(
            daemon, "SELECT count(*) FROM inbound_messages WHERE status = 'refused'"
        )
        assert refused == 5


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "rcpt", [f"postmaster@{REPLY_DOMAIN}", f"PostMaster@{REPLY_DOMAIN}", "postmaster"]
)
async def test_postmaster_is_accepted_and_kept_for_the_operator(
    daemon: Running, rcpt: str, caplog: pytest.LogCaptureFixture
) -> None:
    message = EmailMessage()
    message["From"] = "abuse-desk@provider.example"
    message["To"] = f"postmaster@{REPLY_DOMAIN}"
    message["Subject"] = "Complaint about mail from your domain"
    message["Message-ID"] = "<complaint-1@provider.example>"
    message.set_content("Please look at the attached report.")
    answer = await send(daemon, message, rcpt, "abuse-desk@provider.example")
    assert re.fullmatch(r"250 2\.0\.0 Received for the postmaster \(inbound \d+\)", answer)
    status, reason = await last_inbound(daemon)
    assert (status, reason) == (Disposition.POSTMASTER.value, "postmaster")
    assert await comment_bodies(daemon) == []
    assert "mail for the postmaster" in caplog.text and "Complaint about mail" in caplog.text


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, REPLY_DOMAIN)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.asyncio
async def test_starttls_is_offered_with_a_configured_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "tls")
    async with started(tmp_path, smtp={"tls_cert": str(cert), "tls_key": str(key)}) as daemon:
        note = await reply_notification(daemon)
        host, port = daemon.smtp_address

        def over_tls() -> tuple[int, bytes]:
            with smtplib.SMTP(host, port, timeout=10) as client:
                client.ehlo()
                assert client.has_extn("starttls")
                context = ssl.create_default_context(cafile=str(cert))
                context.check_hostname = False
                client.starttls(context=context)
                client.ehlo()
                assert client.sock is not None and client.sock.version() is not None
                client.mail(READER)
                client.rcpt(reply_address(note))
                return client.data(wire(reply_to_notification(note, "Sent over TLS.")))

        code, _ = await asyncio.to_thread(over_tls)
        assert code == 250
        assert await comment_bodies(daemon) == ["Sent over TLS."]


@pytest.mark.asyncio
async def test_without_a_certificate_no_starttls_is_offered(daemon: Running) -> None:
    host, port = daemon.smtp_address

    def features() -> bool:
        with smtplib.SMTP(host, port, timeout=10) as client:
            client.ehlo()
            return bool(client.has_extn("starttls"))

    assert await asyncio.to_thread(features) is False
