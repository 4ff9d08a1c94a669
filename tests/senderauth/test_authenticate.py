"""authenticate() and decide(): the scenarios the issue names, end to end on real signatures."""

from __future__ import annotations

import json

import pytest
from publicsuffixlist import PublicSuffixList
from senderauth.mailkit import Key, message, prepend, sign, zone

from mailbridge.senderauth import (
    AuthPolicy,
    AuthResult,
    Resolver,
    StaticResolver,
    UnavailableResolver,
    authenticate,
    decide,
)

REJECT = {"_dmarc.example.com": "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"}
QUARANTINE = {"_dmarc.example.com": "v=DMARC1; p=quarantine"}
RELAY = "mx.blog.example"
DEFAULT = AuthPolicy()


async def check(
    raw: bytes,
    resolver: Resolver,
    suffixes: PublicSuffixList,
    *,
    relays: tuple[str, ...] = (),
    peer: str = "127.0.0.1:40000",  # the relay on this host, as the SMTP handler names it
    from_domain: str | None = None,
) -> AuthResult:
    result = await authenticate(
        raw,
        resolver=resolver,
        trusted_authserv_ids=relays,
        peer=peer,
        from_domain=from_domain,
        suffixes=suffixes,
    )
    # Every result must be loggable and summarised on one line.
    json.dumps(result.to_log())
    assert "\n" not in result.summary()
    return result


@pytest.mark.asyncio
async def test_a_valid_aligned_rsa_signature_is_accepted(
    rsa_key: Key, suffixes: PublicSuffixList
) -> None:
    result = await check(sign(message(), rsa_key), zone(rsa_key, records=REJECT), suffixes)
    assert (result.status, result.source, result.dns) == ("authenticated", "local checks", "ok")
    assert (result.dmarc.result, result.dmarc.policy, result.dmarc.aligned) == (
        "pass",
        "reject",
        ("example.com",),
    )
    assert decide(result, DEFAULT).action == "accept"


@pytest.mark.asyncio
async def test_a_valid_ed25519_signature_is_accepted(
    ed_key: Key, suffixes: PublicSuffixList
) -> None:
    result = await check(sign(message(), ed_key), zone(ed_key, records=REJECT), suffixes)
    assert result.status == "authenticated"
    assert result.dkim[0].algorithm == "ed25519-sha256"
    assert decide(result, DEFAULT).action == "accept"


@pytest.mark.asyncio
async def test_a_body_altered_after_signing_is_refused_under_p_reject(
    rsa_key: Key, suffixes: PublicSuffixList
) -> None:
    signed = sign(message(body="I agree.\r\n"), rsa_key)
    result = await check(
        signed.replace(b"I agree.", b"I object."), zone(rsa_key, records=REJECT), suffixes
    )
    assert result.status == "failed"
    assert result.dkim[0].result == "fail"
    decision = decide(result, DEFAULT)
    assert decision.action == "refuse"
    assert decision.smtp_reply == (
        "550 5.7.1 example.com publishes DMARC p=reject and this message has no valid DKIM "
        "signature aligned with it"
    )


@pytest.mark.asyncio
async def test_a_forged_from_signed_by_another_domain_is_refused_or_held_by_policy(
    rsa_key: Key, suffixes: PublicSuffixList
) -> None:
    attacker = rsa_key.at("attacker.example")
    forged = sign(message("Ann <ann@example.com>"), attacker)
    result = await check(forged, zone(attacker, records=REJECT), suffixes)
    assert result.status == "failed"
    assert [(r.domain, r.result) for r in result.dkim] == [("attacker.example", "pass")]
    assert result.dmarc.aligned == ()
    assert decide(result, DEFAULT).action == "refuse"
    held = decide(result, AuthPolicy(on_dmarc_reject="hold"))
    assert (held.action, held.smtp_reply) == ("hold", None)
    assert "p=reject" in held.reason


@pytest.mark.asyncio
async def test_an_unsigned_forgery_of_a_p_reject_domain_is_refused(
    suffixes: PublicSuffixList,
) -> None:
    result = await check(message(), zone(records=REJECT), suffixes)
    assert (result.status, result.dkim) == ("failed", ())
    assert decide(result, DEFAULT).action == "refuse"


