"""``mailbridge preview TEMPLATE``: render one email or page with sample data.

Operators who override templates (``[templates] directory``) see the result with
their site name and colours before a real person does.
"""

# Sample comments in the seed's own typography (curly quotes):
# ruff: noqa: RUF001

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from mailbridge.models import (
    AttachmentNote,
    Channel,
    Comment,
    CommentNode,
    CommentStatus,
    Decision,
    Source,
    Thread,
)
from mailbridge.moderate import explain
from mailbridge.notify.mail import DigestEntry, DigestItem, excerpt
from mailbridge.notify.writer import WriterFacts
from mailbridge.rejections import EmptyReply
from mailbridge.settings import Settings
from mailbridge.store.subscriptions import Level
from mailbridge.templating import Renderer
from mailbridge.tokens import Action, LinkPurpose, SubscriptionLink

__all__ = ["EMAILS", "PAGES", "render_preview"]

EMAILS = (
    "moderation_request",
    "reply_notification",
    "digest",
    "confirm_subscription",
    "rejection_notice",
    "moderator_login",
    "moderation_digest",
)
PAGES = (
    "index",
    "thread",
    "moderate_confirm",
    "moderate_done",
    "confirm",
    "unsubscribe",
    "error",
)


def _sample(settings: Settings) -> dict[str, Any]:
    base = settings.site.public_url.rstrip("/")
    thread = Thread(1, "a-post", "A post about “attachment” and healing", f"{base}/", "Jo", None)

    def comment(cid: int, parent: int | None, author: str, body: str) -> Comment:
        return Comment(
            cid,
            1,
            parent,
            None,
            author,
            body,
            CommentStatus.APPROVED,
            Source.WEB,
            True,
            f"2026-11-2{cid}T10:00:00+00:00",
        )

    first = comment(
        1,
        None,
        "Reader 001",
        "This comment is from reflecting on the experience "
        "of the ‘transference’ of someone I love. 💛",
    )
    second = comment(
        2,
        1,
        "Reader 002",
        "I can’t speak for other people and therapists, but "
        "in my experience the process is a major part of growth.",
    )
    third = comment(
        3, 1, "Reader 003", "Sorry for the delay, I’ve been off all week.\n\nThank you both."
    )
    url = f"{base}{thread.path}"
    items = [
        DigestItem(
            c,
            first,
            why,
            f"{url}#comment-{c.id}",
            f"reply+{'a' * 31}{c.id}@{settings.smtp.reply_domain}",
            excerpt(first.body),
        )
        for c, why in ((second, "reply"), (third, "thread"))
    ]
    pending = Comment(
        4,
        1,
        1,
        None,
        "Ann",
        "Thanks, this helped <b>a lot</b>.",
        CommentStatus.PENDING,
        Source.EMAIL,
        True,
        "2026-11-25T18:37:00+00:00",
        (AttachmentNote("garden.jpg", "image/jpeg", 184_320),),
        elided="Ann\n\nOn Wed, 25 Nov 2026 at 09:12, Example Blog wrote:\n> Reader 001 wrote ...",
    )
    expires = date(2026, 11, 25) + timedelta(days=settings.smtp.reply_token_days)
    link = SubscriptionLink(LinkPurpose.UNSUBSCRIBE, 1, 1, "none", expires)
    return {
        "thread": thread,
        "thread_url": url,
        "comment": items[-1].comment,
        "parent": first,
        "parent_excerpt": excerpt(first.body),
        "comment_url": items[0].url,
        "items": items,
        "item": items[-1],
        "why": "reply",
        "expires": expires,
        "unsubscribe_url": f"{base}/unsubscribe/{'u' * 40}",
        "confirm_url": f"{base}/confirm/{'c' * 40}",
        "level": Level.REPLIES.value,
        "days": settings.notifications.confirmation_days,
        "author_email": "ann@example.com",
        "approve_url": f"{base}/moderate/approve-token",
        "reject_url": f"{base}/moderate/reject-token",
        "spam_url": f"{base}/moderate/spam-token",
        "trust_url": f"{base}/moderate/trust-token",
        "login_url": f"{base}/moderate/signin/login-token",
        "minutes": 15,
        "about": WriterFacts(
            approved_before=3,
            authentication="authenticated (From example.com; DMARC pass; DKIM d=example.com pass)",
            authenticated=True,
        ),
        "link_days": settings.moderation.link_days,
        "elided": pending.elided,
        "elided_more": 0,
        "explanation": EmptyReply.explanation,
        "settings_url": f"{base}/unsubscribe/{'u' * 40}",
        "pending": pending,
        "entries": [
            DigestEntry(
                pending,
                thread,
                {v: f"{base}/moderate/{v}-token" for v in ("approve", "reject", "spam")},
            )
        ],
        "queue_url": f"{base}/moderate",
        "more": 0,  # the digest: comments waiting past those it lists
        "nodes": [CommentNode(first, [CommentNode(second), CommentNode(third)])],
        "link": link,
    }


