from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP, SMTPUTF8

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import parse
from wire import text as header_text

from mailbridge.addresses import mailbox
from mailbridge.outbound.compose import (
    clean_header_text,
    compose,
    split_address,
    well_formed_message_id,
)
from mailbridge.outbound.headers import WireHeader, structured_header

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


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("<CAF=x+y@mail.gmail.com>", "<CAF=x+y@mail.gmail.com>"),
        ("<a.b@[127.0.0.1]>", "<a.b@[127.0.0.1]>"),
        ("(a comment) <a@b.example>", "<a@b.example>"),
        ("<a@b.example> Bcc: boss@example.com", "<a@b.example>"),
        ("=?utf-8?q?=3Ca=40b.example=3E?=", None),
        ("<réponse@b.example>", None),
        ("<a\x00@b.example>", None),
        ("<a b@b.example>", None),
        ("<a..b@b.example>", None),
        ("<" + "a" * 1000 + "@b.example>", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_well_formed_message_id_is_taken_from_a_reply(
    written: str | None, kept: str | None
) -> None:
    assert well_formed_message_id(written) == kept


@pytest.mark.parametrize(
    ("tail", "kept"),
    [
        ("🇩🇪", ""),  # half a flag is a lone letter symbol
        ("e\u0301", ""),  # the letter without its accent
        ("👨\u200d👩\u200d👧", ""),  # a family cut after a joiner
        ("👍🏽", ""),  # a skin tone without its hand
        ("xy", "x"),
    ],
)
def test_a_subject_cut_to_its_limit_keeps_clusters_whole(tail: str, kept: str) -> None:
    subject = "a" * 249 + tail
    raw = build("Ann", subject)
    assert header_text(raw, "Subject") == "a" * 249 + kept


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


def with_bodies(text: str, html: str) -> bytes:
    return compose(
        sender=split_address("Blog <comments@example.org>"),
        to=Address(display_name="Ann", addr_spec="r@example.net"),
        subject="Re: x",
        text=text,
        html=html,
        message_id="<x@reply.example.org>",
        date=datetime(2026, 11, 25, tzinfo=UTC),
    )


def lines_as_set_content_makes_them(text: str) -> str:
    # Each line ended with one newline; "\r", "\r\n" and "\n" end a line, and nothing
    # else does (bytes.splitlines: "\x0b" or "\u2028" is text).
    return "".join(line.decode("utf-8") + "\n" for line in text.encode("utf-8").splitlines())


BODY_PIECES = st.sampled_from(
    [
        "word", " ", "  ", "\t", "\n", "\r\n", "\r", "=", "=?", "=3D", ".", "\n.\n", "From ",
        "--", "=_", "ö", "日本語", "😀", "x" * 90, "a " * 50, "\u00a0", "\x0b", "\x85", "\u2028",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(BODY_PIECES, max_size=30).map("".join), st.text(max_size=400))
def test_the_bodies_arrive_as_written_in_short_ascii_lines(text: str, html: str) -> None:
    raw = with_bodies(text, html)
    assert raw.isascii()
    _head, _, body = raw.partition(b"\r\n\r\n")
    # Short lines (RFC 5322's 78; binascii keeps quoted-printable's 76 but for a line
    # ending in a space it encodes, 77) with CRLF line ends only.
    assert all(len(line) <= 78 for line in body.split(b"\r\n"))
    assert b"\n" not in body.replace(b"\r\n", b"")
    # An mbox delivery would write it ">From " (and break the DKIM body hash).
    assert not any(line.startswith(b"From ") for line in body.split(b"\r\n"))
    msg = parse(raw)
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and rich is not None
    assert plain.get_content().replace("\r\n", "\n") == lines_as_set_content_makes_them(text)
    assert rich.get_content().replace("\r\n", "\n") == lines_as_set_content_makes_them(html)
    assert plain["Content-Transfer-Encoding"] in ("quoted-printable", "base64")
    assert plain.get_content_charset() == "utf-8"


@pytest.mark.parametrize(
    "text",
    [
        "From what I read, yes.\nFrom\nFrom: me\n>From here\n",
        "From " + "x" * 71 + "\n",  # 76 characters: escaped, the line is broken
        "y" * 75 + "From the start of a soft-broken line\n",
        "From  \n",  # the trailing spaces are encoded
    ],
)
def test_from_at_a_line_start_is_escaped_in_lines_of_76(text: str) -> None:
    raw = with_bodies(text, text)
    body = raw.partition(b"\r\n\r\n")[2]
    lines = body.split(b"\r\n")
    assert not any(line.startswith(b"From ") for line in lines)
    assert b"=46rom" in body
    assert all(len(line) <= 76 for line in lines)
    msg = parse(raw)
    for kind in ("plain", "html"):
        part = msg.get_body((kind,))
        assert part is not None and part.get_content().replace("\r\n", "\n") == text


def wire_headers(block: str) -> list[WireHeader]:
    """The header block's fields as WireHeaders of the same tokens: they fold the same."""
    fields = re.split(r"\r\n(?![ \t])", block.removesuffix("\r\n"))
    return [
        WireHeader(name, value.split(), value) for name, value in (f.split(":", 1) for f in fields)
    ]


def by_the_email_package(wire: bytes, text: str, html: str, utf8: bool) -> bytes:
    """What the email package's generator writes for the same headers (taken from
    ``wire`` with their tokens), boundary and bodies, the way compose() built its
    messages until it wrote the MIME structure itself."""
    block = wire.split(b"\r\n\r\n", 1)[0].decode("utf-8" if utf8 else "ascii") + "\r\n"
    msg = EmailMessage(policy=SMTPUTF8 if utf8 else SMTP)
    for header in wire_headers(block):
        msg[header.name] = header
    parts = []
    for subtype, body in (("plain", text), ("html", html)):
        part = EmailMessage(policy=msg.policy)
        lines = b"".join(line + b"\n" for line in body.encode("utf-8").splitlines())
        encoded = binascii.b2a_qp(lines, istext=True).decode("ascii").split("\n")
        # compose() escapes "From " at a line's start, breaking a line it would make too long.
        for i, line in enumerate(encoded):
            if line.startswith("From "):
                encoded[i] = "=46" + line[1:] if len(line) <= 74 else "=46rom=\n" + line[4:]
        payload, cte = "\n".join(encoded), "quoted-printable"
        # ... or base64 as set_content writes it (CRLF line ends encoded), when shorter.
        other = MIMEPart(policy=msg.policy)
        other.set_content(body, subtype=subtype, charset="utf-8", cte="base64")
        b64 = other.get_payload()
        if not lines.isascii() and len(b64.replace("\n", "\r\n")) < len(payload) + len(encoded) - 1:
            payload, cte = b64, "base64"
        part["Content-Type"] = structured_header("Content-Type", f'text/{subtype}; charset="utf-8"')
        part["Content-Transfer-Encoding"] = structured_header("Content-Transfer-Encoding", cte)
        part.set_payload(payload)
        parts.append(part)
    msg.set_payload(parts)
    return msg.as_bytes()


NAMES = st.sampled_from(["", "Ann", "Ann Ö", 'A "q" \\ b', "日本語の名前", "x" * 80, "Ann, Bob"])


@settings(max_examples=200, deadline=None)
@given(
    name=NAMES,
    subject=st.text(max_size=120),
    text=st.lists(BODY_PIECES, max_size=30).map("".join),
    html=st.text(max_size=300),
    local=st.sampled_from(["r", "jörg", "用户"]),
    answering=st.booleans(),
)
def test_the_mime_structure_is_the_email_packages_byte_for_byte(
    name: str, subject: str, text: str, html: str, local: str, answering: bool
) -> None:
    wire = compose(
        sender=split_address("Blog <comments@example.org>"),
        to=mailbox(clean_header_text(name), f"{local}@example.net"),
        subject=subject,
        text=text,
        html=html,
        message_id="<x@reply.example.org>",
        date=datetime(2026, 11, 25, tzinfo=UTC),
        reply_to=Address(display_name="", addr_spec="reply+abc@reply.example.org")
        if answering
        else None,
        in_reply_to="<p@example.org>" if answering else None,
        references=["<a@example.org>", "<p@example.org>"] if answering else None,
        auto_submitted="auto-replied" if answering else "auto-generated",
        extra_headers=[("List-Id", "<comments.example.org>")] if answering else (),
    )
    assert wire == by_the_email_package(wire, text, html, utf8=not local.isascii())


@pytest.mark.parametrize(
    ("text", "cte"),
    [
        ("Спасибо за статью! " * 300, "base64"),  # Russian: a third of quoted-printable's size
        ("日本語のコメントです。\n" * 200, "base64"),
        (
            "Danke für den Artikel, ich fand ihn sehr hilfreich und gut geschrieben.\n" * 50,
            "quoted-printable",
        ),
        # Mostly markup, as an HTML part is:
        (
            "<td style='padding:0 16px;font:16px/1.5 system-ui,sans-serif'>Привет</td>\n" * 99,
            "quoted-printable",
        ),
    ],
)
def test_a_part_goes_in_the_shorter_encoding_and_arrives_as_written(text: str, cte: str) -> None:
    raw = with_bodies(text, text)
    assert raw.count(f"Content-Transfer-Encoding: {cte}\r\n".encode()) == 2
    body = raw.partition(b"\r\n\r\n")[2]
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    if cte == "base64":
        # What a receiver decodes, byte for byte: UTF-8 text with CRLF line ends.
        first = body.split(b"\r\n\r\n")[1].split(b"\r\n--")[0]
        assert base64.b64decode(first) == text.replace("\n", "\r\n").encode("utf-8") + (
            b"" if text.endswith("\n") else b"\r\n"
        )
        qp = binascii.b2a_qp(text.encode("utf-8"), istext=True)
        assert len(first) < len(qp) / 2
    msg = parse(raw)
    for kind in ("plain", "html"):
        part = msg.get_body((kind,))
        assert part is not None
        assert part.get_content().replace("\r\n", "\n") == lines_as_set_content_makes_them(text)
