"""Count a service's delivery events against the recipient of the message they name.

As for a delivery report (docs/machine-mail.md, "Whose bounce it is"): an event counts
only when the Message-ID it carries is one of a message we sent, and then against that
message's recipient, never against the address the event itself names. An event about
a message we did not send is kept, for the operator, and counts for nobody. Each
event is recorded once by (service, its id): a retry changes nothing. A message counts
at most one soft bounce, however many events (or delay warnings) report it deferred.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import parseaddr

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.inbound.recipients import loggable, masked
from mailbridge.jobs.failure_log import one_line
from mailbridge.mail_events.event import MailEvent
from mailbridge.store import Store, mail_events, outbox, threads

__all__ = ["EventCounter", "MailEventAccounting", "Outcome"]

log = logging.getLogger(__name__)

# (service, kind, outcome): /metrics's mailbridge_mail_events_total
EventCounter = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Outcome:
    event_id: str
    kind: str
    # counted, suppressed, nobody (no message of ours), repeated, moderator (a
    # moderator's complaint about a moderation email: recorded, nothing stopped),
    # elsewhere (a returned Message-ID of ours, sent to another address than named),
    # counted_before (a soft bounce of a message that already counted one)
    outcome: str
    ours: bool = False  # the Message-ID is of a message we sent


class MailEventAccounting:
    def __init__(
        self, store: Store, clock: Clock, hard_limit: int, counter: EventCounter | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._hard_limit = hard_limit
        self._counter = counter

    async def record(self, events: Sequence[MailEvent], peer: str) -> list[Outcome]:
        """Record and count ``events`` (one transaction); say what each one did."""
        now = iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> list[Outcome]:
            return [await self._one(conn, event, now) for event in events]

        outcomes = await self._store.write(work)
        for event, outcome in zip(events, outcomes, strict=True):
            log.log(
                logging.WARNING if outcome.outcome == "moderator" else logging.INFO,
                "%s: %s event %s about %s to %s (%s %s): %s",
                peer,
                event.kind,
                event.event_id[:80],
                _shown_id(event.message_id, outcome.ours),
                loggable(event.recipient) if event.recipient else "nobody named",
                event.status or "-",
                _no_address(event.diagnostic, event.recipient)[:200],
                _said(outcome.outcome),
            )
            if self._counter is not None:
                self._counter(event.provider, event.kind, outcome.outcome)
        return outcomes

    async def _one(self, conn: aiosqlite.Connection, event: MailEvent, now: str) -> Outcome:
        theirs = outbox.provider_key(event.provider, event.provider_id) if event.provider_id else ""
        sent = await mail_events.sent_as(conn, event.message_id, theirs)
        elsewhere = sent is not None and _not_to(event, sent)
        if elsewhere:
            sent = None
        address_id = None if sent is None else sent.address_id
        diagnostic = _no_address(event.diagnostic, event.recipient, sent.rcpt_to if sent else "")
        fresh = await mail_events.insert(
            conn, provider=event.provider, event_id=event.event_id, kind=event.kind,
            outbox_id=None if sent is None else sent.outbox_id, address_id=address_id,
            status=event.status, diagnostic=diagnostic, now=now,
        )  # fmt: skip
        if not fresh:
            return Outcome(event.event_id, event.kind, "repeated", sent is not None)
        if elsewhere:
            return Outcome(event.event_id, event.kind, "elsewhere")
        if address_id is None:
            # Not a message of ours (or to an address we never stored): nobody's.
            return Outcome(event.event_id, event.kind, "nobody")
        if event.kind == "complaint" and sent is not None and sent.kind in outbox.MODERATION_KINDS:
            # A moderator marked a moderation email as spam: a slip, or a filter's
            # report of it moved to junk. Stopping their mail would leave comments
            # waiting with nobody told; it is recorded, and the operator warned.
            return Outcome(event.event_id, event.kind, "moderator", True)
        if event.kind == "complaint":
            stopped = await mail_events.complain(conn, address_id, now)
            return Outcome(event.event_id, event.kind, "suppressed" if stopped else "counted", True)
        assert sent is not None  # an address is found only with the message sent to it
        if event.kind == "soft" and not await threads.soft_bounce_is_first(
            conn, sent.outbox_id, address_id
        ):
            # Another report of this message's trouble (a greylisted message's next
            # deferral): kept, but the message already counted its soft bounce.
            return Outcome(event.event_id, event.kind, "counted_before", True)
        stopped = await threads.count_bounce(conn, address_id, event.kind, now, self._hard_limit)
        return Outcome(event.event_id, event.kind, "suppressed" if stopped else "counted", True)


def _not_to(event: MailEvent, sent: mail_events.Sent) -> bool:
    """A Message-ID read from a returned message, of a message we sent to someone else
    than the service says it sent to: the bouncing server (anyone's, for a message to
    them) wrote it, and could name another person's message to have them stopped."""
    if not event.returned or sent.by_provider_id or not event.recipient:
        return False
    return _address(event.recipient) != _address(sent.rcpt_to)


def _address(text: str) -> str:
    return parseaddr(text)[1].strip().lower()


def _no_address(diagnostic: str, *named: str) -> str:
    """The diagnostic with no address in it: those named as :func:`loggable` shows
    them, any other (a forward's, an alias's) as ``***@domain``."""
    return one_line(masked(diagnostic, *named), limit=1000)


def _shown_id(message_id: str, ours: bool) -> str:
    """Ours names nobody (a random token); another's may be anything, an address too."""
    if not message_id:
        return "no Message-ID"
    return message_id[:120] if ours else one_line(message_id, limit=120)


def _said(outcome: str) -> str:
    return {
        "counted": "counted against the recipient of the message we sent",
        "suppressed": "the recipient of the message we sent is no longer mailed "
        "(mailbridge bounces)",
        "nobody": "names no message we sent: counted for nobody",
        "elsewhere": "the message it returns is one we sent to another address than the "
        "service names: counted for nobody (a bounce's returned headers are the bouncing "
        "server's words)",
        "repeated": "already recorded (a retry): nothing more",
        "counted_before": "recorded; the message we sent already counted its soft bounce "
        "(one a message, however often it is deferred)",
        "moderator": "a moderation email marked as spam by its moderator: recorded, their "
        "mail not stopped here (only by taking them off moderation.moderators); the "
        "service may now drop mail to them (its suppression list): reactivate them there",
    }[outcome]
