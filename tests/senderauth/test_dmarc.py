"""DMARC records, policy discovery (RFC 7489 §6.6.3), organizational domains and alignment."""

from __future__ import annotations

import pytest
from publicsuffixlist import PublicSuffixList

from mailbridge.senderauth.dkim import DkimResult
from mailbridge.senderauth.dmarc import (
    DmarcRecord,
    InvalidDmarcRecord,
    PolicyLookup,
    applied_policy,
    discover_policy,
    evaluate,
    is_aligned,
    organizational_domain,
    parse_record,
    to_ascii_domain,
)
from mailbridge.senderauth.dns import StaticResolver, TemporaryDnsError, UnavailableResolver


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v=DMARC1; p=reject", DmarcRecord("reject", None, "relaxed", 100)),
        (
            "v=DMARC1;p=quarantine;sp=none;adkim=s;pct=25",
            DmarcRecord("quarantine", "none", "strict", 25),
        ),
        (" v = DMARC1 ; P=Reject ; ADKIM=S ", DmarcRecord("reject", None, "strict", 100)),
        (
            "v=DMARC1; p=none; rua=mailto:d@example.com; fo=1;",
            DmarcRecord("none", None, "relaxed", 100),
        ),
        # Invalid optional values are ignored: the defaults apply.
        (
            "v=DMARC1; p=reject; pct=150; adkim=x; sp=bogus",
            DmarcRecord("reject", None, "relaxed", 100),
        ),
        ("v=DMARC1; p=reject; pct=-1", DmarcRecord("reject", None, "relaxed", 100)),
        # A digit int() refuses (the sender's own DNS says it): the default, no crash.
        ("v=DMARC1; p=reject; pct=\u00b2", DmarcRecord("reject", None, "relaxed", 100)),
        ("v=DMARC1; p=reject; pct=0", DmarcRecord("reject", None, "relaxed", 0)),
        # The first of a repeated tag wins.
        ("v=DMARC1; p=none; p=reject", DmarcRecord("none", None, "relaxed", 100)),
    ],
)
def test_records_parse(text: str, expected: DmarcRecord) -> None:
    assert parse_record(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "v=DMARC1",
        "v=DMARC1; p=",
        "v=DMARC1; p=block",
        "p=reject; v=DMARC1",  # v= must come first
        "v=DMARC2; p=reject",
        "v=DMARC10; p=reject",
        "v=dmarc1; p=reject",  # the version is case-sensitive (RFC 7489 §6.4)
        "v=spf1 -all",
        "",
    ],
)
def test_unusable_records_are_refused(text: str) -> None:
    with pytest.raises(InvalidDmarcRecord):
        parse_record(text)


@pytest.mark.parametrize(
    ("policy", "pct", "applied"),
    [
        ("reject", 100, "reject"),
        ("reject", 99, "quarantine"),
        ("reject", 0, "quarantine"),
        ("quarantine", 100, "quarantine"),
        ("quarantine", 1, "quarantine"),
        ("quarantine", 0, "none"),
        ("none", 100, "none"),
    ],
)
def test_pct_is_applied_deterministically(policy: str, pct: int, applied: str) -> None:
    assert applied_policy(policy, pct) == applied  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("example.com", "example.com"),
        ("mail.example.com", "example.com"),
        ("a.b.example.co.uk", "example.co.uk"),
        ("foo.github.io", "foo.github.io"),  # the private section counts: github.io is a suffix
        ("com", "com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ],
)
def test_organizational_domains(domain: str, org: str, suffixes: PublicSuffixList) -> None:
    assert organizational_domain(domain, suffixes) == org


@pytest.mark.parametrize(
    ("d", "from_domain", "relaxed", "strict"),
    [
        ("example.com", "example.com", True, True),
        ("Example.COM", "example.com", True, True),
        ("mail.example.com", "example.com", True, False),
        ("example.com", "news.example.com", True, False),
        ("example.org", "example.com", False, False),
        ("badexample.com", "example.com", False, False),
        ("a.github.io", "b.github.io", False, False),
        ("co.uk", "example.co.uk", False, False),
        ("", "example.com", False, False),
    ],
)
def test_alignment(
    d: str, from_domain: str, relaxed: bool, strict: bool, suffixes: PublicSuffixList
) -> None:
    assert is_aligned(d, from_domain, "relaxed", suffixes) is relaxed
    assert is_aligned(d, from_domain, "strict", suffixes) is strict


def test_from_domains_become_ascii() -> None:
    assert to_ascii_domain("Bücher.Example.") == "xn--bcher-kva.example"
    assert to_ascii_domain("EXAMPLE.com") == "example.com"
    assert to_ascii_domain("[192.0.2.1]") is None
    assert to_ascii_domain("") is None


