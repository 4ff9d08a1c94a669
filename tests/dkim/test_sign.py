"""DkimSigner: what is signed, in what order, and that dkimpy and mailbridge's own
inbound verifier accept it (the external verifiers are in test_external.py)."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
from dkim.util import parse_tag_value
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbridge.outbound.dkim import (
    _POLICY,
    SIGNED_HEADERS,
    DkimSigner,
    DkimSigningError,
    relaxed_body,
)
from mailbridge.outbound.dkim_keys import DkimKeyError
from mailbridge.senderauth import StaticResolver
from mailbridge.senderauth.dkim import verify_dkim


def signatures(signed: bytes) -> list[dict[bytes, bytes]]:
    msg = email.message_from_bytes(signed, policy=email.policy.compat32)
    values = msg.get_all("DKIM-Signature") or []
    return [parse_tag_value("".join(str(v).split()).encode()) for v in values]


def header_names(message: bytes) -> list[str]:
    head = message.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [
        line.split(":", 1)[0].lower()
        for line in head.split("\r\n")
        if line and not line[0].isspace()
    ]


def test_rsa_signature_covers_exactly_the_listed_headers(rsa_key, message, kit):
    signed = DkimSigner([rsa_key]).sign(message)

    assert signed.endswith(message)  # the message itself is untouched
    assert signed.startswith(b"DKIM-Signature: ")
    [sig] = signatures(signed)
    assert sig[b"v"] == b"1"
    assert sig[b"a"] == b"rsa-sha256"
    assert sig[b"c"] == b"relaxed/relaxed"
    assert sig[b"d"] == b"example.org"
    assert sig[b"s"] == b"mb-rsa"
    assert b"l" not in sig  # no body length limit: nothing can be appended unsigned
    present = header_names(message)
    expected = [name for name in present if name in SIGNED_HEADERS] + list(SIGNED_HEADERS)
    assert sig[b"h"].decode().split(":") == expected
    # Everything the issue lists is present in this message, so all of it is signed.
    for name in (
        "from", "to", "subject", "date", "message-id", "reply-to", "in-reply-to",
        "references", "list-id", "list-unsubscribe", "list-unsubscribe-post",
        "auto-submitted", "mime-version", "content-type",
    ):  # fmt: skip
        assert name in expected, name
    assert "x-auto-response-suppress" not in expected
    assert expected.count("from") == 2 and expected.count("reply-to") == 2  # oversigned
    assert kit.dkimpy_verify(signed, kit.zone_for(rsa_key)) == {"mb-rsa": True}


def test_rsa_signature_is_first_whatever_the_configured_order(rsa_key, ed_key, message, kit):
    signer = DkimSigner([ed_key, rsa_key])
    assert [k.algorithm for k in signer.keys] == ["rsa-sha256", "ed25519-sha256"]

    signed = signer.sign(message)

    first, second = signatures(signed)
    assert (first[b"a"], first[b"s"]) == (b"rsa-sha256", b"mb-rsa")
    assert (second[b"a"], second[b"s"]) == (b"ed25519-sha256", b"mb-ed")
    assert first[b"h"] == second[b"h"]
    assert first[b"bh"] == second[b"bh"]  # both over the same canonical body
    assert signed.endswith(message)
    zone = kit.zone_for(rsa_key, ed_key)
    assert kit.dkimpy_verify(signed, zone) == {"mb-rsa": True, "mb-ed": True}


@pytest.mark.asyncio
async def test_mailbridge_inbound_verifier_passes_both(rsa_key, ed_key, message, kit):
    signed = DkimSigner([rsa_key, ed_key]).sign(message)
    resolver = StaticResolver(kit.zone_for(rsa_key, ed_key), otherwise="nxdomain")

    results = await verify_dkim(signed, resolver)

    assert [(r.selector, r.algorithm, r.result) for r in results] == [
        ("mb-rsa", "rsa-sha256", "pass"),
        ("mb-ed", "ed25519-sha256", "pass"),
    ], results


@pytest.mark.parametrize(
    "tampering",
    [
        "body altered",
        "subject altered",
        "second From added",
        "second Reply-To added",
        "second List-Unsubscribe added",
    ],
)
def test_tampering_breaks_every_signature_for_dkimpy(tampering, rsa_key, ed_key, message, kit):
    signed = DkimSigner([rsa_key, ed_key]).sign(message)
    altered = kit.tamperings[tampering](signed)

    zone = kit.zone_for(rsa_key, ed_key)
    assert kit.dkimpy_verify(altered, zone) == {"mb-rsa": False, "mb-ed": False}


def test_headers_outside_the_list_are_not_signed_and_cc_is(rsa_key, kit):
    message = kit.make_message()
    head, body = message.split(b"\r\n\r\n", 1)
    message = (
        head
        + b"\r\nCc: Bob <bob@example.net>\r\nX-Mailer: mailbridge\r\nReceived: from a by b\r\n\r\n"
        + body
    )

    [sig] = signatures(DkimSigner([rsa_key]).sign(message))

    listed = sig[b"h"].decode().split(":")
    assert "cc" in listed
    assert "x-mailer" not in listed
    assert "received" not in listed


def test_folded_headers_and_each_occurrence(rsa_key, kit):
    # Two To headers (not valid, but it must not leave one unsigned).
    message = b"To: a@example.net\r\n" + kit.make_message()

    signed = DkimSigner([rsa_key]).sign(message)

    [sig] = signatures(signed)
    assert sig[b"h"].decode().split(":").count("to") == 3  # each occurrence, once more
    assert kit.dkimpy_verify(signed, kit.zone_for(rsa_key)) == {"mb-rsa": True}


def test_a_message_without_from_is_refused(rsa_key, kit):
    message = re.sub(rb"(?m)^From: .*\r\n", b"", kit.make_message(), count=1)
    assert b"\r\nFrom:" not in message and not message.startswith(b"From:")

    with pytest.raises(DkimSigningError, match="no From"):
        DkimSigner([rsa_key]).sign(message)


def test_signer_needs_an_rsa_key(ed_key):
    with pytest.raises(DkimKeyError, match="needs an RSA key"):
        DkimSigner([ed_key])
    with pytest.raises(DkimKeyError, match="at least one key"):
        DkimSigner([])


def test_signer_refuses_two_keys_on_one_selector(rsa_key, other_rsa_key):
    with pytest.raises(DkimKeyError, match="same selector"):
        DkimSigner([rsa_key, other_rsa_key])


def test_signatures_are_folded_crlf_lines(rsa_key, ed_key, message):
    signed = DkimSigner([rsa_key, ed_key]).sign(message)
    head = signed.split(b"\r\n\r\n", 1)[0]

    assert b"\n" not in head.replace(b"\r\n", b"")
    assert b"\r" not in head.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in head.split(b"\r\n"))


def test_a_message_that_is_not_crlf_wire_form_is_refused(rsa_key, kit):
    lf_only = kit.make_message().replace(b"\r\n", b"\n")

    with pytest.raises(DkimSigningError, match="CRLF"):
        DkimSigner([rsa_key]).sign(lf_only)


@pytest.mark.parametrize("which", ["rsa", "ed25519"])
def test_the_signature_is_byte_for_byte_what_dkimpy_writes(
    which, rsa_key, ed_key, message, monkeypatch
):
    # RSASSA-PKCS1-v1_5 and Ed25519 are deterministic: signing through the cryptography
    # package must give dkimpy's own header exactly (same tags, folding, b=), at one t=.
    import time

    import dkim

    from mailbridge.outbound.dkim import _header_list

    key = rsa_key if which == "rsa" else ed_key
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.25)
    ours = DkimSigner([key], require_rsa=False).sign(message)
    theirs = dkim.sign(
        message,
        key.selector.encode(),
        key.domain.encode(),
        key.private_key,
        canonicalize=(b"relaxed", b"relaxed"),
        signature_algorithm=key.algorithm.encode(),
        include_headers=_header_list(message),
        linesep=b"\r\n",
    )
    assert ours == theirs + message


def test_a_message_with_a_header_dkimpy_cannot_parse_is_refused(rsa_key):
    with pytest.raises(DkimSigningError):
        DkimSigner([rsa_key]).sign(b"From: a@example.org\r\nbroken header line\r\n\r\nbody\r\n")


# Bodies made of what relaxed canonicalization looks at: spaces, tabs, line ends.
_BODY = st.lists(
    st.sampled_from([b"a", b"b", b" ", b"  ", b"\t", b"\r\n", b"\r", b"\n", b"\xc3\xa9"]),
    max_size=60,
).map(b"".join)


@settings(max_examples=500, deadline=None)
@given(body=_BODY)
def test_the_fast_relaxed_body_is_dkimpys_byte_for_byte(body: bytes) -> None:
    assert relaxed_body(body) == _POLICY.canonicalize_body(body)
