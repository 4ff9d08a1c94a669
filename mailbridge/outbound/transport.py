"""Transports: where a composed message goes. Chosen by URL in ``[outbound] transport``.

``maildir:PATH``   every message becomes a file in a Maildir (the default: a new
                   operator sees each email mailbridge would send).
``smtp://host:port`` a relay, through aiosmtplib.

A transport either returns (the message is delivered or accepted by the relay) or
raises :class:`TemporaryDeliveryError` / :class:`PermanentDeliveryError`.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import aiosmtplib

from mailbridge.errors import ConfigError, PermanentDeliveryError, TemporaryDeliveryError

__all__ = ["MaildirTransport", "SmtpTransport", "Transport", "transport_from_url"]


class Transport(Protocol):
    description: str

    async def send(self, mail_from: str, rcpt_to: str, message: bytes) -> None:
        """Deliver ``message``; raise a DeliveryError subclass if it was not accepted."""
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

    def _deliver(self, mail_from: str, rcpt_to: str, message: bytes) -> None:
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        self._counter += 1
        name = f"{time.time_ns()}.P{os.getpid()}Q{self._counter}.{socket.gethostname()}"
        # What a local delivery agent adds in front, so the file shows its envelope.
        trace = f"Return-Path: <{mail_from}>\r\nDelivered-To: {rcpt_to}\r\n".encode()
        tmp = self.path / "tmp" / name
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, trace + message)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, self.path / "new" / name)
        dir_fd = os.open(self.path / "new", os.O_RDONLY)
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


class SmtpTransport:
    """Hands messages to a relay; 4xx and network errors are temporary, 5xx permanent."""

    def __init__(self, host: str, port: int, timeout: float = 60.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.description = f"smtp://{host}:{port}"

    async def send(self, mail_from: str, rcpt_to: str, message: bytes) -> None:
        try:
            errors, _response = await aiosmtplib.send(
                message,
                sender=mail_from,
                recipients=[rcpt_to],
                hostname=self.host,
                port=self.port,
                timeout=self.timeout,
                start_tls=None,  # opportunistic: STARTTLS when the relay offers it
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refusal = exc.recipients[0]
            _raise_for(refusal.code, refusal.message)
        except aiosmtplib.SMTPResponseException as exc:
            _raise_for(exc.code, exc.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryDeliveryError(f"{self.description}: {exc}") from exc
        if errors:
            refused = next(iter(errors.values()))
            _raise_for(refused.code, refused.message)


def _raise_for(code: int, text: str) -> None:
    detail = f"{code} {text}"
    if 500 <= code < 600:
        raise PermanentDeliveryError(detail)
    raise TemporaryDeliveryError(detail)


def transport_from_url(url: str) -> Transport:
    if url.startswith("maildir:"):
        return MaildirTransport(Path(url.removeprefix("maildir:")).expanduser().resolve())
    parts = urlsplit(url)
    if parts.scheme == "smtp" and parts.hostname:
        return SmtpTransport(parts.hostname, parts.port or 25)
    raise ConfigError(f"outbound.transport: unsupported transport '{url}'")