def render_preview(renderer: Renderer, settings: Settings, name: str, html: bool) -> str:
    """The template ``name`` rendered with sample data: an email as its subject and text
    (or HTML), a page as HTML."""
    data = _sample(settings)
    site = {"site_name": settings.site.name}
    if name in EMAILS:
        if name == "moderation_request":
            data = {**data, "comment": data["pending"]}
        rendered = renderer.email(name, **site, **data)
        return rendered.html if html else f"Subject: {rendered.subject}\n\n{rendered.text}"
    if name not in PAGES:
        raise KeyError(name)
    # A moderator rejected the comment, then changed their mind.
    rejected = replace(data["pending"], status=CommentStatus.REJECTED)
    history = (
        Decision(
            4,
            "2026-11-25T19:02:00+00:00",
            CommentStatus.PENDING,
            CommentStatus.REJECTED,
            Channel.LINK,
            1,
            "moderator@example.org",
        ),
    )
    page: dict[str, Any] = {
        "index": {"threads": [(data["thread"], 3)]},
        "thread": {
            "thread": data["thread"],
            "nodes": data["nodes"],
            "count": 3,
            # a big thread's reader without scripts pages through it
            "previous_url": None,
            "next_url": f"{data['thread'].path}?limit=50&after=1",
        },
        "moderate_confirm": {
            "action": Action.APPROVE.verb,
            "done": False,
            "state": explain.state(rejected),
            "effect": explain.effect(rejected, Action.APPROVE),
            "history": explain.history_lines(history, 1),
            "comment": rejected,
            "parent": data["parent"],
            "parent_excerpt": data["parent_excerpt"],
            "thread": data["thread"],
            "expires": data["expires"],
            "off_blog": False,
        },
        "moderate_done": {
            "undo_url": settings.site.public_url.rstrip("/") + "/moderate/undo/undo-token",
            "undo_to": "pending",
            "undo_days": 30,
            "action": Action.APPROVE.verb,
            "status": "approved",
            "changed": True,
            "trust_only": False,
            "previous": "pending",
            "outcome": explain.outcome(CommentStatus.REJECTED, CommentStatus.APPROVED, True),
            "history": explain.history_lines(
                (
                    *history,
                    replace(
                        history[0], previous=CommentStatus.REJECTED, status=CommentStatus.APPROVED
                    ),
                ),
                1,
            ),
            "comment": data["pending"],
            "thread": data["thread"],
            "thread_url": data["thread_url"],
            "comment_url": data["comment_url"],
            "expires": data["expires"],
            "off_blog": False,
        },
        "confirm": {
            "link": data["link"],
            "thread": data["thread"],
            "done": False,
            "changed": False,
        },
        "unsubscribe": {
            "link": data["link"],
            "thread": data["thread"],
            "level": Level.REPLIES,
            "result": None,
        },
        "error": {"status": 403, "title": "Forbidden", "message": "This link has expired."},
    }[name]
    return renderer.page(name, **site, **page)
