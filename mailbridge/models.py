"""Plain data passed between the stages. No I/O here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from urllib.parse import quote

__all__ = [
    "ELIDED_KEPT",
    "MAX_ID",
    "AttachmentNote",
    "Channel",
    "Comment",
    "CommentNode",
    "CommentStatus",
    "Decider",
    "Decision",
    "NewComment",
    "Source",
    "Thread",
    "echoed",
    "whole_number",
]


# The longest comment, from the web form and from email alike (characters).
MAX_COMMENT_CHARS = 20_000

# The largest id SQLite (and PostgreSQL's bigint) can hold: no row's id is bigger.
MAX_ID = 2**63 - 1


def whole_number(text: str, low: int = 1, high: int = MAX_ID) -> int | None:
    """``text`` as a whole number from ``low`` to ``high``, or None.

    ASCII digits only: ``str.isdigit()`` also takes "²", which ``int()`` refuses, and
    a number of any length, which ``int()`` refuses past 4,300 digits and the database
    past ``MAX_ID``; from a URL or a form, each of those was a 500."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


def echoed(asked: str, limit: int = 100) -> str:
    """What a client asked for (a thread key from a URL), to quote back in an error:
    printable characters only (a bidi override would turn the page's own words
    around), at most ``limit`` of them (a URL can hold 8,000)."""
    shown = "".join(ch for ch in asked if ch.isprintable())
    return shown if shown == asked and len(asked) <= limit else shown[:limit] + "…"


# How much of what extraction cut from an emailed reply is kept with the comment:
# plenty to judge the cut; a quoted thread can be far longer (the raw message has it).
ELIDED_KEPT = 20_000


class CommentStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SPAM = "spam"


class Source(enum.StrEnum):
    IMPORT = "import"
    WEB = "web"
    EMAIL = "email"


@dataclass(frozen=True)
class Thread:
    id: int
    key: str
    title: str
    url: str
    author: str
    author_address_id: int | None
    closed: bool = False

    @property
    def path(self) -> str:
        """Its page's path, the key percent-encoded: a WordPress slug is percent-encoded
        text already ("%d0%bf%d1%80..."), which a URL would otherwise decode."""
        return "/threads/" + quote(self.key, safe="")


@dataclass(frozen=True)
class AttachmentNote:
    """A file that came with an emailed reply: never published, shown to the moderator."""

    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True)
class Comment:
    id: int
    thread_id: int
    parent_id: int | None
    address_id: int | None
    author: str
    body: str
    status: CommentStatus
    source: Source
    notify: bool
    created_at: str
    attachments: tuple[AttachmentNote, ...] = ()
    held_reason: str | None = None  # why the moderator should look twice
    published_at: str | None = None  # first publication: its readers were notified then
    elided: str = ""  # emailed replies: what extraction cut (never published)


def comment_fields(comment: Comment, thread_key: str | None) -> dict[str, object]:
    """A comment as other software sees it (admin API, webhooks): never an address."""
    return {
        "id": comment.id,
        "thread": thread_key,
        "parent_id": comment.parent_id,
        "author": comment.author,
        "body": comment.body,
        "status": comment.status.value,
        "source": comment.source.value,
        "created_at": comment.created_at,
    }


@dataclass(frozen=True)
class NewComment:
    """A comment about to be stored (no id yet)."""

    thread_id: int
    parent_id: int | None
    author: str
    body: str
    status: CommentStatus
    source: Source
    created_at: str
    email: str | None = None
    notify: bool = False
    source_ref: str | None = None
    attachments: tuple[AttachmentNote, ...] = ()
    held_reason: str | None = None
    subscribe: str | None = None  # web: "replies" or "thread" asked for on the form
    elided: str = ""
    seconds_to_write: float | None = None  # web: how long the form was open, when known
    form_doubt: str | None = None  # web: why that time is unproven (spam.form_token)
    trapped: bool = False  # web: the form's hidden honeypot field was filled in
    client_ip: str | None = None  # web: for the optional Akismet check; never stored
    user_agent: str = ""  # web: likewise


class Channel(enum.StrEnum):
    """How a moderation decision was made."""

    LINK = "link"  # a link in a moderation email
    CLI = "cli"  # the operator: mailbridge comment ID --approve / --reject / --spam
    REPLY = "reply"  # a moderator's reply to the moderation email
    QUEUE = "queue"  # the /moderate queue page
    AUTO = "auto"  # mailbridge itself: a trusted writer, or a blocked one (moderate.trust)
    API = "api"  # software with an API token (mailbridge.admin)
    WORDPRESS = "wordpress"  # in wp-admin, seen by the bridge (mailbridge.bridges.wordpress)


@dataclass(frozen=True)
class Decider:
    """Who makes a moderation decision, and through which channel."""

    channel: Channel
    address_id: int | None  # the moderator's address; None when not known


@dataclass(frozen=True)
class Decision:
    """One recorded moderation decision: a change of a comment's status."""

    comment_id: int
    decided_at: str
    previous: CommentStatus
    status: CommentStatus
    channel: Channel
    moderator_id: int | None
    moderator: str | None  # the moderator's address: only for the moderator's own eyes
    id: int = 0  # its row: an undo names the very decision it takes back


@dataclass
class CommentNode:
    """One approved comment with its approved replies, for pages and the API."""

    comment: Comment
    replies: list[CommentNode] = field(default_factory=list)
