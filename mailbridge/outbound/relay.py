"""The SMTP relay transport: kept connections, STARTTLS or implicit TLS, AUTH.

What counts as permanent: only the relay's 5xx answer to *this message* (MAIL FROM,
RCPT TO, DATA). Everything about the relay or our account (cannot connect, no
STARTTLS where required, certificate not trusted, credentials refused, even as 5xx)
is temporary: the message is fine, so it stays queued until the operator fixes the
relay settings, instead of hundreds of messages turning into dead letters over a
typo. Retries are still bounded by ``outbound.give_up_hours``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn, cast, get_args

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

from mailbridge.errors import (
    ConfigError,
    DeliveryError,
    PermanentDeliveryError,
    TemporaryDeliveryError,
)
from mailbridge.outbound.relay_hints import connect_hint

__all__ = [
    "TLS_MODES",
    "RelayConfig",
    "SmtpTransport",
    "TlsMode",
    "raise_for_reply",
    "relay_tls_mode",
]

TlsMode = Literal["opportunistic", "required", "implicit"]
TLS_MODES: tuple[str, ...] = get_args(TlsMode)

# Answers about our credentials, not the message (RFC 4954): 530 authentication
# required, 534 mechanism too weak, 535 credentials invalid, 538 encryption required.
_ACCOUNT_CODES = frozenset({530, 534, 535, 538})


@dataclass(frozen=True)
class RelayConfig:
    """Where and how to reach the relay. ``password`` never appears in a repr."""

    host: str
    port: int = 25
    tls: TlsMode = "opportunistic"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None  # trust this CA (PEM) instead of the system's
    timeout: float = 60.0  # per SMTP command and for connecting
    idle_seconds: float = 30.0  # a kept connection unused this long is closed; 0: never kept
    max_connections: int = 4
    allow_plaintext_auth: bool = False  # send the password without TLS (a local relay)
    # After the relay refused our credentials (5xx to AUTH), sends fail at once for
    # this long instead of each logging in again: a queue of hundreds would be as many
    # failed logins a minute, and providers lock the account (or ban the IP) for that.
    auth_hold_seconds: float = 300.0

    def __post_init__(self) -> None:
        relay_tls_mode(self.tls)
        if not 0 < self.port <= 65535:
            raise ConfigError(f"relay port: expected 1-65535, got {self.port}")
        for name, value in (("timeout", self.timeout), ("max_connections", self.max_connections)):
            if value <= 0:
                raise ConfigError(f"relay {name}: must be greater than zero")
        if self.idle_seconds < 0 or self.auth_hold_seconds < 0:
            raise ConfigError("relay idle_seconds, auth_hold_seconds: must be zero or more")
        if (self.password is not None) and not self.username:
            raise ConfigError("relay password given without a username")

    @property
    def description(self) -> str:
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        user = f"{self.username}@" if self.username else ""
        suffix = "?tls=required" if self.tls == "required" else ""
        return f"{scheme}://{user}{self.host}:{self.port}{suffix}"


def raise_for_reply(code: int, text: str, where: str = "", *, at_rcpt: bool = False) -> NoReturn:
    """The relay's answer to this message: 5xx is permanent, anything else temporary.
    ``at_rcpt``: it answered RCPT TO (see :class:`PermanentDeliveryError`)."""
    detail = f"{code} {text}"
    if 500 <= code < 600:
        raise PermanentDeliveryError(detail, at_rcpt=at_rcpt)
    raise TemporaryDeliveryError(f"{where}{detail}")


@dataclass
class _Kept:
    smtp: aiosmtplib.SMTP
    last_used: float = 0.0
    timer: asyncio.TimerHandle | None = None
    # Its last transaction ended with the relay's 250 to DATA, which clears the
    # relay's state as RSET does (RFC 5321 4.1.1.4): no RSET needed before the next.
    clean: bool = False
    # Taken from the idle list: the next MAIL is the probe (after RSET, or alone).
    unprobed: bool = False
    # The relay accepted a MAIL FROM here. Only such a connection can have met a limit
    # of messages per connection; one refused from the start (a rate limit) would only
    # be refused again on a new one.
    took_mail: bool = False


class SmtpTransport:
    """Hands messages to one relay over kept connections.

    Each send takes an idle connection or opens one, up to ``max_connections`` at once.
    The relay may have dropped an idle connection, so its first command is a probe: RSET,
    or, after a transaction the relay accepted (its state is already clear), the MAIL
    FROM itself, which saves a round trip per message. Either way, if the relay has
    gone, a new connection is opened before any of the message was sent, so a
    reconnect can never duplicate.
    After a send the connection is kept for ``idle_seconds``. ``aclose()`` says QUIT.

    ``SmtpTransport("host", port)``, the form from before connections were kept,
    still means what it did: an opportunistic relay, one connection per message
    (so a caller that never calls ``aclose()`` leaves nothing open).
    """

    def __init__(self, relay: RelayConfig | str, port: int = 25, timeout: float = 60.0) -> None:
        self.relay = (
            relay
            if isinstance(relay, RelayConfig)
            else RelayConfig(relay, port, timeout=timeout, idle_seconds=0)
        )
        self.description = self.relay.description
        self._idle: list[_Kept] = []
        self._slots = asyncio.Semaphore(self.relay.max_connections)
        self._tls: ssl.SSLContext | None = None
        self._closed = False
        # The relay's last refusal of our credentials: when, and what it said.
        self._auth_refused: tuple[float, str] | None = None
        self.connections_opened = 0  # for the operator's logs and for tests

    @property
    def host(self) -> str:
        return self.relay.host

    @property
    def port(self) -> int:
        return self.relay.port

    @property
    def timeout(self) -> float:
        return self.relay.timeout

    async def send(self, mail_from: str, rcpt_to: str, message: bytes) -> None:
        if self._closed:
            raise TemporaryDeliveryError(f"{self.description}: transport closed")
        # Bounded: every holder finishes within its own command timeouts.
        async with self._slots:
            # Checked once a slot is ours: a refusal may have come while we waited.
            self._raise_if_held()
            kept = await self._checkout()
            try:
                if not await self._transaction(kept, mail_from, rcpt_to, message):
                    # Gone at MAIL FROM: nothing of the message reached the relay.
                    kept.smtp.close()
                    kept = _Kept(await self._connect())
                    await self._transaction(kept, mail_from, rcpt_to, message)
            except DeliveryError:
                # Refused after aiosmtplib's RSET: the connection may serve the next one.
                await self._release(kept)
                raise
            except BaseException:
                kept.smtp.close()  # cancelled mid-dialogue: its state is unknown
                raise
            await self._release(kept)

    def _raise_if_held(self) -> None:
        """Fail without a login while the relay's refusal of our credentials is recent."""
        if self._auth_refused is None:
            return
        at, detail = self._auth_refused
        ago = time.monotonic() - at
        if ago >= self.relay.auth_hold_seconds:
            return
        raise TemporaryDeliveryError(
            f"{detail}; not tried: no new login for {self.relay.auth_hold_seconds:.0f} s "
            f"after a refusal (this one {ago:.0f} s ago), as relays lock accounts that "
            "fail to log in again and again"
        )

    async def _release(self, kept: _Kept) -> None:
        if not kept.smtp.is_connected:
            kept.smtp.close()
        elif self._closed or self.relay.idle_seconds == 0:
            await self._quit(kept.smtp)
        else:
            self._checkin(kept)

    async def _quit(self, smtp: aiosmtplib.SMTP) -> None:
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await asyncio.wait_for(smtp.quit(), self.relay.timeout)
        smtp.close()

    async def aclose(self) -> None:
        """Say QUIT on every kept connection; later sends fail as temporary."""
        self._closed = True
        idle, self._idle = self._idle, []
        for kept in idle:
            if kept.timer is not None:
                kept.timer.cancel()
            await self._quit(kept.smtp)

    def _checkin(self, kept: _Kept) -> None:
        kept.last_used = time.monotonic()
        loop = asyncio.get_running_loop()
        kept.timer = loop.call_later(self.relay.idle_seconds, self._expire, kept)
        self._idle.append(kept)

    def _expire(self, kept: _Kept) -> None:
        # Idle too long: let the relay go rather than have it time us out mid-send.
        if kept in self._idle:
            self._idle.remove(kept)
            kept.smtp.close()

    async def _checkout(self) -> _Kept:
        while self._idle:  # bounded: at most max_connections kept
            kept = self._idle.pop()
            if kept.timer is not None:
                kept.timer.cancel()
            fresh = time.monotonic() - kept.last_used < self.relay.idle_seconds
            if kept.smtp.is_connected and fresh and kept.clean:
                kept.unprobed = True  # probed by its MAIL FROM (_transaction)
                return kept
            if kept.smtp.is_connected and fresh:
                try:
                    await kept.smtp.rset()
                    # A relay's per-connection limit answers MAIL FROM, not RSET: its
                    # MAIL FROM is still a probe, answered on a new connection if refused.
                    kept.unprobed = kept.took_mail
                    return kept
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    pass  # dropped by the relay: nothing of this message was sent yet
                except BaseException:
                    kept.smtp.close()  # cancelled mid-probe
                    raise
            kept.smtp.close()
        return _Kept(await self._connect())

    async def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            ca = self.relay.ca_file
            try:
                # Reads certificate files: off the event loop.
                self._tls = await asyncio.to_thread(
                    ssl.create_default_context, cafile=str(ca) if ca else None
                )
            except (OSError, ssl.SSLError) as exc:
                raise TemporaryDeliveryError(
                    f"{self.description}: cannot load the relay CA file {ca}: {exc}"
                ) from exc
        return self._tls

    async def _connect(self) -> aiosmtplib.SMTP:
        relay = self.relay
        smtp = aiosmtplib.SMTP(
            hostname=relay.host,
            port=relay.port,
            timeout=relay.timeout,
            use_tls=relay.tls == "implicit",
            start_tls=False,  # decided below, so "required" can say why it failed
            tls_context=await self._context(),
        )
        stage = "connect"
        try:
            await smtp.connect()
            self.connections_opened += 1
            if relay.tls != "implicit":
                stage = "EHLO"
                await smtp.ehlo()
                if smtp.supports_extension("starttls"):
                    stage = "STARTTLS"
                    await smtp.starttls()
                elif relay.tls == "required":
                    raise TemporaryDeliveryError(
                        f"{self.description}: the relay does not offer STARTTLS and "
                        "TLS is required (relay TLS mode 'required'); nothing was sent"
                    )
            if relay.username:
                stage = "AUTH"
                if smtp.get_transport_info("sslcontext") is None and not (
                    relay.allow_plaintext_auth
                ):
                    raise TemporaryDeliveryError(
                        f"{self.description}: not sending the relay password without TLS "
                        "(the relay offered no STARTTLS); use TLS mode 'required' or "
                        "'implicit', or allow plaintext AUTH for a local relay"
                    )
                await smtp.login(relay.username, relay.password or "")
                self._auth_refused = None
        except TemporaryDeliveryError:
            smtp.close()
            raise
        except aiosmtplib.SMTPAuthenticationError as exc:
            smtp.close()
            detail = (
                f"{self.description}: the relay refused our credentials "
                f"({exc.code} {exc.message}); check the relay username and password"
            )
            if 500 <= exc.code < 600:  # 454 is the relay's own trouble: try again
                self._auth_refused = (time.monotonic(), detail)
            raise TemporaryDeliveryError(detail) from exc
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            raise TemporaryDeliveryError(
                f"{self.description}: {stage} refused: {exc.code} {exc.message}"
            ) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            smtp.close()
            hint = connect_hint(exc, relay.host, relay.tls == "implicit")
            raise TemporaryDeliveryError(
                f"{self.description}: {stage} failed: {exc}{hint}"
            ) from exc
        except BaseException:
            smtp.close()
            raise
        return smtp

    async def _transaction(self, kept: _Kept, mail_from: str, rcpt_to: str, message: bytes) -> bool:
        """One MAIL/RCPT/DATA. A timeout or a dropped connection closes the connection.

        False: a kept connection failed at MAIL FROM (the relay dropped it, or refused
        it: a limit of messages per connection); nothing of the message was sent, the
        caller tries a new one.
        """
        smtp = kept.smtp
        unprobed, kept.unprobed, kept.clean = kept.unprobed, False, False
        where = f"{self.description}: "
        try:
            options = await self._utf8_options(smtp, mail_from, rcpt_to, message)
            if unprobed:
                if not await self._probe_mail(smtp, mail_from, message, options):
                    return False
                kept.took_mail = True
                errors = await self._rcpt_data(smtp, rcpt_to, message, options)
            else:
                errors, _answer = await smtp.sendmail(
                    mail_from, [rcpt_to], message, mail_options=options
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            kept.took_mail = True
            refusal = exc.recipients[0]
            _raise_for_rcpt(refusal.code, refusal.message, where)
        except aiosmtplib.SMTPRecipientRefused as exc:  # RCPT after the probe's MAIL
            _raise_for_rcpt(exc.code, exc.message, where)
        except aiosmtplib.SMTPResponseException as exc:
            kept.took_mail |= not isinstance(exc, aiosmtplib.SMTPSenderRefused)
            if exc.code in _ACCOUNT_CODES:
                raise TemporaryDeliveryError(
                    f"{where}the relay wants authentication: {exc.code} {exc.message}"
                ) from exc
            raise_for_reply(exc.code, exc.message, where)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            smtp.close()
            raise TemporaryDeliveryError(f"{where}{exc}") from exc
        except (ValueError, UnicodeError) as exc:
            # An address aiosmtplib cannot put on the wire: retrying will not help.
            raise PermanentDeliveryError(f"cannot send to <{rcpt_to}>: {exc}") from exc
        if errors:
            refused = next(iter(errors.values()))
            _raise_for_rcpt(refused.code, refused.message, where)
        kept.clean = kept.took_mail = True  # the relay's 250 to DATA
        return True

    async def _probe_mail(
        self, smtp: aiosmtplib.SMTP, mail_from: str, message: bytes, options: list[str]
    ) -> bool:
        """MAIL FROM on a kept connection. False: it failed in any
        way (dropped, timed out, 421, even a refusal): the caller starts over on a new
        connection, where a refusal is answered as usual. Only the envelope sender was
        sent, so this cannot duplicate a message."""
        encoding = "utf-8" if options else "ascii"
        try:
            await smtp.mail(
                mail_from, options=_size_option(smtp, message, options), encoding=encoding
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            return False
        return True

    async def _rcpt_data(
        self, smtp: aiosmtplib.SMTP, rcpt_to: str, message: bytes, options: list[str]
    ) -> dict[str, aiosmtplib.SMTPResponse]:
        """RCPT and DATA after :meth:`_probe_mail`, answered as ``sendmail`` answers them
        (a refusal is raised after an RSET, so the connection may serve the next one)."""
        encoding = "utf-8" if options else "ascii"
        try:
            await smtp.rcpt(rcpt_to, encoding=encoding)
            await smtp.data(message)
        except aiosmtplib.SMTPResponseException:
            with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
                await smtp.rset()
            raise
        return {}

    async def _utf8_options(
        self, smtp: aiosmtplib.SMTP, mail_from: str, rcpt_to: str, message: bytes
    ) -> list[str]:
        """["SMTPUTF8"] for a message that needs it (RFC 6531: non-ASCII in an address
        or a header); permanent failure when the relay does not offer it."""
        head = message.split(b"\r\n\r\n", 1)[0]
        if mail_from.isascii() and rcpt_to.isascii() and head.isascii():
            return []
        if smtp.is_ehlo_or_helo_needed:
            await smtp.ehlo()
        if not smtp.supports_extension("smtputf8"):
            raise PermanentDeliveryError(
                f"{self.description}: the relay does not offer SMTPUTF8, which mail to "
                f"<{rcpt_to}> needs (non-ASCII before the @); nothing was sent. Use a "
                "relay that offers SMTPUTF8, or turn outbound.smtputf8 off."
            )
        return ["SMTPUTF8"]


def _raise_for_rcpt(code: int, text: str, where: str) -> NoReturn:
    """The relay's answer to RCPT TO: about the recipient, unless it is about our
    account (a relay wanting AUTH may say so only here)."""
    if code in _ACCOUNT_CODES:
        raise TemporaryDeliveryError(f"{where}the relay wants authentication: {code} {text}")
    raise_for_reply(code, text, where, at_rcpt=True)


def _size_option(smtp: aiosmtplib.SMTP, message: bytes, options: list[str]) -> list[str]:
    """``options`` with SIZE first where the relay offers it, as ``sendmail`` sends it
    (RFC 1870: octets as transmitted, CRLF line endings)."""
    if not smtp.supports_extension("size"):
        return options
    crlf = message.count(b"\r\n")
    if message.count(b"\n") == crlf and message.count(b"\r") == crlf:
        size = len(message)  # already CRLF throughout (what we compose): no copy
    else:
        size = len(normalize_message_line_endings(message))
    return [f"size={size}", *options]


def relay_tls_mode(value: str) -> TlsMode:
    if value not in TLS_MODES:
        choices = ", ".join(f'"{m}"' for m in TLS_MODES)
        raise ConfigError(f"relay TLS mode: expected one of {choices}, got '{value}'")
    return cast(TlsMode, value)
