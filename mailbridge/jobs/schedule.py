"""The jobs every daemon schedules and one of those sharing the database runs at a
time (mailbridge.jobs.periodic): housekeeping, the moderation digest, the spam report.
Assembled here for mailbridge.app, the composition root, which starts them."""

from __future__ import annotations

from collections.abc import Callable

from mailbridge.clock import Clock
from mailbridge.housekeeping import EVERY_SECONDS, Housekeeping
from mailbridge.jobs.failure_log import FailureLog
from mailbridge.jobs.periodic import Periodic
from mailbridge.notify.notifier import Notifier
from mailbridge.settings import Settings
from mailbridge.store import Store
from mailbridge.webhooks import WebhookEvents

__all__ = ["periodic_jobs", "secrets_of"]


def secrets_of(settings: Settings) -> tuple[str, ...]:
    """Passwords a failing task's error may quote: `status` shows them as ***."""
    return (
        settings.imap.password,
        settings.outbound.relay_password,
        settings.outbound.api_key,
        settings.wordpress.app_password,
    )


def periodic_jobs(
    settings: Settings,
    store: Store,
    clock: Clock,
    notifier: Notifier,
    wake: Callable[[], None],
    me: str,
) -> list[Periodic]:
    """Each run by one daemon of those sharing the database (mailbridge.jobs)."""
    failure_log = FailureLog(store, clock, secrets_of(settings))  # for `status`
    keeper = Housekeeping(
        store,
        clock,
        settings.inbound.raw_retention_days,
        sent_days=settings.smtp.reply_token_days,
        spam_days=settings.spam.keep_days,
        log_days=settings.inbound.keep_days,
        moderation_days=settings.moderation.link_days,
        events=WebhookEvents(settings.webhooks, clock) if settings.webhooks else None,
        moderators=settings.moderation.moderators,
    )
    found = [
        Periodic(
            store,
            keeper.work,
            EVERY_SECONDS,
            wake,  # a comment.deleted webhook for each spam comment deleted
            "housekeeping",
            name="housekeeping",
            owner=me,
            failure_log=failure_log,
            at_start=True,
            done="raw bodies forgotten",
            # The rest of a backlog, batch after batch; then what it deleted leaves
            # the write-ahead log too.
            then=keeper.after_run,
        ),
        # Every moderation.digest_minutes: one email listing the pending comments
        # nobody was emailed about yet (docs/moderation.md). In mode "each" too: the
        # comments a digest was to carry before a switch to "each" are told this way.
        Periodic(
            store,
            notifier.moderation_digests,
            settings.moderation.digest_minutes * 60.0,
            wake,
            "moderation digest",
            name="moderation-digest",
            owner=me,
            failure_log=failure_log,
        ),
    ]
    if settings.spam.enabled and settings.spam.report_hours > 0:
        # Every spam.report_hours: what went to spam, each with a rescue link
        # (docs/spam.md): spam gets no moderation email of its own.
        found.append(
            Periodic(
                store,
                notifier.spam_reports,
                settings.spam.report_hours * 3600.0,
                wake,
                "spam report",
                name="spam-report",
                owner=me,
                failure_log=failure_log,
            )
        )
    return found
