"""Bounces and spam complaints that a mail service reports through its event webhook
or a feedback loop's abuse report (docs/inbound-webhooks.md, "Bounces and spam
complaints"): ``event`` is one, ``accounting`` counts each once against the recipient
of the message it names. Each service's payload is read, and its route served, next to
its inbound webhook (mailbridge.inbound_webhooks.events, .routes); abuse reports by
mailbridge.inbound.complaints."""

from mailbridge.mail_events.accounting import MailEventAccounting
from mailbridge.mail_events.event import MailEvent

__all__ = ["MailEvent", "MailEventAccounting"]
