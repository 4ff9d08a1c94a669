"""The resolvers: the static zone, "no DNS", and dnspython against a DNS server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import cast

import dns.message
import dns.rcode
import dns.rrset
import pytest
import pytest_asyncio

from mailbridge.senderauth.dns import (
    DnsResolver,
    DnsUnavailable,
    NoSuchRecord,
    StaticResolver,
    TemporaryDnsError,
    UnavailableResolver,
    normalize_name,
)


@pytest.mark.asyncio
async def test_static_zone_matches_names_case_insensitively_with_or_without_the_dot() -> None:
    resolver = StaticResolver({"Sel._DomainKey.Example.COM.": "v=DKIM1; p=abc"})
    assert await resolver.txt("sel._domainkey.example.com") == ["v=DKIM1; p=abc"]
    assert await resolver.txt("SEL._domainkey.example.com.") == ["v=DKIM1; p=abc"]


@pytest.mark.asyncio
async def test_static_zone_holds_several_records_and_empty_names() -> None:
    resolver = StaticResolver({"a.example": ["one", "two"], "b.example": []})
    assert await resolver.txt("a.example") == ["one", "two"]
    with pytest.raises(NoSuchRecord) as caught:
        await resolver.txt("b.example")
    assert caught.value.nxdomain is False


@pytest.mark.asyncio
async def test_a_name_missing_from_a_pinned_zone_is_unknown_not_absent() -> None:
    # An air-gapped host pins a few records: any other name must not read as "no policy".
    pinned = StaticResolver({"_dmarc.example.com": "v=DMARC1; p=reject"})
    with pytest.raises(DnsUnavailable):
        await pinned.txt("_dmarc.example.org")
    whole = StaticResolver({}, otherwise="nxdomain")
    with pytest.raises(NoSuchRecord) as caught:
        await whole.txt("_dmarc.example.org")
    assert caught.value.nxdomain is True


def test_a_static_zone_refuses_a_name_that_cannot_exist() -> None:
    with pytest.raises(ValueError, match="static zone"):
        StaticResolver({"not a name": "v=DMARC1; p=none"})


@pytest.mark.asyncio
async def test_the_unavailable_resolver_never_answers() -> None:
    with pytest.raises(DnsUnavailable, match="air-gapped"):
        await UnavailableResolver("air-gapped").txt("_dmarc.example.com")


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "a..b",
        "-a.example",
        "a-.example",
        "a b.example",
        "é.example",
        "a" * 64 + ".x",
        ("a." * 127) + "x",
    ],
)
def test_names_that_cannot_exist_never_reach_a_resolver(name: str) -> None:
    with pytest.raises(NoSuchRecord):
        normalize_name(name)


def test_valid_names_are_normalized() -> None:
    assert normalize_name("S1._DomainKey.Mail.Example.COM.") == "s1._domainkey.mail.example.com"


class _Zone(asyncio.DatagramProtocol):
    """A tiny authoritative server: txt.* answers, servfail.* fails, nodata.* is empty."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        qname = query.question[0].name
        label = qname.labels[0].decode()
        if label == "servfail":
            reply.set_rcode(dns.rcode.SERVFAIL)
        elif label == "txt":
            # One record split into 255-byte strings, as long DKIM keys are published.
            long = "v=DKIM1; k=rsa; p=" + "A" * 400
            chunks = " ".join(f'"{long[i : i + 255]}"' for i in range(0, len(long), 255))
            reply.answer.append(dns.rrset.from_text(qname, 60, "IN", "TXT", chunks))
        elif label != "nodata":
            reply.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(reply.to_wire(), addr)


@pytest_asyncio.fixture
async def zone_port() -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_Zone, local_addr=("127.0.0.1", 0))
    try:
        yield int(transport.get_extra_info("sockname")[1])
    finally:
        transport.close()


@pytest.mark.asyncio
async def test_dns_resolver_joins_the_strings_of_a_record(zone_port: int) -> None:
    resolver = DnsResolver(["127.0.0.1"], port=zone_port, lifetime=2.0)
    assert await resolver.txt("txt.example.test") == ["v=DKIM1; k=rsa; p=" + "A" * 400]


@pytest.mark.asyncio
async def test_dns_resolver_maps_nxdomain_and_nodata(zone_port: int) -> None:
    resolver = DnsResolver(["127.0.0.1"], port=zone_port, lifetime=2.0)
    with pytest.raises(NoSuchRecord) as caught:
        await resolver.txt("absent.example.test")
    assert caught.value.nxdomain is True
    with pytest.raises(NoSuchRecord) as caught:
        await resolver.txt("nodata.example.test")
    assert caught.value.nxdomain is False


@pytest.mark.asyncio
async def test_dns_resolver_reports_servfail_as_temporary(zone_port: int) -> None:
    resolver = DnsResolver(["127.0.0.1"], port=zone_port, lifetime=2.0)
    with pytest.raises(TemporaryDnsError):
        await resolver.txt("servfail.example.test")


@pytest.mark.asyncio
async def test_dns_resolver_reports_a_silent_server_as_unavailable_within_its_lifetime() -> None:
    loop = asyncio.get_running_loop()
    silent, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        port = int(silent.get_extra_info("sockname")[1])
        resolver = DnsResolver(["127.0.0.1"], port=port, timeout=0.2, lifetime=0.5)
        started = time.monotonic()
        with pytest.raises(DnsUnavailable):
            await resolver.txt("example.test")
        assert time.monotonic() - started < 3.0
    finally:
        silent.close()


@pytest.mark.asyncio
async def test_dns_resolver_never_queries_an_invalid_name() -> None:
    # No server at all: an invalid name must fail before any lookup is attempted.
    resolver = DnsResolver(["127.0.0.1"], port=9, lifetime=0.5)
    with pytest.raises(NoSuchRecord):
        await resolver.txt("not a name")
