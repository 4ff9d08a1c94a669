"""What the internet's DNS must say for mailbridge's mail to arrive and be trusted, and
what it says: the reply domain's MX, SPF for the envelope sender's domain covering the
address mail leaves from, the DKIM records matching the keys, and a DMARC policy for the
From domain. Each finding that is wrong carries the record to publish.

The lookups go through :class:`Lookups` (the daemon's DNS resolver, or a test's).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from mailbridge.dnscheck.spf import SpfLookups as Lookups
from mailbridge.dnscheck.spf import check_host, spf_record, with_address
from mailbridge.outbound.api.config import API_SCHEMES
from mailbridge.outbound.dkim_keys import DkimKey, DkimKeyError, load_key
from mailbridge.outbound.dkimtool import TxtRecord, dmarc_suggestion
from mailbridge.outbound.dkimtool import check as dkim_check
from mailbridge.senderauth.dmarc import load_public_suffixes, organizational_domain
from mailbridge.senderauth.dns import DnsError, NoSuchRecord
from mailbridge.settings.schema import Settings

__all__ = ["Finding", "Lookups", "dns_findings"]

Status = Literal["ok", "problem", "unknown", "note"]
TTL = 3600


@dataclass(frozen=True)
class Finding:
    status: Status
    what: str  # MX, SPF, DKIM, DMARC
    detail: str
    publish: str = ""  # the zone line(s) to publish, when something is wrong
    exact: bool = True  # False: a suggestion to edit first


async def dns_findings(
    settings: Settings,
    dns: Lookups,
    *,
    sending_ips: Sequence[str] = (),
    mx_host: str = "",
) -> list[Finding]:
    reply_domain = settings.smtp.reply_domain.lower().rstrip(".")
    found, mx_addresses = await _mx(reply_domain, dns, mx_host.lower().rstrip("."))
    findings = [found]
    findings += await _spf(settings, reply_domain, dns, sending_ips, mx_addresses)
    findings += await _dkim(settings, dns)
    findings.append(await _dmarc(settings, dns))
    return findings


async def _mx(domain: str, dns: Lookups, expected: str) -> tuple[Finding, list[str]]:
    target = expected or "<the host that receives its mail>"
    publish = f"{domain}. {TTL} IN MX 10 {target}."
    try:
        records = await dns.mx(domain)
    except NoSuchRecord:
        return (
            Finding(
                "problem", "MX", f"{domain} has no MX record: replies cannot reach mailbridge",
                publish, exact=bool(expected),
            ),
            [],
        )  # fmt: skip
    except DnsError as exc:
        return Finding("unknown", "MX", f"{domain}: DNS could not answer: {exc}"), []
    hosts = [host for _pref, host in records]
    addresses: list[str] = []
    unresolved = []
    for host in hosts:
        try:
            addresses += await dns.addresses(host)
        except DnsError:
            unresolved.append(host)
    listed = ", ".join(f"{pref} {host}" for pref, host in records)
    if expected and expected not in hosts:
        return (
            Finding("problem", "MX", f"{domain}: MX is {listed}, not {expected}", publish),
            addresses,
        )
    if unresolved:
        return (
            Finding(
                "problem", "MX",
                f"{domain}: MX {', '.join(unresolved)} has no address (A or AAAA record)",
            ),
            addresses,
        )  # fmt: skip
    return Finding("ok", "MX", f"{domain}: {listed} ({', '.join(addresses)})"), addresses


def _relay_host(settings: Settings) -> str:
    url = settings.transport_url
    if not url.startswith(("smtp://", "smtps://")):
        return ""
    return urlsplit(url).hostname or ""


def _is_public(ip: str) -> bool:
    return ipaddress.ip_address(ip).is_global


async def _spf(
    settings: Settings,
    domain: str,
    dns: Lookups,
    sending_ips: Sequence[str],
    mx_addresses: list[str],
) -> list[Finding]:
    """SPF of the envelope sender's domain (every email's is bounce+…@reply_domain)."""
    ips, source = list(sending_ips), "given with --sending-ip"
    service = urlsplit(settings.transport_url).scheme
    if not ips and service in API_SCHEMES:
        # The service sends from its servers with its own envelope sender (Mailgun's
        # bounce domain, Postmark's Return-Path): this domain's SPF is not asked by
        # receivers, and an address of this host added to it would authorise nothing.
        return [
            Finding(
                "note", "SPF",
                f"{domain}: not checked: mail leaves through {service}'s API, from its "
                "servers with its own envelope sender; set SPF up as the service "
                "lists it for your sending domain",
            )
        ]  # fmt: skip
    if not ips:
        relay = _relay_host(settings)
        relay_ips: list[str] = []
        if relay:
            try:
                relay_ips = [str(ipaddress.ip_address(relay))]
            except ValueError:
                try:
                    relay_ips = await dns.addresses(relay)
                except DnsError:
                    relay_ips = []
        public = [ip for ip in relay_ips if _is_public(ip)]
        if public:
            ips, source = public, f"the relay {relay}"
        else:
            # A relay on this host (Postfix in front) or none: mail leaves from here,
            # which is usually also the MX host.
            ips, source = [ip for ip in mx_addresses if _is_public(ip)], "the MX host"
    if not ips:
        return [
            Finding(
                "unknown", "SPF",
                f"{domain}: cannot tell which address mail leaves from; "
                "name it with --sending-ip",
            )
        ]  # fmt: skip
    try:
        current = spf_record(await dns.txt(domain))
    except NoSuchRecord:
        current = None
    except DnsError as exc:
        return [Finding("unknown", "SPF", f"{domain}: DNS could not answer: {exc}")]
    except ValueError as exc:  # two v=spf1 records
        return [Finding("problem", "SPF", f"{domain}: {exc}; publish exactly one")]
    findings = []
    record = current
    for ip in ips:
        verdict = await check_host(ip, domain, dns)
        if verdict.result == "pass":
            findings.append(
                Finding("ok", "SPF", f"{domain} authorises {ip} ({source}): {verdict.reason}")
            )
            continue
        if verdict.result == "temperror":
            findings.append(Finding("unknown", "SPF", f"{domain}: {verdict.reason}"))
            continue
        record = with_address(record, ip)
        findings.append(
            Finding(
                "problem", "SPF",
                f"{domain} does not authorise {ip} ({source}): {verdict.result} "
                f"({verdict.reason})",
                TxtRecord(domain, record, "SPF").zone_line(TTL),
            )
        )  # fmt: skip
    return findings


async def _dkim(settings: Settings, dns: Lookups) -> list[Finding]:
    d = settings.dkim
    keys = [(d.selector, d.private_key), (d.ed25519_selector, d.ed25519_private_key)]
    findings = []
    for selector, path in keys:
        if not (d.domain and selector and path):
            continue
        try:
            key = await asyncio.to_thread(_load, settings.data_path, path, d.domain, selector)
        except DkimKeyError as exc:
            findings.append(Finding("problem", "DKIM", str(exc)))
            continue
        result = await dkim_check(d.domain, selector, key, dns)
        if result.ok:
            findings.append(Finding("ok", "DKIM", result.detail))
        elif result.status == "dns-error":
            findings.append(Finding("unknown", "DKIM", result.detail))
        else:
            findings.append(
                Finding("problem", "DKIM", result.detail, result.expected.zone_line(TTL))
            )
    service = urlsplit(settings.transport_url).scheme
    if not findings and service in API_SCHEMES:
        # The service signs what it sends with the key set up there for the domain
        # (Postmark cannot keep ours at all): "not signed" would send the operator to
        # make a key that changes nothing.
        findings.append(
            Finding(
                "note", "DKIM",
                f"not signed by mailbridge: mail leaves through {service}'s API, which "
                f"signs it with the DKIM key set up there for {_from_domain(settings)}: "
                "publish the records the service lists (docs/delivery.md)",
            )
        )  # fmt: skip
    elif not findings:
        findings.append(
            Finding(
                "note", "DKIM",
                "not configured: mail is not signed, so DMARC can only pass through SPF "
                "alignment (mailbridge dkim keygen; docs/dkim.md)",
            )
        )  # fmt: skip
    return findings


def _from_domain(settings: Settings) -> str:
    return settings.outbound.from_address.rpartition("@")[2].strip(" >").lower()


def _load(data: Path, path: str, domain: str, selector: str) -> DkimKey:
    # Relative to the data directory, as the daemon reads it (outbound.from_settings.in_data_dir).
    return load_key(data / Path(path).expanduser(), domain, selector)


async def _dmarc(settings: Settings, dns: Lookups) -> Finding:
    """The From domain's DMARC policy (at the domain, else at its organisational one)."""
    sender = _from_domain(settings)
    org = organizational_domain(sender, load_public_suffixes())
    for domain in dict.fromkeys((sender, org)):
        name = f"_dmarc.{domain}"
        try:
            records = [r for r in await dns.txt(name) if r.lower().startswith("v=dmarc1")]
        except NoSuchRecord:
            continue
        except DnsError as exc:
            return Finding("unknown", "DMARC", f"{name}: DNS could not answer: {exc}")
        if len(records) == 1:
            return Finding("ok", "DMARC", f"{name}: {records[0]}")
        if len(records) > 1:
            return Finding("problem", "DMARC", f"{name}: {len(records)} records; publish one")
    suggestion = dmarc_suggestion(org)
    return Finding(
        "problem", "DMARC",
        f"_dmarc.{org}: missing: receivers apply no policy to mail from {sender}",
        suggestion.zone_line(TTL), exact=False,
    )  # fmt: skip
