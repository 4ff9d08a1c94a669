"""The reply pipeline for one SMTP transaction: store, extract, check, file.

1. The raw message is written to ``inbound_messages`` first (idempotent on its
   Message-ID and recipient), so nothing accepted can be lost and a redelivery
   is recognised.
2. The reply text is extracted (:func:`mailbridge.extract.extract`, the same
   function ``mailbridge extract`` runs) and the sender is checked against the
   person the reply address was sent to.
3. The comment, its moderation emails and the "accepted" mark on the inbound
   row commit in one transaction; only then does the server answer 250.

Every outcome (accepted, or the reason code of the rejection) is written back
onto the inbound row.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

import aiosqlite

from mailbridge.clock import Clock, iso
from mailbridge.errors import (
    BadReplyToken,
    EmptyReply,
    ExpiredReplyToken,
    Rejection,
    SenderMismatch,
    UnknownComment,
    UnparseableMessage,
)
from mailbridge.extract import Extraction, extract
from mailbridge.inbound.addresses import parse_reply_address
from mailbridge.models import AttachmentNote, Comment, CommentStatus, NewComment, Source
from mailbridge.moderate.service import CommentService
from mailbridge.store import Store, comments, inbound, threads
from mailbridge.tokens import Keyring, ReplyToken

__all__ = ["ExtractionFailed", "ReplyIntake", "SmtpEnvelope", "dedup_key"]

log = logging.getLogger(__name__)

ACCEPTED = "250 2.0.0 Thank you: your reply was received and awaits moderation"
DUPLICATE = "250 2.0.0 Already received: this message was delivered before"


class ExtractionFailed(Exception):
    """The extractor could not handle a message: a bug on our side, retried via 451."""


@dataclass(frozen=True)
class SmtpEnvelope:
    peer: str
    helo: str
    mail_from: str
    rcpt_to: str
    raw: bytes


def dedup_key(message_id: str | None, raw: bytes, rcpt_to: str) -> str:
    """Same Message-ID to the same reply address is the same message (a redelivery)."""
    identity = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    return hashlib.sha256(f"{identity}\0{rcpt_to.lower()}".encode()).hexdigest()


def _headers(raw: bytes) -> Message:
    # Headers only, with the fast compat32 policy: the body is the extractor's job.
    return BytesHeaderParser(policy=compat32).parsebytes(raw)


def _from_address(headers: Message) -> str:
    values = [str(v) for v in headers.get_all("From", [])]
    found = [addr for _name, addr in getaddresses(values) if "@" in addr]
    if len(found) != 1:
        raise UnparseableMessage("The message needs exactly one From address.")
    return found[0]


class ReplyIntake:
    def __init__(
        self,
        store: Store,
        service: CommentService,
        keyring: Keyring,
        reply_domain: str,
        public_url: str,
        clock: Clock,
        extractor: Callable[[bytes], Extraction] = extract,
    ) -> None:
        self._store = store
        self._service = service
        self._keyring = keyring
        self._reply_domain = reply_domain
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self._extract = extractor
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def check_recipient(self, address: str) -> ReplyToken:
        """The reply token of an RCPT address, or the :class:`Rejection` that refuses it."""
        token = parse_reply_address(address, self._reply_domain, self._keyring.reply)
        if token.expired(self._clock.now().date()):
            raise ExpiredReplyToken(await self._expired_text(token))
        return token

    async def _expired_text(self, token: ReplyToken) -> str:
        # The MAC was genuine, so the comment id can be trusted to point at the thread.
        async def thread_key(conn: aiosqlite.Connection) -> str | None:
            comment = await comments.get_comment(conn, token.comment_id)
            if comment is None:
                return None
            thread = await threads.get_thread(conn, thread_id=comment.thread_id)
            return None if thread is None else thread.key

        key = await self._store.read(thread_key)
        if key is None:
            return ExpiredReplyToken.text
        url = f"{self._public_url}/threads/{key}#comment-{token.comment_id}"
        return f"This reply address has expired. Please reply on the website: {url}"

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
        try:
            return await self._receive(envelope)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _receive(self, envelope: SmtpEnvelope) -> str:
        headers = _headers(envelope.raw)
        raw_id = headers.get("Message-ID")
        message_id = " ".join(str(raw_id).split()) if raw_id else None
        received = inbound.Received(
            dedup_key=dedup_key(message_id, envelope.raw, envelope.rcpt_to),
            message_id=message_id,
            received_at=iso(self._clock.now()),
            peer=envelope.peer,
            helo=envelope.helo,
            mail_from=envelope.mail_from,
            rcpt_to=envelope.rcpt_to,
            raw=envelope.raw,
        )
        record, is_new = await self._store.write(lambda c: inbound.record(c, received))
        where = f"inbound {record.id} {message_id or '(no Message-ID)'}"
        if not is_new and record.status == "accepted":
            log.info("%s: duplicate delivery of an accepted message; nothing filed", where)
            return DUPLICATE
        if not is_new and record.status == "rejected" and record.detail:
            log.info("%s: duplicate delivery of a rejected message (%s)", where, record.reason)
            return record.detail
        try:
            comment = await self._file(record.id, envelope, headers)
        except ExtractionFailed as exc:
            log.error("%s: extraction failed (%s); answered 451, raw message kept", where, exc)
            raise
        except Rejection as rejection:
            reason, reply = rejection.reason, rejection.smtp_reply
            await self._store.write(lambda c: inbound.mark_rejected(c, record.id, reason, reply))
            log.info("%s from <%s>: rejected (%s)", where, envelope.mail_from, reason)
            return reply
        log.info(
            "%s: accepted as comment %d (pending) under comment %s",
            where,
            comment.id,
            comment.parent_id,
        )
        return ACCEPTED

    async def _file(self, inbound_id: int, envelope: SmtpEnvelope, headers: Message) -> Comment:
        token = await self.check_recipient(envelope.rcpt_to)
        sender = _from_address(headers)

        async def context(conn: aiosqlite.Connection) -> tuple[str | None, Comment | None, str]:
            recipient = await threads.address_email(conn, token.address_id)
            answered = await comments.get_comment(conn, token.comment_id)
            name = await comments.latest_author_name(conn, token.address_id)
            return recipient, answered, name or "Reader"

        recipient, answered, author = await self._store.read(context)
        if recipient is None:
            raise BadReplyToken()
        if sender.lower() != recipient.lower():
            raise SenderMismatch()
        if answered is None:
            raise UnknownComment()
        # Parsing a large message is CPU work; keep the event loop (and SMTP) responsive.
        extraction = await asyncio.to_thread(self._extract, envelope.raw)
        if not extraction.part and any(
            d.startswith("extraction failed") for d in extraction.defects
        ):
            # Our bug, not the sender's mistake: answer 451 (retry later), keep the raw
            # message, and let the operator reprocess it once fixed.
            raise ExtractionFailed("; ".join(extraction.defects))
        if not extraction.text.strip():
            raise EmptyReply()
        new = NewComment(
            thread_id=answered.thread_id,
            parent_id=answered.id,
            # The name they use on the blog, never the From display name: that may be
            # a real name the person did not choose to publish.
            author=author,
            body=extraction.text,
            status=CommentStatus.PENDING,
            source=Source.EMAIL,
            created_at=iso(self._clock.now()),
            email=recipient,
            notify=True,  # answering by email is asking to hear back
            source_ref=str(inbound_id),
            attachments=tuple(
                AttachmentNote(a.filename, a.content_type, a.size) for a in extraction.attachments
            ),
        )

        async def mark(conn: aiosqlite.Connection, comment: Comment) -> None:
            await inbound.mark_accepted(conn, inbound_id, comment.id)

        return await self._service.submit(new, also=mark)
