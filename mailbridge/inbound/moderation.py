"""Moderating by replying to the moderation email.

The moderation email's Reply-To is ``moderate+TOKEN@reply_domain`` (a purpose-bound,
expiring HMAC naming the comment and the moderator it was sent to). The moderator
answers with ``approve``, ``reject``, ``spam`` or ``trust`` on the first line; text
after a blank line is their own answer to the comment, published under it when the
verdict publishes the comment (and notifying its writer, as any approved reply).

Accepted only from that moderator's address, and only when the message passes
DKIM/DMARC for its From domain (the same checks as every inbound reply): a forged
From must never approve anything. The reply goes through the same extractor, so
the quoted moderation email and the signature are cut before the verdict is read.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Callable
from email.message import Message

import aiosqlite

from mailbridge.addresses import same_mailbox
from mailbridge.bridges.wordpress.links import off_blog
from mailbridge.clock import Clock, iso
from mailbridge.extract import Extractor
from mailbridge.extract.matchers import clean
from mailbridge.extract.signoffs import (
    closing_rest,
    sender_name_tokens,
    starts_with_sender_name,
)
from mailbridge.inbound.checks import InboundChecks
from mailbridge.inbound.headers import from_address
from mailbridge.inbound.sent import sent_texts
from mailbridge.inbound.targets import ReplyTarget
from mailbridge.models import Channel, CommentStatus, Decider, NewComment, Source
from mailbridge.moderate.moderators import moderates_all
from mailbridge.moderate.service import CommentService, ModeratorAnswer
from mailbridge.people import data as people
from mailbridge.rejections import (
    ExpiredReplyToken,
    ModeratorUnauthenticated,
    NotAModerator,
    UnknownComment,
    UnknownVerdict,
    VerdictNotAlone,
)
from mailbridge.settings import Settings
from mailbridge.store import Store, comments, inbound, threads
from mailbridge.store.inbound import Disposition
from mailbridge.text_rules import strip_spoofing
from mailbridge.tokens import Action, read_moderation_reply_token

__all__ = ["ModerationByReply", "parse_verdict"]

_VERDICTS = {
    "approve": Action.APPROVE,
    "approved": Action.APPROVE,
    "reject": Action.REJECT,
    "rejected": Action.REJECT,
    "spam": Action.SPAM,
    "trust": Action.TRUST,
}
# Before the word: "*Approve*" or "**Approve**" (bold, as clients render it in text), a
# zero-width space or byte order mark some clients put first, a bullet or a quote mark.
_WORD = re.compile(r"[\W_]*([a-z]+)")
_NAME_WORD = re.compile(r"[^\W\d_]+")


def parse_verdict(text: str, sender: str = "") -> tuple[Action, str]:
    """The verdict on the first line, and the answer after the first blank line.

    ``sender`` is the From value: an answer that is only a sign-off ("Thanks,
    Joseph", "J.") was written to us, not to the commenter, and is not an answer.
    """
    lines = text.strip().splitlines()
    if not lines:
        raise UnknownVerdict()
    # NFKC: full-width letters typed with an East Asian keyboard are the same word.
    word = _WORD.match(unicodedata.normalize("NFKC", lines[0]).strip().lower())
    action = _VERDICTS.get(word.group(1)) if word else None
    if action is None:
        raise UnknownVerdict()
    rest = "\n".join(lines[1:])
    blank = re.search(r"^\s*$", rest, re.MULTILINE)
    under, answer = (rest[: blank.start()], rest[blank.end() :]) if blank else (rest, "")
    name = sender_name_tokens(sender)
    if not (_only_signoff(_unquoted(under), name) or _signature(under, name)):
        # "Approve\nThanks Ann, ..." typed on a phone: an answer, or a note to us? Asked
        # back rather than guessed: words dropped or wrongly published cannot be undone.
        raise VerdictNotAlone()
    answer = _unquoted(answer)
    if _only_signoff(answer, name):
        return action, ""
    return action, answer


def _unquoted(answer: str) -> str:
    """The answer without its "> " lines: a reply written under and between the quoted
    moderation email keeps that quote, and it holds the commenter's address and the
    moderation links. The commenter's words are on the page above the answer anyway."""
    kept = [line for line in answer.splitlines() if not line.lstrip().startswith(">")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def _only_signoff(answer: str, name: tuple[str, ...]) -> bool:
    """True for "Thanks", "Thanks,\nJoseph", "Joseph Burgo", "J.": a closing and the
    sender's own name (or initials), nothing else."""
    lines = [clean(line) for line in answer.splitlines() if line.strip()]
    if not lines or len(lines) > 3:
        return not lines
    rest = closing_rest(lines[0])
    words = _NAME_WORD.findall(" ".join([rest if rest is not None else lines[0], *lines[1:]]))
    if rest is None and not words:
        return False
    return all(w.lower() in name or _initials(w, name) for w in words)


def _signature(under: str, name: tuple[str, ...]) -> bool:
    """A signature block typed with no "-- " right under the verdict: a few lines, the
    first starting with the sender's full name ("Joseph Burgo, PhD")."""
    lines = [clean(line) for line in under.splitlines() if line.strip()]
    return 0 < len(lines) <= 6 and len(name) > 1 and starts_with_sender_name(lines[0], name)


def _initials(word: str, name: tuple[str, ...]) -> bool:
    """ "J" or "JB" for Joseph Burgo."""
    if not name or (len(word) > 1 and not (word.isupper() and len(word) <= len(name))):
        return False
    return all(t.startswith(c) for c, t in zip(word.lower(), name, strict=False))


class ModerationByReply:
    def __init__(
        self,
        *,
        store: Store,
        service: CommentService,
        key: bytes,
        settings: Settings,
        clock: Clock,
        checks: InboundChecks,
        extractor: Extractor,
    ) -> None:
        self._store = store
        self._service = service
        self._key = key
        self._settings = settings
        self._clock = clock
        self._checks = checks
        self._extract = extractor

    def check_token(self, token: str) -> tuple[int, int]:
        """(comment id, moderator id) of a live token; a Rejection otherwise."""
        comment_id, moderator_id, expires = read_moderation_reply_token(self._key, token)
        if expires < self._clock.now().date():
            # Read by a moderator in their provider's bounce, maybe on a phone: the queue
            # page works for every moderator, the command only for the operator.
            queue = self._settings.site.public_url.rstrip("/") + "/moderate"
            raise ExpiredReplyToken(
                "This moderation address has expired, so nothing was changed; decide on "
                f"the queue page, {queue} (or with `mailbridge comment {comment_id} "
                "--approve`, --reject, --spam)."
            )
        return comment_id, moderator_id

    async def _moderator(
        self, comment_id: int, moderator_id: int
    ) -> tuple[str, str, str, list[str], int]:
        """(the moderator's address, the thread's author address or "", its author name,
        the moderation email sent to them and the comment: what their reply quotes, the
        thread's id)."""

        async def work(conn: aiosqlite.Connection) -> tuple[str, str, str, list[str], int]:
            comment = await comments.get_comment(conn, comment_id)
            if comment is None:
                # Deleted since (admin API): a 550 that says so. NotFound answered 451, and
                # the moderator's server retried for days, then bounced with no reason.
                raise UnknownComment(
                    "The comment this moderation email is about no longer exists (it was "
                    "deleted), so nothing was changed."
                )
            if people.removed(comment):
                raise UnknownComment(
                    "The comment this moderation email is about was erased at its writer's "
                    "request, so nothing was changed."
                )
            thread = await threads.get_thread(conn, thread_id=comment.thread_id)
            assert thread is not None
            email = await threads.address_email(conn, moderator_id)
            owner = ""
            if thread.author_address_id is not None:
                owner = await threads.address_email(conn, thread.author_address_id) or ""
            # Without it, a quote with no "On ... wrote:" nor "> " was taken for the
            # answer, and published: the commenter's address, the moderation links.
            sent = await sent_texts(conn, email or "", comment_id, ("moderation_request",) * 2)
            return email or "", owner, thread.author, sent, thread.id

        return await self._store.read(work)

    async def _closed(self, thread_id: int) -> bool:
        thread = await self._store.read(lambda c: threads.get_thread(c, thread_id=thread_id))
        return thread is None or thread.closed

    async def handle(
        self,
        inbound_id: int,
        token: str,
        raw: bytes,
        peer: str,
        headers: Message,
        where: str,
        authenticated: Callable[[ReplyTarget], None] = lambda moderator: None,
    ) -> str:
        """Decide as the moderator's reply says. ``authenticated`` learns who they are
        once their reply passed DKIM/DMARC: a refusal after that may be explained to
        them (the caller does, when no bounce would reach them)."""
        comment_id, moderator_id = self.check_token(token)
        moderator, owner, owner_name, sent, thread_id = await self._moderator(
            comment_id, moderator_id
        )
        sender = from_address(headers)
        if not moderator or not same_mailbox(sender, moderator):
            raise NotAModerator()
        if not (
            moderates_all(self._settings.moderation.moderators, sender)
            or (owner and same_mailbox(sender, owner))
        ):
            raise NotAModerator()  # no longer a moderator of this thread
        domain = sender.rpartition("@")[2].lower()
        outcome = await self._checks.authenticate(raw, domain, peer)
        result = outcome.record.get("result")
        if not (isinstance(result, dict) and result.get("status") == "authenticated"):
            raise ModeratorUnauthenticated(code=f"moderator_unauthenticated.{outcome.code}")
        authenticated(
            ReplyTarget(moderator_id, moderator, comment_id, thread_id, None, "moderation")
        )
        extraction = await asyncio.to_thread(self._extract, raw, sent)
        action, answer = parse_verdict(
            strip_spoofing(extraction.text), str(headers.get("From", ""))
        )
        by = Decider(Channel.REPLY, moderator_id)
        decided = await self._service.moderate(comment_id, action, by)
        published = decided.comment.status is CommentStatus.APPROVED
        answered: ModeratorAnswer | None = None
        # Closed since the comment came (by hand, or by WordPress: by age, say): the
        # answer is a new comment like any other, which a bridged post refuses too.
        closed = bool(answer) and published and await self._closed(thread_id)
        if answer and published and not closed:
            is_owner = bool(owner) and same_mailbox(sender, owner)
            answered = await self._service.answer_as_moderator(
                NewComment(
                    thread_id=decided.comment.thread_id,
                    parent_id=comment_id,
                    author=(owner_name if is_owner and owner_name else "Moderator"),
                    body=answer,
                    status=CommentStatus.PENDING,
                    source=Source.EMAIL,
                    created_at=iso(self._clock.now()),
                    email=sender,
                    source_ref=str(inbound_id),
                ),
                by,
            )
        reply = f"250 2.0.0 Done: comment {comment_id} is {decided.comment.status.value}"
        if answered is not None and answered.held:
            # Its words, not the moderator's verdict, hold it: they approve it as they
            # see it, from the moderation email it gets like any comment.
            before = " (as sent before)" if answered.again else ""
            reply += (
                f"; your answer is held as comment {answered.id}{before}, since it may "
                f"reveal personal details ({', '.join(answered.held)}): approve it from "
                "its moderation email or the queue page if that is what you meant"
            )
        elif answered is not None and answered.again:
            reply += f"; your answer was published before, as comment {answered.id}"
        elif answered is not None:
            reply += f"; your answer is published as comment {answered.id}"
        elif closed:
            reply += (
                "; your answer was not published: this conversation is closed to new "
                "comments (open it again, then send your answer again)"
            )
        elif answer:
            reply += "; your answer was not published, since the comment is not"
        if published and await self._store.read(lambda c: off_blog(c, comment_id)):
            # Said where the moderator decides, not only in the log and 'mailbridge status'.
            reply += (
                "; comments are closed on its post in WordPress, so it is published here "
                "only: it goes to the blog if the post takes comments again"
            )
        await self._store.write(
            lambda c: inbound.set_outcome(
                c,
                inbound_id,
                Disposition.ACCEPTED,
                reason=f"moderated.{action.verb.replace(' ', '_')}",
                detail=reply,
                checks={"auth": {"code": outcome.code, **outcome.record}},
                comment_id=answered.id if answered else comment_id,
                address_id=moderator_id,
            )
        )
        return reply
