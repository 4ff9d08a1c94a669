"""Why an inbound message or recipient is not posted: one class per reason.

::

    Rejection
    ├── RelayDenied             RCPT to a domain that is not the reply domain   550 5.7.1
    ├── UnknownRecipient        RCPT to the reply domain but not reply+TOKEN    550 5.1.1
    ├── BadReplyToken           reply token malformed, forged or revoked        550 5.1.1
    ├── ExpiredReplyToken       genuine reply token past its expiry             550 5.1.1
    ├── TooManyReplyAddresses   a second reply address in one transaction       452 4.5.3
    ├── TooManyRecipients       more RCPTs than limits.smtp_recipients_...      452 4.5.3
    ├── SenderRateLimited       too many replies from one person this hour      450 4.7.1
    ├── ThreadRateLimited       too many new comments on the thread this hour   450 4.7.1
    ├── UnknownComment          the token's comment no longer exists            550 5.1.1
    ├── SenderMismatch          From is not the person the token was sent to    550 5.7.1
    ├── AuthenticationFailed    the From domain's DMARC policy says reject      550 5.7.1
    ├── AuthenticationUnavailable  DNS unreachable and policy says try later    451 4.7.0
    ├── UnparseableMessage      no usable From header                           550 5.6.0
    ├── AutomatedMessage        an auto-reply, list or bulk mail: dropped       250 2.0.0
    ├── NoReplyFound            a message to an extra address with no token     550 5.1.1
    ├── EmptyReply              nothing of the writer's own is left   250, explained by email
    ├── TooShort                shorter than inbound.min_reply_chars  250, explained by email
    ├── CommentTooLong          longer than a comment (20,000 chars)  250, explained by email
    ├── UnreadableStructure     MIME nested too deep to read                    550 5.6.0
    ├── NotAModerator           moderation by reply from someone else           550 5.7.1
    ├── ModeratorUnauthenticated  a moderator's reply failing DKIM/DMARC        550 5.7.1
    ├── UnknownVerdict          a moderation reply without approve/reject/...   550 5.6.0
    ├── VerdictNotAlone         words right under the verdict, no blank line    550 5.6.0
    ├── ThreadClosed            the thread no longer takes comments   250, explained by email
    └── AddressUnsubscribed     the person stopped this conversation  250, explained by email


A :class:`Rejection` subclass carries everything about its reason on the class:
the SMTP answer (``smtp_code``, ``smtp_status``, ``text``), the machine-readable
``reason`` stored in the inbound log, the ``disposition`` recorded, and whether
the person is sent an ``explanation`` by email. Adding a reason is one class here
and one entry in ``docs/rejections.md`` (a test checks both).

Why some answer 250: when a person's reply cannot be posted for a reason they can
fix (empty, too short, thread closed), they get one clear email from us rather
than a bounce from their own provider; the message is kept either way.
"""

from __future__ import annotations

from typing import ClassVar

from mailbridge.errors import MailbridgeError

__all__ = [
    "AddressUnsubscribed",
    "AuthenticationFailed",
    "AuthenticationUnavailable",
    "AutomatedMessage",
    "BadReplyToken",
    "CommentTooLong",
    "EmptyReply",
    "ExpiredReplyToken",
    "MessageTooLarge",
    "ModeratorUnauthenticated",
    "NoReplyFound",
    "NotAModerator",
    "Rejection",
    "RelayDenied",
    "SenderMismatch",
    "SenderRateLimited",
    "ThreadClosed",
    "ThreadRateLimited",
    "TooManyRecipients",
    "TooManyReplyAddresses",
    "TooShort",
    "UnknownComment",
    "UnknownRecipient",
    "UnknownVerdict",
    "UnparseableMessage",
    "UnreadableStructure",
    "rejection_classes",
]


