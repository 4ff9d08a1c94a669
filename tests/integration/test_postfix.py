"""mailbridge behind a real Postfix, both ways (docs/postfix.md).

Postfix (tests/postfix_server.py) is the operator's MTA with deploy/postfix/main.cf
added: the public MX of the reply domain, relaying it to mailbridge, and the relay
mailbridge sends through. "The internet" is an SMTP sink on a loopback port (Postfix's
relayhost): the commenters' and the moderator's mail servers. Test clients that play
someone's mail server connect from 127.0.0.2, outside Postfix's mynetworks.

The loop: a comment is posted; its moderation email goes out through Postfix; the
moderator's tap approves it; the notification goes out through Postfix to the person
answered; their reply comes back in through Postfix to mailbridge and is filed. Then
what mailbridge's codes make Postfix do: a 4xx (DNS down, auth.when_dns_unavailable =
"tempfail") is retried until it is accepted, once; a 5xx at DATA is bounced by Postfix
to the sender with mailbridge's reason; a 5xx at RCPT (a forged reply address) is
refused by Postfix in the sender's own session (address verification), no bounce.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
import pytest_asyncio
from flows import follow, post_comment
from postfix_server import Postfix, postfix_instance
from support import (
    SinkHandler,
    db_rows,
    free_port,
    is_notification,
    moderation_links,
    no_dmarc_zone,
    parse,
    reply_address,
    reply_to_notification,
    started,
    until,
)

from mailbridge.senderauth.dns import DnsUnavailable

REPLY_DOMAIN = "reply.example.org"
MODERATOR = "editor@blog.example"
INTERNET = "127.0.0.2"  # where "the internet" connects from: not Postfix's mynetworks


class SwitchableDns:
    """The fake DNS of the tests (no domain publishes DMARC), which can go down."""

    def __init__(self) -> None:
        self.down = False
        self._zone = no_dmarc_zone()

    async def txt(self, name: str) -> list[str]:
        if self.down:
            raise DnsUnavailable(f"{name}: resolver down (test)")
        result: list[str] = await self._zone.txt(name)
        return result


@pytest.fixture
def internet(smtp_sink: tuple[SinkHandler, int]) -> tuple[SinkHandler, int]:
    """The commenters' and the moderator's mail servers: Postfix's relayhost."""
    return smtp_sink


@pytest.fixture
def mailbridge_port() -> int:
    return free_port()


@pytest.fixture
def postfix(
    request: pytest.FixtureRequest, internet: tuple[SinkHandler, int], mailbridge_port: int
) -> Iterator[Postfix]:
    marker = request.node.get_closest_marker("postfix_main")
    with postfix_instance(
        reply_domain=REPLY_DOMAIN,
        mailbridge_port=mailbridge_port,
        internet_port=internet[1],
        extra=marker.args[0] if marker else "",
    ) as server:
        yield server


@pytest_asyncio.fixture
async def daemon(
    tmp_path: Path, postfix: Postfix, mailbridge_port: int
) -> AsyncIterator[tuple[Any, SwitchableDns]]:
    dns = SwitchableDns()
    async with started(
        tmp_path,
        resolver=dns,
        smtp={"listen": f"127.0.0.1:{mailbridge_port}", "reply_domain": REPLY_DOMAIN},
        outbound={
            "transport": f"smtp://127.0.0.1:{postfix.port}",
            "retry_base_seconds": 1,
            "relay_idle_seconds": 0,
        },
        moderation={"moderators": [MODERATOR]},
        auth={"when_dns_unavailable": "tempfail"},
    ) as running:
        yield running, dns


async def arrived(sink: SinkHandler, to: str, count: int = 1) -> list[tuple[str, bytes]]:
    """What the internet's servers received for ``to``: (envelope sender, raw bytes)."""

    async def check() -> list[tuple[str, bytes]]:
        found = [(frm, raw) for frm, rcpts, raw in sink.received if to in rcpts]
        return found if len(found) >= count else []

    return list(await until(f"{count} message(s) to {to} through Postfix", check))


