"""An email before it is rendered and composed: plain data that can cross to a worker
process (mailbridge.workers), and the pure function that makes its bytes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from typing import Any

from mailbridge.outbound.compose import compose
from mailbridge.templating import Renderer

__all__ = ["Draft", "build"]


@dataclass(frozen=True)
class Draft:
    """Everything one email needs: the template and its values, and the headers."""

    kind: str  # the outbox's kind (moderation_request, ...)
    comment_id: int | None
    to: Address
    template: str  # templates/email/<template>.{subject,txt,html}.j2
    context: dict[str, Any]
    sender: Address
    message_id: str
    date: datetime
    reply_to: Address | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_submitted: str = "auto-generated"
    extra_headers: tuple[tuple[str, str], ...] = ()


def build(renderer: Renderer, draft: Draft) -> bytes:
    """The complete message in wire form: the templates rendered, the MIME composed."""
    rendered = renderer.email(draft.template, **draft.context)
    return compose(
        sender=draft.sender,
        to=draft.to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=draft.message_id,
        date=draft.date,
        reply_to=draft.reply_to,
        in_reply_to=draft.in_reply_to,
        references=list(draft.references) or None,
        auto_submitted=draft.auto_submitted,
        extra_headers=draft.extra_headers,
    )
