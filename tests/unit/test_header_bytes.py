"""The raw header bytes of composed messages, read as a receiver reads them (issue 8,
finding 1): List-* never encoded nor broken, Subject and names decoding, per RFC 2047,
to exactly what was meant, no line too long."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import idna
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support import make_settings
from wire import (
    ENCODED_WORD,
    decode_text,
    decode_word,
    encoded_words,
    field,
    header_lines,
    mailbox,
    text,
    unfold,
)

from mailbridge.addresses import mailbox as make_mailbox
from mailbridge.clock import SystemClock
from mailbridge.notify.addressing import Addressing
from mailbridge.outbound.compose import clean_header_text, compose, make_message_id
from mailbridge.outbound.headers import WireHeader, fold, phrase_tokens, room_after, text_tokens
from mailbridge.tokens import Keyring

PROPERTIES = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = Keyring.from_secret(b"k" * 32)
NOWHERE = Path("/nonexistent/mailbridge-test")  # settings only name a data directory
REPLY = "reply+" + "r" * 38 + "@reply.example.org"

# Words as people write them: compounds, CJK without spaces, emoji sequences (joiners,
# skin tones, flags), Persian with the zero-width non-joiner, combining accents.
WORDS = [
    "Psychotherapeutenausbildungsfinanzierungsgesetz",
    "Rechtsschutzversicherungsgesellschaften",
    "Bindungstheorie",
    "über",
    "Ärger",
    "und",
    "Re:",
    "—",
    "“Attachment”",
    "心理治疗与人际关系中的依恋理论",
    "依恋",
    "😀",
    "👨‍👩‍👧‍👦",
    "👍🏽",
    "🇩🇪🇫🇷",
    "روان‌درمانی",
    "رابطهٔ",
    "e\u0301te\u0301",
    "a",
    "(draft)",
    '"quoted"',
    "Smith,",
    "x" * 90,
]
words_text = st.lists(st.sampled_from(WORDS), min_size=1, max_size=16).map(" ".join)
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=260)
titles = words_text | any_text


def labels(alphabet: str, size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=1, max_size=size).filter(
        lambda s: not s.startswith("-") and not s.endswith("-")
    )


ascii_label = labels("abcdefghijklmnopqrstuvwxyz0123456789-", 63)
idn_label = st.sampled_from(["bücher", "münchen", "例え", "пример", "kommentär"])
hosts = st.lists(ascii_label | idn_label, min_size=1, max_size=4).map(
    lambda parts: ".".join([*parts, "example"])
)
public_urls = st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{f':{port}' if port else ''}{path}",
    st.sampled_from(["http", "https"]),
    hosts,
    st.none() | st.integers(1, 65535),
    st.sampled_from(["", "/", "/comments", "/blog/kommentare"]),
)


def expected_base(public_url: str) -> str:
    """What the links must start with: the host as IDNA A-labels (computed here with
    the IDNA reference library, label by label)."""
    scheme, rest = public_url.split("://", 1)
    netloc, _slash, path = rest.partition("/")
    host, colon, port = netloc.partition(":")
    ascii_host = ".".join(
        label if label.isascii() else idna.encode(label).decode() for label in host.split(".")
    )
    base = f"{scheme}://{ascii_host}{colon}{port}"
    return base + (f"/{path}" if path else "").rstrip("/")


def notification(
    tmp: Path, public_url: str, title: str, name: str, site: str = "Example Blog"
) -> bytes:
    """A reply notification composed as mailbridge composes one."""
    addressing = Addressing(
        make_settings(tmp, site={"public_url": public_url, "name": site}), KEYS, SystemClock()
    )
    return compose(
        sender=addressing.sender,
        to=make_mailbox(clean_header_text(name), "reader@example.org"),
        subject=f"Re: {title}",
        text="body",
        html="<p>body</p>",
        message_id=make_message_id("c1", addressing.domain),
        date=datetime(2026, 11, 25, tzinfo=UTC),
        reply_to=make_mailbox(clean_header_text(f"{name} via {site}"), REPLY),
        in_reply_to="<c2@reply.example.org>",
        references=["<t1@reply.example.org>", "<c2@reply.example.org>"],
        extra_headers=addressing.unsubscribe_headers(7, 1),
    )


def check_lines(raw: bytes) -> None:
    for line in header_lines(raw):
        assert len(line) <= 998, line
        if b"=?" in line:
            assert len(line) <= 76, line  # RFC 2047 2
    for name, value in (("To", field(raw, "To")), ("Subject", field(raw, "Subject"))):
        for word in encoded_words(value):
            assert len(word) <= 75, (name, word)


def check_list_headers(raw: bytes, public_url: str) -> None:
    for name in ("List-Unsubscribe", "List-Unsubscribe-Post", "List-Id"):
        assert "=?" not in field(raw, name), name
    links = re.findall(r"<([^<>]*)>", unfold(field(raw, "List-Unsubscribe")))
    assert len(links) == 2, links
    https, mailto = links
    base = expected_base(public_url)
    assert re.fullmatch(re.escape(base) + r"/unsubscribe/[A-Za-z0-9_.=-]+", https), https
    assert re.fullmatch(
        r"mailto:unsubscribe\+[A-Za-z0-9_.=-]+@reply\.example\.org\?subject="
        r"unsubscribe",
        mailto,
    ), mailto
    # Each link whole on one physical line: folded between list elements only.
    physical = [line.decode() for line in header_lines(raw)]
    for link in links:
        assert any(f"<{link}>" in line for line in physical), link
    assert unfold(field(raw, "List-Unsubscribe-Post")).strip() == "List-Unsubscribe=One-Click"


def test_the_reported_case_a_port_keeps_list_unsubscribe_plain(tmp_path: Path) -> None:
    raw = notification(tmp_path, "https://comments.example.org:18080", "A title", "Ann")
    block = b"\r\n".join(header_lines(raw))
    assert b"List-Unsubscribe: <https://comments.example.org:18080/unsubscribe/" in block
    check_list_headers(raw, "https://comments.example.org:18080")


def test_a_long_host_and_an_idn_host(tmp_path: Path) -> None:
    long_host = "comments." + "a" * 40 + ".really-long-blog-name.example.org"
    assert len(long_host) > 60
    for url in (f"https://{long_host}:8443/c", "https://kommentär.bücher.example/"):
        raw = notification(tmp_path, url, "A title", "Ann")
        check_list_headers(raw, url)
        check_lines(raw)
    assert b"https://xn--kommentr-6za.xn--bcher-kva.example/unsubscribe/" in raw


@PROPERTIES
@given(public_url=public_urls)
def test_list_headers_for_any_public_url(public_url: str) -> None:
    raw = notification(NOWHERE, public_url, "A title", "Ann")
    check_list_headers(raw, public_url)
    check_lines(raw)


@PROPERTIES
@given(title=titles, name=titles)
@example(title="— und a Attachment Heilung “Attachment” —", name="Ann")
@example(
    title="Psychotherapeutenausbildungsfinanzierungsgesetz Beziehungen 心理治疗 über in",
    name="Ünïcödé Long Display Name Of Somebody With Many Words and a Surname",
)
@example(title="x", name='Smith, John (admin) "x" \\ y')
def test_subject_and_names_decode_to_what_was_meant(title: str, name: str) -> None:
    raw = notification(NOWHERE, "https://blog.example.org", title, name)
    check_lines(raw)
    assert text(raw, "Subject") == clean_header_text(f"Re: {title}", limit=250)
    assert mailbox(field(raw, "To")) == (clean_header_text(name), "reader@example.org")
    assert mailbox(field(raw, "Reply-To")) == (clean_header_text(f"{name} via Example Blog"), REPLY)
    for header in ("Message-ID", "In-Reply-To", "References", "Date"):
        assert "=?" not in field(raw, header)


@pytest.mark.parametrize(
    ("author", "shown"),
    [
        ("Ann", "Ann via Example Blog"),
        ("ceo@bank.com", "ceo at bank.com via Example Blog"),
        ("ceo\uff20bank.com", "ceo at bank.com via Example Blog"),  # fullwidth @
        ("ceo\ufe6bbank.com", "ceo at bank.com via Example Blog"),  # small @
        ("x" * 250, "x" * 183 + " via Example Blog"),  # the site's name is never cut off
    ],
)
def test_the_reply_to_name_never_passes_for_an_address(
    tmp_path: Path, author: str, shown: str
) -> None:
    addressing = Addressing(make_settings(tmp_path), KEYS, SystemClock())
    raw = compose(
        sender=addressing.sender,
        to=make_mailbox("", "reader@example.org"),
        subject="Re: a title",
        text="body",
        html="<p>body</p>",
        message_id=make_message_id("c1", addressing.domain),
        date=datetime(2026, 11, 25, tzinfo=UTC),
        reply_to=make_mailbox(addressing.reply_to_name(author), REPLY),
    )
    value = unfold(field(raw, "Reply-To"))
    assert value.count("@") == 1 and value.endswith(f"<{REPLY}>"), value
    assert mailbox(field(raw, "Reply-To")) == (shown, REPLY)


def test_a_site_name_that_is_not_ascii_is_encoded_in_list_id_only(tmp_path: Path) -> None:
    raw = notification(tmp_path, "https://blog.example.org", "T", "Ann", site="Blög “Café”")
    value = unfold(field(raw, "List-Id"))
    assert value.endswith(" <bl-g-caf.reply.example.org>")
    assert mailbox(value) == ("Blög “Café”", "bl-g-caf.reply.example.org")


def test_words_and_clusters_stay_whole_inside_encoded_words() -> None:
    subject = (
        "Über Psychotherapeutenausbildungsfinanzierungsgesetzesänderung "
        "心理治疗与人际关系中的依恋理论 "
        "روان‌درمانی 👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦 e\u0301te\u0301"
    )
    value = fold("Subject", text_tokens(subject, room_after("Subject")))
    decoded = [decode_word(m) for m in ENCODED_WORD.finditer(value)]
    assert len(decoded) > 1
    # Every word that fits an encoded word of its own is in one piece, whole.
    for word in (
        "Psychotherapeutenausbildungsfinanzierungsgesetzesänderung",
        "心理治疗与人际关系中的依恋理论",
        "روان‌درمانی",
        "e\u0301te\u0301",
    ):
        assert any(word in piece for piece in decoded), (word, decoded)
    for piece in decoded:
        assert piece[0] not in "\u200c\u200d\u0301\U0001f3fd" and piece[-1] not in "\u200c\u200d"
    assert decode_text(unfold(value.removeprefix("Subject:").rstrip("\r\n")).lstrip()) == subject


def test_phrases_quote_specials_and_encode_what_is_not_ascii() -> None:
    assert phrase_tokens("Ann Smith") == ["Ann", "Smith"]
    assert phrase_tokens('Smith, "J" \\') == ['"Smith,', '\\"J\\"', '\\\\"']
    (looks_encoded,) = phrase_tokens("=?utf-8?q?x?=")  # would be decoded: so it is encoded
    assert decode_text(looks_encoded) == "=?utf-8?q?x?="
    assert phrase_tokens("Jürgen (Admin) Smith")[-1] == "Smith"


def test_many_references_fold_between_ids_only() -> None:
    ids = [f"<c{n}.{'f' * 24}@reply.a-rather-long-reply-domain.example.org>" for n in range(30)]
    value = fold("References", [*ids])
    lines = value.split("\r\n")[:-1]
    assert len(lines) == 30
    assert [line.strip().removeprefix("References: ") for line in lines] == ids


def test_a_token_with_whitespace_or_a_control_is_refused_whatever_the_code_point() -> None:
    # WireHeader tests a whole token at once; every code point that is whitespace or
    # not printable must still be refused, in the middle of a token or alone.
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        refused = char.isspace() or not char.isprintable()
        for token in (char, f"a{char}b"):
            try:
                WireHeader("X-Test", [token], token)
            except ValueError:
                assert refused, f"U+{code:04X} refused"
            else:
                assert not refused, f"U+{code:04X} let through"
