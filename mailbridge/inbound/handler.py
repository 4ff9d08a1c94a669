"""The aiosmtpd handler: thin, and honest about what it promises.

RCPT: only valid reply addresses (550 otherwise, so never an open relay).
DATA: the pipeline stores the message and files the comment; 250 only after commit.
Exceptions: logged here, answered 451 so the sending server retries; nothing internal leaks.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from mailbridge.inbound.process import ReplyIntake, SmtpEnvelope
from mailbridge.inbound.recipients import loggable
from mailbridge.rejections import Rejection, TooManyReplyAddresses
from mailbridge.store import is_unwritable

__all__ = ["SmtpHandler"]

log = logging.getLogger(__name__)

TEMPORARY_FAILURE = "451 4.3.0 Temporary local problem, please try again later"
TOO_MANY_REFUSED = "421 4.7.0 Too many refused recipients; closing the connection"


def _peer(session: Any) -> str:
    peer = session.peer
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class SmtpHandler:
    def __init__(self, intake: ReplyIntake, refused_per_session: int = 10) -> None:
        self._intake = intake
        self._refused_per_session = refused_per_session

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        attempts = getattr(envelope, "mailbridge_rcpt_attempts", 0)
        envelope.mailbridge_rcpt_attempts = attempts + 1
        try:
            target = await self._intake.check_recipient(address, attempts)
            if envelope.rcpt_tos:
                # One recipient per transaction keeps "one message, one outcome" simple;
                # 452 makes the client send the rest in a new transaction.
                raise TooManyReplyAddresses()
        except Rejection as rejection:
            refused = getattr(session, "mailbridge_refused", 0) + 1
            session.mailbridge_refused = refused
            if refused > self._refused_per_session:
                # A client guessing addresses (or a dictionary attack): stop it here
                # instead of logging thousands of refusals from one connection.
                log.warning("%s: closed after %d refused recipients", _peer(session), refused - 1)
                asyncio.get_running_loop().call_soon(server.transport.close)
                return TOO_MANY_REFUSED
            log.info("%s RCPT <%s> refused: %s", _peer(session), loggable(address), rejection.code)
            await self._intake.log_refusal(
                peer=_peer(session),
                helo=str(session.host_name or ""),
                mail_from=str(envelope.mail_from or ""),
                rcpt_to=address,
                rejection=rejection,
            )
            return rejection.smtp_reply
        # Implementing handle_RCPT makes us responsible for recording the recipient.
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        envelope.mailbridge_target = target  # this transaction's; aiosmtpd makes a new one each
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return await self._intake.receive(
            SmtpEnvelope(
                peer=_peer(session),
                helo=str(session.host_name or ""),
                mail_from=str(envelope.mail_from or ""),
                rcpt_to=envelope.rcpt_tos[0],
                raw=bytes(envelope.original_content),
                target=getattr(envelope, "mailbridge_target", None),
            )
        )

    async def handle_exception(self, error: Exception) -> str:
        if is_unwritable(error):
            # Locked, disk full, read-only: an operating condition, not a bug; one line
            # (as the web logs it), and the sender retries after the 451.
            log.error("SMTP: database cannot take writes: %s; answered 451", error)
        else:
            log.error("SMTP session error: %r", error, exc_info=error)
        return TEMPORARY_FAILURE
