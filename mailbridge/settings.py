"""Settings, declared once: a frozen dataclass tree with a default and help on every key.

Layers, later wins: the defaults below, then the operator's TOML file, then
``MAILBRIDGE_<SECTION>_<KEY>`` environment variables (``MAILBRIDGE_DATA_DIR`` for
top-level keys), then command-line flags. An unknown key in any layer is an error
with a "did you mean" hint, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mailbridge.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "AuthSettings",
    "HttpSettings",
    "InboundSettings",
    "LimitSettings",
    "ModerationSettings",
    "OutboundSettings",
    "Settings",
    "SiteSettings",
    "SmtpSettings",
    "TemplateSettings",
    "iter_keys",
    "load_settings",
    "parse_hostport",
    "reference_table",
]

ENV_PREFIX = "MAILBRIDGE_"
# Environment variables in our namespace that are not settings.
_ENV_NOT_SETTINGS = frozenset({"MAILBRIDGE_CONFIG"})


def _key(default: Any, help: str, *, name: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "name": name})


@dataclass(frozen=True)
class SiteSettings:
    """The blog this instance serves."""

    name: str = _key("Example Blog", "Shown in every email and page.")
    public_url: str = _key(
        "http://127.0.0.1:8080",
        "Base URL of mailbridge's web pages as readers reach them; every link in emails "
        "starts with it.",
    )


@dataclass(frozen=True)
class SmtpSettings:
    """The inbound SMTP service that receives replies."""

    listen: str = _key("127.0.0.1:2525", "host:port the SMTP service listens on.")
    reply_domain: str = _key(
        "reply.example.org",
        "Domain of reply addresses (reply+TOKEN@domain); its MX must point here.",
    )
    max_message_size: int = _key(
        10 * 1024 * 1024,
        "Largest message accepted, in bytes (advertised with SIZE; larger gets 552).",
    )
    reply_token_days: int = _key(90, "Days a reply address in a notification stays valid.")
    extra_recipients: tuple[str, ...] = _key(
        (),
        "Other addresses to accept mail for (e.g. the From address, for people who reply "
        "to From instead of Reply-To); the reply is matched by its headers.",
    )
    timeout_seconds: float = _key(
        60.0, "An SMTP client silent for this long between commands is disconnected."
    )


@dataclass(frozen=True)
class HttpSettings:
    """The web service: comment API, thread pages, moderation links."""

    listen: str = _key("127.0.0.1:8080", "host:port the HTTP service listens on.")
    max_body_bytes: int = _key(
        64 * 1024, "Largest accepted request body in bytes (larger gets 413)."
    )
    trusted_proxies: tuple[str, ...] = _key(
        (),
        "IP addresses of reverse proxies whose X-Forwarded-For is believed (client IP "
        "limits); requests from anywhere else are counted by their own address.",
    )
    cors_origins: tuple[str, ...] = _key(
        (),
        "Origins (scheme://host[:port]) whose pages may call the comment API from the "
        "browser, e.g. the blog. Empty: no cross-origin calls.",
    )


@dataclass(frozen=True)
class OutboundSettings:
    """Outgoing mail: notifications and moderation requests."""

    transport: str = _key(
        "",
        "Where outgoing mail goes: maildir:PATH (a Maildir on disk) or smtp://host:port "
        "(a relay). Empty means maildir:<data_dir>/outbox.",
    )
    from_address: str = _key(
        "Example Blog <comments@example.org>",
        "From header of every email mailbridge sends.",
        name="from",
    )
    retry_base_seconds: float = _key(
        30.0, "First retry delay after a temporary failure; doubles each attempt."
    )
    retry_max_seconds: float = _key(3600.0, "Longest delay between two attempts.")
    give_up_hours: float = _key(
        120.0,
        "After this long of temporary failures a message is marked failed (kept, never deleted).",
    )


@dataclass(frozen=True)
class ModerationSettings:
    """Who moderates and how long moderation links live."""

    moderators: tuple[str, ...] = _key(
        (),
        "Addresses that receive every moderation email, in addition to each thread's "
        "author (from the import).",
    )
    link_days: int = _key(14, "Days an approve/reject/spam link stays valid.")


@dataclass(frozen=True)
class InboundSettings:
    """How inbound mail is judged and how long it is kept."""

    raw_retention_days: int = _key(
        30, "Days the raw bytes of inbound messages are kept (headers and outcome stay)."
    )
    min_reply_chars: int = _key(
        2, "A reply shorter than this (after quotes and signatures are cut) is refused."
    )
    hard_bounce_limit: int = _key(
        2, "Hard bounces after which mailbridge stops mailing an address."
    )


@dataclass(frozen=True)
class AuthSettings:
    """Sender authentication of inbound replies (DKIM, DMARC, trusted relays)."""

    dns: str = _key(
        "system",
        'Where DNS answers come from: "system" (resolv.conf, or nameservers below) or '
        '"off" (air-gapped: every check reports DNS unavailable, explicitly).',
    )
    nameservers: tuple[str, ...] = _key((), "DNS servers to ask instead of the system's.")
    dns_timeout: float = _key(5.0, "Seconds one DNS lookup may take in all.")
    trusted_relays: tuple[str, ...] = _key(
        (),
        "authserv-ids of relays (your MTA) whose topmost Authentication-Results header "
        "is believed.",
    )
    trusted_relay_networks: tuple[str, ...] = _key(
        ("127.0.0.0/8", "::1/128"),
        "Networks those relays connect from; their header is ignored on mail from elsewhere.",
    )
    on_dmarc_reject: str = _key(
        "refuse",
        'A reply failing authentication for a domain with DMARC p=reject: "refuse" (550) '
        'or "hold" (filed, flagged for the moderator).',
    )
    on_dmarc_quarantine: str = _key("hold", 'The same for p=quarantine: "refuse" or "hold".')
    when_dns_unavailable: str = _key(
        "hold",
        'When the checks cannot run for lack of DNS: "accept" (marked unverified), '
        '"hold", or "tempfail" (451: the sender retries later).',
    )


@dataclass(frozen=True)
class LimitSettings:
    """Rate and size limits on both public doors (SMTP and the web API)."""

    smtp_connections_per_ip: int = _key(
        10, "Simultaneous SMTP connections from one client IP (more get 421)."
    )
    smtp_recipients_per_message: int = _key(
        10, "RCPT commands in one SMTP transaction (more get 452)."
    )
    messages_per_sender_per_hour: int = _key(
        20, "Replies from one person (by email or on the web) per hour (more get 450 or 429)."
    )
    comments_per_thread_per_hour: int = _key(
        120, "New comments on one thread per hour, all sources (more get 450 or 429)."
    )
    web_comments_per_ip_per_hour: int = _key(
        30, "Comment submissions from one client IP per hour (more get 429)."
    )


@dataclass(frozen=True)
class TemplateSettings:
    """Email and page templates."""

    directory: str = _key(
        "",
        "A directory of templates that override the packaged ones file by file "
        "(same names, e.g. email/reply_notification.html.j2). Empty: packaged only.",
    )


@dataclass(frozen=True)
class Settings:
    """Everything an operator can set."""

    data_dir: str = _key(
        "var", "Database, outgoing Maildir and instance secret; relative to the working directory."
    )
    site: SiteSettings = field(default_factory=SiteSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    moderation: ModerationSettings = field(default_factory=ModerationSettings)
    inbound: InboundSettings = field(default_factory=InboundSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    templates: TemplateSettings = field(default_factory=TemplateSettings)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def database_path(self) -> Path:
        return self.data_path / "mailbridge.sqlite3"

    @property
    def secret_path(self) -> Path:
        return self.data_path / "secret.key"

    @property
    def transport_url(self) -> str:
        return self.outbound.transport or f"maildir:{self.data_path / 'outbox'}"


def _name(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("name") or f.name)


@dataclass(frozen=True)
class _Key:
    field: dataclasses.Field[Any]
    type: Any  # the resolved annotation (annotations are strings under __future__)

    @property
    def is_section(self) -> bool:
        return isinstance(self.type, type) and dataclasses.is_dataclass(self.type)


def _fields(cls: type[Any]) -> dict[str, _Key]:
    hints = typing.get_type_hints(cls)
    return {_name(f): _Key(f, hints[f.name]) for f in dataclasses.fields(cls)}


def iter_keys() -> list[tuple[str, str, Any, str]]:
    """(dotted key, type name, default, help) for every setting, in declaration order."""
    rows: list[tuple[str, str, Any, str]] = []

    def walk(cls: type[Any], prefix: str) -> None:
        for name, key in _fields(cls).items():
            if key.is_section:
                walk(key.type, f"{prefix}{name}.")
                continue
            f = key.field
            rows.append((prefix + name, _type_name(key.type), f.default, f.metadata["help"]))

    walk(Settings, "")
    return rows


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is tuple:
        return "list of strings"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}[tp]


def _hint(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _coerce(value: Any, tp: Any, where: str, from_env: bool) -> Any:
    """Turn a TOML or environment value into the declared type, or explain why not."""
    if typing.get_origin(tp) is tuple:
        if from_env:
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: expected a list of strings")
        return tuple(value)
    if tp is bool:
        if from_env:
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false")
        return value
    if tp in (int, float):
        if from_env:
            try:
                value = tp(value.strip())
            except ValueError:
                wanted = "an integer" if tp is int else "a number"
                raise ConfigError(f"{where}: expected {wanted}") from None
        wanted = "an integer" if tp is int else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected {wanted}")
        if tp is int and not isinstance(value, int):
            raise ConfigError(f"{where}: expected {wanted}")
        return tp(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string")
    return value


def _apply(
    cls: type[Any], current: Any, values: Mapping[str, Any], where: str, from_env: bool = False
) -> Any:
    known = _fields(cls)
    changes: dict[str, Any] = {}
    for name, value in values.items():
        key = known.get(name)
        if key is None:
            raise ConfigError(f"{where}: unknown key '{name}'{_hint(name, list(known))}")
        attr = key.field.name
        if key.is_section:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}: '{name}' must be a [{name}] table")
            sub_where = f"{where} [{name}]"
            changes[attr] = _apply(key.type, getattr(current, attr), value, sub_where, from_env)
        else:
            changes[attr] = _coerce(value, key.type, f"{where}: {name}", from_env)
    return dataclasses.replace(current, **changes)


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """MAILBRIDGE_SECTION_KEY=value → {"section": {"key": "value"}}; unknown names refused."""
    env_names: dict[str, tuple[str, ...]] = {}
    for dotted, _tp, _default, _help in iter_keys():
        parts = tuple(dotted.split("."))
        env_names[ENV_PREFIX + "_".join(parts).upper()] = parts
    layer: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in _ENV_NOT_SETTINGS:
            continue
        path = env_names.get(name)
        if path is None:
            raise ConfigError(f"environment: unknown setting {name}{_hint(name, list(env_names))}")
        node = layer
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return layer


def parse_hostport(value: str, where: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{where}: expected host:port, got '{value}'")
    return host, int(port)


def _check_address(value: str, where: str) -> None:
    _display, addr = parseaddr(value)
    local, at, domain = addr.rpartition("@")
    if not at or not local or ("." not in domain and domain != "localhost"):
        raise ConfigError(f"{where}: not an email address: '{value}'")
    try:
        Address(addr_spec=addr)
    except (ValueError, IndexError) as exc:
        raise ConfigError(f"{where}: not an email address: '{value}' ({exc})") from None


def _validate(s: Settings) -> Settings:
    parse_hostport(s.smtp.listen, "smtp.listen")
    parse_hostport(s.http.listen, "http.listen")
    url = urlsplit(s.site.public_url)
    if url.scheme not in {"http", "https"} or not url.netloc:
        raise ConfigError(f"site.public_url: expected an http(s) URL, got '{s.site.public_url}'")
    domain = s.smtp.reply_domain
    if not domain or "@" in domain or any(c.isspace() for c in domain):
        raise ConfigError(f"smtp.reply_domain: expected a domain name, got '{domain}'")
    _check_address(s.outbound.from_address, "outbound.from")
    for moderator in s.moderation.moderators:
        _check_address(moderator, "moderation.moderators")
    for extra in s.smtp.extra_recipients:
        _check_address(extra, "smtp.extra_recipients")
    for origin in s.http.cors_origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path:
            raise ConfigError(f"http.cors_origins: expected scheme://host[:port], got '{origin}'")
    for name, value, allowed in (
        ("auth.dns", s.auth.dns, ("system", "off")),
        ("auth.on_dmarc_reject", s.auth.on_dmarc_reject, ("refuse", "hold")),
        ("auth.on_dmarc_quarantine", s.auth.on_dmarc_quarantine, ("refuse", "hold")),
        ("auth.when_dns_unavailable", s.auth.when_dns_unavailable, ("accept", "hold", "tempfail")),
    ):
        if value not in allowed:
            choices = ", ".join(f'"{a}"' for a in allowed)
            raise ConfigError(f"{name}: expected one of {choices}, got '{value}'")
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
    transport = s.transport_url
    if not (transport.startswith("maildir:") or transport.startswith("smtp://")):
        raise ConfigError(
            f"outbound.transport: expected maildir:PATH or smtp://host:port, got '{transport}'"
        )
    for name, number in (
        ("smtp.max_message_size", s.smtp.max_message_size),
        ("smtp.reply_token_days", s.smtp.reply_token_days),
        ("http.max_body_bytes", s.http.max_body_bytes),
        ("moderation.link_days", s.moderation.link_days),
        ("outbound.retry_base_seconds", s.outbound.retry_base_seconds),
        ("outbound.retry_max_seconds", s.outbound.retry_max_seconds),
        ("outbound.give_up_hours", s.outbound.give_up_hours),
        ("smtp.timeout_seconds", s.smtp.timeout_seconds),
        ("auth.dns_timeout", s.auth.dns_timeout),
        ("inbound.raw_retention_days", s.inbound.raw_retention_days),
        ("inbound.min_reply_chars", s.inbound.min_reply_chars),
        ("inbound.hard_bounce_limit", s.inbound.hard_bounce_limit),
        *((f"limits.{f.name}", getattr(s.limits, f.name)) for f in dataclasses.fields(s.limits)),
    ):
        if number <= 0:
            raise ConfigError(f"{name}: must be greater than zero")
    return s


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings from defaults, a TOML file, the environment and flag overrides."""
    settings = Settings()
    if config_file is not None:
        try:
            with config_file.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: invalid TOML: {exc}") from None
        settings = _apply(Settings, settings, data, str(config_file))
    if environ is not None:
        settings = _apply(Settings, settings, _env_layer(environ), "environment", True)
    if overrides:
        settings = _apply(Settings, settings, overrides, "command line")
    return _validate(settings)


def reference_table() -> str:
    """The Markdown table of every setting (docs/configuration.md embeds it; a test checks)."""
    lines = [
        "| key | environment variable | type | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for dotted, type_name, default, help_text in iter_keys():
        env = ENV_PREFIX + dotted.replace(".", "_").upper()
        shown = list(default) if isinstance(default, tuple) else default
        lines.append(f"| `{dotted}` | `{env}` | {type_name} | `{shown!r}` | {help_text} |")
    return "\n".join(lines)
