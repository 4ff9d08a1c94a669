"""DMARC (RFC 7489), DKIM only: find the From domain's policy, check DKIM alignment.

Policy discovery follows RFC 7489 §6.6.3: the TXT records at ``_dmarc.<From domain>``,
and when there is no DMARC record there, at ``_dmarc.<organizational domain>``. The
organizational domain comes from the Public Suffix List bundled with the
``publicsuffixlist`` package (never fetched at run time), private section included,
so two customers of the same hosting suffix (``a.github.io``, ``b.github.io``) are
never "the same organization".

Only DKIM counts towards a DMARC pass here: SPF needs the connecting client's IP
address and the envelope sender as they reached our border MTA, which mailbridge
does not reliably have behind a relay. A domain whose mail is authenticated by SPF
alone therefore does not pass; its mail fails where the domain enforces a policy.

``pct`` is applied deterministically instead of by sampling, so a message always
gets the same answer: below 100, ``reject`` is applied as ``quarantine``; at 0,
``quarantine`` is applied as ``none`` (RFC 7489 §6.6.4's "next less strict policy").
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

from publicsuffixlist import PublicSuffixList

from mailbridge.senderauth.dkim import DkimResult, DnsState
from mailbridge.senderauth.dns import (
    DnsError,
    DnsUnavailable,
    NoSuchRecord,
    Resolver,
    TemporaryDnsError,
    normalize_name,
)

__all__ = [
    "Alignment",
    "DmarcOutcome",
    "DmarcRecord",
    "DmarcResult",
    "InvalidDmarcRecord",
    "PolicyLookup",
    "PolicyName",
    "applied_policy",
    "discover_policy",
    "evaluate",
    "is_aligned",
    "load_public_suffixes",
    "organizational_domain",
    "parse_record",
    "to_ascii_domain",
]

PolicyName = Literal["none", "quarantine", "reject"]
Alignment = Literal["relaxed", "strict"]
DmarcOutcome = Literal["pass", "fail", "none", "temperror", "permerror"]

_POLICIES: Mapping[str, PolicyName] = MappingProxyType(
    {"none": "none", "quarantine": "quarantine", "reject": "reject"}
)
_VERSION = re.compile(r"\s*v\s*=\s*DMARC1\s*(?:;|\Z)")
_MAX_RECORD = 4096


class InvalidDmarcRecord(ValueError):
    """A TXT record that starts like a DMARC record but cannot be used."""


@dataclass(frozen=True)
class DmarcRecord:
    policy: PolicyName  # p=
    subdomain_policy: PolicyName | None  # sp=
    alignment: Alignment  # adkim=
    pct: int


def load_public_suffixes() -> PublicSuffixList:
    """The bundled Public Suffix List, parsed (about 50 ms: do it once, off the loop)."""
    return PublicSuffixList()


def parse_record(text: str) -> DmarcRecord:
    """A DMARC record (RFC 7489 §6.3); raises :class:`InvalidDmarcRecord`.

    Unknown tags are ignored; an invalid adkim, pct or sp is ignored (the default
    applies); a missing or invalid p= makes the record unusable, which §6.6.3 treats
    as no enforcement (p=none, or no DMARC processing).
    """
    if len(text) > _MAX_RECORD or not _VERSION.match(text):
        raise InvalidDmarcRecord("not a DMARC1 record")
    tags: dict[str, str] = {}
    for part in text.split(";")[1:]:
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if sep and name and name not in tags:  # the first of a repeated tag wins
            tags[name] = value.strip()
    policy = _POLICIES.get(tags.get("p", "").lower())
    if policy is None:
        raise InvalidDmarcRecord(f"missing or invalid p= ({tags.get('p', '')[:20]!r})")
    subdomain = _POLICIES.get(tags.get("sp", "").lower())
    alignment: Alignment = "strict" if tags.get("adkim", "r").lower() == "s" else "relaxed"
    pct_text = tags.get("pct", "100")
    # ASCII digits: "²" passes isdigit() and int() refuses it (a record is whatever the
    # sender's DNS says: an exception here deferred their mail).
    pct_ok = pct_text.isascii() and pct_text.isdigit()
    pct = int(pct_text) if pct_ok and int(pct_text) <= 100 else 100
    return DmarcRecord(policy, subdomain, alignment, pct)


def to_ascii_domain(domain: str) -> str | None:
    """``domain`` lowercased, as A-labels, without a trailing dot; None if it is no DNS name."""
    text = domain.strip().rstrip(".").lower()
    try:
        ascii_form = text.encode("idna").decode("ascii") if not text.isascii() else text
        return normalize_name(ascii_form)
    except (UnicodeError, NoSuchRecord):
        return None


def organizational_domain(domain: str, suffixes: PublicSuffixList) -> str:
    """The registrable domain (public suffix plus one label); a suffix itself maps to itself."""
    private = suffixes.privatesuffix(domain)
    return private if isinstance(private, str) else domain


def is_aligned(
    signing_domain: str, from_domain: str, mode: Alignment, suffixes: PublicSuffixList
) -> bool:
    """RFC 7489 §3.1.1: strict is the same name; relaxed, the same organizational domain."""
    d, f = signing_domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not d or not f:
        return False
    if d == f:
        return True
    if mode == "strict":
        return False
    return organizational_domain(d, suffixes) == organizational_domain(f, suffixes)


def applied_policy(policy: PolicyName, pct: int) -> PolicyName:
    """The policy acted on, once ``pct`` is taken into account (deterministically)."""
    if policy == "reject" and pct < 100:
        return "quarantine"
    if policy == "quarantine" and pct == 0:
        return "none"
    return policy


@dataclass(frozen=True)
class PolicyLookup:
    """What policy discovery found for a From domain."""

    state: Literal["found", "absent", "invalid", "temperror", "unavailable"]
    record: DmarcRecord | None = None
    domain: str | None = None  # where the record was found
    reason: str = ""


async def _records(
    resolver: Resolver, domain: str, seconds: float
) -> tuple[list[str], PolicyLookup | None]:
    """The DMARC1 records at ``_dmarc.domain``, or the lookup that ends discovery."""
    name = f"_dmarc.{domain}"
    try:
        async with asyncio.timeout(seconds):
            found = await resolver.txt(name)
    except NoSuchRecord:
        return [], None
    except DnsUnavailable as exc:
        return [], PolicyLookup("unavailable", reason=f"DNS unavailable: {exc}"[:160])
    except (TemporaryDnsError, DnsError) as exc:
        return [], PolicyLookup("temperror", reason=f"DNS temporary failure: {exc}"[:160])
    except TimeoutError:
        return [], PolicyLookup("temperror", reason=f"DNS lookup of {name} took over {seconds:g} s")
    return [text for text in found if _VERSION.match(text)], None


def _from_records(records: Sequence[str], domain: str) -> PolicyLookup:
    if len(records) > 1:
        # §6.6.3: several records and DMARC processing does not apply.
        return PolicyLookup("invalid", domain=domain, reason=f"_dmarc.{domain}: several records")
    try:
        record = parse_record(records[0])
    except InvalidDmarcRecord as exc:
        return PolicyLookup("invalid", domain=domain, reason=f"_dmarc.{domain}: {exc}")
    return PolicyLookup("found", record=record, domain=domain, reason=f"record at _dmarc.{domain}")


async def discover_policy(
    from_domain: str,
    resolver: Resolver,
    suffixes: PublicSuffixList,
    *,
    lookup_timeout: float = 10.0,
) -> PolicyLookup:
    """RFC 7489 §6.6.3 policy discovery for an (ASCII, normalized) From domain."""
    records, ended = await _records(resolver, from_domain, lookup_timeout)
    if ended is not None:
        return ended
    if records:
        return _from_records(records, from_domain)
    org = organizational_domain(from_domain, suffixes)
    if org == from_domain:
        return PolicyLookup("absent", reason=f"no DMARC record at _dmarc.{from_domain}")
    records, ended = await _records(resolver, org, lookup_timeout)
    if ended is not None:
        return ended
    if records:
        return _from_records(records, org)
    return PolicyLookup("absent", reason=f"no DMARC record for {from_domain} or {org}")


@dataclass(frozen=True)
class DmarcResult:
    result: DmarcOutcome
    policy: PolicyName | None = None  # published, for this From domain (p=, or sp=)
    applied: PolicyName | None = None  # what pct leaves of it
    pct: int | None = None
    alignment: Alignment = "relaxed"
    record_domain: str | None = None
    aligned: tuple[str, ...] = ()  # d= of valid DKIM signatures aligned with From
    reason: str = ""
    dns: DnsState = "ok"

    def to_log(self) -> dict[str, object]:
        return {
            "result": self.result,
            "policy": self.policy,
            "applied": self.applied,
            "pct": self.pct,
            "alignment": self.alignment,
            "record": self.record_domain,
            "aligned": list(self.aligned),
            "reason": self.reason,
        }


def _aligned(
    results: Iterable[DkimResult],
    outcome: str,
    from_domain: str,
    mode: Alignment,
    suffixes: PublicSuffixList,
) -> tuple[str, ...]:
    domains = [r.domain for r in results if r.result == outcome]
    return tuple(dict.fromkeys(d for d in domains if is_aligned(d, from_domain, mode, suffixes)))


def evaluate(
    from_domain: str,
    dkim_results: Sequence[DkimResult],
    lookup: PolicyLookup,
    suffixes: PublicSuffixList,
) -> DmarcResult:
    """The DMARC result for ``from_domain`` from the DKIM results and the discovered policy."""
    record = lookup.record
    mode: Alignment = record.alignment if record is not None else "relaxed"
    aligned = _aligned(dkim_results, "pass", from_domain, mode, suffixes)
    undetermined = _aligned(dkim_results, "temperror", from_domain, mode, suffixes)
    if lookup.state in ("temperror", "unavailable"):
        dns: DnsState = "unavailable" if lookup.state == "unavailable" else "temperror"
        return DmarcResult(
            "temperror", alignment=mode, aligned=aligned, reason=lookup.reason, dns=dns
        )
    if lookup.state == "absent":
        return DmarcResult("none", aligned=aligned, reason=lookup.reason)
    if lookup.state == "invalid" or record is None:
        reason = f"unusable DMARC record ({lookup.reason})"
        return DmarcResult("permerror", record_domain=lookup.domain, aligned=aligned, reason=reason)
    published = record.policy
    if lookup.domain != from_domain and record.subdomain_policy is not None:
        published = record.subdomain_policy
    base = DmarcResult(
        "fail",
        policy=published,
        applied=applied_policy(published, record.pct),
        pct=record.pct,
        alignment=mode,
        record_domain=lookup.domain,
        aligned=aligned,
        reason="no valid DKIM signature aligned with From",
    )
    if aligned:
        return replace(base, result="pass", reason=f"DKIM aligned ({', '.join(aligned)})")
    if undetermined:
        reason = f"the key of an aligned signature could not be fetched ({undetermined[0]})"
        return replace(base, result="temperror", reason=reason)
    return base
