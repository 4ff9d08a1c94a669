"""mailbridge send-reply: the reply's addresses come from unfolded header fields, and a
refusal is reported with the server's words (a real SMTP server on 127.0.0.1)."""

from __future__ import annotations

import pytest
from support import SinkHandler

from mailbridge.send_reply import CannotReply, build_reply, send_reply

TOKEN = "reply+" + "A1b2C3d4" * 8
# As a Maildir file holds it: Reply-To and To folded over lines, a name encoded.
NOTIFICATION = (
    b"From: Example Blog <comments@example.org>\r\n"
    b"To: =?utf-8?q?Zo=C3=AB_=C3=85ngstr=C3=B6m?=\r\n <zoe@example.net>\r\n"
    b"Reply-To:\r\n " + TOKEN.encode() + b"@reply.example.org\r\n"
    b"Subject: Ann answered your comment\r\n"
    b"Message-ID: <n.1@example.org>\r\n"
    b"\r\n"
    b"Ann answered your comment.\r\n"
)


def test_the_reply_goes_from_to_to_the_unfolded_reply_to() -> None:
    sender, recipient, reply = build_reply(NOTIFICATION, "Thank you, Ann.")

    assert (sender, recipient) == ("zoe@example.net", f"{TOKEN}@reply.example.org")
    assert reply["From"].addresses[0].display_name == "Zoë Ångström"
    assert reply["In-Reply-To"] == "<n.1@example.org>"
    assert str(reply["Subject"]) == "Re: Ann answered your comment"
    assert reply.get_content() == "Thank you, Ann.\n"


def test_an_email_without_reply_to_is_refused_with_a_reason() -> None:
    without = NOTIFICATION.replace(b"Reply-To:", b"X-Old-Reply-To:")
    with pytest.raises(CannotReply, match="exactly one Reply-To"):
        build_reply(without, "Hi")


def test_a_refusal_says_what_the_server_said(smtp_sink: tuple[SinkHandler, int]) -> None:
    handler, port = smtp_sink
    handler.refuse_next.append("550 5.7.1 Sender not authenticated")

    with pytest.raises(CannotReply, match="refused: 550 5.7.1 Sender not authenticated"):
        send_reply(NOTIFICATION, "Thank you, Ann.", "127.0.0.1", port)

    said = send_reply(NOTIFICATION, "Thank you, Ann.", "127.0.0.1", port)
    assert said.startswith("Sent a reply from zoe@example.net")
    [(mail_from, rcpt_tos, data)] = handler.received
    assert (mail_from, rcpt_tos) == ("zoe@example.net", [f"{TOKEN}@reply.example.org"])
    assert b"\r\n\r\nThank you, Ann.\r\n" in data
