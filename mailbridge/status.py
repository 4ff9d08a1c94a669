"""``mailbridge status``: what the daemon holds and how far behind it is, in one screen.

Read from the database alone, so it works whether or not the daemon runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite

from mailbridge.bridges.wordpress.lag import bridge_lag, describe
from mailbridge.clock import iso
from mailbridge.inbound.recipients import masked
from mailbridge.outbound.transport import transport_shown
from mailbridge.outbound.worker import POSTED_KINDS
from mailbridge.settings import Settings
from mailbridge.settings.webhook_routes import event_routes, inbound_routes, missing_routes
from mailbridge.store import comments, failing, outbox

__all__ = ["status_lines"]

# What a task failing at each try leaves undone, and where to look (docs/imap.md,
# docs/operating.md); the log has each try's line, with the traceback of a job's.
_FAILING = {
    "imap": "replies in the mailbox are not read (a login refused: check imap.user and "
    "imap.password; docs/imap.md)",
    "moderation-digest": "moderators are not told of new comments (a template of "
    "templates.directory? the log has the traceback: 'moderation digest failed')",
    "spam-report": "moderators get no spam report (a template of templates.directory? the "
    "log has the traceback: 'spam report failed')",
    "housekeeping": "raw bodies, sent emails and old spam are not purged (the log has the "
    "traceback: 'housekeeping failed')",
}


def _failing_line(task: failing.Failing) -> str:
    what = "IMAP session(s)" if task.name == "imap" else f"run(s) of the {task.name} job"
    return (
        f"{task.failures} {what} failed in a row since {task.since}, the last at "
        f"{task.last_at}: {task.last_error}; {_FAILING.get(task.name, 'the log has why')}"
    )


async def _one(conn: aiosqlite.Connection, sql: str, *args: Any) -> tuple[Any, ...]:
    async with conn.execute(sql, args) as cur:
        row = await cur.fetchone()
    return tuple(row) if row is not None else ()


async def _counts(conn: aiosqlite.Connection, sql: str, *args: Any) -> dict[str, int]:
    async with conn.execute(sql, args) as cur:
        return {str(r[0]): int(r[1]) for r in await cur.fetchall()}


async def _last_error(conn: aiosqlite.Connection, where: str, *args: Any) -> str:
    """The last error of the first outbox row ``where`` picks, without its addresses:
    relays name the recipient ("550 5.1.1 <ann@example.com>: ..."), and this screen
    is pasted into tickets; `mailbridge outbox ID` shows it whole."""
    found = await _one(
        conn, f"SELECT last_error, rcpt_to, mail_from, kind FROM outbox WHERE {where} LIMIT 1",  # noqa: S608 - constant
        *args,
    )  # fmt: skip
    if not found:
        return ""
    error, rcpt_to, mail_from, kind = found
    if kind in POSTED_KINDS:  # not an email: its rcpt_to is an endpoint
        return str(error)
    return masked(str(error or ""), str(rcpt_to), str(mail_from or ""))


def _routes(settings: Settings) -> list[str]:
    """How mail leaves and which mail-service routes are on, as these settings say (the
    daemon's: give its --config), and what is missing for bounces to be seen."""
    out = settings.outbound
    lines = [
        f"Outgoing mail: {transport_shown(settings.transport_url, out.api_key, out.api_url)}",
        f"Webhooks: replies from {', '.join(inbound_routes(settings)) or 'none'}; "
        f"bounces and complaints from {', '.join(event_routes(settings)) or 'none'}",
    ]
    return lines + [f"  WARNING: {missing}" for missing in missing_routes(settings)]


def _listed(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "none"


async def status_lines(conn: aiosqlite.Connection, settings: Settings, now: datetime) -> list[str]:
    day = iso(now - timedelta(hours=24))
    by_status = await _counts(conn, "SELECT status, count(*) FROM comments GROUP BY status")
    mail = await outbox.count_by_status(conn)
    # Since it was queued, or queued again by `mailbridge outbox --retry`, as the
    # metric's age counts it: a dead letter retried after a week is not a week stuck.
    (oldest,) = await _one(
        conn, "SELECT min(coalesce(requeued_at, created_at)) FROM outbox "
        "WHERE status IN ('queued', 'sending')"
    )  # fmt: skip
    (oldest_pending,) = await _one(
        conn, "SELECT min(created_at) FROM comments WHERE status = 'pending'"
    )
    last_in = await _one(
        conn, "SELECT received_at, status, coalesce(reason, '') FROM inbound_messages "
        "ORDER BY id DESC LIMIT 1"
    )  # fmt: skip
    inbound_day = await _counts(
        conn, "SELECT status, count(*) FROM inbound_messages WHERE received_at >= ? "
        "GROUP BY status", day,
    )  # fmt: skip
    (unfinished,) = await _one(
        conn, "SELECT count(*) FROM inbound_messages WHERE status = 'received'"
    )
    # Built just after each comment's commit: a row older than a minute is a mailer
    # that fails at each round (a template, the workers), and moderators not told.
    stuck_mail = await _one(
        conn, "SELECT count(*), min(queued_at) FROM moderation_mail_queue WHERE queued_at < ?",
        iso(now - timedelta(minutes=1)),
    )  # fmt: skip
    # Batched notifications are built when their window closes: one a minute past due
    # is a batching that fails at each round, and readers not told of replies.
    overdue = await _one(
        conn, "SELECT count(*), min(due_at) FROM pending_notifications "
        "WHERE withdrawn_at IS NULL AND due_at < ?", now.timestamp() - 60,
    )  # fmt: skip
    (last_sent,) = await _one(conn, "SELECT max(sent_at) FROM outbox WHERE status = 'sent'")
    if last_sent is None:
        # Every sent email's row gone (inbound.keep_days, erasures) is not "none yet".
        (gone,) = await _one(
            conn, "SELECT coalesce(sum(count), 0) FROM deleted_counts "
            "WHERE counter = 'deliveries' AND label = 'sent'"
        )  # fmt: skip
        if gone:
            last_sent = f"none kept ({int(gone)} sent before: inbound.keep_days, erasures)"
    # Failed in the last day: its last attempt was due then (next_attempt_at). Not
    # queued then: an email that gave up after give_up_hours was queued days ago.
    since = (now - timedelta(hours=24)).timestamp()
    failed_day = await _one(
        conn, "SELECT count(*) FROM outbox WHERE status = 'failed' AND next_attempt_at >= ?",
        since,
    )  # fmt: skip
    failed_last = await _last_error(
        conn, "status = 'failed' AND next_attempt_at >= ? "
        "ORDER BY next_attempt_at DESC, id DESC", since,
    )  # fmt: skip
    retrying = await _one(
        conn, "SELECT count(*) FROM outbox WHERE status = 'queued' AND attempts > 0"
    )
    retrying_last = await _last_error(conn, "status = 'queued' AND attempts > 0 ORDER BY id DESC")
    week = iso(now - timedelta(days=7))
    # Delivery reports received, and what a mail service's webhook or an abuse report
    # told of a message we sent (mail_events; not those about nobody). Soft ones by
    # message, as the addresses count them: a greylisted message is reported deferred
    # again and again (threads.soft_bounce_is_first).
    bounces = await _counts(
        conn, "SELECT kind, CASE WHEN kind = 'soft' THEN count(DISTINCT outbox_id) "
        "ELSE count(*) END FROM (SELECT kind, outbox_id FROM bounces WHERE received_at >= ? "
        "UNION ALL SELECT kind, outbox_id FROM mail_events WHERE received_at >= ? "
        "AND address_id IS NOT NULL) AS reported GROUP BY kind",
        week, week,
    )  # fmt: skip
    (suppressed,) = await _one(
        conn, "SELECT count(*) FROM addresses WHERE suppressed_at IS NOT NULL"
    )
    lines = [
        f"Data directory: {settings.data_path}",
        *_routes(settings),
        "Comments: " + ", ".join(f"{by_status.get(s, 0)} {s}" for s in
                                 ("approved", "pending", "rejected", "spam")),
        f"Waiting for a moderator: {await comments.pending_count(conn)}"
        + (f"; the oldest since {oldest_pending}" if oldest_pending else ""),
        "Outbox: " + ", ".join(f"{mail.get(s, 0)} {s}" for s in
                               ("queued", "sending", "sent", "failed"))
        + (f"; oldest waiting since {oldest}" if oldest else ""),
        "Last inbound: "
        + (f"{last_in[0]} ({last_in[1]}{', ' + last_in[2] if last_in[2] else ''})"
           if last_in else "none yet"),
        f"Inbound, last 24 hours: {_listed(inbound_day)}",
        f"Last email sent: {last_sent or 'none yet'}",
        f"Bounces, last 7 days: {_listed(bounces)}; {suppressed} address(es) no longer mailed",
    ]  # fmt: skip
    errors = []
    if failed_day and failed_day[0]:
        errors.append(f"{failed_day[0]} email(s) failed for good in 24 hours, the last: "
                      f"{failed_last}")  # fmt: skip
    if retrying and retrying[0]:
        errors.append(f"{retrying[0]} email(s) being retried, the last error: {retrying_last}")
    if unfinished:
        errors.append(
            f"{unfinished} inbound message(s) kept but not processed: answered 451, "
            "or being processed now (mailbridge inbound --status received; "
            "mailbridge reprocess ID)"
        )
    if stuck_mail and stuck_mail[0]:
        errors.append(
            f"{stuck_mail[0]} new comment(s) whose moderation emails could not be built, "
            f"the oldest since {stuck_mail[1]}: moderators are not told (the log has why: "
            "'moderation emails: building failed')"
        )
    if overdue and overdue[0]:
        errors.append(
            f"{overdue[0]} notification(s) of replies not sent when their batch window "
            f"closed, the oldest due since {iso(datetime.fromtimestamp(overdue[1], UTC))} "
            "(the log has why: 'notifications: batching failed')"
        )
    # Shown whatever this command's own settings say: it may be run without the
    # daemon's config file (a daemon started without imap.host deletes the row).
    errors += [_failing_line(task) for task in await failing.failing(conn)]
    lines.append("Recent errors: " + ("none" if not errors else errors[0]))
    lines += [f"  {e}" for e in errors[1:]]
    if settings.wordpress.site_url:
        lines += describe(await bridge_lag(conn), settings.wordpress.site_url, now)
    else:
        lines.append("WordPress bridge: off ([wordpress] site_url is empty)")
    return lines
