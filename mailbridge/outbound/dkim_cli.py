"""``mailbridge dkim``: generate a signing key and check its DNS record.

The group is registered by :mod:`mailbridge.cli`. ``keygen``'s defaults come from
mailbridge's configuration (``--config`` or ``MAILBRIDGE_CONFIG``): the key goes to
the data directory, and the SPF suggestion is for ``smtp.reply_domain``, because the
envelope sender of everything mailbridge sends is ``bounce+TOKEN@reply_domain``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from mailbridge.cli_options import settings_from
from mailbridge.outbound.dkim_keys import DkimKeyError, load_key
from mailbridge.outbound.dkimtool import (
    CheckResult,
    KeyAlgorithm,
    TxtRecord,
    check,
    dns_records,
    keygen,
)
from mailbridge.senderauth.dns import DnsResolver

__all__ = ["KeygenDefaults", "dkim_command", "make_dkim_command", "parse_nameserver"]


@dataclass(frozen=True)
class KeygenDefaults:
    """What ``keygen`` uses when --directory or --envelope-domain is not given."""

    directory: Path  # the data directory
    envelope_domain: str  # smtp.reply_domain: the domain of the bounce+... envelope sender
    envelope_domain_configured: bool  # False: still the shipped example value


def defaults_from_settings(config_file: Path | None) -> KeygenDefaults:
    settings = settings_from(config_file, None)
    domain = settings.smtp.reply_domain
    shipped = type(settings.smtp)().reply_domain
    return KeygenDefaults(settings.data_path, domain, domain != shipped)


def nameserver_resolver(nameservers: Sequence[str], timeout: float) -> DnsResolver:
    """A resolver asking ``--nameserver`` values (the system's without any), uncached;
    a bad value is a usage error naming the option."""
    try:
        servers = [parse_nameserver(n) for n in nameservers]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--nameserver") from None
    if len({port for _, port in servers}) > 1:
        raise click.BadParameter("all nameservers must use one port", param_hint="--nameserver")
    return DnsResolver(
        [host for host, _ in servers],
        port=servers[0][1] if servers else 53,
        timeout=min(2.0, timeout),
        lifetime=timeout,
        cache_size=0,
    )


def parse_nameserver(value: str) -> tuple[str, int]:
    """``IP``, ``IPv4:PORT`` or ``[IPv6]:PORT`` as (address, port)."""
    text = value.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise ValueError(f"not an address: {value!r}")
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"not an address: {value!r}")
        port = int(port_text)
    ipaddress.ip_address(host)  # raises ValueError; a hostname would need DNS itself
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {value!r}")
    return host, port


def _record_text(record: TxtRecord) -> list[str]:
    lines = [
        f"  name:  {record.name}",
        "  type:  TXT",
        f"  value: {record.value}",
    ]
    if len(record.strings()) > 1:
        lines.append(
            "  In a zone file the value is split into strings of at most 255 bytes; "
            "DNS joins them back:"
        )
    else:
        lines.append("  In a zone file:")
    lines += ["    " + line for line in record.zone_line().splitlines()]
    if record.note:
        lines += textwrap.wrap(
            record.note, width=88, initial_indent="  Note: ", subsequent_indent="        "
        )
    return lines


def _describe_check(result: CheckResult, key_file: Path) -> str:
    lines = [f"{'OK' if result.ok else 'PROBLEM'}: {result.detail}"]
    lines += [f"Warning: {warning}" for warning in result.warnings]
    if result.ok:
        lines.append(f"The record at {result.name} is the public half of {key_file}.")
        return "\n".join(lines)
    for found in result.published:
        lines.append(f"Published: {found}")
    if result.status != "dns-error":
        lines.append(f"Publish this instead (the public half of {key_file}):")
        lines += _record_text(result.expected)
    return "\n".join(lines)


def make_dkim_command(
    defaults: Callable[[Path | None], KeygenDefaults] = defaults_from_settings,
) -> click.Group:
    """The ``dkim`` command group; ``defaults`` gives keygen's defaults from the
    configuration file (called only when an option is not given)."""

    @click.group(name="dkim")
    def group() -> None:
        """DKIM signing keys for outgoing mail: generate one, check its DNS record."""

    @group.command(name="keygen")
    @click.option("--domain", required=True, help="Signing domain (d=), as in the From address.")
    @click.option("--selector", required=True, help="Selector (s=), e.g. mb2025.")
    @click.option(
        "--algorithm",
        type=click.Choice(["rsa", "ed25519"]),
        default="rsa",
        show_default=True,
        help="rsa: 2048-bit RSA, the signature every receiver checks. ed25519: a second "
        "signature, under its own selector.",
    )
    @click.option(
        "--directory",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where to write the key file, <selector>.<domain>.private (mode 0600). "
        "Default: the data directory.",
    )
    @click.option(
        "--force",
        is_flag=True,
        help="Replace an existing key file of the same name (the old key is lost).",
    )
    @click.option(
        "--envelope-domain",
        "envelope_domains",
        multiple=True,
        help="Domain of the envelope sender, for the SPF suggestion (repeatable). "
        "Default: smtp.reply_domain, the domain of mailbridge's bounce+...@ envelope sender.",
    )
    @click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        envvar="MAILBRIDGE_CONFIG",
        help="mailbridge's TOML configuration, for the defaults above.",
    )
    @click.option(
        "--dmarc-report",
        default="",
        help="Mailbox for DMARC aggregate reports, for the DMARC suggestion.",
    )
    def keygen_command(
        domain: str,
        selector: str,
        algorithm: KeyAlgorithm,
        directory: Path,
        force: bool,
        envelope_domains: tuple[str, ...],
        dmarc_report: str,
        config_file: Path | None,
    ) -> None:
        """Generate a private key and print the DNS records to publish."""
        found = None
        if directory is None or not envelope_domains:
            found = defaults(config_file)
        if directory is None:
            assert found is not None
            directory = found.directory
        try:
            made = keygen(directory, domain, selector, algorithm, overwrite=force)
        except DkimKeyError as exc:
            raise click.ClickException(str(exc)) from None
        key = made.key
        size = f", {key.bits} bits" if key.key_type == "rsa" else ""
        notes: list[str] = []
        if not envelope_domains:
            assert found is not None
            envelope_domains = (found.envelope_domain,)
            notes.append(
                f"mailbridge's envelope sender (MAIL FROM) is bounce+...@{found.envelope_domain} "
                "(smtp.reply_domain): SPF is checked against that domain, not --domain."
            )
            if not found.envelope_domain_configured:
                notes.append(
                    f"smtp.reply_domain is still the example value {found.envelope_domain}: "
                    "configure it (or pass --envelope-domain) before publishing."
                )
        records = dns_records(
            key, envelope_domains=envelope_domains, dmarc_report_address=dmarc_report
        )
        out = [
            f"Private key written to {made.path} ({key.algorithm}{size}, mode 0600).",
            "Keep it secret and back it up; mailbridge only needs to read it.",
            "",
            "Publish this DNS record exactly:",
            "",
            *_record_text(records[0]),
            "",
            "Suggestions (edit before publishing):",
        ]
        for note in notes:
            out += ["", *textwrap.wrap(note, width=88)]
        for record in records[1:]:
            out += ["", f"{record.purpose}:", *_record_text(record)]
        which = "ed25519_" if key.key_type == "ed25519" else ""
        out += [
            "",
            "Then configure mailbridge ([dkim] section):",
            f'  domain = "{key.domain}"',
            f'  {which}selector = "{key.selector}"',
            f'  {which}private_key = "{made.path}"',
            "and, once the record is visible in DNS:",
            f"  mailbridge dkim check --domain {key.domain} --selector {key.selector} "
            f"--key {made.path}",
        ]
        click.echo("\n".join(out))

    @group.command(name="check")
    @click.option("--domain", required=True, help="Signing domain (d=).")
    @click.option("--selector", required=True, help="Selector (s=).")
    @click.option(
        "--key",
        "key_file",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="The private key file mailbridge signs with.",
    )
    @click.option(
        "--nameserver",
        "nameservers",
        multiple=True,
        help="Ask this DNS server (IP, or IP:PORT) instead of the system's; repeatable. "
        "Use your zone's authoritative server to see a change before caches expire.",
    )
    @click.option(
        "--timeout",
        type=click.FloatRange(min=0.1, max=60),
        default=5.0,
        show_default=True,
        help="Seconds to wait for DNS.",
    )
    def check_command(
        domain: str,
        selector: str,
        key_file: Path,
        nameservers: tuple[str, ...],
        timeout: float,
    ) -> None:
        """Look the selector up in DNS and say whether it publishes this key.

        Exit status 0 when it matches, 1 otherwise.
        """
        try:
            key = load_key(key_file, domain, selector)
        except DkimKeyError as exc:
            raise click.ClickException(str(exc)) from None
        resolver = nameserver_resolver(nameservers, timeout)
        result = asyncio.run(check(key.domain, key.selector, key, resolver))
        click.echo(_describe_check(result, key_file))
        if not result.ok:
            click.get_current_context().exit(1)

    return group


dkim_command = make_dkim_command()
