"""One message that reached mailbridge other than over SMTP (a mailbox read over IMAP,
a mail service's inbound webhook), through exactly what an SMTP delivery goes through.

SMTP checks the recipient at RCPT (the address, its token, the rate limits) before the
message is sent; here the message is already in hand, so the same check runs first,
a refusal is logged in the inbound log the same way, and only then the pipeline. The
answer is the SMTP reply the SMTP service would have given: 2xx committed, 5xx refused
for good, 4xx try again later; each caller turns it into what its source understands.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from mailbridge.inbound.process import ReplyIntake, SmtpEnvelope
from mailbridge.inbound.recipients import loggable
from mailbridge.rejections import ExpiredReplyToken, Rejection

__all__ = ["deliver"]

log = logging.getLogger(__name__)

TRY_LATER = "451 4.3.0 not processed; try again later"


async def deliver(intake: ReplyIntake, envelope: SmtpEnvelope) -> str:
    """The SMTP reply for ``envelope`` (see the module doc); never raises."""
    try:
        envelope = replace(envelope, target=await intake.check_recipient(envelope.rcpt_to, 0))
    except ExpiredReplyToken:
        # Not refused here: the pipeline refuses it with the message stored (never lost)
        # and emails its explanation to the person the address was for (not to the
        # sender, who may be forged). Over SMTP their own server would have bounced it.
        pass
    except Rejection as rejection:
        log.info("%s: <%s> refused: %s", envelope.peer, loggable(envelope.rcpt_to), rejection.code)
        try:
            await intake.log_refusal(
                peer=envelope.peer, helo=envelope.helo, mail_from=envelope.mail_from,
                rcpt_to=envelope.rcpt_to, rejection=rejection,
            )  # fmt: skip
        except Exception as exc:  # final only once the operator can see why: until then, later
            log.warning(
                "%s: the refusal could not be logged (%s); try again later", envelope.peer, exc
            )
            return TRY_LATER
        return rejection.smtp_reply
    except Exception:
        log.exception("%s: the recipient could not be checked; try again later", envelope.peer)
        return TRY_LATER
    try:
        return await intake.receive(envelope)
    except Exception:  # the SMTP service answers 451 here; the raw message is kept
        log.exception("%s: a message could not be processed; try again later", envelope.peer)
        return TRY_LATER
