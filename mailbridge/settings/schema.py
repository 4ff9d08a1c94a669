"""The settings schema: every key, its type, default and help, declared once (the
sections for the systems mailbridge plugs into are in mailbridge.settings.integrations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mailbridge.settings.integrations import (
    ImapSettings,
    InboundWebhookSettings,
    WebhookSettings,
    WordPressSettings,
)
from mailbridge.settings.keys import key as _key

__all__ = [
    "AuthSettings",
    "DkimSettings",
    "HttpSettings",
    "InboundSettings",
    "LimitSettings",
    "ModerationSettings",
    "NotificationSettings",
    "OutboundSettings",
    "PrivacySettings",
    "Settings",
    "SiteSettings",
    "SmtpSettings",
    "TemplateSettings",
]


@dataclass(frozen=True)
class SiteSettings:
    """The blog this instance serves."""

    name: str = _key("Example Blog", "Shown in every email and page.")
    public_url: str = _key(
        "http://127.0.0.1:8080",
        "Base URL of mailbridge's web pages as readers reach them; every link in emails "
        "starts with it.",
    )
    accent_color: str = _key(
        "#0b5cad", "The site's colour for links and buttons in emails and pages (#rrggbb)."
    )
    language: str = _key(
        "en",
        "The site's language as a BCP 47 tag (en, fr, pt-BR): the lang of every email, "
        "page and the widget, so screen readers read them in its voice.",
    )
    allowed_origins: tuple[str, ...] = _key(
        (),
        "Origins (scheme://host[:port]) of the blog pages that embed the comment widget: "
        "they may call the API and create a thread for a new post on its first view.",
    )
    thread_path_prefix: str = _key(
        "/",
        "Only pages whose URL path starts with this create threads by themselves "
        '(e.g. "/posts/"); anything else gets 403.',
    )


@dataclass(frozen=True)
class SmtpSettings:
    """The inbound SMTP service that receives replies."""

    listen: str = _key("127.0.0.1:2525", "host:port the SMTP service listens on.")
    reply_domain: str = _key(
        "reply.example.org",
        "Domain of reply addresses (reply+TOKEN@domain); its MX must point here.",
    )
    max_message_size: int = _key(
        10 * 1024 * 1024,
        "Largest message accepted, in bytes (advertised with SIZE; larger gets 552).",
    )
    reply_token_days: int = _key(
        90,
        "Days a reply address in a notification stays valid; sent emails keep their "
        "bytes as long (the extractor reads them), then only their outbox row.",
    )
    extra_recipients: tuple[str, ...] = _key(
        (),
        "Other addresses to accept mail for (e.g. the From address, for people who reply "
        "to From instead of Reply-To); the reply is matched by its headers.",
    )
    timeout_seconds: float = _key(
        60.0, "An SMTP client silent for this long between commands is disconnected."
    )
    max_session_seconds: float = _key(
        600.0,
        "The longest an SMTP connection may last, however busy (stops clients that "
        "trickle bytes to hold a connection open).",
    )
    tls_cert: str = _key(
        "",
        "PEM certificate chain for STARTTLS on the SMTP service (relative to data_dir); "
        "empty: no STARTTLS, so put an MTA in front when listening publicly.",
    )
    tls_key: str = _key("", "PEM private key for tls_cert (relative to data_dir).")


@dataclass(frozen=True)
class HttpSettings:
    """The web service: comment API, thread pages, moderation links."""

    listen: str = _key("127.0.0.1:8080", "host:port the HTTP service listens on.")
    max_body_bytes: int = _key(
        64 * 1024, "Largest accepted request body in bytes (larger gets 413)."
    )
    trusted_proxies: tuple[str, ...] = _key(
        (),
        "IP addresses of reverse proxies whose X-Forwarded-For is believed (client IP "
        "limits); requests from anywhere else are counted by their own address.",
    )
    cors_origins: tuple[str, ...] = _key(
        (),
        "Origins (scheme://host[:port]) whose pages may call the comment API from the "
        "browser, e.g. the blog. Empty: no cross-origin calls.",
    )
    metrics_networks: tuple[str, ...] = _key(
        ("127.0.0.1/32", "::1/128"),
        "Networks whose requests to /metrics are answered (Prometheus's scraper); "
        "anyone else gets 404. Empty: /metrics is off.",
    )


@dataclass(frozen=True)
class OutboundSettings:
    """Outgoing mail: notifications and moderation requests."""

    transport: str = _key(
        "",
        "Where outgoing mail goes: maildir:PATH (a Maildir on disk), smtp://host:port "
        "(a relay), or a mail service's HTTPS API: mailgun://DOMAIN[?region=eu], "
        "postmark://[?stream=NAME], sendgrid:// or ses://REGION (with api_key; ses:// "
        "without one takes AWS's credential chain: environment, shared files, role). "
        "Empty means "
        "maildir:<data_dir>/outbox.",
    )
    from_address: str = _key(
        "Example Blog <comments@example.org>",
        "From header of every email mailbridge sends.",
        name="from",
    )
    retry_base_seconds: float = _key(
        30.0, "First retry delay after a temporary failure; doubles each attempt."
    )
    retry_max_seconds: float = _key(3600.0, "Longest delay between two attempts.")
    give_up_hours: float = _key(
        120.0,
        "After this long of temporary failures a message is marked failed (kept, never deleted).",
    )
    relay_tls: str = _key(
        "opportunistic",
        'With an smtp:// relay: "opportunistic" (STARTTLS when offered), "required" '
        '(STARTTLS or nothing is sent) or "implicit" (TLS on connect, like smtps://).',
    )
    relay_username: str = _key("", "AUTH user for the relay; empty: no AUTH.")
    relay_password: str = _key("", "AUTH password for the relay (never logged).")
    relay_ca_file: str = _key(
        "",
        "A PEM file of CAs trusted for the relay's (or api_url's) certificate instead of "
        "the system's (for a self-signed certificate, that certificate). Relative to the working "
        "directory, not data_dir as the DKIM keys are: best given as an absolute path.",
    )
    relay_timeout_seconds: float = _key(
        60.0,
        "Timeout for connecting and for each command; with a mail service's API "
        "(mailgun://, postmark://, sendgrid://, ses://), for each whole request.",
    )
    relay_idle_seconds: float = _key(
        30.0, "How long an unused relay connection is kept open for reuse; 0: no reuse."
    )
    relay_allow_plaintext_auth: bool = _key(
        False, "Send the AUTH password without TLS (only for a relay on the same host)."
    )
    api_key: str = _key(
        "",
        "With mailgun://, postmark://, sendgrid:// or ses://: the service's sending key "
        "(Mailgun's API or sending key, Postmark's Server API token, a SendGrid API key "
        "with Mail Send, an AWS ACCESS_KEY_ID:SECRET_ACCESS_KEY allowed ses:SendEmail). "
        "Empty with ses://: AWS's credential chain (AWS_* environment variables, the "
        "shared files, the ECS task or EC2 instance role). Never logged: shown as ***abcd.",
    )
    api_url: str = _key(
        "",
        "With mailgun://, postmark://, sendgrid:// or ses://: an https:// base URL instead "
        "of the service's own (an EU subuser's https://api.eu.sendgrid.com, a proxy, a test "
        "server); relay_ca_file trusts its certificate.",
    )
    smtputf8: bool = _key(
        False,
        "Accept addresses with non-ASCII characters before the @ (SMTPUTF8, RFC 6531). "
        "Only if the outgoing path supports it: a Maildir does; a relay must offer "
        "SMTPUTF8, else mail to such an address fails permanently.",
    )
    concurrency: int = _key(4, "Messages sent at once (also the number of relay connections).")
    per_domain_concurrency: int = _key(2, "Messages sent at once to one recipient domain.")
    lease_seconds: float = _key(
        60.0,
        "How long an email being sent is held by this daemon (renewed while the send "
        "lasts). After a crash it is sent again, by another daemon or the next start, "
        "once this has passed: with the same Message-ID. At least 5.",
    )


@dataclass(frozen=True)
class DkimSettings:
    """DKIM signing of every outgoing message (see docs/dkim.md)."""

    domain: str = _key("", "Signing domain (d=), normally the domain of outbound.from.")
    selector: str = _key("", "Selector (s=) of the RSA key.")
    private_key: str = _key(
        "", "Path of the RSA private key (mailbridge dkim keygen); empty: no signing."
    )
    ed25519_selector: str = _key("", "Selector of an ed25519 key, signed in addition.")
    ed25519_private_key: str = _key("", "Path of the ed25519 private key.")


@dataclass(frozen=True)
class NotificationSettings:
    """Who is told about new comments, and how often."""

    batch_window_seconds: int = _key(
        120,
        "Replies to one person within this many seconds of the first go out as one "
        "email per conversation (a digest). 0 sends each at once.",
    )
    confirmation_days: int = _key(7, "Days a subscription confirmation link stays valid.")
    unsubscribe_days: int = _key(730, "Days an unsubscribe link in a notification keeps working.")


@dataclass(frozen=True)
class ModerationSettings:
    """Who moderates and how long moderation links live."""

    moderators: tuple[str, ...] = _key(
        (),
        "Addresses that receive every moderation email, in addition to each thread's "
        "author (from the import).",
    )
    link_days: int = _key(14, "Days an approve/reject/spam link stays valid.")
    auto_approve_after: int = _key(
        0,
        "Publish at once the comments of a person with at least this many approved "
        "comments (WordPress's rule); moderators are told afterwards. 0: off.",
    )
    hold_everything: bool = _key(
        False, "Hold every comment for a moderator, trusted commenters' too."
    )
    mode: str = _key(
        "auto",
        'Moderation emails: "each" (one per pending comment), "digest" (one digest every '
        'digest_minutes) or "auto" (one each until more than digest_when_pending_over '
        "are pending, then digests).",
    )
    digest_minutes: float = _key(
        60.0,
        "Minutes between moderation digests (in mode each, of the pending comments no "
        "moderator was emailed about: left for a digest before a switch, imported).",
    )
    digest_when_pending_over: int = _key(
        10, 'Mode "auto": with more pending comments than this, new ones wait for the digest.'
    )


@dataclass(frozen=True)
class InboundSettings:
    """How inbound mail is judged and how long it is kept."""

    raw_retention_days: int = _key(
        30, "Days the raw bytes of inbound messages are kept (headers and outcome stay)."
    )
    keep_days: int = _key(
        90,
        "Days a message's row in the inbound log (sender, headers, checks, outcome) is "
        "kept after its outcome: for a reply filed as a comment, after the comment was "
        "decided; a mail service's bounce or complaint event after it came; and an "
        "email's row in the outbox (recipient, kind, dates) after it was sent or failed, "
        "never before its reply address expires (30 to 36500).",
    )
    min_reply_chars: int = _key(
        2, "A reply shorter than this (after quotes and signatures are cut) is refused."
    )
    hard_bounce_limit: int = _key(
        2, "Hard bounces after which mailbridge stops mailing an address."
    )
    cpu_processes: int = _key(
        1,
        "Worker processes that extract replies and read them for moderation (spam rules, "
        "personal details), build moderation emails and make DKIM signatures, so another "
        "core does that work (0: threads of the daemon's own process).",
    )


@dataclass(frozen=True)
class AuthSettings:
    """Sender authentication of inbound replies (DKIM, DMARC, trusted relays)."""

    dns: str = _key(
        "system",
        'Where DNS answers come from: "system" (resolv.conf, or nameservers below) or '
        '"off" (air-gapped: every check reports DNS unavailable, explicitly).',
    )
    nameservers: tuple[str, ...] = _key((), "DNS servers to ask instead of the system's.")
    dns_timeout: float = _key(5.0, "Seconds one DNS lookup may take in all.")
    trusted_relays: tuple[str, ...] = _key(
        (),
        "authserv-ids of relays (your MTA) whose topmost Authentication-Results header "
        "is believed.",
    )
    trusted_relay_networks: tuple[str, ...] = _key(
        ("127.0.0.0/8", "::1/128"),
        "Networks those relays connect from; their header is ignored on mail from elsewhere.",
    )
    on_dmarc_reject: str = _key(
        "refuse",
        'A reply failing authentication for a domain with DMARC p=reject: "refuse" (550) '
        'or "hold" (filed, flagged for the moderator).',
    )
    on_dmarc_quarantine: str = _key("hold", 'The same for p=quarantine: "refuse" or "hold".')
    when_dns_unavailable: str = _key(
        "hold",
        'When the checks cannot run for lack of DNS: "accept" (marked unverified), '
        '"hold", or "tempfail" (451: the sender retries later).',
    )


@dataclass(frozen=True)
class LimitSettings:
    """Rate and size limits on both public doors (SMTP and the web API)."""

    smtp_connections_per_ip: int = _key(
        10, "Simultaneous SMTP connections from one client IP (more get 421)."
    )
    smtp_connections_per_trusted_relay: int = _key(
        100,
        "Simultaneous SMTP connections from one IP in auth.trusted_relay_networks (your MTA: "
        "Postfix opens up to 20 at once by default).",
    )
    smtp_refused_recipients_per_session: int = _key(
        10, "Refused RCPTs one SMTP connection may send before it is closed with 421."
    )
    smtp_recipients_per_message: int = _key(
        10, "RCPT commands in one SMTP transaction (more get 452)."
    )
    messages_per_sender_per_hour: int = _key(
        20, "Replies from one person (by email or on the web) per hour (more get 450 or 429)."
    )
    comments_per_thread_per_hour: int = _key(
        120, "New comments on one thread per hour, all sources (more get 450 or 429)."
    )
    threads_per_ip_per_hour: int = _key(
        20,
        "Threads one client IP (an IPv6 one by its /64) may create by viewing new pages, "
        "per hour (more get 429).",
    )
    web_comments_per_ip_per_hour: int = _key(
        30,
        "Comment submissions from one client IP (an IPv6 one by its /64) per hour (more get 429).",
    )


@dataclass(frozen=True)
class SpamSettings:
    """Spam scoring of new comments (mailbridge.spam; docs/spam.md)."""

    enabled: bool = _key(True, "Score every new comment; above the threshold it goes to spam.")
    threshold: float = _key(
        0.5,
        "Score (0 to 1) at or above which a comment goes to the spam folder, without a "
        "moderation email (mailbridge spam list; rescue with mailbridge comment ID --approve).",
    )
    report_hours: float = _key(
        24.0,
        "Every this many hours moderators get one email listing what went to spam since "
        "the last one, each with a link to publish it after all; 0 turns it off.",
    )
    keep_days: int = _key(
        0,
        "Days a comment that went to the spam folder by itself stays there before it is "
        "deleted (none a moderator marked spam or answered); 0: kept for ever. At least 30.",
    )
    akismet_key: str = _key(
        "",
        "An Akismet API key (never logged): web comments are also checked by Akismet, as one "
        "more signal, and Akismet is told where the moderators decided otherwise "
        "(empty: no outside service is asked).",
    )
    akismet_url: str = _key("https://rest.akismet.com", "Akismet's API address.")
    akismet_timeout_seconds: float = _key(
        3.0, "How long a comment waits for Akismet before the local rules decide alone."
    )
    akismet_send_email: bool = _key(
        False, "Also send the commenter's email address to Akismet (better accuracy, less privacy)."
    )


@dataclass(frozen=True)
class CacheSettings:
    """How published threads are cached: by browsers and CDNs (HTTP), and in memory."""

    max_age_seconds: int = _key(
        30, "Cache-Control max-age of published thread JSON and pages (seconds)."
    )
    stale_while_revalidate_seconds: int = _key(
        300,
        "Cache-Control stale-while-revalidate: how long a CDN may serve a thread while it "
        "asks again (revalidation with ETag is a cheap 304).",
    )
    memory_mb: int = _key(64, "Serialized thread responses kept in memory, per process (MB).")


@dataclass(frozen=True)
class TemplateSettings:
    """Email and page templates."""

    directory: str = _key(
        "",
        "A directory of templates that override the packaged ones file by file "
        "(same names, e.g. email/reply_notification.html.j2). Empty: packaged only.",
    )


@dataclass(frozen=True)
class PrivacySettings:
    """A person's own data: export and erasure (docs/privacy.md)."""

    erased_comments: str = _key(
        "anonymise",
        'What erasing an address does to its comments: "anonymise" (they stay, by "a former '
        'commenter") or "remove" (their text is deleted and they leave the page).',
    )


