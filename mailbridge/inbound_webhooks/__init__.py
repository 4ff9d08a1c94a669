"""Replies posted by a mail service's inbound webhook (Mailgun, Postmark, SendGrid), for
those who cannot receive on port 25 (docs/inbound-webhooks.md): ``providers`` checks
each service's authentication and reads its payload (pure), ``routes`` serves them."""

from mailbridge.inbound_webhooks.routes import InboundWebhooks

__all__ = ["InboundWebhooks"]
