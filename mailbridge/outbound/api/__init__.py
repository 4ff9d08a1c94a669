"""Sending through a mail service's HTTPS API, for hosts that block SMTP ports.

``mailgun://DOMAIN[?region=eu]``  Mailgun's ``messages.mime``: our exact bytes.
``postmark://[?stream=NAME]``     Postmark's ``/email``: JSON fields built from them.
``sendgrid://``                    SendGrid's v3 ``/mail/send``: JSON fields built from them.
``ses://REGION``                  Amazon SES v2 ``SendEmail``, ``Content.Raw``: our bytes.

The key is ``outbound.api_key`` (or ``MAILBRIDGE_OUTBOUND_API_KEY``), never in the
URL, so nothing that shows the URL can show it. SES without one takes AWS's own
credential chain (the environment, the shared files, the container or instance role).
"""

from __future__ import annotations

from mailbridge.outbound.api.config import API_SCHEMES, ApiConfig, masked_key

__all__ = ["API_SCHEMES", "ApiConfig", "masked_key"]
