"""The inbound pipeline for one SMTP transaction: store, classify, check, file.

1. The raw message is written to the inbound log first (idempotent on its
   Message-ID and recipient), so nothing accepted can be lost and a redelivery
   is recognised.
2. Bounces to a VERP return path are counted; machine mail (auto-replies, lists,
   bulk) is dropped unanswered.
3. The reply is matched to the person and comment it answers (a reply address was
   verified at RCPT already: :mod:`mailbridge.inbound.recipient_check`), the From
   address must be that person, and the sender's domain authentication is checked.
4. The reply text is extracted (:func:`mailbridge.extract.extract`, the same
   function ``mailbridge extract`` runs).
5. The comment, its moderation emails and the outcome on the inbound row commit
   in one transaction (:mod:`mailbridge.inbound.filing`); only then does the server
   answer 250.

Every outcome (a disposition and a reason code, with the checks' results) is
written back onto the inbound row, so the operator can see why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import aiosqlite

from mailbridge import logfmt
from mailbridge.addresses import same_mailbox
from mailbridge.classify.arf import parse_arf
from mailbridge.clock import Clock, iso
from mailbridge.errors import NotFound
from mailbridge.extract import Extractor, extract
from mailbridge.inbound.bounces import BounceAccounting
from mailbridge.inbound.checks import AuthDecision, InboundChecks
from mailbridge.inbound.complaints import COMPLAINT_TYPES, AbuseReports
from mailbridge.inbound.filing import ACCEPTED, ReplyFiling, reply_context
from mailbridge.inbound.headers import (
    claimed_address,
    dedup_key,
    from_address,
    header_block,
    message_id_of,
    parse_headers,
)
from mailbridge.inbound.moderation import ModerationByReply
from mailbridge.inbound.postmaster import keep_for_postmaster
from mailbridge.inbound.recipient_check import RecipientCheck
from mailbridge.inbound.recipients import Kind, Recipient, kind_of, loggable
from mailbridge.inbound.reply_text import ExtractionFailed, comment_text
from mailbridge.inbound.targets import ReplyTarget, TargetResolver
from mailbridge.inbound.unsubscribe import MailtoUnsubscribe
from mailbridge.mail_events import MailEventAccounting
from mailbridge.moderate.service import CommentService
from mailbridge.notify import Notifier
from mailbridge.rejections import (
    AddressUnsubscribed,
    AuthenticationFailed,
    AuthenticationUnavailable,
    AutomatedMessage,
    Rejection,
    SenderMismatch,
    ThreadClosed,
)
from mailbridge.settings import Settings
from mailbridge.store import Store, inbound
from mailbridge.store.inbound import Disposition
from mailbridge.store.subscriptions import Level
from mailbridge.tokens import Keyring, read_bounce_token
from mailbridge.workers.offload import AsyncExtractor, offloaded

__all__ = ["ExtractionFailed", "ReplyIntake", "SmtpEnvelope", "dedup_key", "naming"]

log = logging.getLogger(__name__)

DUPLICATE = "250 2.0.0 Already received: this message was delivered before"


@dataclass(frozen=True)
class SmtpEnvelope:
    peer: str
    helo: str
    mail_from: str
    rcpt_to: str
    raw: bytes
    # What the reply address answers, as verified at RCPT in this same SMTP transaction
    # (check_recipient): DATA does not read and verify it again. None: resolved at DATA.
    target: ReplyTarget | None = None
    # Read from a mailbox (IMAP) or posted by a mail service's webhook: no sending server
    # will bounce a refusal back to its writer, so whoever can be told is told by email.
    fetched: bool = False


@dataclass
class _Checks:
    """What the pipeline found, for the inbound log (and who the reply was from)."""

    found: dict[str, Any] = field(default_factory=dict)
    target: ReplyTarget | None = None
    # A moderator whose reply passed DKIM/DMARC: told by email why it was refused, when
    # nothing else tells them (a fetched message: no bounce reaches them).
    moderator: ReplyTarget | None = None

    def authenticated_moderator(self, moderator: ReplyTarget) -> None:
        self.moderator = moderator


class ReplyIntake:
    def __init__(
        self,
        *,
        store: Store,
        service: CommentService,
        notifier: Notifier,
        keyring: Keyring,
        settings: Settings,
        clock: Clock,
        checks: InboundChecks,
        extractor: Extractor = extract,
        run_extractor: AsyncExtractor | None = None,
        queued: Callable[[], None] = lambda: None,
        mail_events: MailEventAccounting | None = None,
    ) -> None:
        """``mail_events``: where complaints (abuse reports) are counted; one without
        metrics when None."""
        self._store = store
        self._notifier = notifier
        self._keyring = keyring
        self._settings = settings
        self._clock = clock
        self._checks = checks
        # How extraction is called (mailbridge.workers: in a worker process).
        self._extract = run_extractor or offloaded(extractor, None)
        self._queued = queued  # told after a commit that queued mail (wakes the worker)
        self._filing = ReplyFiling(service, clock)
        self._targets = TargetResolver(store, keyring.reply, settings.smtp.reply_domain)
        self._bounces = BounceAccounting(store, checks, settings.inbound.hard_bounce_limit)
        self._complaints = AbuseReports(
            store,
            mail_events or MailEventAccounting(store, clock, settings.inbound.hard_bounce_limit),
        )
        self._unsubscribes = MailtoUnsubscribe(store, keyring.subscription, clock)
        self._moderation = ModerationByReply(
            store=store,
            service=service,
            key=keyring.moderation,
            settings=settings,
            clock=clock,
            checks=checks,
            extractor=extractor,
        )
        self._recipients = RecipientCheck(
            store=store,
            keyring=keyring,
            settings=settings,
            clock=clock,
            targets=self._targets,
            unsubscribes=self._unsubscribes,
            moderation=self._moderation,
        )
        # RCPT (mailbridge.inbound.recipient_check): verify one recipient, returning
        # what a reply address answers; record one refused (the operator sees those).
        self.check_recipient = self._recipients.check
        self.log_refusal = self._recipients.log_refusal
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # -- DATA ---------------------------------------------------------------

    async def drain(self, seconds: float) -> bool:
        """Wait until no message is being processed; False if ``seconds`` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def receive(self, envelope: SmtpEnvelope) -> str:
        """Process one message; return the SMTP reply to DATA."""
        self._in_flight += 1
        self._idle.clear()
        context = logfmt.inbound_id.set(None)  # this message's lines only (a session sends many)
        try:
            return await self._receive(envelope)
        finally:
            logfmt.inbound_id.reset(context)
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _receive(self, envelope: SmtpEnvelope) -> str:
        headers = parse_headers(envelope.raw)
        message_id = message_id_of(headers)
        recipient = kind_of(
            envelope.rcpt_to,
            self._settings.smtp.reply_domain,
            self._settings.smtp.extra_recipients,
        )
        received = inbound.Received(
            dedup_key=dedup_key(message_id, envelope.raw, envelope.rcpt_to),
            message_id=message_id,
            received_at=iso(self._clock.now()),
            peer=envelope.peer,
            helo=envelope.helo,
            mail_from=envelope.mail_from,
            rcpt_to=envelope.rcpt_to,
            raw=envelope.raw,
            headers=header_block(envelope.raw),
            address_id=claimed_address(recipient),
        )
        record, is_new = await self._store.write(lambda c: inbound.record(c, received))
        logfmt.inbound_id.set(record.id)  # on every line logged about it from here on
        where = f"inbound {record.id} {message_id or '(no Message-ID)'}"
        if not is_new and record.status not in (Disposition.RECEIVED, Disposition.REFUSED):
            log.info("%s: redelivery of a message already %s", where, record.status)
            return naming(record.detail if record.detail else DUPLICATE, record.id)
        checks = _Checks()
        try:
            reply = await self._process(record.id, recipient, envelope, headers, checks, where)
        except ExtractionFailed as exc:
            log.error("%s: extraction failed (%s); answered 451, raw message kept", where, exc)
            raise
        except Rejection as rejection:
            reply = await self._reject(record.id, rejection, checks, where, envelope)
        return naming(reply, record.id)

    async def reprocess(self, inbound_id: int) -> str:
        """Run a stored message through the pipeline again (e.g. after a parser fix)."""
        stored = await self._store.read(lambda c: inbound.stored_envelope(c, inbound_id))
        if stored is None:
            raise NotFound(f"no inbound message {inbound_id}")
        if stored.raw is None:
            raise NotFound(f"inbound message {inbound_id} has no raw bytes left (retention)")
        envelope = SmtpEnvelope(
            stored.peer, stored.helo, stored.mail_from, stored.rcpt_to, stored.raw
        )
        headers = parse_headers(envelope.raw)
        recipient = kind_of(
            envelope.rcpt_to,
            self._settings.smtp.reply_domain,
            self._settings.smtp.extra_recipients,
        )
        where = f"inbound {inbound_id} {stored.message_id or '(no Message-ID)'} (reprocess)"
        checks = _Checks()
        try:
            return await self._process(inbound_id, recipient, envelope, headers, checks, where)
        except Rejection as rejection:
            return await self._reject(inbound_id, rejection, checks, where, envelope)

    async def _process(
        self,
        inbound_id: int,
        recipient: Recipient,
        envelope: SmtpEnvelope,
        headers: Message,
        checks: _Checks,
        where: str,
    ) -> str:
        now = iso(self._clock.now())
        if recipient.kind in (Kind.POSTMASTER, Kind.BOUNCE):
            # A feedback loop's report of a reader's "Report spam" (docs/machine-mail.md).
            abuse = parse_arf(envelope.raw)
            if abuse is not None and abuse.feedback_type in COMPLAINT_TYPES:
                verp = None
                if recipient.kind is Kind.BOUNCE:
                    verp = read_bounce_token(self._keyring.bounce, recipient.token)
                return await self._complaints.handle(inbound_id, abuse, verp, where)
        if recipient.kind is Kind.POSTMASTER:
            subject = str(headers.get("Subject", ""))
            return await keep_for_postmaster(
                self._store, inbound_id, envelope.mail_from, subject, where
            )
        if recipient.kind is Kind.UNSUBSCRIBE:
            # Before any machine check: a provider's unsubscribe robot is a machine too.
            return await self._unsubscribes.apply(inbound_id, recipient.token)
        if recipient.kind is Kind.BOUNCE:
            outbox_id = read_bounce_token(self._keyring.bounce, recipient.token)
            return await self._bounces.handle(
                inbound_id, envelope.raw, envelope.mail_from, outbox_id, now
            )
        machine = self._checks.machine(headers, envelope.mail_from)
        if machine is not None:
            checks.found["machine"] = {
                "code": machine.code,
                "evidence": machine.evidence,
                "signals": list(machine.signals),
            }
            report = self._checks.bounce(envelope.raw, envelope.mail_from)
            if report is not None:  # some servers bounce to From instead of Return-Path
                return await self._bounces.handle(
                    inbound_id, envelope.raw, envelope.mail_from, None, now, report
                )
            raise AutomatedMessage(code=f"automated.{machine.code}")
        if recipient.kind is Kind.MODERATE:
            return await self._moderation.handle(
                inbound_id, recipient.token, envelope.raw, envelope.peer, headers, where,
                authenticated=checks.authenticated_moderator,
            )  # fmt: skip
        if recipient.kind is Kind.REPLY:
            target = envelope.target or await self._targets.from_token(recipient.token)
        else:
            target = await self._targets.from_headers(headers)
        checks.found["target"] = {"comment": target.comment_id, "via": target.via}
        checks.target = target
        await self._recipients.check_live(target)
        sender = from_address(headers)
        # Normalised forms: "Ann@EXÄMPLE.org" is the "ann@xn--exmple-cua.org" we wrote to.
        if not same_mailbox(sender, target.email):
            raise SenderMismatch()
        held_reason = await self._authenticate(envelope.raw, sender, envelope.peer, checks)
        thread_closed, level, sent, author = await self._store.read(
            lambda c: reply_context(c, target)
        )
        if thread_closed:
            raise ThreadClosed()
        if level is Level.NONE:
            # They asked to hear nothing more of this conversation (or of the site):
            # their old reply addresses stop filing comments too.
            raise AddressUnsubscribed()
        # Parsing a large message is CPU work: in a worker process (another core), or in
        # a thread, never on the event loop (SMTP stays responsive).
        extraction, analysis = await self._extract(envelope.raw, sent)
        checks.found["extract"] = {
            "part": extraction.part,
            "chars": len(extraction.text),
            "attachments": len(extraction.attachments),
        }
        # The worker cleaned the text as it read it (analysis.body): not again here.
        body = comment_text(
            extraction,
            self._settings.inbound.min_reply_chars,
            analysis.body if analysis is not None else None,
        )  # or a rejection
        comment = await self._filing.file(
            inbound_id, target, extraction, body, analysis, author, held_reason, checks.found
        )
        log.info(
            "%s: %s as comment %d under comment %d",
            where,
            "held" if held_reason else "accepted",
            comment.id,
            target.comment_id,
        )
        return ACCEPTED

    async def _authenticate(
        self, raw: bytes, sender: str, peer: str, checks: _Checks
    ) -> str | None:
        """None to go on, the reason to hold it, or a refusal."""
        domain = sender.rpartition("@")[2].lower()
        outcome = await self._checks.authenticate(raw, domain, peer)
        checks.found["auth"] = {
            "decision": outcome.decision.value,
            "code": outcome.code,
            **outcome.record,
        }
        if outcome.decision is AuthDecision.REFUSE:
            raise AuthenticationFailed(outcome.summary, code=f"auth_failed.{outcome.code}")
        if outcome.decision is AuthDecision.TEMPFAIL:
            raise AuthenticationUnavailable(code=f"auth_unavailable.{outcome.code}")
        if outcome.decision is AuthDecision.HOLD:
            return outcome.summary
        return None

    async def _reject(
        self,
        inbound_id: int,
        rejection: Rejection,
        checks: _Checks,
        where: str,
        envelope: SmtpEnvelope,
    ) -> str:
        reply = rejection.smtp_reply
        target = checks.target
        if rejection.temporary:
            # The sender retries; the row stays "received" so the retry processes it.
            await self._store.write(
                lambda c: inbound.set_outcome(
                    c,
                    inbound_id,
                    Disposition.RECEIVED,
                    reason=rejection.code,
                    detail=reply,
                    checks=checks.found,
                )
            )
            log.info("%s: temporarily refused (%s)", where, rejection.code)
            return reply

        async def work(conn: aiosqlite.Connection) -> bool:
            await inbound.set_outcome(
                conn,
                inbound_id,
                Disposition(rejection.disposition),
                reason=rejection.code,
                detail=reply,
                checks=checks.found,
                address_id=None if target is None else target.address_id,
            )
            told = target if rejection.explanation else None
            if envelope.fetched and not rejection.accepted_at_smtp:
                # Over SMTP the moderator's own server bounces our 550 with its reason;
                # read from a mailbox or a webhook, nothing would ever tell them.
                told = told or checks.moderator
            if told is not None and self._checks.may_answer(
                parse_headers(envelope.raw), envelope.mail_from
            ):
                return await self._notifier.rejection_notice(
                    conn,
                    told.email,
                    told.address_id,
                    told.comment_id,
                    rejection,
                    in_reply_to=message_id_of(parse_headers(envelope.raw)),
                    thread_id=told.thread_id,
                )
            return False

        explained = await self._store.write(work)
        log.info(
            "%s from <%s>: %s (%s)%s",
            where,
            # By its domain only, as every refusal logs an address: the logs outlive
            # an erasure (journald, a collector); `mailbridge inbound ID` has it whole.
            loggable(envelope.mail_from),
            rejection.disposition,
            rejection.code,
            "; explanation emailed" if explained else "",
        )
        if explained:
            self._queued()
        return reply


def naming(reply: str, inbound_id: int) -> str:
    """The answer to DATA with the message's inbound id, as MTAs say "queued as": the
    relay logs it (Postfix's ``status=sent (250 ... (inbound 42))``), so the operator
    goes from that line to ``mailbridge inbound 42``, and a bounce carries it too."""
    return f"{reply} (inbound {inbound_id})"
