"""Plain-text views for the operator's commands (inbound log, bounces, a comment)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mailbridge.models import Comment, Decision, Thread
from mailbridge.store.inbound import LogEntry
from mailbridge.store.threads import AddressState

__all__ = ["bounce_table", "comment_detail", "inbound_detail", "inbound_table", "table"]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned text table; cells are cut to keep one row on one line."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def _cell(value: object, limit: int = 48) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def inbound_table(entries: Sequence[LogEntry]) -> str:
    if not entries:
        return "No inbound messages match."
    return table(
        ["id", "received (UTC)", "status", "reason", "comment", "from", "to", "message-id"],
        [
            (
                e.id,
                e.received_at.replace("T", " ")[:19],
                e.status,
                e.reason or "",
                _comment_now(e),
                e.mail_from,
                e.rcpt_to,
                e.message_id or "",
            )
            for e in entries
        ],
    )


def _comment_now(entry: LogEntry) -> str:
    """The comment a message became and its status now ("245 spam"): "accepted" only
    says it was filed, the spam folder and the held ones included."""
    if entry.comment_id is None:
        return ""
    return f"{entry.comment_id} {entry.comment_status or 'deleted'}"


def inbound_detail(entry: LogEntry) -> str:
    lines = [
        f"inbound message {entry.id}",
        f"  received    {entry.received_at} from {entry.peer} (stage {entry.stage})",
        f"  envelope    MAIL FROM <{entry.mail_from}>  RCPT TO <{entry.rcpt_to}>",
        f"  message-id  {entry.message_id or '(none)'}",
        f"  size        {entry.size} bytes"
        + ("" if entry.has_raw or entry.stage == "rcpt" else " (raw bytes expired)"),
        f"  outcome     {entry.status}" + (f" ({entry.reason})" if entry.reason else ""),
        f"  answered    {entry.detail or '-'}",
        f"  deliveries  {entry.deliveries}",
    ]
    if entry.comment_id is not None:
        lines.append(f"  comment     {_comment_now(entry)}")
        if entry.comment_held:
            # Why it waits (spam score, personal details, authentication): the moderation
            # email's "HELD" line, or the spam folder's reason (mailbridge spam list).
            lines.append(f"  held        {entry.comment_held}")
    if entry.checks:
        lines.append("  checks")
        lines += ["    " + line for line in json.dumps(entry.checks, indent=2).splitlines()]
    if entry.headers:
        lines.append("  headers")
        lines += ["    " + line for line in entry.headers.splitlines()]
    return "\n".join(lines)


def bounce_table(states: Sequence[AddressState]) -> str:
    if not states:
        return "No address has bounced."
    return table(
        ["address", "hard", "soft", "mailing"],
        [
            (
                s.email,
                s.hard_bounces,
                s.soft_bounces,
                f"stopped {s.suppressed_at[:10]} ({s.suppressed_reason})"
                if s.suppressed_at
                else "on",
            )
            for s in states
        ],
    )


def comment_detail(
    comment: Comment, thread: Thread, email: str | None, history: Sequence[Decision]
) -> str:
    """One comment for the operator: where, who, status, and every moderation decision."""
    published = f" (first published {comment.published_at})" if comment.published_at else ""
    lines = [
        f"comment {comment.id} on {thread.key}",
        f"  author      {comment.author}"
        + (f" <{email}>" if email else "")
        + f", by {comment.source.value}",
        f"  created     {comment.created_at}",
        f"  status      {comment.status.value}{published}",
        f"  in reply to {'comment ' + str(comment.parent_id) if comment.parent_id else '-'}",
    ]
    if comment.held_reason:
        lines.append(f"  held        {comment.held_reason}")
    if comment.attachments:
        lines.append(f"  attachments {len(comment.attachments)} (never published)")
    lines.append(f"  body        {_cell(comment.body, 72)}")
    if comment.elided:
        lines.append(
            f"  cut         {len(comment.elided)} characters (by extraction; not published)"
        )
    if not history:
        lines.append("  decisions   none recorded")
        return "\n".join(lines)
    lines.append("  decisions")
    lines += [
        "    "
        + table(
            ["when (UTC)", "from", "to", "moderator", "via"],
            [
                (
                    d.decided_at.replace("T", " ")[:19],
                    d.previous.value,
                    d.status.value,
                    d.moderator or ("(operator)" if d.channel.value == "cli" else "(unknown)"),
                    d.channel.value,
                )
                for d in history
            ],
        ).replace("\n", "\n    ")
    ]
    return "\n".join(lines)
