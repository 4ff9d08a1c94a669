from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address

from hypothesis import given
from hypothesis import strategies as st
from support import parse

from mailbridge.outbound.compose import clean_header_text, compose, split_address

ATTACKS = [
    "Ann\r\nBcc: victim@example.net",
    "Ann\nBcc: victim@example.net",
    "Ann\rBcc: victim@example.net",
    "Ann\u2028Bcc: victim@example.net",
    "Ann\x00\x1b[31m",
    "=?utf-8?q?Ann=0D=0ABcc:_victim@example.net?=",
]


def build(name: str, subject: str) -> bytes:
    return compose(
        sender=split_address("Blog <comments@example.org>"),
        to=Address(display_name=clean_header_text(name), addr_spec="r@example.net"),
        subject=subject,
        text="body",
        html="<p>body</p>",
        message_id="<x@reply.example.org>",
        date=datetime(2026, 11, 25, tzinfo=UTC),
        reply_to=Address(
            display_name=clean_header_text(f"{name} via Blog"),
            addr_spec="reply+abc@reply.example.org",
        ),
    )


def test_user_text_cannot_add_headers() -> None:
    for attack in ATTACKS:
        raw = build(attack, f"Re: {attack}")
        msg = parse(raw)
        assert msg["Bcc"] is None
        assert len(msg.get_all("To")) == 1
        assert [a.addr_spec for a in msg["To"].addresses] == ["r@example.net"]
        assert [a.addr_spec for a in msg["Reply-To"].addresses] == ["reply+abc@reply.example.org"]
        header_block = raw.split(b"\r\n\r\n", 1)[0]
        assert b"\nBcc:" not in header_block


@given(st.text(max_size=300), st.text(max_size=300))
def test_any_name_and_subject_make_a_well_formed_message(name: str, subject: str) -> None:
    msg = parse(build(name, subject))
    assert msg["Bcc"] is None
    assert msg["To"].addresses[0].addr_spec == "r@example.net"
    assert "\n" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])


def test_headers_every_notification_carries() -> None:
    msg = parse(build("Ann Ö", "Re: “Attachment” 😀"))
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Date"] and msg["Message-ID"] == "<x@reply.example.org>"
    assert str(msg["Subject"]) == "Re: “Attachment” 😀"
    assert msg["To"].addresses[0].display_name == "Ann Ö"
    assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
