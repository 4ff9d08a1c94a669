"""Delivery status notifications: who failed, how (hard or soft), and for which message.

:func:`parse_bounce` reads a raw message and returns a :class:`Bounce` when it is
a delivery report, else ``None`` (a person, an out-of-office: an auto-reply is
not a bounce).  It recognises

* RFC 3464 reports (``multipart/report; report-type=delivery-status``, also the
  RFC 6533 ``message/global-delivery-status``): Postfix, current Exim, Sendmail,
  Exchange and Office 365, Gmail, Yahoo, every modern MTA.  One entry per
  recipient block: Final-Recipient, Original-Recipient, Action, Status,
  Diagnostic-Code, Remote-MTA.  A report with ``Action: delivered`` (or relayed,
  expanded) is recognised and says so: its entries have kind ``"none"``;
* the text formats (see :mod:`mailbridge.classify.bounce_text`): qmail, Yahoo,
  Exim's plain bounce and delay warning, Postfix, Sendmail, Exchange / Office 365,
  Gmail, and any mailer-daemon text quoting an SMTP error code.

The returned message is read too (``message/rfc822``, ``text/rfc822-headers``,
or the copy below a plain bounce) for its headers and Message-ID, so the caller
can find which of our messages bounced.  Our VERP return path remains the
authority on the address; the report's addresses are what the report says.

Fast on ordinary mail: the header section is parsed alone first, and a message
whose headers show nothing of a delivery report (a report content type, a
mailer-daemon sender, an NDR header, a bounce subject, ``Auto-Submitted``) is
answered ``None`` without parsing its body.  Only the first ``MAX_PARSE_BYTES``
of a report are parsed: the report comes first, the returned message last.
"""

# Bounce subjects and reply prefixes in many languages (full-width colon included):
# ruff: noqa: RUF001

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.policy import compat32
from html import unescape

from mailbridge.classify.automated import is_machine_address
from mailbridge.classify.bounce_text import TextReport, read_generic, read_text_report
from mailbridge.classify.headers import (
    HeaderView,
    decode_bytes,
    decode_words,
    keyword,
    parse_head,
)
from mailbridge.classify.status import Kind, failure_kind, refine_status

__all__ = ["MAX_PARSE_BYTES", "Bounce", "BounceRecipient", "parse_bounce"]

#: Only this much of a report is parsed (the returned message may be cut off).
MAX_PARSE_BYTES = 1024 * 1024
#: The human-readable text of a report is read up to this many characters.
MAX_TEXT = 200_000
#: At most this many MIME parts are looked at, and this many recipients kept.
MAX_PARTS = 200
MAX_RECIPIENTS = 100
#: At most this many header fields of the returned message are kept.
MAX_ORIGINAL_HEADERS = 100

_STATUS_TYPES = frozenset(
    {"message/delivery-status", "message/global-delivery-status", "text/delivery-status"}
)
_ORIGINAL_TYPES = frozenset({"message/rfc822", "message/global"})
_ORIGINAL_HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})
_ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})


@dataclass(frozen=True)
class BounceRecipient:
    """What the report says about one recipient."""

    address: str  # Final-Recipient (else Original-Recipient); "" when the report names none
    action: str  # failed | delayed | delivered | relayed | expanded
    status: str  # enhanced status code ("5.1.1"); "" when the report gives none
    diagnostic: str  # the remote server's answer, one line, at most 1000 characters
    kind: Kind  # hard | soft | none (see mailbridge.classify.status)
    original_address: str = ""  # Original-Recipient when the report gives it
    remote_mta: str = ""  # the server that answered, when the report says


@dataclass(frozen=True)
class Bounce:
    """A delivery report: its format, one entry per recipient, the returned message."""

    format: str  # rfc3464 | qmail | yahoo | exim | postfix | sendmail | exchange | gmail | generic
    recipients: tuple[BounceRecipient, ...]
    original_message_id: str | None  # "<...>" of the message that bounced, when found
    original_headers: tuple[tuple[str, str], ...] = ()  # its header fields, decoded
    reporting_mta: str = ""  # Reporting-MTA, when the report has one

    @property
    def failed(self) -> tuple[BounceRecipient, ...]:
        """The recipients that bounced (hard or soft)."""
        return tuple(r for r in self.recipients if r.kind != "none")

    @property
    def kind(self) -> Kind:
        """Hard if any recipient bounced hard, else soft if any did, else none."""
        kinds = {r.kind for r in self.recipients}
        return "hard" if "hard" in kinds else "soft" if "soft" in kinds else "none"

    @property
    def is_bounce(self) -> bool:
        """False for a report that only says "delivered" (or relayed, expanded)."""
        return self.kind != "none"