async def to_the_mx(postfix: Postfix, sender: str, rcpt: str, data: bytes) -> tuple[int, str]:
    """A commenter's mail server sending to the reply domain's MX (Postfix)."""
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=postfix.port, start_tls=False, source_address=(INTERNET, 0)
    )
    async with client:
        await client.mail(sender)
        try:
            await client.rcpt(rcpt)
        except aiosmtplib.SMTPRecipientRefused as refused:
            return refused.code, refused.message
        answer = await client.data(data)
    return answer.code, answer.message


async def comments_with(daemon: Any, text: str) -> list[tuple[Any, ...]]:
    return await db_rows(
        daemon, "SELECT parent_id, status FROM comments WHERE body LIKE ?", f"%{text}%"
    )


async def notification(daemon: Any, sink: SinkHandler) -> tuple[str, EmailMessage]:
    """A comment approved by the moderator's tap, and its notification as it arrived at
    the answered person's server: (that person's address, the message)."""
    await post_comment(daemon, parent=2, author="Ann", body="Which chapter was that in?")
    [(envelope_from, raw)] = await arrived(sink, MODERATOR)
    assert envelope_from.endswith("@" + REPLY_DOMAIN)  # the VERP bounce address
    # Postfix's own trace header: this went through Postfix, from mailbridge on loopback.
    assert re.search(rb"^Received: from [^\n]*\[127\.0\.0\.1\]", raw, re.M), raw[:800]
    assert b"by mx.test.invalid (Postfix)" in raw
    status, _page = await follow(daemon, moderation_links(parse(raw))["approve"], "POST")
    assert status == 200

    async def notified() -> tuple[str, EmailMessage] | None:
        for _frm, rcpts, raw in sink.received:
            message = parse(raw)
            if is_notification(message):
                return rcpts[0], message
        return None

    found: tuple[str, EmailMessage] = await until("the notification through Postfix", notified)
    return found


@pytest.mark.asyncio
async def test_a_reply_loop_through_postfix_both_ways(
    daemon: tuple[Any, SwitchableDns], postfix: Postfix, internet: tuple[SinkHandler, int]
) -> None:
    running, _dns = daemon
    person, notice = await notification(running, internet[0])
    reply = reply_to_notification(notice, "Chapter four, near the end.", sender=person)
    code, text = await to_the_mx(postfix, person, reply_address(notice), reply.as_bytes())
    assert code == 250 and "queued as" in text  # Postfix's own 250: it has the message now
    await postfix.wait_log(r"postfix/smtp\[\d+\]: \w+: to=<reply\+[^>]+>, relay=127\.0\.0\.1"
                           r"\[127\.0\.0\.1\]:\d+, .*status=sent \(250 ")  # fmt: skip

    [(parent, status)] = await until(
        "the reply filed", lambda: comments_with(running, "Chapter four, near the end.")
    )
    assert status == "pending" and parent is not None
    # mailbridge saw Postfix's Received header on top of what the commenter sent.
    last = "SELECT raw FROM inbound_raw ORDER BY inbound_id DESC LIMIT 1"
    [(raw,)] = await db_rows(running, last)
    assert bytes(raw).startswith(b"Received: from ") and b"(Postfix)" in bytes(raw)[:600]
    # The reply's moderation email goes out through Postfix too.
    await arrived(internet[0], MODERATOR, count=2)


