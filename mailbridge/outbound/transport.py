"""Transports: where a composed message goes. Chosen by URL in ``[outbound] transport``.

``maildir:PATH``   every message becomes a file in a Maildir (the default: a new
                   operator sees each email mailbridge would send).
``mailgun://DOMAIN``, ``postmark://``, ``sendgrid://``, ``ses://REGION``  a mail
                   service's HTTPS API, for hosts that
                   block SMTP ports. See :mod:`mailbridge.outbound.api`.
``smtp://[user:pass@]host:port[?tls=required]``  a relay, through aiosmtplib
                   (STARTTLS when offered, or required); ``smtps://`` for implicit TLS.
                   See :mod:`mailbridge.outbound.relay`.

A transport either returns (the message is delivered or accepted by the relay) or
raises :class:`TemporaryDeliveryError` / :class:`PermanentDeliveryError`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import time
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from mailbridge.errors import ConfigError, TemporaryDeliveryError
from mailbridge.outbound.api import API_SCHEMES, ApiConfig, masked_key
from mailbridge.outbound.relay import RelayConfig, SmtpTransport, relay_tls_mode

__all__ = [
    "MaildirTransport",
    "RelayConfig",
    "SmtpTransport",
    "Transport",
    "redact_url",
    "relay_from_url",
    "transport_from_url",
    "transport_shown",
]


class Transport(Protocol):
    description: str

    async def send(self, mail_from: str, rcpt_to: str, message: bytes) -> str | None:
        """Deliver ``message``; raise a DeliveryError subclass if it was not accepted.

        A mail service's API returns its own id for the message
        (:func:`mailbridge.store.outbox.provider_key`), which its events name; an SMTP
        relay or a Maildir returns None."""
        ...

    async def aclose(self) -> None:
        """Release what the transport keeps (connections); called once, at stop."""
        ...


class MaildirTransport:
    """Writes each message into ``PATH/new`` the way an MTA's local delivery would.

    The standard library's ``mailbox.Maildir`` does not fsync; here the file and the
    directory are synced before the rename is reported, so "sent" means on disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"maildir:{path}"
        self._counter = 0
        # Made at the first delivery, and again when one finds them gone (an operator
        # emptied the Maildir): three mkdir calls per message, each raising
        # FileExistsError, were half of this method's Python.
        self._made = False
        self._host = socket.gethostname()

    def _make_dirs(self) -> None:
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        self._made = True

    def _deliver(self, mail_from: str, rcpt_to: str, message: bytes) -> None:
        if not self._made:
            self._make_dirs()
        self._counter += 1
        name = f"{time.time_ns()}.P{os.getpid()}Q{self._counter}.{self._host}"
        # What a local delivery agent adds in front, so the file shows its envelope.
        trace = f"Return-Path: <{mail_from}>\r\nDelivered-To: {rcpt_to}\r\n".encode()
        tmp = self.path / "tmp" / name
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileNotFoundError:
            self._make_dirs()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, trace + message)
            os.fsync(fd)
        finally:
            os.close(fd)
        new = self.path / "new"
        try:
            os.rename(tmp, new / name)
        except FileNotFoundError:  # new/ went after tmp/ was written to
            self._make_dirs()
            os.rename(tmp, new / name)
        dir_fd = os.open(new, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    async def send(self, mail_from: str, rcpt_to: str, message: bytes) -> None:
        try:
            await asyncio.to_thread(self._deliver, mail_from, rcpt_to, message)
        except OSError as exc:
            # A full disk or a permission problem can be fixed; keep the message queued.
            raise TemporaryDeliveryError(f"maildir {self.path}: {exc}") from exc

    async def aclose(self) -> None:
        """Nothing is kept open between messages."""


def relay_from_url(url: str, base: RelayConfig | None = None) -> RelayConfig:
    """``smtp://[user[:password]@]host[:port][?tls=MODE]`` or ``smtps://…`` (implicit TLS).

    What the URL does not say comes from ``base`` (the relay settings); the URL's
    host and port always win. Default ports: 25 for smtp, 465 for smtps.
    """
    if any(c in _userinfo(url) for c in "/?#"):
        # Read as the URL's path, query or fragment, the rest of the password would
        # become the host or port: "bad port", and the password in the message.
        raise ConfigError(
            f"outbound.transport: the user or password in '{redact_url(url)}' holds '/', "
            "'?' or '#': percent-encode them (%2F, %3F, %23), or set outbound.relay_password"
        )
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ConfigError(f"outbound.transport: expected smtp://host:port, got '{redact_url(url)}'")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"outbound.transport: bad port in '{redact_url(url)}'") from None
    changes: dict[str, Any] = {"host": parts.hostname}
    if parts.scheme == "smtps":
        changes["tls"] = "implicit"
    for key, values in parse_qs(parts.query, keep_blank_values=True, strict_parsing=False).items():
        if key != "tls" or len(values) != 1:
            raise ConfigError(
                f"outbound.transport: unknown query '{key}' in '{redact_url(url)}' (only tls=MODE)"
            )
        if parts.scheme == "smtps" and values[0] != "implicit":
            raise ConfigError("outbound.transport: smtps:// is implicit TLS; drop ?tls=")
        changes["tls"] = relay_tls_mode(values[0])
    tls = changes.get("tls", base.tls if base else "opportunistic")
    changes["port"] = port or (465 if tls == "implicit" else 25)
    # The ports fixed by RFC 8314 and RFC 6409: the other TLS mode there only waits
    # (no greeting) or fails the handshake, for every message, with words that do not
    # say which setting to change.
    if changes["port"] == 465 and tls != "implicit":
        raise ConfigError(
            f"outbound.transport: port 465 starts TLS on connect: use "
            f'smtps://{parts.hostname}:465 (or relay_tls = "implicit"), not STARTTLS'
        )
    if changes["port"] in (25, 587) and tls == "implicit":
        raise ConfigError(
            f"outbound.transport: port {changes['port']} uses STARTTLS: use "
            f"smtp://{parts.hostname}:{changes['port']}?tls=required, not implicit TLS"
        )
    if parts.username:
        changes["username"] = unquote(parts.username)
        changes["password"] = unquote(parts.password) if parts.password is not None else None
    if base is None:
        return RelayConfig(**changes)
    return dataclasses.replace(base, **changes)