# --- the gate: does anything in the header section say "delivery report"? -------
#   Subject: Undelivered Mail Returned to Sender          (Postfix)
#   Subject: Mail delivery failed: returning message to sender   (Exim)
#   Subject: Delivery Status Notification (Failure)       (Gmail)
#   Subject: Undeliverable: New reply to your comment     (Exchange; localised:
#            Unzustellbar, Non remis, No se puede entregar, Onbestelbaar...)
#   Subject: failure notice                                (qmail, Yahoo)
#   Subject: Returned mail: see transcript for details    (Sendmail)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered mail|returned mail|mail delivery (?:failed|failure|system)"
    r"|delivery status notification|delivery (?:failure|failed|delayed|notification)"
    r"|failure notice|non[- ]?delivery|could not be delivered|delayed mail|warning: message"
    r"|successful mail delivery|unzustellbar|nicht zustellbar|non remis|non distribuable"
    r"|no se puede entregar|no entregado|onbestelbaar|non recapitabile|não entregue"
    r"|não é possível entregar|olevererbar|kan ikke leveres|niedostarczalne|nie można dostarczyć"
    r"|недоставля|не доставлен|配信不能|配信エラー|未配達|无法投递|退信|無法傳遞|無法投遞",
    re.IGNORECASE,
)
# A person replying to or forwarding a bounce writes "Re:"/"Fwd:" first.
_REPLY_PREFIX = re.compile(
    r"\s*(?:re|aw|sv|vs|wg|rv|odp|fw|fwd|tr|ответ|回复|答复|回覆)\s?[:：]", re.IGNORECASE
)


def _daemon_sender(view: HeaderView, mail_from: str | None) -> bool:
    if mail_from is not None and mail_from.strip() in ("", "<>"):
        return True
    senders = view.addresses("from") + view.addresses("sender")
    # Mailer daemons and postmasters send reports; no-reply senders send newsletters.
    return any(is_machine_address(a) and "reply" not in a.lower() for a in senders)


def _bounce_subject(view: HeaderView) -> bool:
    subject = view.text("subject")[:300]
    return (
        bool(subject) and not _REPLY_PREFIX.match(subject) and bool(_BOUNCE_SUBJECT.search(subject))
    )


_REPORT_TYPE = re.compile(r"report-type\s*=\s*\"?([\w-]{1,40})", re.IGNORECASE)


def _report_type(content_type: str) -> str:
    found = _REPORT_TYPE.search(content_type)
    return "" if found is None else found.group(1).lower()


def _announces_report(view: HeaderView, mail_from: str | None) -> bool:
    content_type = view.get("content-type") or ""
    auto = [keyword(v) for v in view.get_all("auto-submitted")]
    return (
        content_type.lower().startswith("multipart/report")
        or view.has("x-failed-recipients")
        or view.has("x-ms-exchange-message-is-ndr")
        or any(keyword not in ("", "no") for keyword in auto)
        or _daemon_sender(view, mail_from)
        or _bounce_subject(view)
    )


# --- MIME --------------------------------------------------------------------------
def _parts(message: Message) -> list[Message]:
    """The parts in document order, without descending into returned messages."""
    found: list[Message] = []
    stack = [message]
    while stack and len(found) < MAX_PARTS:
        part = stack.pop()
        found.append(part)
        ctype = part.get_content_type()
        if ctype in _STATUS_TYPES or ctype in _ORIGINAL_TYPES:
            continue
        if not part.is_multipart():
            # A leaf's payload is not needed here, and reading it decodes it with the
            # declared charset, which raises on a malformed one (a NUL in the name).
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    return found


def _payload_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, LookupError, binascii.Error):
        data = None
    if not isinstance(data, bytes):
        return ""
    return decode_bytes(data[: MAX_TEXT * 2], part.get_content_charset())[:MAX_TEXT]


_TAG_BREAK = re.compile(r"<(?:br|/p|/div|/tr|/li|/h\d)\b[^>]{0,200}>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]{0,2000}>")
_HSPACE = re.compile(r"[ \t\u00a0]+")


def _html_text(html: str) -> str:
    # Enough to read an HTML-only NDR: breaks become lines, tags go, entities decode.
    text = unescape(_TAG.sub(" ", _TAG_BREAK.sub("\n", html)))
    return "\n".join(_HSPACE.sub(" ", line).strip() for line in text.splitlines())


def _human_text(parts: list[Message]) -> str:
    """The report's text for people: its first text/plain part, else its HTML."""
    html = ""
    for part in parts:
        ctype = part.get_content_type()
        if ctype == "text/plain" and part.get_content_disposition() != "attachment":
            text = _payload_text(part)
            if text.strip():
                return text.replace("\r\n", "\n")
        elif ctype == "text/html" and not html:
            html = _payload_text(part)
    return _html_text(html) if html else ""


