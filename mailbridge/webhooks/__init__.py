"""Signed webhooks (issue 11): events queued in the outbox with the change that caused
them, delivered and retried by the delivery worker, signed as the Standard Webhooks
specification says (docs/webhooks.md)."""

from mailbridge.webhooks.events import WebhookEvents
from mailbridge.webhooks.sender import WebhookSender

__all__ = ["WebhookEvents", "WebhookSender"]
