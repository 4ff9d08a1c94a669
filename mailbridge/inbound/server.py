"""Run the SMTP service inside the daemon's own event loop, with per-IP connection limits."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
import ssl
from typing import Any

from aiosmtpd.smtp import SMTP, syntax

from mailbridge.inbound.handler import SmtpHandler
from mailbridge.inbound.limits import ConnectionLimiter
from mailbridge.inbound.tls import smtp_tls_context
from mailbridge.rejections import MessageTooLarge

__all__ = ["DataInProgress", "smtp_tls_context", "start_smtp_server"]

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024
TOO_MANY_CONNECTIONS = b"421 4.7.0 Too many connections from your address, try again later\r\n"
# "<local@domain>" of dot-atoms (RFC 5321's Dot-string and Domain, ASCII): what nearly
# every MTA sends in MAIL and RCPT. Anything else is left to aiosmtpd.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")

# What aiosmtpd answers to a message over data_size_limit, and when.
_AIOSMTPD_TOO_LARGE = {
    "552 Error: message size exceeds fixed maximum message size": "at MAIL (its SIZE)",
    "552 Error: Too much mail data": "at the end of DATA",
}

_AIOSMTPD_LINE_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"


class DataInProgress:
    """The SMTP sessions between DATA and its answer. A stop waits for them (bounded):
    the pipeline's own drain counts only messages already received whole, and a reply
    still coming in (a photo over a slow line) was cut off at once, to be sent again."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def drain(self, seconds: float) -> bool:
        """Wait until no session is in DATA; False if ``seconds`` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True


class _LimitedSMTP(SMTP):  # aiosmtpd ships no type information: SMTP is Any
    """aiosmtpd's SMTP protocol, refusing a client IP's connections beyond the limit."""

    # RFC 5321 allows 1,000 octets a line, and aiosmtpd answers 500 beyond; but some
    # mail clients send a paragraph, or all of their HTML, as one line, and Postfix
    # accepts it. Refusing would bounce a person's reply: accept up to 1 MiB a line
    # (the message as a whole is still bounded by smtp.max_message_size).
    line_length_limit = 1 << 20

    def __init__(
        self,
        *args: Any,
        limiter: ConnectionLimiter,
        max_session: float,
        in_data: DataInProgress,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._in_data = in_data
        self._limiter = limiter
        self._max_session = max_session
        self._client_ip: str | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._client_ip is None:  # not the second call that STARTTLS makes
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if peer else "unknown"
            if not self._limiter.acquire(ip):
                log.info("SMTP connection from %s refused: too many open", ip)
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(TOO_MANY_CONNECTIONS)
                transport.close()
                return
            self._client_ip = ip
            # The idle timeout restarts with every line; this one does not.
            self._deadline = self.loop.call_later(self._max_session, self._session_over, transport)
        super().connection_made(transport)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        self._in_data.enter()
        try:
            await super().smtp_DATA(arg)
        finally:
            self._in_data.leave()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's address parsing for MAIL, RCPT and VRFY, the same answers sooner
        for a plain ``<local@domain>``: aiosmtpd defines a typing.Protocol class on
        every call and runs the email package's header parser, about 5% of the
        daemon's time under load (tests/unit/test_smtp_paths.py compares the two)."""
        plain = _PLAIN_PATH.match(arg)
        if plain is None:
            return super()._getaddr(arg)
        rest = arg[plain.end() :]
        if rest[:1] in (" ", "\t"):  # the header parser's folding white space: all of it
            rest = rest.lstrip()
        if rest.startswith("("):  # and a comment after it
            return super()._getaddr(arg)
        address = plain.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

    async def push(self, status: Any) -> None:  # aiosmtpd: str or bytes (AnyStr)
        # aiosmtpd's own answers to a message over data_size_limit ("552 Error: Too much
        # mail data", "552 Error: message size exceeds fixed maximum message size") name
        # no limit and no enhanced code, and log nothing above DEBUG: the bounce a relay
        # writes told the commenter nothing they could act on, and the operator saw
        # no trace of the message. Said here with the limit, and logged.
        if isinstance(status, str) and status in _AIOSMTPD_TOO_LARGE:
            status = self._too_large(_AIOSMTPD_TOO_LARGE[status])
        elif status == _AIOSMTPD_LINE_TOO_LONG:  # the same: said, and logged
            log.info(
                "SMTP from %s: message refused at the end of DATA: a line longer than %d bytes",
                self._client_ip,
                self.line_length_limit,
            )
            status = (
                f"500 5.5.6 Line too long: a line of this message is longer than "
                f"{self.line_length_limit:,} bytes; send it again with shorter lines."
            )
        await super().push(status)

    def _too_large(self, where: str) -> str:
        limit = self.data_size_limit or 0
        log.info(
            "SMTP from %s: message refused %s: larger than smtp.max_message_size (%d bytes)",
            self._client_ip,
            where,
            limit,
        )
        return MessageTooLarge(
            f"The message is larger than this server accepts ({limit:,} bytes, about "
            f"{limit / 1_000_000:.0f} MB, attachments included): send your reply again "
            "without attachments, or with smaller ones."
        ).smtp_reply

    def _session_over(self, transport: asyncio.BaseTransport) -> None:
        log.info(
            "SMTP connection from %s closed: longer than %.0f s", self._client_ip, self._max_session
        )
        if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
            transport.write(b"421 4.4.2 Connection time limit reached, closing\r\n")
        transport.close()

    def connection_lost(self, error: Exception | None) -> None:
        if self._client_ip is None:
            return  # refused in connection_made: aiosmtpd never started a session
        self._limiter.release(self._client_ip)
        self._client_ip = None
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(error)


async def start_smtp_server(
    handler: SmtpHandler,
    *,
    sock: socket.socket,
    hostname: str,
    data_size_limit: int,
    idle_timeout: float,
    max_session: float,
    connections_per_ip: int,
    trusted_networks: tuple[str, ...] = (),
    connections_per_trusted: int = 0,
    tls_context: ssl.SSLContext | None = None,
    in_data: DataInProgress | None = None,
) -> asyncio.Server:
    """Serve SMTP on an already bound socket (so port 0 works and the port is known).

    ``in_data`` counts the sessions in DATA, for a stop to wait for.

    With ``tls_context``, STARTTLS is offered (never required: replies come from
    every kind of server, and an MTA in front usually talks plain on loopback).
    """
    loop = asyncio.get_running_loop()
    in_data = in_data or DataInProgress()
    limiter = ConnectionLimiter(
        connections_per_ip,
        tuple(ipaddress.ip_network(n, strict=False) for n in trusted_networks),
        connections_per_trusted,
    )

    def factory() -> SMTP:
        return _LimitedSMTP(
            handler,
            limiter=limiter,
            max_session=max_session,
            in_data=in_data,
            data_size_limit=data_size_limit,
            enable_SMTPUTF8=True,  # internationalised addresses (RFC 6531)
            hostname=hostname,
            ident="mailbridge",
            timeout=idle_timeout,
            tls_context=tls_context,
            require_starttls=False,
            loop=loop,
        )

    # A burst of connections (a mail server's retry run) waits in the kernel's queue
    # instead of being dropped: asyncio's default backlog is 100.
    return await loop.create_server(factory, sock=sock, backlog=LISTEN_BACKLOG)