@pytest.mark.asyncio
async def test_a_4xx_is_retried_by_postfix_until_it_is_accepted_once(
    daemon: tuple[Any, SwitchableDns], postfix: Postfix, internet: tuple[SinkHandler, int]
) -> None:
    running, dns = daemon
    person, notice = await notification(running, internet[0])
    dns.down = True  # mailbridge cannot check the sender's domain: 451, try later
    reply = reply_to_notification(notice, "Written while your DNS was down.", sender=person)
    code, _text = await to_the_mx(postfix, person, reply_address(notice), reply.as_bytes())
    assert code == 250
    deferred = await postfix.wait_log(r"status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] "
                                      r"said: (451 4\.7\.0 [^\n]*)\)")  # fmt: skip
    assert "try again later" in deferred.group(1)
    assert await comments_with(running, "Written while your DNS was down.") == []
    assert await asyncio.to_thread(postfix.queued) == 1  # Postfix holds it, not lost

    dns.down = False
    await until(
        "Postfix's retry accepted",
        lambda: comments_with(running, "Written while your DNS was down."),
    )
    await until("Postfix's queue empty", lambda: asyncio.to_thread(lambda: postfix.queued() == 0))
    await asyncio.sleep(3)  # longer than Postfix's retry delay: a second copy would show
    assert len(await comments_with(running, "Written while your DNS was down.")) == 1
    outcomes = await db_rows(
        running, "SELECT status, reason, deliveries FROM inbound_messages WHERE message_id = ?",
        str(reply["Message-ID"]),
    )  # fmt: skip
    # One message in the inbound log, delivered twice (the 451, then the 250), one comment.
    assert outcomes == [("accepted", None, 2)], outcomes


@pytest.mark.asyncio
async def test_a_5xx_at_data_is_bounced_by_postfix_to_the_sender(
    daemon: tuple[Any, SwitchableDns], postfix: Postfix, internet: tuple[SinkHandler, int]
) -> None:
    running, _dns = daemon
    sink = internet[0]
    _person, notice = await notification(running, sink)
    stranger = "stranger@elsewhere.example"
    reply = reply_to_notification(notice, "Not my conversation at all.", sender=stranger)
    code, _text = await to_the_mx(postfix, stranger, reply_address(notice), reply.as_bytes())
    assert code == 250  # Postfix accepted it: mailbridge's 550 comes at DATA, later
    [(bounce_from, raw)] = await arrived(sink, stranger)
    assert bounce_from == "<>"  # a bounce has the null sender
    assert b"Content-Type: multipart/report; report-type=delivery-status;" in raw
    # mailbridge's code and reason reach the sender, word for word, in Postfix's report.
    # mailbridge's code and reason reach the sender, word for word, in Postfix's report
    # (which folds long lines: compare with the white space collapsed).
    said = b" ".join(raw.split())
    assert re.search(
        rb"said: 550 5\.7\.1 This reply address belongs to someone else: reply from the "
        rb"address the notification was sent to\. \(inbound \d+\) \(in reply to end of DATA "
        rb"command\)",
        said,
    ), raw
    assert re.search(rb"^Status: 5\.7\.1\r?$", raw, re.M)
    assert b"Final-Recipient: rfc822; " + reply_address(notice).lower().encode() in raw
    assert b"Not my conversation at all." in raw  # the returned message: nothing lost
    assert await comments_with(running, "Not my conversation at all.") == []


@pytest.mark.asyncio
async def test_postfixs_log_line_names_the_inbound_row_and_the_row_its_queue_id(
    daemon: tuple[Any, SwitchableDns], postfix: Postfix, internet: tuple[SinkHandler, int]
) -> None:
    running, _dns = daemon
    person, notice = await notification(running, internet[0])
    reply = reply_to_notification(notice, "Matched from the mail log.", sender=person)
    code, _text = await to_the_mx(postfix, person, reply_address(notice), reply.as_bytes())
    assert code == 250
    # The operator reads Postfix's line for the delivery to mailbridge: its answer names
    # the inbound row, as an MTA's "queued as" does.
    sent = await postfix.wait_log(
        r"postfix/smtp\[\d+\]: (\w+): to=<reply\+[^>]+>, "
        r".*status=sent \(250 2\.0\.0 [^\n]*\(inbound (\d+)\)\)$"
    )
    queue_id, inbound_id = sent.group(1), int(sent.group(2))
    [(message_id, status, headers)] = await db_rows(
        running, "SELECT message_id, status, headers FROM inbound_messages WHERE id = ?",
        inbound_id,
    )  # fmt: skip
    assert (message_id, status) == (str(reply["Message-ID"]), "accepted")
    # And the other way: the row's Received header names Postfix's queue id.
    assert f"with ESMTP id {queue_id}" in str(headers), headers


