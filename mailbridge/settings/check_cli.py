"""``mailbridge check-config``: every problem of the settings at once, or what they
come to, before a daemon is started with them."""

from __future__ import annotations

import asyncio
import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

import click

from mailbridge.cli_options import config_options
from mailbridge.dnscheck import Finding, dns_findings
from mailbridge.errors import ConfigError
from mailbridge.inbound.tls import smtp_tls_context
from mailbridge.outbound.api import API_SCHEMES
from mailbridge.outbound.api.http import Probe
from mailbridge.outbound.dkim_cli import nameserver_resolver
from mailbridge.outbound.from_settings import startup_problems, transport_from_settings
from mailbridge.outbound.transport import transport_shown
from mailbridge.senderauth.dns import DnsResolver
from mailbridge.settings.load import load_settings
from mailbridge.settings.schema import Settings
from mailbridge.settings.validate import public_url_advice
from mailbridge.settings.webhook_routes import event_routes, inbound_routes, missing_routes

__all__ = ["check_config_command"]


@click.command("check-config")
@config_options
@click.option(
    "--dns",
    "check_dns",
    is_flag=True,
    help="Also check what DNS says: the reply domain's MX, SPF, DKIM and DMARC records, "
    "each with the record to publish when it is wrong.",
)
@click.option(
    "--sending-ip",
    "sending_ips",
    multiple=True,
    metavar="IP",
    help="An address mail leaves from, for the SPF check (default: the relay's public "
    "address, else the MX host's). Repeatable.",
)
@click.option(
    "--mx-host",
    default="",
    metavar="HOST",
    help="The host the reply domain's MX should name (default: any MX is accepted).",
)
@click.option(
    "--nameserver",
    "nameservers",
    multiple=True,
    metavar="IP[:PORT]",
    help="Ask this DNS server (repeatable; default: auth.nameservers, else the system's).",
)
@click.option(
    "--api",
    "check_api",
    is_flag=True,
    help="With mailgun://, postmark://, sendgrid:// or ses://: also ask the service whether "
    "it takes outbound.api_key (and the domain, stream, permission or region). Nothing is "
    "sent.",
)
def check_config_command(
    config_file: Path | None,
    data_dir: Path | None,
    check_dns: bool,
    check_api: bool,
    sending_ips: tuple[str, ...],
    mx_host: str,
    nameservers: tuple[str, ...],
) -> None:
    """Check the file, the MAILBRIDGE_* environment and --data-dir together: every
    problem at once, each with its key and where it was set (exit 1); or what the
    settings come to (exit 0). Nothing is started or written. With --dns, also what
    the internet's DNS says (exit 1 when a record is wrong or missing, or could not be
    checked)."""
    overrides = {"data_dir": str(data_dir)} if data_dir else None
    try:
        settings = load_settings(config_file, environ=os.environ, overrides=overrides)
        # What serve reads at start besides: the DKIM key files, the relay URL, the
        # STARTTLS certificate and key.
        problems = startup_problems(settings)
        try:
            smtp_tls_context(settings)
        except ConfigError as exc:
            problems.append(str(exc))
    except ConfigError as exc:
        problems = str(exc).splitlines()
    if problems:
        click.echo(f"{len(problems)} problem(s) in the settings:", err=True)
        for line in problems:
            click.echo(f"  {line}", err=True)
        raise SystemExit(1) from None
    click.echo("\n".join(summary(settings)))
    service = urlsplit(settings.transport_url).scheme
    if service in API_SCHEMES and not check_api:
        click.echo(f"  (outbound.api_key is not checked: --api asks {service}, sending nothing)")
    for advice in (public_url_advice(settings), *missing_routes(settings)):
        if advice is not None:
            click.echo(f"WARNING: {advice}", err=True)
    failed = False
    if check_api and service in API_SCHEMES:
        probe = asyncio.run(_ask_service(settings))
        click.echo("")
        click.echo("The mail service's API, as it answers:")
        click.echo(f"  {probe.status.upper():<8} {probe.said}")
        failed = probe.status != "ok"
    elif check_api:
        click.echo(f"(--api: outbound.transport is {service}:, not a mail service's API)")
    if check_dns:
        for ip in sending_ips:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise click.BadParameter(
                    f"not an IP address: {ip}", param_hint="--sending-ip"
                ) from None
        resolver = _resolver(settings, nameservers)
        findings = asyncio.run(
            dns_findings(settings, resolver, sending_ips=sending_ips, mx_host=mx_host)
        )
        click.echo("")
        click.echo("\n".join(describe(findings)))
        failed = failed or any(f.status in ("problem", "unknown") for f in findings)
    if failed:
        raise SystemExit(1)  # only a clean bill is 0: a monitor may run this


async def _ask_service(settings: Settings) -> Probe:
    """The API transport's own check (each service's cheapest request that proves the
    key without sending), with the settings serve would use."""
    transport = transport_from_settings(settings)
    try:
        check = getattr(transport, "check", None)
        assert check is not None, f"{type(transport).__name__} has no check"
        probe: Probe = await check()
        return probe
    finally:
        await transport.aclose()


def _resolver(settings: Settings, nameservers: tuple[str, ...]) -> DnsResolver:
    given = nameservers or tuple(settings.auth.nameservers)
    if not given and settings.auth.dns == "off":
        raise click.UsageError("auth.dns is off in these settings: name a --nameserver to ask")
    return nameserver_resolver(given, settings.auth.dns_timeout)


def describe(findings: list[Finding]) -> list[str]:
    """The findings as the operator reads them: one line each, the record to publish
    under each wrong one."""
    lines = ["DNS, as the internet sees it:"]
    for f in findings:
        lines.append(f"  {f.status.upper():<8} {f.what:<6} {f.detail}")
        if f.publish:
            how = "publish" if f.exact else "publish (a suggestion: edit it first)"
            lines.append(f"           {how}:")
            lines += [f"             {line}" for line in f.publish.splitlines()]
    problems = sum(f.status == "problem" for f in findings)
    unknown = sum(f.status == "unknown" for f in findings)
    if problems or unknown:
        lines.append(f"{problems} problem(s), {unknown} not checked.")
    else:
        lines.append("No problems found.")
    return lines


def summary(s: Settings) -> list[str]:
    """What the settings come to, in the operator's words."""

    def on(value: str, what: str) -> str:
        return what if value else "off"

    outgoing = transport_shown(s.transport_url, s.outbound.api_key, s.outbound.api_url)
    return [
        "Settings are valid.",
        f"  data directory   {s.data_path}",
        f"  SMTP             {s.smtp.listen}, replies to *@{s.smtp.reply_domain}",
        f"  HTTP             {s.http.listen}, public at {s.site.public_url}",
        f"  outgoing mail    {outgoing}, from {s.outbound.from_address}",
        f"  DKIM             {on(s.dkim.domain, f'd={s.dkim.domain} s={s.dkim.selector}')}",
        f"  moderators       {', '.join(s.moderation.moderators) or 'each thread author only'}",
        f"  IMAP inbox       {on(s.imap.host, f'{s.imap.user}@{s.imap.host}:{s.imap.port}')}",
        f"  inbound webhooks {', '.join(inbound_routes(s)) or 'off'}",
        f"  mail events      {', '.join(event_routes(s)) or 'off'}"
        " (bounces and spam complaints; abuse reports by email always)",
        f"  WordPress bridge {on(s.wordpress.site_url, s.wordpress.site_url)}",
        f"  /metrics         {', '.join(s.http.metrics_networks) or 'off'}",
    ]
