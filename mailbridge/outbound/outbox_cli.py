"""``mailbridge outbox``: what is waiting, what failed and why, and sending it again.

Registered in :mod:`mailbridge.cli`. Opens the database itself, like every offline
command; a running daemon picks up re-queued messages at its next poll (a minute
at most).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from mailbridge.cli_options import config_options, settings_from
from mailbridge.outbound.worker import POSTED_KINDS
from mailbridge.settings import Settings
from mailbridge.store import Store, outbox, outbox_operator

__all__ = ["outbox_command"]

_STATUSES = ("queued", "sending", "sent", "failed", "withdrawn")
_UNSENT = ("failed", "queued", "sending")


def _when(unix: float | None) -> str:
    if unix is None:
        return "-"
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _table(rows: list[outbox_operator.OutboxSummary], counts: dict[str, int]) -> str:
    from mailbridge.reports import table

    # Withdrawn (never sent: its comment left the page) only when there are some.
    shown = [s for s in _STATUSES if s != "withdrawn" or counts.get(s)]
    summary = ", ".join(f"{s} {counts.get(s, 0)}" for s in shown)
    if not rows:
        return f"outbox: {summary}\nNo message matches."
    body = table(
        ["id", "status", "kind", "to", "attempts", "next attempt (UTC)", "last error"],
        [
            (
                r.id,
                r.status,
                r.kind,
                r.rcpt_to,
                r.attempts,
                _when(r.next_attempt_at) if r.status == "queued" else "-",
                r.last_error or "",
            )
            for r in rows
        ],
    )
    return f"outbox: {summary}\n{body}"


def _headers(message: bytes) -> list[tuple[str, str]]:
    head = message.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    parsed = email.message_from_bytes(head + b"\r\n\r\n", policy=email.policy.default)
    return [(name, str(value)) for name, value in parsed.items()]


def _detail_dict(d: outbox_operator.OutboxDetail, body: bool) -> dict[str, Any]:
    found: dict[str, Any] = asdict(d.summary)
    found.update(
        comment_id=d.comment_id,
        mail_from=d.mail_from,
        lease_owner=d.lease_owner,
        lease_expires_at=d.lease_expires_at,
        requeued_at=d.requeued_at,
        size=d.size,
        kept=d.kept,
        headers=[] if d.summary.kind in POSTED_KINDS or not d.kept else _headers(d.message),
    )
    if body:
        found["message"] = d.message.decode("utf-8", "replace")
    return found


def _detail_text(d: outbox_operator.OutboxDetail, body: bool) -> str:
    s = d.summary
    lines = [
        f"outbox message {s.id}",
        f"  kind         {s.kind}" + (f" (comment {d.comment_id})" if d.comment_id else ""),
        f"  status       {s.status}",
        f"  message-id   {s.message_id}",
        # A webhook event or an Akismet report is posted, not mailed: no envelope.
        f"  posts        {d.mail_from} to {s.rcpt_to}"
        if s.kind in POSTED_KINDS
        else f"  envelope     MAIL FROM <{d.mail_from}>  RCPT TO <{s.rcpt_to}>",
        f"  created      {s.created_at}",
        f"  attempts     {s.attempts}",
    ]
    if s.status == "queued":
        lines.append(f"  next attempt {_when(s.next_attempt_at)}")
    if s.status == "sending":
        lines.append(f"  leased by    {d.lease_owner} until {_when(d.lease_expires_at)}")
    if s.sent_at:
        lines.append(f"  sent         {s.sent_at}")
    if d.provider_id:  # what the service's logs and events call it
        service, _colon, theirs = d.provider_id.partition(":")
        lines.append(f"  accepted as  {theirs} by {service}")
    if d.requeued_at:
        lines.append(f"  re-queued    {d.requeued_at}")
    lines.append(f"  last error   {s.last_error or '-'}")
    if not d.kept:
        # Sent emails keep their bytes smtp.reply_token_days (docs/operating.md).
        lines.append("  size         its bytes are no longer kept")
    else:
        lines.append(f"  size         {d.size} bytes")
    if s.kind not in POSTED_KINDS and d.kept:
        lines.append("  headers")
        lines += [f"    {name}: {value}" for name, value in _headers(d.message)]
    if body:
        lines += ["", d.message.decode("utf-8", "replace")]
    return "\n".join(lines)


async def _retry_one(store: Store, row_id: int) -> str:
    now = datetime.now(UTC)
    before = await store.write(
        lambda c: outbox_operator.retry(
            c, row_id, now.timestamp(), now.isoformat(timespec="seconds")
        )
    )
    if before is None:
        raise click.ClickException(f"no outbox message {row_id}")
    if before == "sent":
        raise click.ClickException(
            f"outbox message {row_id} was sent already; sending it again would duplicate it"
        )
    if before == "sending":
        raise click.ClickException(f"outbox message {row_id} is being sent right now")
    if before == "withdrawn":
        # Its comment left the page (or was edited, erased): what it carried is composed
        # afresh if that comment is published again. Sending it would undo the withdrawal.
        found = await store.read(lambda c: outbox_operator.get_detail(c, row_id))
        why = found.summary.last_error if found is not None else None
        raise click.ClickException(
            f"outbox message {row_id} was "
            + (why or "withdrawn")
            + "; it is never sent (its readers are told afresh, once, if the comment "
            "is published again)"
        )
    if before == "queued":
        return f"outbox message {row_id} is due now (it was waiting for a retry)."
    return f"outbox message {row_id} queued again; the daemon sends it within a minute."


async def _run(
    settings: Settings,
    row_id: int | None,
    status: str | None,
    limit: int,
    as_json: bool,
    body: bool,
    retry_id: int | None,
    retry_all: bool,
) -> str:
    from mailbridge.store.opening import open_store

    store = await open_store(settings)
    try:
        if retry_id is not None:
            return await _retry_one(store, retry_id)
        if retry_all:
            now = datetime.now(UTC)
            n = await store.write(
                lambda c: outbox_operator.retry_all_failed(
                    c, now.timestamp(), now.isoformat(timespec="seconds")
                )
            )
            return f"{n} failed message(s) queued again; the daemon sends them within a minute."
        if row_id is not None:
            detail = await store.read(lambda c: outbox_operator.get_detail(c, row_id))
            if detail is None:
                raise click.ClickException(f"no outbox message {row_id}")
            if as_json:
                return json.dumps(_detail_dict(detail, body), ensure_ascii=False)
            return _detail_text(detail, body)
        statuses = (
            _UNSENT if status in (None, "unsent") else _STATUSES if status == "all" else (status,)
        )
        found = await store.read(lambda c: outbox_operator.list_summaries(c, statuses, limit))
        if as_json:
            return "\n".join(json.dumps(asdict(r), ensure_ascii=False) for r in found)
        return _table(found, await store.read(outbox.count_by_status))
    finally:
        await store.close()


@click.command("outbox")
@config_options
@click.argument("row_id", metavar="[ID]", type=int, required=False)
@click.option(
    "--status",
    type=click.Choice([*_STATUSES, "unsent", "all"]),
    help="Only this status. Default: unsent (failed first, then queued and sending).",
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--body", is_flag=True, help="With ID: print the whole message, body included.")
@click.option("--retry", "retry_id", type=int, metavar="ID", help="Queue a failed message again.")
@click.option("--retry-all-failed", "retry_all", is_flag=True, help="Queue every failed message.")
def outbox_command(
    config_file: Path | None,
    data_dir: Path | None,
    row_id: int | None,
    status: str | None,
    limit: int,
    as_json: bool,
    body: bool,
    retry_id: int | None,
    retry_all: bool,
) -> None:
    """The outbox: every email mailbridge sends, until the relay has it.

    Without ID, lists the messages not sent yet: the failed ones (dead letters)
    first, with their attempts and the relay's last answer, then those waiting
    for their next attempt. With ID, one message's envelope, state and headers
    (the body only with --body: it holds working moderation and reply links).
    """
    if retry_id is not None and retry_all:
        raise click.UsageError("--retry and --retry-all-failed do not go together")
    if body and row_id is None:
        raise click.UsageError("--body needs an ID")
    settings = settings_from(config_file, data_dir)
    click.echo(
        asyncio.run(_run(settings, row_id, status, limit, as_json, body, retry_id, retry_all))
    )