def _userinfo(url: str) -> str:
    """What comes between ``scheme://`` and the last ``@``, as written (a password may
    hold characters a URL parser reads otherwise)."""
    _scheme, sep, rest = url.partition("://")
    return rest.rpartition("@")[0] if sep else ""


def redact_url(url: str) -> str:
    """``outbound.transport`` as it may be shown or logged: its password as ``***``."""
    userinfo = _userinfo(url)
    user, colon, _password = userinfo.partition(":")
    if not colon:
        return url
    return url.replace(f"://{userinfo}@", f"://{user}:***@", 1)


def transport_shown(url: str, api_key: str = "", api_url: str = "") -> str:
    """``outbound.transport`` as the start-up lines and check-config show it: no
    password, and for a mail service's API its key masked (``***abcd``)."""
    shown = redact_url(url)
    if urlsplit(url).scheme in API_SCHEMES:
        if api_key:
            shown += f" (key {masked_key(api_key)})"
        elif urlsplit(url).scheme == "ses":
            shown += " (AWS credentials from the environment, shared files or role)"
        else:
            shown += " (no outbound.api_key)"
        if api_url:
            shown += f" via {redact_url(api_url)}"
    return shown


def transport_from_url(
    url: str, relay: RelayConfig | None = None, api: ApiConfig | None = None
) -> Transport:
    """The transport for ``[outbound] transport``; ``relay`` gives the relay settings,
    ``api`` those of a mail service's API (its key)."""
    if url.startswith("maildir:"):
        return MaildirTransport(Path(url.removeprefix("maildir:")).expanduser().resolve())
    if urlsplit(url).scheme in {"smtp", "smtps"}:
        return SmtpTransport(relay_from_url(url, relay))
    if urlsplit(url).scheme in API_SCHEMES:
        # Imported here: aiohttp only for a daemon that sends through an API.
        from mailbridge.outbound.api.choose import api_transport

        return api_transport(url, api or ApiConfig())
    raise ConfigError(f"outbound.transport: unsupported transport '{redact_url(url)}'")
