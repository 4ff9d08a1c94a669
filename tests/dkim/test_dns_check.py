"""``mailbridge check-config --dns``: MX, SPF, DKIM and DMARC as a DNS server answers them.

The command runs against tests/dkim/localdns.py, a real DNS server on loopback serving
a zone (the internet's DNS cannot be reached from tests). The records it prints for
what is wrong are then published in the zone as printed, and the command run again:
they must make it pass. The SPF evaluator is also tested alone, on a zone in a dict.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailbridge.cli import cli
from mailbridge.dnscheck.spf import check_host, with_address
from mailbridge.outbound.dkimtool import keygen
from mailbridge.senderauth.dns import NoSuchRecord

REPLY = "reply.blog.example"
MX_HOST = "mail.blog.example"
MX_IP = "93.184.216.34"  # a public address (is_global), never contacted
OTHER_IP = "93.184.216.99"

LocalDns = Callable[[Mapping[str, str | list[str]]], int]


class Zone:
    """A dict-backed zone for the SPF evaluator: {name: [(type, data)]}."""

    def __init__(self, records: dict[str, list[tuple[str, str]]]) -> None:
        self.records = records
        self.asked = 0

    def _of(self, name: str, rdtype: str) -> list[str]:
        self.asked += 1
        found = self.records.get(name.lower().rstrip("."))
        if found is None:
            raise NoSuchRecord(f"{name}: no such domain", nxdomain=True)
        values = [data for kind, data in found if kind == rdtype]
        if not values:
            raise NoSuchRecord(f"{name}: no {rdtype}", nxdomain=False)
        return values

    async def txt(self, name: str) -> list[str]:
        return self._of(name, "TXT")

    async def mx(self, name: str) -> list[tuple[int, str]]:
        return [(int(v.split()[0]), v.split()[1].rstrip(".")) for v in self._of(name, "MX")]

    async def addresses(self, name: str) -> list[str]:
        return self._of(name, "A")


def spf(zone: dict[str, list[tuple[str, str]]], ip: str, domain: str = "d.example") -> str:
    return asyncio.run(check_host(ip, domain, Zone(zone))).result


def test_spf_mechanisms_and_qualifiers() -> None:
    zone = {
        "d.example": [("TXT", "v=spf1 ip4:192.0.2.0/24 a mx include:i.example ~all")],
        "i.example": [("TXT", "v=spf1 ip6:2001:db8::/32 a:h.example/30 -all")],
        "h.example": [("A", "198.51.100.1")],
        "mail.d.example": [("A", "203.0.113.5")],
    }
    zone["d.example"] += [("MX", "10 mail.d.example."), ("A", "203.0.113.9")]
    assert spf(zone, "192.0.2.77") == "pass"  # ip4 with a prefix
    assert spf(zone, "203.0.113.9") == "pass"  # a
    assert spf(zone, "203.0.113.5") == "pass"  # mx
    assert spf(zone, "198.51.100.3") == "pass"  # include, then a:host/30
    assert spf(zone, "2001:db8::1") == "pass"  # include, then ip6
    assert spf(zone, "198.51.100.9") == "softfail"  # outside /30: include says -all, ~all
    assert spf({"d.example": [("TXT", "v=spf1 -all")]}, "192.0.2.1") == "fail"
    assert spf({"d.example": [("TXT", "v=spf1 ?all")]}, "192.0.2.1") == "neutral"
    assert spf({"d.example": [("TXT", "not spf")]}, "192.0.2.1") == "none"
    assert spf({}, "192.0.2.1") == "none"


def test_spf_redirect_limits_and_what_is_not_evaluated() -> None:
    redirect = {
        "d.example": [("TXT", "v=spf1 redirect=r.example")],
        "r.example": [("TXT", "v=spf1 ip4:192.0.2.1 -all")],
    }
    assert spf(redirect, "192.0.2.1") == "pass"
    assert spf(redirect, "192.0.2.2") == "fail"
    two = {"d.example": [("TXT", "v=spf1 -all"), ("TXT", "v=spf1 +all")]}
    assert spf(two, "192.0.2.1") == "permerror"
    chain = {f"c{n}.example": [("TXT", f"v=spf1 include:c{n + 1}.example -all")] for n in range(12)}
    chain["d.example"] = [("TXT", "v=spf1 include:c0.example -all")]
    assert spf(chain, "192.0.2.1") == "permerror"  # more than ten lookups
    assert spf({"d.example": [("TXT", "v=spf1 exists:%{i}.x.example -all")]}, "1.2.3.4") == (
        "permerror"
    )
    missing_include = {"d.example": [("TXT", "v=spf1 include:gone.example -all")]}
    assert spf(missing_include, "192.0.2.1") == "permerror"


def test_with_address_puts_the_address_before_all_or_redirect() -> None:
    assert with_address(None, "192.0.2.1") == "v=spf1 ip4:192.0.2.1 -all"
    assert with_address("v=spf1 mx ~all", "192.0.2.1") == "v=spf1 mx ip4:192.0.2.1 ~all"
    assert with_address("v=spf1 redirect=x.example", "2001:db8::1") == (
        "v=spf1 ip6:2001:db8::1 redirect=x.example"
    )


def config(tmp_path: Path, *, dkim: bool = True, transport: str = "smtp://127.0.0.1:25") -> Path:
    data = tmp_path / "var"
    data.mkdir()
    lines = [
        f'data_dir = "{data}"',
        "[smtp]",
        f'reply_domain = "{REPLY}"',
        "[outbound]",
        'from = "The Blog <comments@blog.example>"',
        # By default Postfix on this host: mail leaves from the MX.
        f'transport = "{transport}"',
        'api_key = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"',
    ]
    if dkim:
        made = keygen(data, "blog.example", "mb1", algorithm="rsa")
        lines += ["[dkim]", 'domain = "blog.example"', 'selector = "mb1"',
                  f'private_key = "{made.path.name}"']  # fmt: skip
    path = tmp_path / "mailbridge.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(path: Path, port: int, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["check-config", "--config", str(path), "--dns", "--nameserver", f"127.0.0.1:{port}",
         *extra],
        env={},
    )  # fmt: skip
    return result.exit_code, result.output


def published(output: str) -> dict[str, list[str]]:
    """The records the command said to publish, as a zone for localdns.py."""
    zone: dict[str, list[str]] = {}
    for block in re.findall(r"publish(?: \([^)]*\))?:\n((?:             .*\n)+)", output):
        text = " ".join(line.strip() for line in block.splitlines())
        name, _ttl, _in, rdtype, data = text.split(" ", 4)
        value = "".join(re.findall(r'"([^"]*)"', data)) if rdtype == "TXT" else f"@MX {data}"
        zone.setdefault(name.rstrip("."), []).append(value)
    return zone


def test_a_bare_zone_gets_every_record_to_publish_and_they_work(
    tmp_path: Path, local_dns: LocalDns
) -> None:
    path = config(tmp_path)
    hosts = {MX_HOST: [f"@A {MX_IP}"], "blog.example": ["@A 93.184.216.1"]}
    code, output = run(path, local_dns({**hosts, REPLY: ["@A 93.184.216.2"]}), "--mx-host", MX_HOST)
    assert code == 1, output
    assert f"PROBLEM  MX     {REPLY} has no MX record" in output
    assert f"{REPLY}. 3600 IN MX 10 {MX_HOST}." in output
    assert "UNKNOWN  SPF" in output  # no MX yet, so no address to check SPF for
    assert "PROBLEM  DKIM   mb1._domainkey.blog.example: missing" in output
    assert "PROBLEM  DMARC  _dmarc.blog.example: missing" in output
    assert "publish (a suggestion: edit it first)" in output
    assert "problem(s)" in output

    # Publish what it printed (the MX first: SPF is checked for the MX host's address).
    zone = {**hosts, **{k: [*hosts.get(k, []), *v] for k, v in published(output).items()}}
    zone.setdefault(REPLY, []).append("@A 93.184.216.2")
    code, output = run(path, local_dns(zone), "--mx-host", MX_HOST)
    assert code == 1, output  # SPF is now checked, and missing
    assert f"PROBLEM  SPF    {REPLY} does not authorise {MX_IP} (the MX host)" in output
    assert f'{REPLY}. 3600 IN TXT "v=spf1 ip4:{MX_IP} -all"' in output
    for name, values in published(output).items():
        zone.setdefault(name, []).extend(values)
    code, output = run(path, local_dns(zone), "--mx-host", MX_HOST)
    assert code == 0, output
    assert output.rstrip().endswith("No problems found.")
    assert f"OK       SPF    {REPLY} authorises {MX_IP} (the MX host): {REPLY}: ip4:{MX_IP}" in (
        output
    )
    assert "OK       DKIM   mb1._domainkey.blog.example: matches" in output


def test_an_existing_spf_record_is_extended_not_replaced(
    tmp_path: Path, local_dns: LocalDns
) -> None:
    path = config(tmp_path, dkim=False)
    zone: dict[str, str | list[str]] = {
        REPLY: [f"@MX 10 {MX_HOST}.", "v=spf1 include:provider.example ~all"],
        "provider.example": "v=spf1 ip4:198.51.100.0/24 -all",
        MX_HOST: f"@A {MX_IP}",
        "_dmarc.blog.example": "v=DMARC1; p=none",
    }
    code, output = run(path, local_dns(zone), "--sending-ip", OTHER_IP)
    assert code == 1, output
    assert f"does not authorise {OTHER_IP} (given with --sending-ip): softfail" in output
    assert f'"v=spf1 include:provider.example ip4:{OTHER_IP} ~all"' in output
    assert "NOTE     DKIM   not configured" in output
    assert "OK       DMARC  _dmarc.blog.example: v=DMARC1; p=none" in output
    code, output = run(path, local_dns(zone), "--sending-ip", "198.51.100.7")
    assert code == 0, output


def test_mail_sent_through_an_api_is_not_given_an_spf_record_of_this_host(
    tmp_path: Path, local_dns: LocalDns
) -> None:
    path = config(tmp_path, dkim=False, transport="mailgun://mg.blog.example")
    zone: dict[str, str | list[str]] = {
        REPLY: [f"@MX 10 {MX_HOST}."],
        MX_HOST: f"@A {MX_IP}",
        "_dmarc.blog.example": "v=DMARC1; p=none",
    }
    code, output = run(path, local_dns(zone))
    assert code == 0, output
    assert f"NOTE     SPF    {REPLY}: not checked: mail leaves through mailgun's API" in output
    assert "v=spf1" not in output


def test_dns_that_does_not_answer_is_unknown_not_ok(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # receives queries, never answers
        port = silent.getsockname()[1]
        path = config(tmp_path, dkim=False)
        path.write_text(path.read_text() + "[auth]\ndns_timeout = 1\n")
        code, output = run(path, port)
    assert "UNKNOWN  MX" in output and "DNS could not answer" in output
    assert "OK " not in output.split("DNS, as the internet sees it:")[1]
    assert code == 1  # not checked is not a clean bill


@pytest.mark.parametrize("bad", ["not-an-ip", "example.org"])
def test_a_sending_ip_must_be_an_address(tmp_path: Path, bad: str) -> None:
    path = config(tmp_path, dkim=False)
    result = CliRunner().invoke(
        cli, ["check-config", "--config", str(path), "--dns", "--sending-ip", bad,
              "--nameserver", "127.0.0.1:9"], env={},
    )  # fmt: skip
    assert result.exit_code == 2 and "not an IP address" in result.output
