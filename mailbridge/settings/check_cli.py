"""``mailbridge check-config``: every problem of the settings at once, or what they
come to, before a daemon is started with them."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mailbridge.cli_options import config_options
from mailbridge.errors import ConfigError
from mailbridge.settings.load import load_settings
from mailbridge.settings.schema import Settings

__all__ = ["check_config_command"]


@click.command("check-config")
@config_options
def check_config_command(config_file: Path | None, data_dir: Path | None) -> None:
    """Check the file, the MAILBRIDGE_* environment and --data-dir together: every
    problem at once, each with its key and where it was set (exit 1); or what the
    settings come to (exit 0). Nothing is started or written."""
    overrides = {"data_dir": str(data_dir)} if data_dir else None
    try:
        settings = load_settings(config_file, environ=os.environ, overrides=overrides)
    except ConfigError as exc:
        problems = str(exc).splitlines()
        click.echo(f"{len(problems)} problem(s) in the settings:", err=True)
        for line in problems:
            click.echo(f"  {line}", err=True)
        raise SystemExit(1) from None
    click.echo("\n".join(summary(settings)))


def summary(s: Settings) -> list[str]:
    """What the settings come to, in the operator's words."""

    def on(value: str, what: str) -> str:
        return what if value else "off"

    return [
        "Settings are valid.",
        f"  data directory   {s.data_path}",
        f"  SMTP             {s.smtp.listen}, replies to *@{s.smtp.reply_domain}",
        f"  HTTP             {s.http.listen}, public at {s.site.public_url}",
        f"  outgoing mail    {s.transport_url}, from {s.outbound.from_address}",
        f"  DKIM             {on(s.dkim.domain, f'd={s.dkim.domain} s={s.dkim.selector}')}",
        f"  moderators       {', '.join(s.moderation.moderators) or 'each thread author only'}",
        f"  IMAP inbox       {on(s.imap.host, f'{s.imap.user}@{s.imap.host}:{s.imap.port}')}",
        "  inbound webhooks "
        + (
            ", ".join(
                n
                for n, v in (
                    ("mailgun", s.inbound_webhooks.mailgun_signing_key),
                    ("postmark", s.inbound_webhooks.postmark_password),
                    ("sendgrid", s.inbound_webhooks.sendgrid_password),
                    ("ses", s.inbound_webhooks.ses_topic_arn),
                )
                if v
            )
            or "off"
        ),
        f"  WordPress bridge {on(s.wordpress.site_url, s.wordpress.site_url)}",
        f"  /metrics         {', '.join(s.http.metrics_networks) or 'off'}",
    ]