@pytest.mark.asyncio
@pytest.mark.postfix_main("message_size_limit = 52428800")  # the operator's, for their mail
async def test_a_reply_over_mailbridges_size_is_bounced_by_postfix_naming_the_limit(
    daemon: tuple[Any, SwitchableDns], postfix: Postfix, internet: tuple[SinkHandler, int]
) -> None:
    running, _dns = daemon
    sink = internet[0]
    person, notice = await notification(running, sink)
    reply = reply_to_notification(notice, "Here are the photos of the garden.", sender=person)
    reply.add_attachment(b"\xff" * 8_000_000, maintype="image", subtype="jpeg",
                         filename="garden.jpg")  # fmt: skip
    code, _text = await to_the_mx(postfix, person, reply_address(notice), reply.as_bytes())
    assert code == 250  # under Postfix's own limit: Postfix has it
    # Postfix reads mailbridge's EHLO "SIZE 10485760" and bounces it without sending it:
    # the sender is told the limit in Postfix's words (docs/postfix.md).
    [raw] = [raw for frm, raw in await arrived(sink, person, count=2) if frm == "<>"]
    said = b" ".join(raw.split())
    assert re.search(
        rb"Status: 5\.3\.4 Diagnostic-Code: X-Postfix; message size \d+ exceeds size limit "
        rb"10485760 of server 127\.0\.0\.1\[127\.0\.0\.1\]",
        said,
    ), said[:4000]
    assert await comments_with(running, "Here are the photos of the garden.") == []


@pytest.mark.asyncio
async def test_a_reply_to_two_of_mailbridges_addresses_reaches_both_in_two_transactions(
    daemon: tuple[Any, SwitchableDns], postfix: Postfix, internet: tuple[SinkHandler, int]
) -> None:
    running, _dns = daemon
    person, notice = await notification(running, internet[0])
    reply = reply_to_notification(notice, "Copied to the postmaster too.", sender=person)
    postmaster = f"postmaster@{REPLY_DOMAIN}"
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=postfix.port, start_tls=False, source_address=(INTERNET, 0)
    )
    async with client:
        await client.mail(person)
        await client.rcpt(reply_address(notice))
        await client.rcpt(postmaster)
        answer = await client.data(reply.as_bytes())
    assert answer.code == 250
    # Postfix offers both in one transaction; mailbridge takes one (452 4.5.3 for the
    # other), and Postfix sends that one again, alone: nothing lost, nothing bounced.
    await postfix.wait_log(r"to=<[^>]+@reply\.example\.org>, .*status=deferred \(host "
                           r"127\.0\.0\.1\[127\.0\.0\.1\] said: 452 4\.5\.3 ")  # fmt: skip
    await until("the reply filed", lambda: comments_with(running, "Copied to the postmaster"))
    await until(
        "the postmaster's copy kept",
        lambda: db_rows(running, "SELECT id FROM inbound_messages WHERE status = 'postmaster'"),
    )
    await until("Postfix's queue empty", lambda: asyncio.to_thread(lambda: postfix.queued() == 0))
    assert [frm for frm, _raw in await arrived(internet[0], person)] != ["<>"]  # no bounce