@pytest.mark.asyncio
async def test_p_quarantine_holds_by_default_and_can_refuse(suffixes: PublicSuffixList) -> None:
    result = await check(message(), zone(records=QUARANTINE), suffixes)
    assert (result.status, result.dmarc.applied) == ("failed", "quarantine")
    assert decide(result, DEFAULT).action == "hold"
    refused = decide(result, AuthPolicy(on_dmarc_quarantine="refuse"))
    assert refused.smtp_reply is not None and refused.smtp_reply.startswith("550 5.7.1 ")
    assert "p=quarantine" in refused.smtp_reply


@pytest.mark.asyncio
async def test_relaxed_alignment_accepts_a_subdomain_signature_and_strict_does_not(
    ed_key: Key, suffixes: PublicSuffixList
) -> None:
    mail = ed_key.at("mail.example.com")
    raw = sign(message(), mail)
    relaxed = await check(raw, zone(mail, records=REJECT), suffixes)
    assert relaxed.status == "authenticated"
    assert relaxed.dmarc.aligned == ("mail.example.com",)
    strict_zone = zone(mail, records={"_dmarc.example.com": "v=DMARC1; p=reject; adkim=s"})
    strict = await check(raw, strict_zone, suffixes)
    assert (strict.status, strict.dmarc.alignment) == ("failed", "strict")
    assert decide(strict, DEFAULT).action == "refuse"


@pytest.mark.asyncio
async def test_no_dmarc_record_accepts_as_unauthenticated(
    rsa_key: Key, suffixes: PublicSuffixList
) -> None:
    # Without a DMARC record the domain asks nothing of receivers: even a broken
    # signature is treated as no signature (RFC 6376 §6.1), and the reply is accepted,
    # marked as not authenticated.
    signed = sign(message(), rsa_key).replace(b"helped", b"hurt")
    result = await check(signed, zone(rsa_key), suffixes)
    assert (result.status, result.dmarc.result) == ("unauthenticated", "none")
    decision = decide(result, DEFAULT)
    assert decision.action == "accept"
    assert decision.reason == "not authenticated, accepted: example.com publishes no DMARC policy"


@pytest.mark.asyncio
async def test_p_none_and_pct_zero_quarantine_are_not_enforced(suffixes: PublicSuffixList) -> None:
    for record in ("v=DMARC1; p=none", "v=DMARC1; p=quarantine; pct=0"):
        result = await check(message(), zone(records={"_dmarc.example.com": record}), suffixes)
        assert result.status == "unauthenticated", record
        assert decide(result, DEFAULT).action == "accept"


@pytest.mark.asyncio
async def test_p_reject_below_pct_100_is_applied_as_quarantine(suffixes: PublicSuffixList) -> None:
    records = {"_dmarc.example.com": "v=DMARC1; p=reject; pct=50"}
    result = await check(message(), zone(records=records), suffixes)
    assert (result.dmarc.policy, result.dmarc.applied) == ("reject", "quarantine")
    assert decide(result, DEFAULT).action == "hold"
    assert "pct=50" in result.summary()


@pytest.mark.asyncio
async def test_dns_unavailable_degrades_explicitly_under_each_policy(
    ed_key: Key, suffixes: PublicSuffixList
) -> None:
    result = await check(sign(message(), ed_key), UnavailableResolver(), suffixes)
    assert (result.status, result.dns) == ("undetermined", "unavailable")
    assert result.dmarc.result == "temperror"
    assert result.dkim[0].result == "temperror"
    assert "DNS unavailable" in result.summary()
    accepted = decide(result, AuthPolicy(when_dns_unavailable="accept"))
    assert (accepted.action, accepted.smtp_reply) == ("accept", None)
    assert accepted.reason.startswith("accepted unverified:")
    held = decide(result, AuthPolicy(when_dns_unavailable="hold"))
    assert held.action == "hold"
    tempfail = decide(result, AuthPolicy(when_dns_unavailable="tempfail"))
    assert tempfail.action == "tempfail"
    assert tempfail.smtp_reply == (
        "451 4.7.0 Cannot verify example.com now (DNS unavailable); please try again later"
    )