ZONE = {
    "_dmarc.example.com": ["v=spf1 -all", "v=DMARC1; p=reject; sp=quarantine"],
    "_dmarc.nosp.example": "v=DMARC1; p=quarantine",
    "_dmarc.twice.example": ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
    "_dmarc.broken.example": "v=DMARC1; p=everything",
}


@pytest.mark.asyncio
async def test_the_from_domain_record_comes_first(suffixes: PublicSuffixList) -> None:
    found = await discover_policy(
        "example.com", StaticResolver(ZONE, otherwise="nxdomain"), suffixes
    )
    assert (found.state, found.domain) == ("found", "example.com")
    assert found.record == DmarcRecord("reject", "quarantine", "relaxed", 100)


@pytest.mark.asyncio
async def test_a_subdomain_falls_back_to_the_organizational_domain(
    suffixes: PublicSuffixList,
) -> None:
    resolver = StaticResolver(ZONE, otherwise="nxdomain")
    found = await discover_policy("mail.example.com", resolver, suffixes)
    assert (found.state, found.domain) == ("found", "example.com")
    result = evaluate("mail.example.com", (), found, suffixes)
    assert (result.policy, result.result) == ("quarantine", "fail")  # sp= applies
    no_sp = await discover_policy("deep.sub.nosp.example", resolver, suffixes)
    assert evaluate("deep.sub.nosp.example", (), no_sp, suffixes).policy == "quarantine"


@pytest.mark.asyncio
async def test_no_record_anywhere_is_absent(suffixes: PublicSuffixList) -> None:
    found = await discover_policy(
        "mail.example.org", StaticResolver({}, otherwise="nxdomain"), suffixes
    )
    assert found.state == "absent"
    assert evaluate("mail.example.org", (), found, suffixes).result == "none"


@pytest.mark.asyncio
@pytest.mark.parametrize("domain", ["twice.example", "broken.example"])
async def test_several_records_or_an_invalid_one_mean_no_dmarc(
    domain: str, suffixes: PublicSuffixList
) -> None:
    found = await discover_policy(domain, StaticResolver(ZONE, otherwise="nxdomain"), suffixes)
    assert found.state == "invalid"
    result = evaluate(domain, (), found, suffixes)
    assert (result.result, result.applied) == ("permerror", None)


class _OrgFails:
    """The From domain answers NXDOMAIN; the organizational domain's lookup fails."""

    async def txt(self, name: str) -> list[str]:
        if name == "_dmarc.example.com":
            raise TemporaryDnsError("SERVFAIL")
        return await StaticResolver({}, otherwise="nxdomain").txt(name)


@pytest.mark.asyncio
async def test_dns_trouble_is_reported_not_taken_for_absence(suffixes: PublicSuffixList) -> None:
    unavailable = await discover_policy("example.com", UnavailableResolver(), suffixes)
    assert unavailable.state == "unavailable"
    failing = await discover_policy("mail.example.com", _OrgFails(), suffixes)
    assert failing.state == "temperror"
    result = evaluate("mail.example.com", (), failing, suffixes)
    assert (result.result, result.dns) == ("temperror", "temperror")


def _dkim(domain: str, result: str) -> DkimResult:
    return DkimResult(domain, "s", "rsa-sha256", result, "test")  # type: ignore[arg-type]


def test_evaluation_uses_only_passing_aligned_signatures(suffixes: PublicSuffixList) -> None:
    lookup = PolicyLookup("found", DmarcRecord("reject", None, "relaxed", 100), "example.com")
    results = (
        _dkim("example.org", "pass"),
        _dkim("example.com", "fail"),
        _dkim("mail.example.com", "pass"),
        _dkim("example.com", "policy"),
    )
    dmarc = evaluate("example.com", results, lookup, suffixes)
    assert (dmarc.result, dmarc.aligned) == ("pass", ("mail.example.com",))
    strict = PolicyLookup("found", DmarcRecord("reject", None, "strict", 100), "example.com")
    assert evaluate("example.com", results, strict, suffixes).result == "fail"


def test_an_aligned_signature_whose_key_could_not_be_fetched_leaves_it_open(
    suffixes: PublicSuffixList,
) -> None:
    lookup = PolicyLookup("found", DmarcRecord("reject", None, "relaxed", 100), "example.com")
    dmarc = evaluate("example.com", (_dkim("example.com", "temperror"),), lookup, suffixes)
    assert dmarc.result == "temperror"
    unaligned = evaluate("example.com", (_dkim("example.net", "temperror"),), lookup, suffixes)
    assert unaligned.result == "fail"
