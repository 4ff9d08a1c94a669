"""Check settings values once loaded: addresses, host:port, URLs, choices, ranges."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import ipaddress
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import idna

from mailbridge.addresses import parse_mailbox
from mailbridge.errors import ConfigError, InvalidAddress
from mailbridge.outbound.headers import ascii_url
from mailbridge.outbound.transport import redact_url
from mailbridge.settings.integrations import (
    WEBHOOK_EVENTS,
    ImapSettings,
    WebhookSettings,
    WordPressSettings,
)
from mailbridge.settings.schema import Settings

__all__ = ["is_language_tag", "parse_hostport", "public_url_advice", "validate"]


def parse_hostport(value: str, where: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    # isascii(): "²" passes isdigit(), and int() refuses it (a traceback, not this).
    if not sep or not host or not (port.isascii() and port.isdigit()) or int(port) > 65535:
        raise ConfigError(f"{where}: expected host:port, got '{value}'")
    return host, int(port)


def _check_address(value: str, where: str, smtputf8: bool) -> None:
    try:
        parse_mailbox(value, smtputf8=smtputf8)
    except InvalidAddress as exc:
        raise ConfigError(f"{where}: not a usable email address: {value!r} ({exc})") from None


def validate(s: Settings) -> Settings:
    """The settings, checked; a ConfigError naming every problem found (one a line),
    not only the first, so an operator fixes the file in one go."""
    problems: list[str] = []
    for check in _CHECKS:
        try:
            check(s)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))
    return s


def _listen(s: Settings) -> None:
    parse_hostport(s.smtp.listen, "smtp.listen")
    parse_hostport(s.http.listen, "http.listen")


def _site_url(s: Settings) -> None:
    url = urlsplit(s.site.public_url)
    if url.scheme not in {"http", "https"} or not url.netloc:
        raise ConfigError(f"site.public_url: expected an http(s) URL, got '{s.site.public_url}'")
    try:
        # Every link and List-Unsubscribe header is built from it (ascii_url): a host
        # IDNA cannot encode is said here, not as a traceback at the first email.
        ascii_url(s.site.public_url)
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise ConfigError(
            f"site.public_url: its host cannot be written in ASCII (IDNA): {exc}"
        ) from None


def _accent_color(s: Settings) -> None:
    color = s.site.accent_color
    if (
        len(color) != 7
        or color[0] != "#"
        or any(c not in "0123456789abcdefABCDEF" for c in color[1:])
    ):
        raise ConfigError(f"site.accent_color: expected #rrggbb, got '{color}'")


# RFC 5646's langtag, in the order language, script, region, variants, extensions and
# private use; or private use alone. Well-formed only, no registry lookup, but the
# language is ISO 639's two or three letters: "english" or "French" (the 4 to 8 letters
# RFC 5646 reserves, none registered) is a mistake to name, not a tag.
_LANGTAG = re.compile(
    r"[a-z]{2,3}(?:-[a-z]{3}){0,3}"
    r"(?:-[a-z]{4})?(?:-(?:[a-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*"
    r"(?:-x(?:-[a-z0-9]{1,8})+)?"
    r"|x(?:-[a-z0-9]{1,8})+",
    re.IGNORECASE | re.ASCII,
)


def is_language_tag(tag: str) -> bool:
    """Whether ``tag`` is a well-formed BCP 47 language tag (en, pt-BR, zh-Hant-TW)."""
    return _LANGTAG.fullmatch(tag) is not None


def _language(s: Settings) -> None:
    # Written into every lang attribute: a wrong one makes screen readers read the
    # whole page in a wrong voice, and anything else would be markup.
    if not is_language_tag(s.site.language):
        raise ConfigError(
            f"site.language: expected a BCP 47 language tag (en, fr, pt-BR), "
            f"got '{s.site.language}'"
        )


def _reply_domain(s: Settings) -> None:
    domain = s.smtp.reply_domain
    if not domain or "@" in domain or any(c.isspace() for c in domain):
        raise ConfigError(f"smtp.reply_domain: expected a domain name, got '{domain}'")
    if not domain.isascii():
        # Reply addresses and Message-IDs are ASCII; mail arrives for the A-label form.
        try:
            ascii_form = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ConfigError(f"smtp.reply_domain: not a domain name: '{domain}' ({exc})") from None
        raise ConfigError(f"smtp.reply_domain: write it in ASCII (IDNA) form: '{ascii_form}'")


def _addresses(s: Settings) -> None:
    smtputf8 = s.outbound.smtputf8
    _check_address(s.outbound.from_address, "outbound.from", smtputf8=False)
    for moderator in s.moderation.moderators:
        _check_address(moderator, "moderation.moderators", smtputf8)
    for extra in s.smtp.extra_recipients:
        _check_address(extra, "smtp.extra_recipients", smtputf8=False)


def _thread_path_prefix(s: Settings) -> None:
    if not s.site.thread_path_prefix.startswith("/"):
        raise ConfigError(
            f"site.thread_path_prefix: must start with '/', got '{s.site.thread_path_prefix}'"
        )


def _origins(s: Settings) -> None:
    for origin in s.site.allowed_origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
            raise ConfigError(
                f"site.allowed_origins: expected scheme://host[:port], got '{origin}'"
            )
    for origin in s.http.cors_origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
            raise ConfigError(f"http.cors_origins: expected scheme://host[:port], got '{origin}'")


def _choices(s: Settings) -> None:
    for name, value, allowed in (
        ("auth.dns", s.auth.dns, ("system", "off")),
        ("auth.on_dmarc_reject", s.auth.on_dmarc_reject, ("refuse", "hold")),
        ("auth.on_dmarc_quarantine", s.auth.on_dmarc_quarantine, ("refuse", "hold")),
        ("auth.when_dns_unavailable", s.auth.when_dns_unavailable, ("accept", "hold", "tempfail")),
    ):
        if value not in allowed:
            choices = ", ".join(f'"{a}"' for a in allowed)
            raise ConfigError(f"{name}: expected one of {choices}, got '{value}'")


def _networks(s: Settings) -> None:
    for network in s.auth.trusted_relay_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"auth.trusted_relay_networks: not a network: '{network}'") from None
    for server in s.auth.nameservers:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise ConfigError(f"auth.nameservers: not an IP address: '{server}'") from None
    for proxy in s.http.trusted_proxies:
        try:
            ipaddress.ip_address(proxy)
        except ValueError:
            raise ConfigError(f"http.trusted_proxies: not an IP address: '{proxy}'") from None


def _data_url(s: Settings) -> None:
    # Only the two engines the store has; anything else (a typo'd scheme, mysql://)
    # must stop the start, not fall back to SQLite and split the data silently.
    if s.data_url and not s.data_url.startswith(("postgresql://", "postgres://")):
        scheme = s.data_url.split(":", 1)[0]
        raise ConfigError(
            "data_url: expected empty (SQLite in data_dir) or postgresql://user:password@"
            f"host:port/dbname, got a '{scheme}:' URL"
        )


def _transport(s: Settings) -> None:
    transport = s.transport_url
    if not transport.startswith(
        ("maildir:", "smtp://", "smtps://", "mailgun://", "postmark://", "sendgrid://", "ses://")
    ):
        raise ConfigError(
            "outbound.transport: expected maildir:PATH, smtp://host:port, "
            "smtps://host:port, mailgun://DOMAIN, postmark://, sendgrid:// or ses://REGION, got "
            f"'{redact_url(transport)}'"
        )
    if s.outbound.relay_tls not in ("opportunistic", "required", "implicit"):
        raise ConfigError(
            'outbound.relay_tls: expected "opportunistic", "required" or "implicit", '
            f"got '{s.outbound.relay_tls}'"
        )
    if s.outbound.relay_ca_file and not Path(s.outbound.relay_ca_file).expanduser().is_file():
        raise ConfigError(f"outbound.relay_ca_file: no such file: '{s.outbound.relay_ca_file}'")
    if s.outbound.lease_seconds < 5:
        # Renewed every third of it while a send lasts: shorter would be mostly renewals.
        raise ConfigError("outbound.lease_seconds: must be at least 5")


def _positive(s: Settings) -> None:
    wrong = [
        name
        for name, number in (
            ("database_busy_timeout_seconds", s.database_busy_timeout_seconds),
            ("cache.memory_mb", s.cache.memory_mb),
            ("moderation.digest_minutes", s.moderation.digest_minutes),
            ("moderation.digest_when_pending_over", s.moderation.digest_when_pending_over),
            ("smtp.max_message_size", s.smtp.max_message_size),
            ("smtp.reply_token_days", s.smtp.reply_token_days),
            ("http.max_body_bytes", s.http.max_body_bytes),
            ("moderation.link_days", s.moderation.link_days),
            ("outbound.retry_base_seconds", s.outbound.retry_base_seconds),
            ("outbound.retry_max_seconds", s.outbound.retry_max_seconds),
            ("outbound.give_up_hours", s.outbound.give_up_hours),
            ("outbound.relay_timeout_seconds", s.outbound.relay_timeout_seconds),
            ("outbound.concurrency", s.outbound.concurrency),
            ("outbound.per_domain_concurrency", s.outbound.per_domain_concurrency),
            ("smtp.timeout_seconds", s.smtp.timeout_seconds),
            ("smtp.max_session_seconds", s.smtp.max_session_seconds),
            ("notifications.confirmation_days", s.notifications.confirmation_days),
            ("notifications.unsubscribe_days", s.notifications.unsubscribe_days),
            ("auth.dns_timeout", s.auth.dns_timeout),
            ("inbound.raw_retention_days", s.inbound.raw_retention_days),
            ("inbound.min_reply_chars", s.inbound.min_reply_chars),
            ("inbound.hard_bounce_limit", s.inbound.hard_bounce_limit),
            *(
                (f"limits.{f.name}", getattr(s.limits, f.name))
                for f in dataclasses.fields(s.limits)
            ),
        )
        if number <= 0
    ]
    if wrong:
        raise ConfigError("\n".join(f"{name}: must be greater than zero" for name in wrong))


def _smtp_tls(s: Settings) -> None:
    if bool(s.smtp.tls_cert) != bool(s.smtp.tls_key):
        raise ConfigError("smtp.tls_cert and smtp.tls_key: set both (STARTTLS) or neither")
    for name, value in (("smtp.tls_cert", s.smtp.tls_cert), ("smtp.tls_key", s.smtp.tls_key)):
        if value and not (s.data_path / Path(value).expanduser()).is_file():
            raise ConfigError(f"{name}: no such file: '{value}'")


def _workers(s: Settings) -> None:
    if not 0 <= s.inbound.cpu_processes <= 64:
        raise ConfigError("inbound.cpu_processes: must be between 0 and 64")


def _cache(s: Settings) -> None:
    if s.cache.max_age_seconds < 0 or s.cache.stale_while_revalidate_seconds < 0:
        raise ConfigError(
            "cache: max_age_seconds and stale_while_revalidate_seconds must not be negative"
        )


def _inbound_log(s: Settings) -> None:
    if not 30 <= s.inbound.keep_days <= 36500:
        raise ConfigError(
            "inbound.keep_days: must be 30 to 36500: the queue page offers to undo the "
            "decisions of the last 30 days, and a comment back in the queue shows what "
            "the log's row says of its message"
        )


def _spam(s: Settings) -> None:
    if not 0 < s.spam.threshold <= 1:
        raise ConfigError("spam.threshold: must be greater than 0 and at most 1")
    if s.spam.report_hours < 0:
        raise ConfigError("spam.report_hours: must be 0 (off) or more")
    if s.spam.keep_days != 0 and not 30 <= s.spam.keep_days <= 36500:
        raise ConfigError(
            "spam.keep_days: must be 0 (kept for ever) or 30 to 36500: the queue page "
            "offers to undo the folder's decisions of the last 30 days"
        )
    if not s.spam.akismet_url.startswith(("https://", "http://")):
        raise ConfigError("spam.akismet_url: must be an http(s) URL")
    if not 0 < s.spam.akismet_timeout_seconds <= 30:
        raise ConfigError("spam.akismet_timeout_seconds: must be more than 0 and at most 30")


def _moderation(s: Settings) -> None:
    if s.moderation.mode not in ("each", "digest", "auto"):
        raise ConfigError(
            f'moderation.mode: expected "each", "digest" or "auto", got \'{s.moderation.mode}\''
        )
    if s.moderation.auto_approve_after < 0:
        raise ConfigError("moderation.auto_approve_after: must not be negative (0 is off)")
    if s.notifications.batch_window_seconds < 0:
        raise ConfigError("notifications.batch_window_seconds: must not be negative")


def _privacy(s: Settings) -> None:
    if s.privacy.erased_comments not in ("anonymise", "remove"):
        raise ConfigError('privacy.erased_comments: expected "anonymise" or "remove"')


def _webhooks(s: Settings) -> None:
    seen: set[str] = set()
    for n, hook in enumerate(s.webhooks, start=1):
        _check_webhook(hook, f"[[webhooks]] #{n}")
        if hook.url in seen:
            raise ConfigError(f"[[webhooks]] #{n}: url: listed twice")
        seen.add(hook.url)


def _bridges(s: Settings) -> None:
    _check_wordpress(s.wordpress)
    _check_imap(s.imap)


def _inbound_webhooks(s: Settings) -> None:
    hooks = s.inbound_webhooks
    for name in ("postmark_password", "sendgrid_password", "mailgun_signing_key"):
        value = getattr(hooks, name)
        # Whoever knows it can post comments as anyone: not a word one can guess.
        if value and len(value) < 16:
            raise ConfigError(f"inbound_webhooks.{name}: at least 16 characters")
    if hooks.sendgrid_event_key:
        from mailbridge.inbound_webhooks.events import sendgrid_key

        try:
            sendgrid_key(hooks.sendgrid_event_key)
        except ValueError as exc:
            raise ConfigError(f"inbound_webhooks.sendgrid_event_key: {exc}") from None


def _metrics(s: Settings) -> None:
    for network in s.http.metrics_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"http.metrics_networks: not a network: '{network}'") from None


_CHECKS: tuple[Callable[[Settings], None], ...] = (
    _listen,
    _site_url,
    _accent_color,
    _language,
    _reply_domain,
    _addresses,
    _thread_path_prefix,
    _origins,
    _choices,
    _networks,
    _data_url,
    _transport,
    _positive,
    _smtp_tls,
    _cache,
    _workers,
    _spam,
    _inbound_log,
    _moderation,
    _privacy,
    _webhooks,
    _bridges,
    _inbound_webhooks,
    _metrics,
)


def _check_imap(imap: ImapSettings) -> None:
    if not imap.host:
        return
    if not imap.user or not imap.password:
        raise ConfigError("imap: user and password are needed with host (docs/imap.md)")
    # The password travels in the LOGIN command: never in clear over a network.
    if not imap.tls and imap.host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError("imap.tls: may be off only for a server on 127.0.0.1 or localhost")
    if not 0 < imap.port < 65536:
        raise ConfigError(f"imap.port: not a port: {imap.port}")
    for name in ("poll_seconds", "timeout_seconds"):
        if not getattr(imap, name) > 0:
            raise ConfigError(f"imap.{name}: must be more than 0")


def _check_wordpress(wp: WordPressSettings) -> None:
    if not wp.site_url:
        return
    parts = urlsplit(wp.site_url)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    # The Application Password travels in every request: never in clear over a network.
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ConfigError("wordpress.site_url: must be https (http only to 127.0.0.1 or localhost)")
    if not parts.hostname or any(ch.isspace() for ch in wp.site_url):
        raise ConfigError("wordpress.site_url: not a usable address")
    if not wp.user or not wp.app_password:
        raise ConfigError(
            "wordpress: user and app_password are needed with site_url (docs/wordpress.md)"
        )
    for name in (
        "poll_seconds", "full_sync_minutes", "requests_per_second", "timeout_seconds",
        "max_answer_mb",
    ):  # fmt: skip
        if not getattr(wp, name) > 0:
            raise ConfigError(f"wordpress.{name}: must be more than 0")
    if not wp.posts_check_minutes >= 0:
        raise ConfigError("wordpress.posts_check_minutes: must be 0 or more (0: every poll)")


def public_url_advice(s: Settings) -> str | None:
    """A warning when site.public_url is the bridged WordPress site's own address:
    every link in mailbridge's emails (Approve, one-click unsubscribe, confirm) starts
    with it, and WordPress answers them 404. Not refused: a proxy in front of the blog
    may send mailbridge's paths to it."""
    if not s.wordpress.site_url:
        return None

    def where(url: str) -> tuple[str, str, int | None, str]:
        parts = urlsplit(url)
        return parts.scheme, (parts.hostname or "").lower(), parts.port, parts.path.rstrip("/")

    if where(s.site.public_url) != where(s.wordpress.site_url):
        return None
    return (
        "site.public_url is the WordPress site's address (wordpress.site_url): it is "
        "mailbridge's own, where the links in its emails (Approve, unsubscribe) go, and "
        "WordPress answers them 404 unless a proxy sends them to mailbridge (docs/wordpress.md)"
    )


def _check_webhook(hook: WebhookSettings, where: str) -> None:
    parts = urlsplit(hook.url)
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ConfigError(f"{where}: url: must be https (http only to 127.0.0.1 or localhost)")
    if not parts.hostname or any(ch.isspace() for ch in hook.url):
        raise ConfigError(f"{where}: url: not a usable address")
    raw = hook.secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not hook.secret.startswith("whsec_") or len(key) < 24:
        raise ConfigError(
            f"{where}: secret: whsec_ followed by at least 24 random bytes in base64 "
            "(docs/webhooks.md)"
        )
    if not 0 < hook.timeout_seconds <= 60:
        raise ConfigError(f"{where}: timeout_seconds: more than 0 and at most 60")
    unknown = set(hook.events) - set(WEBHOOK_EVENTS)
    if unknown or not hook.events:
        raise ConfigError(
            f"{where}: events: choose from {', '.join(WEBHOOK_EVENTS)}"
            + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else "")
        )