class Rejection(MailbridgeError):
    """An inbound recipient or message refused, with the SMTP reply that says why.

    ``reason`` is the machine-readable code stored on the inbound record and shown
    to the operator; ``text`` is what the sending server (and so the person) is told.
    """

    smtp_code: ClassVar[int] = 550
    smtp_status: ClassVar[str] = "5.7.1"
    reason: ClassVar[str] = "rejected"
    text: ClassVar[str] = "Message refused."
    disposition: ClassVar[str] = "rejected"
    # Set on reasons a person can fix: the paragraph of the email that tells them.
    explanation: ClassVar[str | None] = None

    def __init__(
        self, text: str | None = None, *, code: str | None = None, retry_after: int | None = None
    ) -> None:
        self.detail = text if text is not None else type(self).text
        # The reason code stored in the inbound log: the class's, or a finer one
        # (e.g. "automated.out_of_office_subject").
        self.code = code or type(self).reason
        # For rate limits: seconds until trying again can succeed (HTTP Retry-After).
        self.retry_after = retry_after
        super().__init__(self.detail)

    @property
    def smtp_reply(self) -> str:
        # One line: CR/LF in a reply would break the SMTP dialogue.
        detail = " ".join(self.detail.split())
        return f"{self.smtp_code} {self.smtp_status} {detail}"

    @property
    def temporary(self) -> bool:
        return 400 <= self.smtp_code < 500

    @property
    def accepted_at_smtp(self) -> bool:
        """True when the SMTP answer is 250: the message is kept, just not posted."""
        return 200 <= self.smtp_code < 300


class RelayDenied(Rejection):
    reason = "relay_denied"
    text = "Relaying denied: this server only accepts replies to its own reply addresses."


class UnknownRecipient(Rejection):
    smtp_status = "5.1.1"
    reason = "unknown_recipient"
    text = "No such mailbox: only reply addresses from notification emails are accepted."


class BadReplyToken(Rejection):
    smtp_status = "5.1.1"
    reason = "bad_token"
    text = "This reply address is not valid (it may have been mistyped or altered)."


class ExpiredReplyToken(Rejection):
    smtp_status = "5.1.1"
    reason = "expired_token"
    text = (
        "This reply address has expired, so nothing was posted; newer emails from the "
        "conversation carry a reply address that works."
    )
    # Over SMTP it is refused at RCPT and the sender's own server bounces it with the
    # text above. A reply read from a mailbox or a mail service's webhook has no one to
    # bounce it: it is stored, and the person it was for is told (inbound/fetched.py).
    explanation = (
        "Your reply arrived, but the email you answered is too old: its reply address "
        "has expired, so nothing was posted. Your words are not lost: you have them in "
        "your sent mail. Answer a newer email from the conversation: each carries a "
        "reply address that works."
    )


class TooManyReplyAddresses(Rejection):
    smtp_code = 452
    smtp_status = "4.5.3"
    reason = "too_many_reply_addresses"
    text = "One reply address per message, please send the others separately."


class TooManyRecipients(Rejection):
    smtp_code = 452
    smtp_status = "4.5.3"
    reason = "too_many_recipients"
    text = "Too many recipients for one message."


class SenderRateLimited(Rejection):
    smtp_code = 450
    smtp_status = "4.7.1"
    reason = "sender_rate_limited"
    text = "Too many replies from you in the last hour; please try again later."


class ThreadRateLimited(Rejection):
    smtp_code = 450
    smtp_status = "4.7.1"
    reason = "thread_rate_limited"
    text = "This conversation is receiving too many replies right now; please try again later."


class UnknownComment(Rejection):
    smtp_status = "5.1.1"
    reason = "unknown_comment"
    text = "The comment this address replies to no longer exists."


class SenderMismatch(Rejection):
    reason = "sender_mismatch"
    text = (
        "This reply address belongs to someone else: reply from the address "
        "the notification was sent to."
    )


class AuthenticationFailed(Rejection):
    reason = "auth_failed"
    text = "The sender's domain asks receivers to reject mail that fails its checks."


class AuthenticationUnavailable(Rejection):
    smtp_code = 451
    smtp_status = "4.7.0"
    reason = "auth_unavailable"
    text = "Cannot check the sender's domain right now (DNS unavailable); try again later."


class MessageTooLarge(Rejection):
    """Larger than smtp.max_message_size: read from a mailbox, or over SMTP (at MAIL when
    its SIZE says so, else at the end of DATA; mailbridge.inbound.server)."""

    smtp_code = 552
    smtp_status = "5.3.4"
    reason = "too_large"
    text = "The message is larger than this server accepts."


