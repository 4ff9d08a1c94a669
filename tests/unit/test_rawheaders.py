"""The header section of a received message parses to the same headers as the whole
message (mailbridge/rawheaders.py): the pipeline and sender authentication read it
without the body."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import compat32

from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailbridge.rawheaders import header_section, parse_header_section

LINES = st.sampled_from(
    [
        b"From: Ann <ann@example.org>", b"Subject: hello", b"Subject: =?utf-8?q?h=C3=A9?=",
        b" folded on", b"\tfolded too", b"", b"not a header line", b"X-Empty:", b":",
        b"DKIM-Signature: v=1; a=rsa-sha256;", b"  b=abc", b"Subject: \xc3\xa9 8-bit",
        b"From ann@example.org Mon Jan  1 00:00:00 2026", b"body text", b"> quoted",
    ]
)  # fmt: skip
ENDS = st.sampled_from([b"\r\n", b"\n", b"\r"])


@settings(max_examples=1500, deadline=None)
@given(st.lists(st.tuples(LINES, ENDS), max_size=12))
@example([(b"Subject: a", b"\r\n"), (b"", b"\r\n"), (b"From: b@example.org", b"\r\n")])
@example([(b"Subject: a", b"\n"), (b"", b"\r\n"), (b"body", b"\n")])
@example([(b"Subject: a", b"\r"), (b"", b"\r"), (b"body", b"\r")])
@example([(b"Subject: a", b"\r\n"), (b"not a header line", b"\r\n"), (b"X: y", b"\r\n")])
def test_the_header_section_gives_the_whole_messages_headers(
    lines: list[tuple[bytes, bytes]],
) -> None:
    raw = b"".join(line + end for line, end in lines)
    whole = BytesHeaderParser(policy=compat32).parsebytes(raw)
    section = parse_header_section(raw)
    assert section.items() == whole.items()
    assert [type(d) for d in section.defects] == [type(d) for d in whole.defects]
    assert raw.startswith(header_section(raw))


def test_the_body_is_left_out() -> None:
    raw = b"Subject: a\r\nFrom: b@example.org\r\n\r\n" + b"a line of the body\r\n" * 1000
    assert header_section(raw) == b"Subject: a\r\nFrom: b@example.org\r\n\r\n"
    assert header_section(b"Subject: a\nFrom: b\n\nbody\n") == b"Subject: a\nFrom: b\n\n"
    assert header_section(b"Subject: a\rFrom: b\r\r\nbody") == b"Subject: a\rFrom: b\r\r\n"
    assert header_section(b"Subject: no empty line\r\n") == b"Subject: no empty line\r\n"
