"""The relaxed header canonicalization of mailbridge's own messages (issue 14's ed25519
row) is dkimpy's byte for byte: on generated messages the fast path either agrees or
declines, and a signature made through it is the one dkimpy's path makes."""

from __future__ import annotations

from collections.abc import Callable
from unittest import mock

import dkim
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailbridge.outbound import dkim as mb_dkim
from mailbridge.outbound.dkim import _POLICY, DkimSigner
from mailbridge.outbound.dkim_canon import relaxed_headers
from mailbridge.outbound.dkim_keys import DkimKey

_NAMES = st.sampled_from(
    [b"From", b"To", b"subject", b"DATE", b"Message-ID", b"X-Thing", b"List-Id", b"Cc",
     b"Content-Type", b"Reply-To", b"Bad Name", b"", b"From ", b"X:Y"]
)  # fmt: skip
_PIECES = st.sampled_from(
    [b"a", b"Zo\xc3\xab", b" ", b"  ", b"\t", b" \t ", b"<x@example.org>", b":", b";",
     b"\x0b", b"\x0c", b"\r", b"\xa0", b"=?utf-8?q?=C3=A9?="]
)  # fmt: skip
_VALUE = st.lists(_PIECES, max_size=8).map(b"".join)
# A field: a name, its value, and maybe folded continuation lines.
_FIELD = st.tuples(
    _NAMES, _VALUE, st.lists(st.tuples(st.sampled_from([b" ", b"\t"]), _VALUE), max_size=2)
)
_BODY = st.lists(
    st.sampled_from([b"text", b" ", b"\t", b"\r\n", b"\n", b"\xc3\xa9"]), max_size=20
).map(b"".join)
_EOL = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n"])


def _message(
    fields: list[tuple[bytes, bytes, list[tuple[bytes, bytes]]]], eol: bytes, body: bytes
) -> bytes:
    lines = []
    for name, value, folded in fields:
        lines.append(name + b":" + value)
        lines += [space + more for space, more in folded]
    return eol.join(lines) + eol + eol + body


def _dkimpy(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
    try:
        headers, body = dkim.rfc822_parse(message)
    except (dkim.DKIMException, IndexError):
        return None
    return [tuple(h) for h in _POLICY.canonicalize_headers(headers)], body


@settings(max_examples=600, deadline=None)
@given(fields=st.lists(_FIELD, min_size=1, max_size=6), eol=_EOL, body=_BODY)
def test_the_fast_headers_are_dkimpys_or_it_declines(
    fields: list[tuple[bytes, bytes, list[tuple[bytes, bytes]]]], eol: bytes, body: bytes
) -> None:
    message = _message(fields, eol, body)
    fast = relaxed_headers(message)
    if fast is not None:
        assert fast == _dkimpy(message)


@settings(max_examples=400, deadline=None)
@given(fields=st.lists(_FIELD, min_size=1, max_size=6), with_from=st.booleans())
def test_the_h_list_from_the_fast_headers_is_the_one_read_apart(
    fields: list[tuple[bytes, bytes, list[tuple[bytes, bytes]]]], with_from: bool
) -> None:
    first = [(b"From", b" Ann <ann@example.org>", [])] if with_from else []
    message = _message([*first, *fields], b"\r\n", b"Hello.\r\n")
    fast = relaxed_headers(message)
    if fast is None:
        return

    def listed(read: Callable[[], list[bytes]]) -> list[bytes] | None:
        try:
            return read()
        except mb_dkim.DkimSigningError:  # no From: refused either way
            return None

    assert listed(lambda: mb_dkim._listed(fast[0])) == listed(lambda: mb_dkim._header_list(message))


def test_mailbridges_own_messages_take_the_fast_path(kit) -> None:  # type: ignore[no-untyped-def]
    assert relaxed_headers(kit.make_message()) is not None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=st.lists(_FIELD, min_size=1, max_size=5), body=_BODY)
def test_a_signature_made_on_the_fast_path_is_the_one_dkimpys_path_makes(
    rsa_key: DkimKey,
    ed_key: DkimKey,
    fields: list[tuple[bytes, bytes, list[tuple[bytes, bytes]]]],
    body: bytes,
) -> None:
    message = _message([(b"From", b" Ann <ann@example.org>", []), *fields], b"\r\n", body)
    signer = DkimSigner([rsa_key, ed_key])
    with mock.patch.object(mb_dkim.time, "time", return_value=1_765_000_000.0):
        try:
            fast = signer.sign(message)
        except mb_dkim.DkimSigningError:
            fast = None
        with mock.patch.object(mb_dkim, "relaxed_headers", return_value=None):
            try:
                slow = signer.sign(message)
            except mb_dkim.DkimSigningError:
                slow = None
    assert fast == slow


def test_a_fast_path_signature_verifies_with_dkimpy(rsa_key: DkimKey, ed_key: DkimKey, kit) -> None:  # type: ignore[no-untyped-def]
    signed = DkimSigner([rsa_key, ed_key]).sign(kit.make_message())
    verdicts = kit.dkimpy_verify(signed, kit.zone_for(rsa_key, ed_key))
    assert verdicts == {"mb-rsa": True, "mb-ed": True}
