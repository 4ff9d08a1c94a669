"""Properties that hold for any input: no exception, the same answer twice, linear time.

Random bytes rarely look like mail, so the fixtures are also mutated (cut,
spliced, bytes flipped) to reach the parsers' deeper paths.  The linear-time
check runs hostile inputs in a subprocess under a generous wall-clock guard: it
detects a hang (catastrophic backtracking, quadratic loops), it is not a benchmark.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from classify.machine_support import MACHINE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbridge.classify import classify_automated, classify_raw, parse_bounce

FIXTURES = [p.read_bytes() for p in sorted(MACHINE.glob("*.eml"))]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEADER_LINES = st.sampled_from(
    [
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n",
        b"From: MAILER-DAEMON@mx.example.net\r\n",
        b"Subject: Undeliverable: x\r\n",
        b"Subject: =?utf-8?B?6Ieq5YuV5b+c562U?=: x\r\n",
        b"Auto-Submitted: auto-replied\r\n",
        b"X-Failed-Recipients: a@b\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n",
        b"\r\n--B\r\nContent-Type: message/rfc822\r\n\r\n",
        b"Final-Recipient: rfc822; a@b\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n",
        b"\r\n--B--\r\n",
    ]
)


def _check(raw: bytes) -> None:
    for mail_from in (None, "", "ann@example.org"):
        assert classify_raw(raw, mail_from) == classify_raw(raw, mail_from)
        assert parse_bounce(raw, mail_from) == parse_bounce(raw, mail_from)


@SETTINGS
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_never_raise_and_answer_the_same_twice(raw: bytes) -> None:
    _check(raw)


@SETTINGS
@given(st.lists(st.one_of(HEADER_LINES, st.binary(max_size=200)), max_size=30))
def test_report_shaped_noise_never_raises(pieces: list[bytes]) -> None:
    _check(b"".join(pieces))


@SETTINGS
@given(
    st.sampled_from(FIXTURES),
    st.integers(min_value=0, max_value=20_000),
    st.integers(min_value=0, max_value=20_000),
    st.binary(max_size=64),
)
def test_mutated_fixtures_never_raise(raw: bytes, start: int, length: int, junk: bytes) -> None:
    _check(raw[:start])  # cut anywhere
    _check(raw[:start] + junk + raw[start + length :])  # a piece replaced
    flipped = bytes(b ^ 0x80 if i % 97 == start % 97 else b for i, b in enumerate(raw))
    _check(flipped)  # 8-bit damage throughout


@SETTINGS
@given(st.dictionaries(st.text(max_size=30), st.text(max_size=300), max_size=12), st.text())
def test_arbitrary_header_mappings_never_raise(headers: dict[str, str], mail_from: str) -> None:
    assert classify_automated(headers, mail_from) == classify_automated(headers, mail_from)


HOSTILE = textwrap.dedent(
    """
    import time
    from mailbridge.classify import classify_raw, parse_bounce

    big = 2_000_000
    bounce_head = (b"From: MAILER-DAEMON@x\\r\\nSubject: Undeliverable\\r\\n"
                   b"Content-Type: text/plain\\r\\n\\r\\n")
    cases = [
        b"Subject: " + b"Out of office " * 100_000 + b"\\r\\n\\r\\n",
        b"Subject: " + b"=?utf-8?q?" + b"a" * big + b"\\r\\n\\r\\n",
        b"From: " + b"<" * big + b"\\r\\n\\r\\n",
        b"X-Autorespond: " + b"x" * big + b"\\r\\n\\r\\n",
        b"Subject: x\\r\\n" + b"X-A: y\\r\\n" * 100_000 + b"\\r\\n",
        bounce_head + b"a" * big,
        bounce_head + b"5.5.5." * 300_000,
        bounce_head + b"550 " * 500_000,
        bounce_head + (b"x" * 63 + b"@") * 30_000,
        bounce_head + b"Hi. This is the qmail-send program\\n" + b"<a@b>:\\n" * 200_000,
        bounce_head + b"This message was created automatically by mail delivery software"
        + b"\\n  a@b.c\\n" * 200_000,
        bounce_head + b"----- The following addresses had permanent fatal errors -----\\n"
        + b"<a@b.c>... " * 200_000,
        bounce_head + b"Delivery has failed to these recipients or groups:\\n"
        + b"a@b." * 400_000,
        bounce_head + b"** Address not found **\\n" + b"The response was:\\n" * 100_000,
        (b"From: MAILER-DAEMON@x\\r\\nContent-Type: multipart/report; "
         b"report-type=delivery-status; boundary=B\\r\\n\\r\\n"
         + b"--B\\r\\nContent-Type: multipart/mixed; boundary=B\\r\\n\\r\\n" * 20_000),
        (b"From: MAILER-DAEMON@x\\r\\nContent-Type: multipart/report; "
         b"report-type=delivery-status; boundary=B\\r\\n\\r\\n--B\\r\\n"
         b"Content-Type: message/delivery-status\\r\\n\\r\\n"
         + b"Final-Recipient: rfc822; a@b\\r\\n\\r\\n" * 60_000),
        b"Content-Type: text/html\\r\\nFrom: postmaster@x\\r\\n\\r\\n" + b"<" * big,
        # thousands of nested multiparts, each with its own boundary
        (b"From: MAILER-DAEMON@x\\r\\nContent-Type: multipart/report; "
         b"report-type=delivery-status; boundary=b0\\r\\n\\r\\n"
         + b"".join(b"--b%d\\r\\nContent-Type: multipart/mixed; boundary=b%d\\r\\n\\r\\n"
                    % (i, i + 1) for i in range(5000))),
    ]
    for raw in cases:
        start = time.monotonic()
        classify_raw(raw, "")
        parse_bounce(raw, "")
        elapsed = time.monotonic() - start
        assert elapsed < 20, (raw[:60], elapsed)
    print("ok")
    """
)


def test_hostile_inputs_finish_in_linear_time() -> None:
    result = subprocess.run(
        [sys.executable, "-c", HOSTILE], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    "ctype",
    ["text/plain", "message/delivery-status", "text/delivery-status", "message/rfc822"],
)
def test_a_nul_in_a_charset_never_raises(ctype: str) -> None:
    # Found by the mutation test above: compat32's get_payload() decodes a leaf that
    # holds 8-bit bytes with the declared charset, and raises ValueError on a NUL in
    # the charset's name.
    head = (
        b"From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail Returned to Sender\n"
        b"MIME-Version: 1.0\n"
    )
    leaf = f"Content-Type: {ctype}; charset=\x00utf-8\nContent-Transfer-Encoding: 8bit\n\n"
    body = "Final-Recipient: rfc822; a@example.org\nAction: failed\nStatus: 5.1.1\n\u0421\u043f\n"
    single = head + leaf.encode() + body.encode()
    multi = (
        head
        + b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\n\n--b\n'
        + leaf.encode()
        + body.encode()
        + b"\n--b--\n"
    )
    for raw in (single, multi):
        assert parse_bounce(raw, "") == parse_bounce(raw, "")
        assert classify_raw(raw, "") == classify_raw(raw, "")