@pytest.mark.asyncio
async def test_a_pinned_zone_on_an_air_gapped_host_still_authenticates(
    ed_key: Key, suffixes: PublicSuffixList
) -> None:
    pinned = StaticResolver({ed_key.record_name: ed_key.record, **REJECT})
    good = await check(sign(message(), ed_key), pinned, suffixes)
    assert good.status == "authenticated"
    # A domain that is not pinned is unknown, not "no policy".
    other = await check(message("Bob <bob@example.org>"), pinned, suffixes)
    assert (other.status, other.dns) == ("undetermined", "unavailable")


@pytest.mark.asyncio
async def test_a_missing_key_for_an_aligned_signature_does_not_matter_under_p_none(
    ed_key: Key, suffixes: PublicSuffixList
) -> None:
    class _KeyFails:
        async def txt(self, name: str) -> list[str]:
            if "_domainkey" in name:
                return await UnavailableResolver().txt(name)
            return ["v=DMARC1; p=none"]

    result = await check(sign(message(), ed_key), _KeyFails(), suffixes)
    assert (result.status, result.dns) == ("unauthenticated", "unavailable")
    assert decide(result, AuthPolicy(when_dns_unavailable="tempfail")).action == "accept"


@pytest.mark.asyncio
async def test_an_aligned_key_unreachable_under_p_reject_is_undetermined(
    ed_key: Key, suffixes: PublicSuffixList
) -> None:
    class _KeyFails:
        async def txt(self, name: str) -> list[str]:
            if "_domainkey" in name:
                return await UnavailableResolver().txt(name)
            return ["v=DMARC1; p=reject"]

    result = await check(sign(message(), ed_key), _KeyFails(), suffixes)
    assert result.status == "undetermined"
    assert decide(result, AuthPolicy(when_dns_unavailable="tempfail")).action == "tempfail"


@pytest.mark.asyncio
async def test_multiple_signatures_one_aligned_pass_is_enough(
    ed_key: Key, rsa_key: Key, suffixes: PublicSuffixList
) -> None:
    relay = rsa_key.at("lists.example.net")
    raw = prepend(
        sign(sign(message(), ed_key), relay),
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=nope; junk",
    )
    result = await check(raw, zone(ed_key, relay, records=REJECT), suffixes)
    assert [r.result for r in result.dkim] == ["permerror", "pass", "pass"]
    assert (result.status, result.dmarc.aligned) == ("authenticated", ("example.com",))


@pytest.mark.asyncio
async def test_a_broken_aligned_signature_beside_a_valid_unaligned_one_is_refused(
    ed_key: Key, rsa_key: Key, suffixes: PublicSuffixList
) -> None:
    relay = rsa_key.at("lists.example.net")
    signed = sign(message(body="Original.\r\n"), ed_key)
    raw = sign(signed.replace(b"Original.", b"Rewritten."), relay)
    result = await check(raw, zone(ed_key, relay, records=REJECT), suffixes)
    assert [(r.domain, r.result) for r in result.dkim] == [
        ("lists.example.net", "pass"),
        ("example.com", "fail"),
    ]
    assert decide(result, DEFAULT).action == "refuse"


@pytest.mark.asyncio
async def test_a_malformed_signature_alone_counts_as_unsigned(suffixes: PublicSuffixList) -> None:
    raw = prepend(message(), "DKIM-Signature: v=1; d=example.com; s=x; b=; bh=")
    result = await check(raw, zone(records=REJECT), suffixes)
    assert [r.result for r in result.dkim] == ["permerror"]
    assert decide(result, DEFAULT).action == "refuse"


def _relay(result: str, *, policy: str = "", header_from: str = "example.com") -> str:
    comment = f" (p={policy})" if policy else ""
    return f"Authentication-Results: {RELAY}; dmarc={result}{comment} header.from={header_from}"


@pytest.mark.asyncio
async def test_a_trusted_relay_pass_is_honoured_when_local_checks_cannot_run(
    suffixes: PublicSuffixList,
) -> None:
    raw = prepend(message(), f"Received: from mx by {RELAY}", _relay("pass"))
    result = await check(raw, UnavailableResolver(), suffixes, relays=(RELAY,))
    assert (result.status, result.source) == ("authenticated", f"trusted relay {RELAY}")
    assert result.dns == "unavailable"  # the local checks still say what they saw
    assert decide(result, AuthPolicy(when_dns_unavailable="tempfail")).action == "accept"