@dataclass(frozen=True)
class Settings:
    """Everything an operator can set."""

    data_dir: str = _key(
        "var", "Database, outgoing Maildir and instance secret; relative to the working directory."
    )
    data_url: str = _key(
        "",
        "Where the database is: empty keeps SQLite in data_dir; postgresql://user:password@"
        "host:port/dbname selects PostgreSQL (data_dir still holds the secret and Maildir).",
    )
    secret_file: str = _key(
        "",
        "The instance secret (tokens in reply addresses and links); empty: secret.key in "
        "data_dir. Daemons sharing a PostgreSQL database need one secret: give each a "
        "copy of the same file.",
    )
    database_busy_timeout_seconds: float = _key(
        10.0,
        "How long a database write waits for another process's lock before giving up; "
        "the web then answers 503 with Retry-After and SMTP a 4xx.",
    )
    site: SiteSettings = field(default_factory=SiteSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    dkim: DkimSettings = field(default_factory=DkimSettings)
    moderation: ModerationSettings = field(default_factory=ModerationSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    inbound: InboundSettings = field(default_factory=InboundSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    templates: TemplateSettings = field(default_factory=TemplateSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    spam: SpamSettings = field(default_factory=SpamSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    wordpress: WordPressSettings = field(default_factory=WordPressSettings)
    imap: ImapSettings = field(default_factory=ImapSettings)
    inbound_webhooks: InboundWebhookSettings = field(default_factory=InboundWebhookSettings)
    webhooks: tuple[WebhookSettings, ...] = field(
        default=(),
        metadata={"help": "Endpoints that receive events ([[webhooks]] tables).", "name": None},
    )

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def database_path(self) -> Path:
        return self.data_path / "mailbridge.sqlite3"

    @property
    def secret_path(self) -> Path:
        if self.secret_file:
            return Path(self.secret_file).expanduser().resolve()
        return self.data_path / "secret.key"

    @property
    def transport_url(self) -> str:
        return self.outbound.transport or f"maildir:{self.data_path / 'outbox'}"