@pytest.mark.asyncio
async def test_a_reply_while_mailbridge_is_stopped_waits_in_postfix_and_is_filed_on_restart(
    tmp_path: Path, postfix: Postfix, internet: tuple[SinkHandler, int], mailbridge_port: int
) -> None:
    sink = internet[0]
    settings: dict[str, Any] = {
        "smtp": {"listen": f"127.0.0.1:{mailbridge_port}", "reply_domain": REPLY_DOMAIN},
        "outbound": {"transport": f"smtp://127.0.0.1:{postfix.port}", "relay_idle_seconds": 0},
        "moderation": {"moderators": [MODERATOR]},
    }
    async with started(tmp_path, **settings) as running:
        person, notice = await notification(running, sink)
        first = reply_to_notification(notice, "The first, while it runs.", sender=person)
        code, _ = await to_the_mx(postfix, person, reply_address(notice), first.as_bytes())
        assert code == 250  # and Postfix now knows the address (verified)
        await until("the first filed", lambda: comments_with(running, "The first, while it"))
    # mailbridge stopped (an upgrade): Postfix takes the next reply and keeps it.
    second = reply_to_notification(
        notice, "The second, while it is stopped.", sender=person, message_id="<reply-2@c.example>"
    )
    code, _ = await to_the_mx(postfix, person, reply_address(notice), second.as_bytes())
    assert code == 250
    await postfix.wait_log(r"to=<reply\+[^>]+>, .*status=deferred \(connect to 127\.0\.0\.1")
    assert await asyncio.to_thread(postfix.queued) == 1
    async with started(tmp_path, **settings) as running:
        await until("the second filed", lambda: comments_with(running, "The second, while it"))
        await until(
            "Postfix's queue empty", lambda: asyncio.to_thread(lambda: postfix.queued() == 0)
        )
        assert len(await comments_with(running, "The second, while it is stopped.")) == 1
    assert [frm for frm, _to, _raw in sink.received if frm == "<>"] == []  # nothing bounced


@pytest.mark.asyncio
async def test_a_forged_reply_address_is_refused_during_the_senders_session(
    daemon: tuple[Any, SwitchableDns], postfix: Postfix, internet: tuple[SinkHandler, int]
) -> None:
    running, _dns = daemon
    forged = f"reply+AAAAAAAAAAAAAAAAAAAAAAAAAAAA@{REPLY_DOMAIN}"
    code, text = await to_the_mx(
        postfix, "guesser@spam.example", forged, b"Subject: hi\r\n\r\nhi\r\n"
    )
    # Postfix asked mailbridge first (a verification probe) and passes on its answer:
    # the sender's own server tells its user; nothing is accepted, nothing bounces.
    assert code == 550, text
    assert "Recipient address rejected" in text and "5.1.1" in text, text
    await asyncio.sleep(1)
    assert [r for r in internet[0].received if "guesser@spam.example" in r[1]] == []
    assert await asyncio.to_thread(postfix.queued) == 0
    # Other domains are still not relayed for the internet.
    code, text = await to_the_mx(postfix, "guesser@spam.example", "x@elsewhere.example", b"x")
    assert code in {454, 554} and "Relay access denied" in text, text
    del running


@pytest.mark.asyncio
async def test_postfixs_report_of_a_refused_notification_counts_against_its_recipient(
    daemon: tuple[Any, SwitchableDns], postfix: Postfix, internet: tuple[SinkHandler, int]
) -> None:
    running, _dns = daemon
    sink = internet[0]
    await post_comment(running, parent=2, author="Ann", body="Which chapter was that in?")
    [(_from, raw)] = await arrived(sink, MODERATOR)
    # The answered person's server does not know them (any more).
    sink.refuse_next = ["550 5.1.1 Recipient address rejected: User unknown"]
    status, _page = await follow(running, moderation_links(parse(raw))["approve"], "POST")
    assert status == 200
    # Postfix's RFC 3464 report goes to the VERP return path, which Postfix relays to
    # mailbridge: counted once, hard, against the notification's recipient.
    await postfix.wait_log(r"status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1")
    counted = await until(
        "the report counted",
        lambda: db_rows(
            running,
            "SELECT a.email, b.kind, b.status, o.rcpt_to FROM bounces b "
            "JOIN addresses a ON a.id = b.address_id JOIN outbox o ON o.id = b.outbox_id",
        ),
    )
    [(email, kind, code, rcpt)] = counted
    assert (kind, code) == ("hard", "5.1.1") and email == rcpt
    assert email != MODERATOR  # the moderation email was delivered
    [(hard,)] = await db_rows(running, "SELECT hard_bounces FROM addresses WHERE email = ?", email)
    assert hard == 1