@pytest.mark.asyncio
async def test_a_trusted_relay_pass_survives_a_change_made_after_it_checked(
    ed_key: Key, suffixes: PublicSuffixList
) -> None:
    # The relay verified the signature, then something on our side rewrote the body.
    altered = sign(message(body="Yes.\r\n"), ed_key).replace(b"Yes.", b"Yes!")
    raw = prepend(altered, _relay("pass"))
    result = await check(raw, zone(ed_key, records=REJECT), suffixes, relays=(RELAY,))
    assert (result.status, result.source) == ("authenticated", f"trusted relay {RELAY}")
    assert result.dkim[0].result == "fail"


@pytest.mark.asyncio
async def test_a_trusted_relay_dkim_pass_is_aligned_locally(suffixes: PublicSuffixList) -> None:
    header = f"Authentication-Results: {RELAY}; dkim=pass header.d=mail.example.com header.s=s1"
    result = await check(
        prepend(message(), header), zone(records=REJECT), suffixes, relays=(RELAY,)
    )
    assert (result.status, result.dmarc.aligned) == ("authenticated", ("mail.example.com",))
    unaligned = f"Authentication-Results: {RELAY}; dkim=pass header.d=attacker.example"
    refused = await check(
        prepend(message(), unaligned), zone(records=REJECT), suffixes, relays=(RELAY,)
    )
    assert refused.status == "failed"


@pytest.mark.asyncio
async def test_a_trusted_relay_failure_with_its_policy_decides_when_dns_is_down(
    suffixes: PublicSuffixList,
) -> None:
    raw = prepend(message(), _relay("fail", policy="REJECT"))
    result = await check(raw, UnavailableResolver(), suffixes, relays=(RELAY,))
    assert (result.status, result.dmarc.applied) == ("failed", "reject")
    assert decide(result, DEFAULT).action == "refuse"
    unknown = await check(
        prepend(message(), _relay("fail")), UnavailableResolver(), suffixes, relays=(RELAY,)
    )
    assert unknown.status == "undetermined"  # no policy stated: still DNS's question


@pytest.mark.asyncio
async def test_a_trusted_relay_result_about_another_domain_is_ignored(
    suffixes: PublicSuffixList,
) -> None:
    raw = prepend(message(), _relay("pass", header_from="attacker.example"))
    result = await check(raw, zone(records=REJECT), suffixes, relays=(RELAY,))
    assert (result.status, result.source) == ("failed", "local checks")


@pytest.mark.asyncio
async def test_an_untrusted_authentication_results_header_is_ignored(
    suffixes: PublicSuffixList,
) -> None:
    raw = prepend(message(), _relay("pass"))
    result = await check(raw, zone(records=REJECT), suffixes, relays=("mx.other.example",))
    assert (result.status, result.source) == ("failed", "local checks")
    assert "untrusted" in result.relay
    assert decide(result, DEFAULT).action == "refuse"


@pytest.mark.asyncio
async def test_a_relay_header_is_ignored_when_the_message_did_not_come_from_the_relay(
    suffixes: PublicSuffixList,
) -> None:
    # A sender connecting to our port directly can write the "topmost" header themselves.
    raw = prepend(message(), _relay("pass"))
    result = await check(
        raw, zone(records=REJECT), suffixes, relays=(RELAY,), peer="203.0.113.9:50000"
    )
    assert (result.status, result.source) == ("failed", "local checks")
    assert "203.0.113.9" in result.relay
    remote = await authenticate(
        raw,
        resolver=zone(records=REJECT),
        trusted_authserv_ids=(RELAY,),
        peer="192.0.2.25:41000",
        trusted_networks=("192.0.2.0/24",),
        suffixes=suffixes,
    )
    assert (remote.status, remote.source) == ("authenticated", f"trusted relay {RELAY}")
    unknown = await authenticate(
        raw, resolver=zone(records=REJECT), trusted_authserv_ids=(RELAY,), suffixes=suffixes
    )
    assert unknown.status == "failed"


