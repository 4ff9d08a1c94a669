"""The settings of the systems mailbridge plugs into: a mailbox read over IMAP, a mail
service's inbound webhooks, a WordPress site, and the endpoints that receive events."""

from __future__ import annotations

from dataclasses import dataclass

from mailbridge.settings.keys import key as _key

__all__ = [
    "WEBHOOK_EVENTS",
    "ImapSettings",
    "InboundWebhookSettings",
    "WebhookSettings",
    "WordPressSettings",
]


@dataclass(frozen=True)
class ImapSettings:
    """Replies read from a mailbox over IMAP, without a port 25 of your own
    (mailbridge.imap; docs/imap.md)."""

    host: str = _key("", "The IMAP server of the mailbox that receives replies (empty: none).")
    port: int = _key(993, "Its port: 993 for IMAP over TLS.")
    tls: bool = _key(
        True, "IMAP over TLS (port 993); off only for a server on 127.0.0.1 or localhost."
    )
    user: str = _key("", "The mailbox's user name.")
    password: str = _key("", "Its password (an app password at most providers); never logged.")
    mailbox: str = _key("INBOX", "The folder replies arrive in.")
    done_mailbox: str = _key(
        "",
        "A folder each message is moved to once filed or refused for good (it must "
        "exist). Empty: it stays, flagged $MailbridgeDone and seen.",
    )
    idle: bool = _key(
        True, "Wait with IMAP IDLE (the server says when mail comes); off: poll_seconds."
    )
    poll_seconds: float = _key(
        60.0, "Between rounds without IDLE; with IDLE, the longest wait before a round anyway."
    )
    timeout_seconds: float = _key(30.0, "How long one IMAP command may take.")


@dataclass(frozen=True)
class InboundWebhookSettings:
    """Replies posted by a mail service's inbound webhook (mailbridge.inbound_webhooks;
    docs/inbound-webhooks.md). Each route exists only once its secret is set."""

    mailgun_signing_key: str = _key(
        "", "Mailgun's HTTP webhook signing key: turns on POST /inbound/mailgun."
    )
    postmark_user: str = _key("postmark", "The user in Postmark's webhook URL (HTTP Basic).")
    postmark_password: str = _key(
        "", "The password in Postmark's webhook URL: turns on POST /inbound/postmark."
    )
    sendgrid_user: str = _key("sendgrid", "The user in SendGrid's Inbound Parse URL.")
    sendgrid_password: str = _key(
        "", "The password in SendGrid's Inbound Parse URL: turns on POST /inbound/sendgrid."
    )
    ses_topic_arn: str = _key(
        "",
        "The SNS topic an SES receipt rule publishes to (arn:aws:sns:...): turns on "
        "POST /inbound/ses; messages of any other topic are refused.",
    )
    ses_events_topic_arn: str = _key(
        "",
        "The SNS topic SES publishes Bounce and Complaint notifications to: turns on "
        "POST /inbound/ses/events; messages of any other topic are refused.",
    )
    sendgrid_event_key: str = _key(
        "",
        "The verification key of SendGrid's signed Event Webhook (base64, as Mail "
        "Settings shows it): turns on POST /inbound/sendgrid/events (bounces, spam reports).",
    )


@dataclass(frozen=True)
class WordPressSettings:
    """The live bridge to a WordPress site (mailbridge.bridges.wordpress; docs/wordpress.md)."""

    site_url: str = _key(
        "", "The WordPress site, e.g. https://blog.example.org (empty: no bridge)."
    )
    user: str = _key(
        "",
        "The WordPress user the bridge acts as; it needs to moderate comments (an Editor "
        "or an Administrator).",
    )
    app_password: str = _key(
        "",
        "That user's Application Password (wp-admin: Users, Profile, Application "
        "Passwords); never logged.",
    )
    posts: tuple[str, ...] = _key(
        (),
        "The posts bridged, by ID or slug (empty: every post and page). Each is the thread "
        "keyed by its slug, as mailbridge import names a WXR's posts.",
    )
    poll_seconds: float = _key(
        30.0, "How often new comments, and decisions taken in wp-admin, are read."
    )
    full_sync_minutes: float = _key(
        60.0,
        "How often every bridged comment is read again, to follow edits and deletions made "
        "in WordPress.",
    )
    posts_check_minutes: float = _key(
        5.0,
        "How often WordPress is asked whether each bridged post still takes comments (closed "
        "by hand, by age or by a plugin), ten posts a poll at most; closed there, the thread "
        "closes here.",
    )
    requests_per_second: float = _key(4.0, "At most this many requests to WordPress a second.")
    timeout_seconds: float = _key(
        15.0,
        "How long one request to WordPress may take, its whole answer read; past it the "
        "answer is dropped and the poll tried again later.",
    )
    max_answer_mb: float = _key(
        32.0,
        "The largest answer read from WordPress, in megabytes (after decompression); a "
        "larger one (a plugin printing into the REST API, a proxy streaming) is refused "
        "unread and the poll tried again later.",
    )
    notify_commenters: bool = _key(
        True,
        "People whose comments come from WordPress hear about answers to them, as imported "
        "commenters do (each email has a one-click unsubscribe).",
    )


WEBHOOK_EVENTS = (
    "comment.created",
    "comment.approved",
    "comment.rejected",
    "comment.unpublished",
    "comment.deleted",
    "reply.received",
)


@dataclass(frozen=True)
class WebhookSettings:
    """One ``[[webhooks]]`` entry: an endpoint that receives signed events (docs/webhooks.md)."""

    url: str = _key("", "Where events are POSTed: https (http only to 127.0.0.1 or localhost).")
    secret: str = _key(
        "",
        "Signing secret, whsec_ and base64 as the Standard Webhooks specification says "
        "(docs/webhooks.md shows how to make one).",
    )
    events: tuple[str, ...] = _key(
        WEBHOOK_EVENTS, "Events sent to it: " + ", ".join(WEBHOOK_EVENTS) + "."
    )
    timeout_seconds: float = _key(
        10.0, "How long one delivery may take; past it the event is retried later."
    )
