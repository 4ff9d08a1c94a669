"""Run the SMTP service inside the daemon's own event loop."""

from __future__ import annotations

import asyncio
import socket

from aiosmtpd.smtp import SMTP

from mailbridge.inbound.handler import SmtpHandler

__all__ = ["start_smtp_server"]


async def start_smtp_server(
    handler: SmtpHandler, *, sock: socket.socket, hostname: str, data_size_limit: int
) -> asyncio.Server:
    """Serve SMTP on an already bound socket (so port 0 works and the port is known)."""
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=data_size_limit,
            enable_SMTPUTF8=True,  # internationalised addresses (RFC 6531)
            hostname=hostname,
            ident="mailbridge",
            loop=loop,
        )

    return await loop.create_server(factory, sock=sock)