# --- RFC 3464 fields -------------------------------------------------------------
def _block_bytes(block: Message) -> bytes:
    lines = [f"{name}: {value}" for name, value in block.raw_items()]
    try:
        head = "\n".join(lines).encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte maps to: not from a parser
        head = "\n".join(lines).encode("utf-8", "replace")
    body = block.get_payload(decode=True)  # the rest of a block, as the bytes it was
    return head + b"\n\n" + body if isinstance(body, bytes) and body.strip() else head


def _status_text(part: Message) -> str:
    if not part.is_multipart():  # text/delivery-status: an ordinary leaf
        return _payload_text(part)
    payload = part.get_payload()
    # message/delivery-status: the parser made each field block a header-only
    # message; put the text back together (raw values keep 8-bit bytes as
    # surrogates) and undo a transfer encoding the parser did not.
    data = b"\n\n".join(_block_bytes(b) for b in payload if isinstance(b, Message))
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    try:
        if encoding == "base64":
            data = base64.b64decode(b"".join(data.split()), validate=False)
        elif encoding == "quoted-printable":
            data = quopri.decodestring(data)
    except (ValueError, binascii.Error):
        pass
    return decode_bytes(data[:MAX_TEXT])


def _field_blocks(text: str) -> list[dict[str, str]]:
    """RFC 822-style field blocks separated by blank lines, names lower-cased."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.replace("\r\n", "\n").split("\n")[:5000]:
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
        elif line[:1] in " \t" and last:
            current[last] = (current[last] + " " + line.strip())[:2000]
        else:
            name, colon, value = line.partition(":")
            name = name.strip().lower()
            if colon and name and " " not in name and name not in current:
                current[name], last = value.strip()[:2000], name
    if current:
        blocks.append(current)
    return blocks


def _typed_value(value: str) -> str:
    # "rfc822; ann@example.org" -> "ann@example.org"; "smtp; 550 ..." -> "550 ..."
    kind, semicolon, rest = value.partition(";")
    text = rest if semicolon and len(kind) < 20 and " " not in kind.strip() else value
    return " ".join(text.split())


def _recipient(fields: dict[str, str]) -> BounceRecipient:
    final = _typed_value(fields.get("final-recipient", "")).strip("<>")
    original = _typed_value(fields.get("original-recipient", "")).strip("<>")
    if not final:
        final = _typed_value(fields.get("x-actual-recipient", "")).strip("<>") or original
    diagnostic = _typed_value(fields.get("diagnostic-code", ""))[:1000]
    status = refine_status(fields.get("status", ""), diagnostic)
    action = fields.get("action", "").strip().lower().split(" ")[0]
    if action not in _ACTIONS:
        action = {"5": "failed", "4": "delayed", "2": "delivered"}.get(status[:1], "")
    return BounceRecipient(
        address=final,
        action=action,
        status=status,
        diagnostic=diagnostic,
        kind=failure_kind(action, status, diagnostic),
        original_address=original,
        remote_mta=_typed_value(fields.get("remote-mta", ""))[:300],
    )


_RECIPIENT_FIELDS = ("final-recipient", "original-recipient", "action", "status")


def _read_dsn(text: str) -> tuple[tuple[BounceRecipient, ...], dict[str, str]]:
    blocks = _field_blocks(text)
    per_message: dict[str, str] = {}
    if blocks and "final-recipient" not in blocks[0] and "action" not in blocks[0]:
        per_message = blocks.pop(0)
    recipients = tuple(_recipient(b) for b in blocks if any(f in b for f in _RECIPIENT_FIELDS))[
        :MAX_RECIPIENTS
    ]
    return recipients, per_message


# --- the returned message ---------------------------------------------------------
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,500}>")
_MESSAGE_ID_LINE = re.compile(r"^Message-I[Dd]:[ \t]*(?:\n[ \t]+)?(<[^<>\s]{1,500}>)", re.M | re.I)


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    found = _MESSAGE_ID.search(value)
    return None if found is None else found.group(0)


def _decoded_items(headers: Message) -> tuple[tuple[str, str], ...]:
    items = []
    for name, value in list(headers.raw_items())[:MAX_ORIGINAL_HEADERS]:
        text = " ".join(decode_words(str(value)).split())[:1000]
        items.append((str(name), text))
    return tuple(items)


def _original_headers(parts: list[Message], plain_copy: str) -> tuple[tuple[str, str], ...]:
    for part in parts:
        ctype = part.get_content_type()
        if ctype in _ORIGINAL_TYPES:
            payload = part.get_payload() if part.is_multipart() else None
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return _decoded_items(payload[0])
        elif ctype in _ORIGINAL_HEADER_TYPES:
            text = _payload_text(part)[:65536]
            return _decoded_items(HeaderParser(policy=compat32).parsestr(text, headersonly=True))
    if plain_copy.strip():
        copy = plain_copy.lstrip()[:65536]
        return _decoded_items(HeaderParser(policy=compat32).parsestr(copy, headersonly=True))
    return ()


def _original_id(
    original: tuple[tuple[str, str], ...], per_message: dict[str, str], text: str, view: HeaderView
) -> str | None:
    for name, value in original:
        if name.lower() == "message-id" and _message_id(value):
            return _message_id(value)
    # Gmail names it in the report; Exim and Exchange thread the report onto it.
    found = _message_id(per_message.get("x-original-message-id"))
    line = _MESSAGE_ID_LINE.search(text)
    found = found or (line.group(1) if line else None) or _message_id(view.get("in-reply-to"))
    if found is None:
        references = _MESSAGE_ID.findall(view.get("references") or "")
        found = references[-1] if references else None
    return found


# --- putting it together -------------------------------------------------------------
def _entry(address: str, action: str, diagnostic: str) -> BounceRecipient:
    status = refine_status("", diagnostic)
    return BounceRecipient(
        address, action, status, diagnostic, failure_kind(action, status, diagnostic)
    )


def _from_text(report: TextReport, failed_recipients: list[str]) -> tuple[BounceRecipient, ...]:
    entries = report.entries
    if failed_recipients and not any(e.address for e in entries):
        # X-Failed-Recipients (Exim, Gmail) names them when the text does not.
        action = entries[0].action if entries else "failed"
        diagnostic = entries[0].diagnostic if entries else ""
        return tuple(_entry(a, action, diagnostic) for a in failed_recipients)[:MAX_RECIPIENTS]
    return tuple(_entry(e.address, e.action, e.diagnostic) for e in entries)[:MAX_RECIPIENTS]


def _text_report(text: str, view: HeaderView, mail_from: str | None) -> TextReport | None:
    report = read_text_report(text)
    if report is not None and report.entries:
        return report
    exclude = frozenset(a.lower() for a in view.addresses("to"))
    if report is not None:
        # Its format, but no recipient paragraph we could read: keep the error line.
        generic = read_generic(text, exclude)
        entries = generic.entries if generic is not None else ()
        return TextReport(report.format, entries, report.original)
    if view.has("x-failed-recipients") or _daemon_sender(view, mail_from) or _bounce_subject(view):
        return read_generic(text, exclude)
    return None


def parse_bounce(raw: bytes, mail_from: str | None = None) -> Bounce | None:
    """The delivery report in ``raw``, or ``None`` when it is not one.

    ``mail_from`` is the SMTP envelope sender when known: a null sender ("" or
    "<>") is one more sign of a report.  Never raises on malformed input.
    """
    view = HeaderView.of(parse_head(raw))
    if not _announces_report(view, mail_from):
        return None
    if _report_type(view.get("content-type") or "") not in ("", "delivery-status"):
        return None  # a read receipt (disposition-notification) or an abuse report
    try:
        parts = _parts(BytesParser(policy=compat32).parsebytes(raw[:MAX_PARSE_BYTES]))
    except RecursionError:  # thousands of nested multiparts: not a real report
        return None
    recipients: tuple[BounceRecipient, ...] = ()
    per_message: dict[str, str] = {}
    fmt, copy = "rfc3464", ""
    for part in parts:
        if part.get_content_type() in _STATUS_TYPES:
            recipients, per_message = _read_dsn(_status_text(part))
            break
    text = _human_text(parts)
    if not any(r.action for r in recipients):
        report = _text_report(text, view, mail_from)
        if report is None:
            return None
        failed = [a for v in view.get_all("x-failed-recipients") for a in _split_addresses(v)]
        recipients, fmt, copy = _from_text(report, failed), report.format, report.original
    if not recipients:
        return None
    original = _original_headers(parts, copy)
    return Bounce(
        format=fmt,
        recipients=recipients,
        original_message_id=_original_id(original, per_message, text, view),
        original_headers=original,
        reporting_mta=_typed_value(per_message.get("reporting-mta", ""))[:300],
    )


_LIST_SEPARATOR = re.compile(r"[,\s]+")


def _split_addresses(value: str) -> list[str]:
    return [a.strip().strip("<>") for a in _LIST_SEPARATOR.split(value) if "@" in a][:20]
