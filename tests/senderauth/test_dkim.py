"""DKIM verification: every signature gets a result, nothing in a message makes it raise."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from senderauth.mailkit import Key, message, prepend, sign, zone

from mailbridge.senderauth.dkim import verify_dkim
from mailbridge.senderauth.dns import StaticResolver, TemporaryDnsError, UnavailableResolver


@pytest.mark.asyncio
async def test_a_valid_rsa_signature_passes(rsa_key: Key) -> None:
    (result,) = await verify_dkim(sign(message(), rsa_key), zone(rsa_key))
    assert (result.result, result.domain, result.selector) == ("pass", "example.com", "rsa")
    assert result.algorithm == "rsa-sha256"


@pytest.mark.asyncio
async def test_a_valid_ed25519_signature_passes(ed_key: Key) -> None:
    (result,) = await verify_dkim(sign(message(), ed_key), zone(ed_key))
    assert (result.result, result.algorithm) == ("pass", "ed25519-sha256")


@pytest.mark.asyncio
async def test_a_body_altered_after_signing_fails(rsa_key: Key) -> None:
    signed = sign(message(body="I agree.\r\n"), rsa_key)
    (result,) = await verify_dkim(signed.replace(b"I agree.", b"I object."), zone(rsa_key))
    assert result.result == "fail"
    assert "body hash mismatch" in result.reason


@pytest.mark.asyncio
async def test_a_signed_header_altered_after_signing_fails(ed_key: Key) -> None:
    signed = sign(message(), ed_key)
    (result,) = await verify_dkim(
        signed.replace(b"Re: your comment", b"Re: hijacked"), zone(ed_key)
    )
    assert result.result == "fail"


@pytest.mark.asyncio
async def test_a_signature_checked_against_another_key_fails(
    rsa_key: Key, other_rsa_key: Key
) -> None:
    signed = sign(message(), rsa_key)
    (result,) = await verify_dkim(signed, zone(other_rsa_key.at("example.com", "rsa")))
    assert result.result == "fail"


@pytest.mark.asyncio
async def test_every_signature_gets_its_own_result_in_order(
    rsa_key: Key, ed_key: Key, other_rsa_key: Key
) -> None:
    relay = other_rsa_key.at("lists.example.net", "list")
    raw = sign(sign(message(), ed_key), relay)  # the relay's signature ends up on top
    results = await verify_dkim(raw, zone(ed_key, relay))
    assert [(r.domain, r.result) for r in results] == [
        ("lists.example.net", "pass"),
        ("example.com", "pass"),
    ]


@pytest.mark.asyncio
async def test_a_malformed_signature_is_a_permerror_and_the_others_still_count(
    ed_key: Key,
) -> None:
    raw = prepend(
        sign(message(), ed_key),
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=x; this is not tag=value",
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=x; h=from; bh=abc=; b=",
        "DKIM-Signature: garbage",
    )
    results = await verify_dkim(raw, zone(ed_key))
    assert [r.result for r in results] == ["permerror", "permerror", "permerror", "pass"]
    assert results[0].domain == "example.com"  # named even when it cannot be parsed
    assert all(r.reason for r in results)


@pytest.mark.asyncio
async def test_no_published_key_is_a_permerror(rsa_key: Key) -> None:
    (result,) = await verify_dkim(sign(message(), rsa_key), zone())
    assert result.result == "permerror"
    assert "rsa._domainkey.example.com" in result.reason


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("record", "why"),
    [
        ("v=DKIM1; k=rsa; p=", "revoked"),
        ("v=DKIM1; k=ed25519; p=AAAA", "does not match"),
        ("v=DKIM1; k=dsa; p=AAAA", "unknown key type"),
        ("v=DKIM1; k=rsa; p=bm90IGEga2V5", "invalid"),
        ("v=DKIM1; k=rsa; p=AAAA; p=BBBB", "malformed"),
    ],
)
async def test_an_unusable_key_record_is_a_permerror(rsa_key: Key, record: str, why: str) -> None:
    resolver = StaticResolver({rsa_key.record_name: record}, otherwise="nxdomain")
    (result,) = await verify_dkim(sign(message(), rsa_key), resolver)
    assert result.result == "permerror"
    assert why in result.reason


@pytest.mark.asyncio
async def test_rsa_sha1_is_refused_by_policy_without_a_lookup(rsa_key: Key) -> None:
    signed = sign(message(), rsa_key, algorithm=b"rsa-sha1")
    (result,) = await verify_dkim(signed, UnavailableResolver())
    assert (result.result, result.algorithm) == ("policy", "rsa-sha1")


@pytest.mark.asyncio
async def test_a_signature_that_does_not_cover_from_is_a_permerror(ed_key: Key) -> None:
    # dkimpy will not sign without From, so the h= list is edited afterwards.
    signed = re.sub(rb"h=from : to", b"h=to", sign(message(), ed_key), count=1)
    assert b"h=to :" in signed
    (result,) = await verify_dkim(signed, zone(ed_key))
    assert result.result == "permerror"
    assert "From" in result.reason


@pytest.mark.asyncio
async def test_a_body_length_limit_leaving_text_unsigned_is_not_accepted(ed_key: Key) -> None:
    signed = sign(message(body="Signed text.\r\n"), ed_key, length=True)
    (whole,) = await verify_dkim(signed, zone(ed_key))
    assert whole.result == "pass"
    (extended,) = await verify_dkim(signed + b"Appended by someone else.\r\n", zone(ed_key))
    assert extended.result == "policy"
    assert "l=" in extended.reason


@pytest.mark.asyncio
async def test_a_key_in_testing_mode_does_not_authenticate(ed_key: Key) -> None:
    resolver = StaticResolver({ed_key.record_name: ed_key.record + "; t=y"}, otherwise="nxdomain")
    (result,) = await verify_dkim(sign(message(), ed_key), resolver)
    assert result.result == "policy"


@pytest.mark.asyncio
async def test_signatures_beyond_the_limit_are_not_checked(ed_key: Key) -> None:
    raw = message()
    for _ in range(3):
        raw = sign(raw, ed_key)
    results = await verify_dkim(raw, zone(ed_key), max_signatures=2)
    assert [r.result for r in results] == ["pass", "pass", "policy"]


@pytest.mark.asyncio
async def test_dns_unavailable_is_a_temperror_that_says_so(ed_key: Key) -> None:
    (result,) = await verify_dkim(sign(message(), ed_key), UnavailableResolver())
    assert (result.result, result.dns) == ("temperror", "unavailable")
    assert "DNS unavailable" in result.reason


class _Failing:
    async def txt(self, name: str) -> list[str]:
        raise TemporaryDnsError(f"{name}: SERVFAIL")


class _Hanging:
    async def txt(self, name: str) -> list[str]:
        await asyncio.sleep(3600)
        return []


@pytest.mark.asyncio
async def test_a_temporary_dns_failure_is_a_temperror(ed_key: Key) -> None:
    (result,) = await verify_dkim(sign(message(), ed_key), _Failing())
    assert (result.result, result.dns) == ("temperror", "temperror")


@pytest.mark.asyncio
async def test_a_resolver_that_never_answers_is_cut_off(ed_key: Key) -> None:
    started = time.monotonic()
    (result,) = await verify_dkim(sign(message(), ed_key), _Hanging(), lookup_timeout=0.2)
    assert result.result == "temperror"
    assert time.monotonic() - started < 5


@pytest.mark.asyncio
async def test_an_unsigned_message_has_no_results() -> None:
    assert await verify_dkim(message(), UnavailableResolver()) == ()


@pytest.mark.asyncio
async def test_an_unparseable_header_block_with_a_signature_is_a_permerror() -> None:
    raw = b"DKIM-Signature: v=1; d=example.com\r\n\x00bad header line\r\n\r\nbody"
    (result,) = await verify_dkim(raw, UnavailableResolver())
    assert result.result == "permerror"


@pytest.mark.asyncio
async def test_lf_only_line_endings_verify_too(ed_key: Key) -> None:
    signed = sign(message(), ed_key).replace(b"\r\n", b"\n")
    (result,) = await verify_dkim(signed, zone(ed_key))
    assert result.result == "pass"


@pytest.mark.asyncio
async def test_an_unsigned_message_is_not_handed_to_dkimpy(
    monkeypatch: pytest.MonkeyPatch, ed_key: Key
) -> None:
    """dkimpy splits a whole message into lines to find its headers (0.13 s of the
    daemon's GIL for a reply carrying an 8 MB photo): unsigned, it is not asked."""
    from mailbridge.senderauth import dkim

    parsed: list[int] = []
    real = dkim._parse

    def counting(raw: bytes, max_signatures: int) -> object:
        parsed.append(len(raw))
        return real(raw, max_signatures)

    monkeypatch.setattr(dkim, "_parse", counting)
    quoted = b"\r\n\r\n> DKIM-Signature: v=1; d=example.com; quoted in the body\r\n"
    for raw in (message(), message() + quoted, message().replace(b"\r\n", b"\n") + quoted):
        assert await verify_dkim(raw, UnavailableResolver()) == ()
    assert parsed == []
    # Signed, with either line ending, it is (the test above it checks the verdicts).
    for signed in (sign(message(), ed_key), sign(message(), ed_key).replace(b"\r\n", b"\n")):
        (result,) = await verify_dkim(signed, zone(ed_key))
        assert result.result == "pass"
    assert len(parsed) == 2