class UnparseableMessage(Rejection):
    smtp_status = "5.6.0"
    reason = "unparseable"
    text = "The message needs exactly one From address."


class AutomatedMessage(Rejection):
    """Machine mail: accepted at SMTP (so no bounce is generated) and dropped, unanswered."""

    smtp_code = 250
    smtp_status = "2.0.0"
    reason = "automated"
    text = "Automatic message received; it is not posted and not answered."
    disposition = "dropped"


class NoReplyFound(Rejection):
    smtp_status = "5.1.1"
    reason = "no_reply_address"
    text = (
        "No reply address found in this message: please use Reply on the notification "
        "email so the reply goes to its reply address."
    )


class EmptyReply(Rejection):
    smtp_code = 250
    smtp_status = "2.0.0"
    reason = "empty_reply"
    text = "Received, but not posted: nothing was left once the quoted email was removed."
    explanation = (
        "Your reply arrived, but once the quoted notification was removed nothing of "
        "your own was left, so nothing was posted. Write your answer above the quoted "
        "text and send it again."
    )


class TooShort(Rejection):
    smtp_code = 250
    smtp_status = "2.0.0"
    reason = "too_short"
    text = "Received, but not posted: the reply is too short."
    explanation = (
        "Your reply arrived, but it was too short to post as a comment. Write a little "
        "more and send it again."
    )


class CommentTooLong(Rejection):
    smtp_code = 250
    smtp_status = "2.0.0"
    reason = "too_long"
    text = "Received, but not posted: the reply is longer than a comment can be."
    explanation = (
        "Your reply arrived, but it is longer than a comment can be (20,000 "
        "characters), so it was not posted. Your words are not lost: you have them in "
        "your sent mail. Shorten it, or split it in two, and send it again."
    )


class UnreadableStructure(Rejection):
    smtp_status = "5.6.0"
    reason = "unreadable_structure"
    text = (
        "The message's MIME parts are nested too deeply to read, so nothing was posted; "
        "please send your reply as ordinary text."
    )


class NotAModerator(Rejection):
    reason = "not_moderator"
    text = (
        "Only the blog's moderators can moderate by email, from the address the "
        "moderation email was sent to."
    )


class ModeratorUnauthenticated(Rejection):
    reason = "moderator_unauthenticated"
    text = (
        "Moderating by email needs mail that passes DKIM/DMARC for your domain, and this "
        "message does not; please use the buttons in the moderation email."
    )


class UnknownVerdict(Rejection):
    smtp_status = "5.6.0"
    reason = "unknown_verdict"
    text = (
        "The first line of your reply must be approve, reject, spam or trust; nothing was changed."
    )


class VerdictNotAlone(Rejection):
    smtp_status = "5.6.0"
    reason = "verdict_not_alone"
    text = (
        "Your reply has words on the line right under the verdict: leave a blank line "
        "between the verdict and your answer (or send the verdict alone); nothing was changed."
    )


class ThreadClosed(Rejection):
    smtp_code = 250
    smtp_status = "2.0.0"
    reason = "thread_closed"
    text = "Received, but not posted: this conversation is closed to new comments."
    explanation = (
        "Your reply arrived, but this conversation is closed to new comments, so it was not posted."
    )


class AddressUnsubscribed(Rejection):
    smtp_code = 250
    smtp_status = "2.0.0"
    reason = "address_unsubscribed"
    text = "Received, but not posted: you asked for no more emails about this conversation."
    explanation = (
        "Your reply arrived, but you asked us to stop emailing you about this "
        "conversation, so replying by email is turned off for you and it was not "
        "posted. To post it, turn emails back on with the settings link below and send "
        "it again."
    )


def rejection_classes() -> list[type[Rejection]]:
    """Every concrete rejection reason, for docs and completeness tests."""
    found: list[type[Rejection]] = []
    pending: list[type[Rejection]] = [Rejection]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found.append(sub)
            pending.append(sub)
    return sorted(found, key=lambda c: c.__name__)