@pytest.mark.asyncio
async def test_a_buried_or_lower_forged_header_is_ignored(suffixes: PublicSuffixList) -> None:
    # The sender wrote it among their own header fields.
    buried = message(extra=[_relay("pass")])
    result = await check(buried, zone(records=REJECT), suffixes, relays=(RELAY,))
    assert (result.status, result.source) == ("failed", "local checks")
    # The sender put it on top; the relay then prepended its genuine verdict above it.
    forged = prepend(message(), _relay("fail"), _relay("pass"))
    result = await check(forged, zone(records=REJECT), suffixes, relays=(RELAY,))
    assert (result.status, result.source) == ("failed", "local checks")
    assert decide(result, DEFAULT).action == "refuse"


@pytest.mark.asyncio
@pytest.mark.parametrize("sender", ["", "nobody", "Ann <ann@example.com>, Bob <bob@example.com>"])
async def test_a_message_without_exactly_one_from_address_is_refused(
    sender: str, suffixes: PublicSuffixList
) -> None:
    result = await check(message(sender), UnavailableResolver(), suffixes)
    assert result.status == "no-from"
    decision = decide(result, DEFAULT)
    assert decision.action == "refuse"
    assert decision.smtp_reply is not None and decision.smtp_reply.startswith("550 5.7.1 ")


@pytest.mark.asyncio
async def test_two_from_header_fields_are_refused(suffixes: PublicSuffixList) -> None:
    raw = prepend(message(), "From: Mallory <m@attacker.example>")
    assert (await check(raw, UnavailableResolver(), suffixes)).status == "no-from"


@pytest.mark.asyncio
async def test_the_callers_from_domain_is_the_one_checked(
    ed_key: Key, suffixes: PublicSuffixList
) -> None:
    raw = sign(message(), ed_key)
    records = {**REJECT, "_dmarc.example.org": "v=DMARC1; p=reject"}
    result = await check(raw, zone(ed_key, records=records), suffixes, from_domain="Example.ORG")
    assert (result.from_domain, result.status) == ("example.org", "failed")


@pytest.mark.asyncio
async def test_an_internationalized_from_domain_is_checked_as_a_labels(
    ed_key: Key, suffixes: PublicSuffixList
) -> None:
    idn = ed_key.at("xn--bcher-kva.example")
    raw = sign(message("Ann <ann@xn--bcher-kva.example>"), idn)
    records = {"_dmarc.xn--bcher-kva.example": "v=DMARC1; p=reject"}
    result = await check(raw, zone(idn, records=records), suffixes, from_domain="bücher.example")
    assert (result.from_domain, result.status) == ("xn--bcher-kva.example", "authenticated")


@pytest.mark.asyncio
async def test_a_from_domain_that_is_no_dns_name_is_unauthenticated(
    suffixes: PublicSuffixList,
) -> None:
    result = await check(message("ann@[192.0.2.1]"), UnavailableResolver(), suffixes)
    assert (result.status, result.dmarc.result) == ("unauthenticated", "none")
    assert decide(result, DEFAULT).action == "accept"


@pytest.mark.asyncio
async def test_the_log_record_and_summary(rsa_key: Key, suffixes: PublicSuffixList) -> None:
    attacker = rsa_key.at("attacker.example")
    result = await check(sign(message(), attacker), zone(attacker, records=REJECT), suffixes)
    assert result.to_log() == {
        "status": "failed",
        "from_domain": "example.com",
        "source": "local checks",
        "dns": "ok",
        "dkim": [
            {
                "d": "attacker.example",
                "s": "rsa",
                "a": "rsa-sha256",
                "result": "pass",
                "reason": "signature verified",
            }
        ],
        "dmarc": {
            "result": "fail",
            "policy": "reject",
            "applied": "reject",
            "pct": 100,
            "alignment": "relaxed",
            "record": "example.com",
            "aligned": [],
            "reason": "no valid DKIM signature aligned with From",
        },
        "relay": "no trusted relays configured",
    }
    assert result.summary() == (
        "failed: From example.com; DMARC fail (p=reject); DKIM d=attacker.example pass "
        "[local checks; DNS ok]"
    )


@pytest.mark.asyncio
async def test_the_public_suffix_list_is_loaded_when_not_given(ed_key: Key) -> None:
    result = await authenticate(sign(message(), ed_key), resolver=zone(ed_key, records=REJECT))
    assert result.status == "authenticated"
