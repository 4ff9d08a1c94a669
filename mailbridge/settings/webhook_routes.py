"""Which mail-service routes the settings turn on, and what an operator sending
through a service's API is missing: shown by ``serve``'s start-up lines,
``check-config`` and ``mailbridge status`` alike (pure: settings in, words out)."""

from __future__ import annotations

from urllib.parse import urlsplit

from mailbridge.settings.schema import Settings

__all__ = [
    "event_routes",
    "inbound_routes",
    "missing_routes",
    "route_urls",
    "unreached_replies",
    "unseen_bounces",
]

# The service an API transport sends through, by outbound.transport's scheme.
_NAMES = {"mailgun": "Mailgun", "postmark": "Postmark", "sendgrid": "SendGrid", "ses": "Amazon SES"}
# The setting that turns on each service's event route (docs/inbound-webhooks.md).
_EVENT_SETTING = {
    "mailgun": "inbound_webhooks.mailgun_signing_key",
    "postmark": "inbound_webhooks.postmark_password",
    "sendgrid": "inbound_webhooks.sendgrid_event_key",
    "ses": "inbound_webhooks.ses_events_topic_arn",
}


def inbound_routes(s: Settings) -> list[str]:
    """The services whose inbound webhook (replies) is on."""
    hooks = s.inbound_webhooks
    on = (
        ("mailgun", hooks.mailgun_signing_key),
        ("postmark", hooks.postmark_password),
        ("sendgrid", hooks.sendgrid_password),
        ("ses", hooks.ses_topic_arn),
    )
    return [name for name, value in on if value]


def event_routes(s: Settings) -> list[str]:
    """The services whose event webhook (bounces, spam complaints) is on."""
    hooks = s.inbound_webhooks
    on = (
        ("mailgun", hooks.mailgun_signing_key),
        ("postmark", hooks.postmark_password),
        ("sendgrid", hooks.sendgrid_event_key),
        ("ses", hooks.ses_events_topic_arn),
    )
    return [name for name, value in on if value]


def _url(s: Settings, service: str, path: str) -> str:
    base = s.site.public_url.rstrip("/")
    if service == "postmark" or (service == "sendgrid" and not path):
        # These carry HTTP Basic in the URL; SendGrid's events are signed instead.
        user = getattr(s.inbound_webhooks, f"{service}_user")
        parts = urlsplit(base)
        base = f"{parts.scheme}://{user}:PASSWORD@{parts.netloc}{parts.path}"
    return f"{base}/inbound/{service}{path}"


def route_urls(s: Settings) -> list[tuple[str, str]]:
    """Each route turned on, as the URL to give the service: ("replies", URL) and
    ("events", URL) pairs."""
    # Mailgun's must end in "mime" for Mailgun to post the raw message.
    return [
        ("replies", _url(s, name, "/mime" if name == "mailgun" else ""))
        for name in inbound_routes(s)
    ] + [("events", _url(s, name, "/events")) for name in event_routes(s)]


def unseen_bounces(s: Settings) -> str | None:
    """What the operator must hear when mail goes out through a service's API whose
    event webhook is off: that service's bounces and complaints never reach
    mailbridge, so it keeps mailing addresses that bounced or complained."""
    service = urlsplit(s.transport_url).scheme
    if service not in _NAMES or service in event_routes(s):
        return None
    return (
        f"mail goes out through {_NAMES[service]}'s API, but its event webhook is off: "
        "bounces and spam complaints reach only the service, and mailbridge keeps mailing "
        f"those addresses. Set {_EVENT_SETTING[service]} and have {_NAMES[service]} send its "
        f"bounce and complaint events to {_url(s, service, '/events')} "
        "(docs/inbound-webhooks.md#bounces-and-spam-complaints)"
    )


def unreached_replies(s: Settings) -> str | None:
    """What the operator must hear when mail goes out through a service's API (no SMTP
    port, as a rule) but nothing brings the replies in: no inbound webhook, no IMAP
    inbox, and the SMTP service on loopback, reachable only by an MTA on this host."""
    service = urlsplit(s.transport_url).scheme
    host = s.smtp.listen.rpartition(":")[0].strip("[]")
    if service not in _NAMES or inbound_routes(s) or s.imap.host:
        return None
    if host not in ("127.0.0.1", "::1", "localhost"):
        return None
    return (
        f"mail goes out through {_NAMES[service]}'s API, but no reply can come in: no "
        "inbound webhook is set (inbound_webhooks), no IMAP inbox (imap.host), and "
        f"smtp.listen ({s.smtp.listen}) takes mail from this host only. Set the "
        f"service's inbound route (docs/inbound-webhooks.md), unless an MTA on this host "
        "hands replies on"
    )


def missing_routes(s: Settings) -> list[str]:
    """Every warning of this module that applies, for the start-up lines,
    ``check-config`` and ``status``."""
    return [w for w in (unreached_replies(s), unseen_bounces(s)) if w is not None]
