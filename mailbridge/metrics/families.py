"""What the database says, as metric families, read once per scrape."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import aiosqlite
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from mailbridge.bridges.wordpress.links import PARKED_SQL
from mailbridge.store import deleted_counts, moderation_queue
from mailbridge.store.deleted_counts import DEAD_LETTER

__all__ = ["Snapshot", "StoreCollector", "snapshot"]

# Outcomes only: a message kept unprocessed (status 'received') is not counted until
# it has one (mailbridge_inbound_unprocessed_messages counts those now).
DISPOSITIONS = (
    "accepted", "held", "rejected", "dropped", "bounce", "refused",
    "unsubscribed", "postmaster",
)  # fmt: skip
COMMENT_STATUSES = ("pending", "approved", "rejected", "spam")
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "withdrawn")
WORDPRESS_FAILURES = ("credentials", "unreachable", "too_large", "error")


@dataclass
class Snapshot:
    received: dict[str, int] = field(default_factory=dict)
    comments: dict[str, int] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    outbox_oldest_age: float = 0.0
    attempts: int = 0
    failed_ever: int = 0
    sent_ever: int = 0  # sent, with those deleted since
    wordpress_waiting: int = 0
    wordpress_failing: str = ""  # why the bridge's last round failed; "": it did not
    wordpress_last_poll: float = 0.0  # the last poll read whole, as a Unix time
    inbound_unprocessed: int = 0  # messages kept but not processed (answered 451)
    inbound_unprocessed_age: float = 0.0  # the oldest of them
    moderation_mail_waiting: int = 0  # comments whose moderation emails are not built
    moderation_mail_age: float = 0.0  # the oldest of them, since its comment came
    notifications_overdue: float = 0.0  # the most overdue batched notification, past due


async def _counts(conn: aiosqlite.Connection, sql: str) -> dict[str, int]:
    async with conn.execute(sql) as cur:
        return {str(r[0]): int(r[1]) for r in await cur.fetchall()}


async def _age(conn: aiosqlite.Connection, sql: str, now: float) -> float:
    """Seconds since the ISO time ``sql`` reads (0 when it reads none)."""
    async with conn.execute(sql) as cur:
        row = await cur.fetchone()
    if row is None or row[0] is None:
        return 0.0
    return max(0.0, now - datetime.fromisoformat(str(row[0])).timestamp())


async def snapshot(conn: aiosqlite.Connection, now: float) -> Snapshot:
    """One read transaction: every figure from the same moment."""
    # What rows deleted since counted (an erasure, the spam folder's purge): the
    # counters go on from it, or Prometheus reads a reset and counts all again.
    gone = await deleted_counts.added(conn)
    # By the first outcome (counted_as, set once), not the status: a message counted
    # 'received' (answered 451) went down from it when processed, and one reprocessed
    # into another outcome went down from the first; Prometheus reads either as a reset.
    received = await _counts(
        conn, "SELECT counted_as, count(*) FROM inbound_messages "
        "WHERE counted_as IS NOT NULL GROUP BY 1",
    )  # fmt: skip
    for (counter, label), count in gone.items():
        # 'received': tallied by status before migration 0033; no longer counted.
        if counter == "received" and label != "received":
            received[label] = received.get(label, 0) + count
    found = Snapshot(
        received=received,
        comments=await _counts(conn, "SELECT status, count(*) FROM comments GROUP BY 1"),
        outbox=await _counts(conn, "SELECT status, count(*) FROM outbox GROUP BY 1"),
    )
    # Waiting since it was queued (or queued again), as `mailbridge status` says: not
    # since its next attempt, which each failure moves on, so with the relay refusing
    # for hours the age stayed near 0 and the alert on it never fired.
    found.outbox_oldest_age = await _age(
        conn, "SELECT min(coalesce(requeued_at, created_at)) FROM outbox "
        "WHERE status IN ('queued', 'sending')", now,
    )  # fmt: skip
    # Ages, not counts: a message answered 451 again and again stays one row (its
    # sender's retries count as deliveries), so the counter of received messages
    # stood still and an alert on its increase never fired for it.
    async with conn.execute(
        "SELECT count(*) FROM inbound_messages WHERE status = 'received'"
    ) as cur:
        row = await cur.fetchone()
    found.inbound_unprocessed = int(row[0]) if row is not None else 0
    found.inbound_unprocessed_age = await _age(
        conn, "SELECT min(received_at) FROM inbound_messages WHERE status = 'received'", now
    )
    # A batch is built when it falls due (notifications.batch_window_seconds): one
    # long past due is a Digester failing at each round (a template), readers untold.
    async with conn.execute(
        "SELECT min(due_at) FROM pending_notifications WHERE withdrawn_at IS NULL"
    ) as cur:
        row = await cur.fetchone()
    if row is not None and row[0] is not None:
        found.notifications_overdue = max(0.0, now - float(row[0]))
    # Built on the workers just after the comment's commit: a row that stays (a
    # template that fails, the workers failing) is a moderator never told, with
    # only a traceback in the log.
    found.moderation_mail_waiting = await moderation_queue.waiting(conn)
    found.moderation_mail_age = await _age(
        conn, "SELECT min(queued_at) FROM moderation_mail_queue", now
    )
    # A counter must not go down: a dead letter the operator queues again (requeued_at)
    # stays counted, or Prometheus reads a reset and the dead-letter alert fires.
    async with conn.execute(
        "SELECT coalesce(sum(attempts), 0), "  # noqa: S608 - constant
        f"count(CASE WHEN {DEAD_LETTER} THEN 1 END) FROM outbox"
    ) as cur:
        row = await cur.fetchone()
    found.attempts = (int(row[0]) if row is not None else 0) + gone.get(("attempts", ""), 0)
    found.failed_ever = (int(row[1]) if row is not None else 0) + gone.get(
        ("deliveries", "failed"), 0
    )
    found.sent_ever = found.outbox.get("sent", 0) + gone.get(("deliveries", "sent"), 0)
    # Not those parked until their post takes comments again: the documented alert on
    # pushes waiting for 30 minutes would fire for as long as the post stays closed.
    sql = f"SELECT count(*) FROM wp_push WHERE NOT {PARKED_SQL}"  # noqa: S608 - constant
    async with conn.execute(sql) as cur:
        row = await cur.fetchone()
    found.wordpress_waiting = int(row[0]) if row is not None else 0
    state = await _counts_text(
        conn, "SELECT key, value FROM wp_state WHERE key IN "
        "('failing_since', 'failing_reason', 'last_ok_at')",
    )  # fmt: skip
    if state.get("failing_since"):
        found.wordpress_failing = state.get("failing_reason") or "unreachable"
    if state.get("last_ok_at"):
        found.wordpress_last_poll = datetime.fromisoformat(state["last_ok_at"]).timestamp()
    return found


async def _counts_text(conn: aiosqlite.Connection, sql: str) -> dict[str, str]:
    async with conn.execute(sql) as cur:
        return {str(r[0]): str(r[1]) for r in await cur.fetchall()}


class StoreCollector(Collector):
    """Yields the families of the latest :class:`Snapshot` (set before each scrape)."""

    def __init__(self) -> None:
        self.latest = Snapshot()

    def collect(self) -> Iterator[Metric]:
        s = self.latest
        received = CounterMetricFamily(
            "mailbridge_messages_received",
            "Messages received (SMTP, IMAP), by what first became of them, since the database "
            "began (one kept unprocessed is counted once it has an outcome).",
            labels=["disposition"],
        )
        for disposition in sorted(set(DISPOSITIONS) | set(s.received)):
            received.add_metric([disposition], s.received.get(disposition, 0))
        yield received
        comments = GaugeMetricFamily(
            "mailbridge_comments", "Comments, by status.", labels=["status"]
        )
        for status in sorted(set(COMMENT_STATUSES) | set(s.comments)):
            comments.add_metric([status], s.comments.get(status, 0))
        yield comments
        outbox = GaugeMetricFamily(
            "mailbridge_outbox_messages",
            "Outgoing mail, webhook events and Akismet reports in the outbox, by status (queued "
            "and sending are its depth).",
            labels=["status"],
        )
        for status in OUTBOX_STATUSES:
            outbox.add_metric([status], s.outbox.get(status, 0))
        yield outbox
        yield GaugeMetricFamily(
            "mailbridge_outbox_oldest_age_seconds",
            "How long the oldest message waiting in the outbox has been due (0: none waits).",
            value=s.outbox_oldest_age,
        )
        deliveries = CounterMetricFamily(
            "mailbridge_deliveries",
            "Outbox messages by result: sent, or failed for good (dead letters, counted "
            "once each, also after they were queued again).",
            labels=["result"],
        )
        deliveries.add_metric(["sent"], s.sent_ever)
        deliveries.add_metric(["failed"], s.failed_ever)
        yield deliveries
        yield CounterMetricFamily(
            "mailbridge_delivery_attempts",
            "Delivery attempts made for the messages in the outbox, retries included.",
            value=s.attempts,
        )
        yield GaugeMetricFamily(
            "mailbridge_inbound_unprocessed_messages",
            "Messages received but not processed (answered 451, kept for the sender's retry) now.",
            value=s.inbound_unprocessed,
        )
        yield GaugeMetricFamily(
            "mailbridge_inbound_unprocessed_oldest_age_seconds",
            "How long the oldest message received but not processed (answered 451) has "
            "been kept; 0 when none is.",
            value=s.inbound_unprocessed_age,
        )
        yield GaugeMetricFamily(
            "mailbridge_moderation_mail_waiting",
            "Comments whose moderation emails are not built and queued yet.",
            value=s.moderation_mail_waiting,
        )
        yield GaugeMetricFamily(
            "mailbridge_moderation_mail_oldest_age_seconds",
            "How long the oldest comment whose moderation emails are not built yet has "
            "waited for them; 0 when none does.",
            value=s.moderation_mail_age,
        )
        yield GaugeMetricFamily(
            "mailbridge_notifications_overdue_seconds",
            "How long the most overdue batched notification has been due and not sent "
            "(its batch window closed); 0 when none is.",
            value=s.notifications_overdue,
        )
        yield GaugeMetricFamily(
            "mailbridge_wordpress_pushes_waiting",
            "Changes waiting to go to WordPress (docs/wordpress.md).",
            value=s.wordpress_waiting,
        )
        failing = GaugeMetricFamily(
            "mailbridge_wordpress_failing",
            "1 while the WordPress bridge fails, by why: credentials (401/403: the "
            "Application Password revoked, or the user may not moderate), unreachable, "
            "too_large (an answer past wordpress.max_answer_mb), or error (the bridge's "
            "own: the log has the traceback).",
            labels=["reason"],
        )
        for reason in WORDPRESS_FAILURES:
            failing.add_metric([reason], int(s.wordpress_failing == reason))
        yield failing
        yield GaugeMetricFamily(
            "mailbridge_wordpress_last_poll_timestamp_seconds",
            "When the WordPress bridge last read WordPress whole; 0 if never.",
            value=s.wordpress_last_poll,
        )
