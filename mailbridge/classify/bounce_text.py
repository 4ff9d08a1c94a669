"""Bounces without a machine-readable report: the text formats MTAs still send.

One reader per format, each recognising its format by the sentence the MTA
always writes, then reading the failed recipients and the server's answer.
Every reader gets the bounce's human-readable text (the whole body of a plain
bounce, or the first text part) and returns ``None`` when it is not its format.

Patterns are anchored or built from bounded character runs (no nested
quantifiers), and the text is bounded by the caller, so matching stays linear.
"""

# Exchange and Gmail write typographic apostrophes in their HTML reports:
# ruff: noqa: RUF001

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["TextEntry", "TextReport", "read_generic", "read_text_report"]

#: A diagnostic is cut to this many characters.
MAX_DIAGNOSTIC = 1000

# An address as bounces write it (no comments or quoted local parts); the domain
# run may take a sentence's final dot, which _address() strips.
_ADDR = r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w.-]{1,253}"
_ADDR_RE = re.compile(_ADDR)
_SPACES = re.compile(r"\s+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class TextEntry:
    address: str  # "" when the report names none
    action: str  # "failed" | "delayed" | "delivered"
    diagnostic: str


@dataclass(frozen=True)
class TextReport:
    format: str
    entries: tuple[TextEntry, ...]
    original: str  # the returned message (or its headers) as text, "" when absent


def _address(text: str) -> str:
    return text.strip().strip("<>").rstrip(".:;,")


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()[:MAX_DIAGNOSTIC]


def _after(text: str, marker: re.Pattern[str]) -> str:
    found = marker.search(text)
    return "" if found is None else text[found.end() :].lstrip("\r\n")


def _before(text: str, marker: re.Pattern[str]) -> str:
    found = marker.search(text)
    return text if found is None else text[: found.start()]


# --- qmail (QSBMF) and Yahoo ---------------------------------------------------
#   Hi. This is the qmail-send program at mail.example.net.
#   I'm afraid I wasn't able to deliver your message to the following addresses.
#   This is a permanent error; I've given up. Sorry it didn't work out.
#
#   <ann@example.org>:
#   Sorry, no mailbox here by that name. (#5.1.1)
#
#   --- Below this line is a copy of the message.
# Yahoo writes the same layout after "Sorry, we were unable to deliver your
# message to the following address." with "554: delivery error: dd ...".
_QMAIL = re.compile(r"\A\s{0,20}Hi\. This is the ")
_YAHOO = re.compile(r"\A\s{0,20}Sorry, we were unable to deliver your message")
_QMAIL_RECIPIENT = re.compile(rf"<({_ADDR})>:[ \t]*(.*)")
_QMAIL_BREAK = re.compile(r"^-{2,}[^\n]*\n", re.MULTILINE)


def _read_qmail(text: str) -> TextReport | None:
    if _YAHOO.match(text):
        name = "yahoo"
    elif _QMAIL.match(text):
        name = "qmail"
    else:
        return None
    entries = []
    for paragraph in _PARAGRAPH_BREAK.split(_before(text, _QMAIL_BREAK)):
        first, _, rest = paragraph.strip().partition("\n")
        found = _QMAIL_RECIPIENT.fullmatch(first.strip())
        if found is not None:
            diagnostic = _collapse(found.group(2) + " " + rest)
            entries.append(TextEntry(_address(found.group(1)), "failed", diagnostic))
    return TextReport(name, tuple(entries), _after(text, _QMAIL_BREAK))


# --- Exim ----------------------------------------------------------------------
#   This message was created automatically by mail delivery software.
#
#   A message that you sent could not be delivered to one or more of its
#   recipients. This is a permanent error. The following address(es) failed:
#
#     ann@example.org
#       host mx.example.org [192.0.2.25]
#       SMTP error from remote mail server after RCPT TO:<ann@example.org>:
#       550 5.1.1 <ann@example.org>: Recipient address rejected: User unknown
#
#   ------ This is a copy of the message, including all the headers. ------
# Its delay warning says "has not yet been delivered to one or more of its
# recipients after more than 24 hours on the queue".
_EXIM = re.compile(r"This message was created automatically by mail delivery software")
_EXIM_DELAYED = re.compile(r"has not yet been delivered to one or more of its")
_EXIM_COPY = re.compile(r"^-{4,} This is a copy of [^\n]*\n", re.MULTILINE)
_EXIM_ADDRESS = re.compile(rf" {{1,3}}<?({_ADDR})>?:?[ \t]*(.*)")
_INDENTED = re.compile(r"(?: {4}|\t)\s*(\S.*)")


def _read_exim(text: str) -> TextReport | None:
    if not _EXIM.search(text[:2000]):
        return None
    action = "delayed" if _EXIM_DELAYED.search(text[:2000]) else "failed"
    entries: list[TextEntry] = []
    address, detail = "", list[str]()
    for line in _before(text, _EXIM_COPY).splitlines():
        found = _EXIM_ADDRESS.fullmatch(line.rstrip())
        if found is not None:
            if address:
                entries.append(TextEntry(address, action, _collapse(" ".join(detail))))
            address, detail = _address(found.group(1)), [found.group(2)]
            continue
        indented = _INDENTED.fullmatch(line.rstrip())
        if address and indented is not None:
            detail.append(indented.group(1))
        elif address and line.strip():
            entries.append(TextEntry(address, action, _collapse(" ".join(detail))))
            address, detail = "", []
    if address:
        entries.append(TextEntry(address, action, _collapse(" ".join(detail))))
    return TextReport("exim", tuple(entries), _after(text, _EXIM_COPY))


# --- Postfix (its text part, or an old plain-text bounce) -------------------------
#   This is the mail system at host mail.example.net.
#   ...
#   <ann@example.org>: host mx.example.org[192.0.2.25] said: 550 5.1.1
#       <ann@example.org>: Recipient address rejected: User unknown in local
#       recipient table (in reply to RCPT TO command)
# Delay warnings start "####### THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND".
_POSTFIX = re.compile(r"This is the (?:mail system|Postfix program) at host")
_POSTFIX_DELAYED = re.compile(r"THIS IS A WARNING ONLY|could not be delivered for more than")
_POSTFIX_DELIVERED = re.compile(r"was successfully delivered")
_POSTFIX_RECIPIENT = re.compile(rf"<({_ADDR})>(?: \(expanded from <[^>\n]{{0,300}}>\))?:[ \t]*(.*)")


def _read_postfix(text: str) -> TextReport | None:
    head = text[:3000]
    if not _POSTFIX.search(head):
        return None
    if _POSTFIX_DELAYED.search(head):
        action = "delayed"
    elif _POSTFIX_DELIVERED.search(head):
        action = "delivered"
    else:
        action = "failed"
    entries: list[TextEntry] = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        found = _POSTFIX_RECIPIENT.fullmatch(line.rstrip())
        if found is None:
            continue
        detail = [found.group(2)]
        for following in lines[index + 1 : index + 40]:
            if not following[:1].isspace() or not following.strip():
                break
            detail.append(following.strip())
        entries.append(TextEntry(_address(found.group(1)), action, _collapse(" ".join(detail))))
    return TextReport("postfix", tuple(entries), "")


# --- Sendmail ------------------------------------------------------------------
#      ----- The following addresses had permanent fatal errors -----
#   <ann@example.org>
#       (reason: 550 5.1.1 <ann@example.org>... User unknown)
#
#      ----- Transcript of session follows -----
#   ... while talking to mx.example.org.:
#   >>> RCPT To:<ann@example.org>
#   <<< 550 5.1.1 <ann@example.org>... User unknown
# Warnings: "THIS IS A WARNING MESSAGE ONLY" and "<ann@example.org>... Deferred: ...".
_SENDMAIL_FATAL = re.compile(r"^\s*-{3,} The following addresses had permanent fatal errors", re.M)
_SENDMAIL_TRANSIENT = re.compile(r"^\s*-{3,} The following addresses had transient", re.M)
_SENDMAIL_TRANSCRIPT = re.compile(r"^\s*-{3,} Transcript of session follows -{3,}", re.M)
_SENDMAIL_WARNING = re.compile(r"THIS IS A WARNING MESSAGE ONLY")
_SENDMAIL_ORIGINAL = re.compile(
    r"^\s*-{3,} (?:Original message|Message header|Returned message)[^\n]*\n", re.M
)
_SENDMAIL_ADDRESS = re.compile(rf"<?({_ADDR})>?(?:\.\.\.[ \t]*(.*))?")
_SENDMAIL_REASON = re.compile(r"\s+\(reason: ([^\n]{1,900})\)\s*")
_REPLY_LINE = re.compile(r"^(?:<<< )?([245]\d\d[ -][^\n]{0,900})$", re.M)


def _read_sendmail(text: str) -> TextReport | None:
    fatal = _SENDMAIL_FATAL.search(text)
    transient = _SENDMAIL_TRANSIENT.search(text)
    transcript = _SENDMAIL_TRANSCRIPT.search(text)
    if fatal is None and transient is None and transcript is None:
        return None
    warning = _SENDMAIL_WARNING.search(text[:3000]) is not None
    entries: list[TextEntry] = []
    for section, action in ((fatal, "failed"), (transient, "delayed")):
        if section is None:
            continue
        block = _PARAGRAPH_BREAK.split(text[section.end() :].partition("\n")[2], maxsplit=1)[0]
        for line in block.splitlines():
            reason = _SENDMAIL_REASON.fullmatch(line)
            found = _SENDMAIL_ADDRESS.fullmatch(line.strip()) if line[:1] != " " else None
            if found is not None:
                entries.append(TextEntry(_address(found.group(1)), action, found.group(2) or ""))
            elif reason is not None and entries and not entries[-1].diagnostic:
                # "    (reason: 550 5.1.1 ...)" under its address
                entries[-1] = TextEntry(entries[-1].address, action, reason.group(1))
    if transcript is not None:
        session = _before(text[transcript.end() :], _SENDMAIL_ORIGINAL)
        reply = _REPLY_LINE.search(session)
        if not entries:
            # The warning form names the address only in the transcript.
            for line in session.splitlines():
                found = _SENDMAIL_ADDRESS.fullmatch(line.strip())
                if found is not None and found.group(2):
                    action = "delayed" if warning or "Deferred" in line else "failed"
                    entries.append(TextEntry(_address(found.group(1)), action, found.group(2)))
                    break
        if reply is not None:
            entries = [
                e if e.diagnostic else TextEntry(e.address, e.action, reply.group(1))
                for e in entries
            ]
    entries = [TextEntry(e.address, e.action, _collapse(e.diagnostic)) for e in entries]
    return TextReport("sendmail", tuple(entries), _after(text, _SENDMAIL_ORIGINAL))


# --- Microsoft Exchange / Office 365 -------------------------------------------
#   Your message to ann@example.org couldn't be delivered.          (Office 365)
#   ...Reported error: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found
#
#   Delivery has failed to these recipients or groups:               (Exchange 2010)
#   Ann Example (ann@example.org)
#   ...
#   Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'
#   (or "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##")
_O365 = re.compile(rf"Your message to\s{{1,5}}<?({_ADDR})>?\s{{1,5}}couldn[’']t be delivered")
_EXCHANGE = re.compile(
    r"Delivery has failed to these recipients or groups"
    r"|Your message did not reach some or all of the intended recipients"
    r"|The following recipient\(s\) (?:cannot|could not) be reached"
)
_EXCHANGE_DELAYED = re.compile(r"Delivery is delayed to these recipients or groups")
_EXCHANGE_ADMIN = re.compile(
    r"Diagnostic information for administrators|More Info for Email Admins"
    r"|Original message headers",
    re.IGNORECASE,
)
_EXCHANGE_DIAGNOSTICS = (
    re.compile(r"Reported error:[ \t]*([^\n]{1,900})"),
    re.compile(r"Remote Server returned '([^'\n]{1,900})'"),
    re.compile(r"#([245]\d\d [245]\.\d{1,3}\.\d{1,3}[^#\n]{0,900})"),
    re.compile(r"<[^<>\n]{1,200} #([245]\.\d{1,3}\.\d{1,3}[^>\n]{0,800})>"),
    re.compile(r"Status code:[ \t]*([^\n]{1,900})"),
)
_EXCHANGE_ORIGINAL = re.compile(r"^Original message headers:?[ \t]*\n", re.M | re.I)


def _read_exchange(text: str) -> TextReport | None:
    o365 = _O365.search(text[:5000])
    marker = _EXCHANGE.search(text[:5000])
    delayed = _EXCHANGE_DELAYED.search(text[:5000])
    if o365 is None and marker is None and delayed is None:
        return None
    action = "delayed" if delayed is not None and marker is None else "failed"
    diagnostic = ""
    for pattern in _EXCHANGE_DIAGNOSTICS:
        found = pattern.search(text)
        if found is not None:
            diagnostic = _collapse(found.group(1))
            break
    anchor = marker or delayed
    if o365 is not None or anchor is None:
        addresses = [_address(o365.group(1))] if o365 is not None else []
    else:
        start = anchor.end()
        section = _before(text[start : start + 4000], _EXCHANGE_ADMIN)
        addresses = list(dict.fromkeys(_address(a) for a in _ADDR_RE.findall(section)))
    entries = tuple(TextEntry(a, action, diagnostic) for a in addresses)
    return TextReport("exchange", entries, _after(text, _EXCHANGE_ORIGINAL))


# --- Gmail (when it sends text without a delivery-status part) ---------------------
#   ** Address not found **
#   Your message wasn't delivered to ann@example.org because the address couldn't
#   be found, or is unable to receive mail.
#   The response from the remote server was:
#   550 5.1.1 The email account that you tried to reach does not exist.
# Older: "Delivery to the following recipient failed permanently:" with the address
# indented below, then "Technical details of permanent failure:".
_GMAIL_FAILED = re.compile(
    r"\*\* (?:Address not found|Message not delivered|Message blocked|Message rejected) \*\*"
    r"|Delivery to the following recipients? failed permanently"
)
_GMAIL_DELAYED = re.compile(
    r"There was a temporary problem delivering your message"
    r"|Delivery to the following recipients? has been delayed"
    r"|\*\* Message not delivered yet \*\*"
)
_GMAIL_ADDRESS = re.compile(
    rf"(?:wasn[’']t delivered to|Your message to|delivering your message to)\s{{1,5}}<?({_ADDR})>?"
)
_GMAIL_RESPONSE = re.compile(
    r"(?:The response (?:from the remote server )?was|Technical details of "
    r"(?:permanent|temporary) failure):[ \t]*\n"
)
_GMAIL_ORIGINAL = re.compile(r"^-{3,} Original message -{3,}[^\n]*\n", re.M)


def _read_gmail(text: str) -> TextReport | None:
    head = text[:5000]
    failed = _GMAIL_FAILED.search(head)
    delayed = _GMAIL_DELAYED.search(head)
    if failed is None and delayed is None:
        return None
    action = "failed" if failed is not None else "delayed"
    found = _GMAIL_ADDRESS.search(head)
    anchor = failed or delayed
    if found is not None or anchor is None:
        addresses = [_address(found.group(1))] if found is not None else []
    else:
        start = anchor.end()
        paragraph = text[start : start + 2000].partition("\n")[2].lstrip("\n")
        first = _PARAGRAPH_BREAK.split(paragraph, maxsplit=1)[0]
        addresses = [_address(a) for a in _ADDR_RE.findall(first)][:20]
    response = _after(_before(text, _GMAIL_ORIGINAL), _GMAIL_RESPONSE)
    diagnostic = _collapse(_PARAGRAPH_BREAK.split(response.lstrip(), maxsplit=1)[0])
    entries = tuple(TextEntry(a, action, diagnostic) for a in addresses)
    return TextReport("gmail", entries, _after(text, _GMAIL_ORIGINAL))


_READERS: tuple[Callable[[str], TextReport | None], ...] = (
    _read_qmail,
    _read_exim,
    _read_postfix,
    _read_sendmail,
    _read_exchange,
    _read_gmail,
)


def read_text_report(text: str) -> TextReport | None:
    """The report in ``text`` if it is in one of the known bounce formats."""
    for reader in _READERS:
        report = reader(text)
        if report is not None:
            return report
    return None


# --- anything else from a mailer daemon ---------------------------------------------
#   From: MAILER-DAEMON@mx.example.net / Subject: Returned mail: see transcript
#   ... 550 5.1.1 <ann@example.org>: unknown user ...
# Only called when the headers already say "delivery report" (a mailer-daemon
# sender, a bounce subject, X-Failed-Recipients), since people quote codes too.
# An SMTP error as MTAs quote it: a reply code opening the line ("550 ...",
# "<<< 550-..."), a reply code with its enhanced code ("said: 550 5.1.1"),
# "#5.1.1" (qmail, Exchange) or "Status: 5.1.1"; a lone "5.1.1" may be a version.
_CODE_LINE = re.compile(
    r"^(?:[ \t#>]{0,4}(?:<<< )?[45][0-5]\d[ :-]"
    r"|[^\n]{0,300}?(?:(?<![\w.])[45][0-5]\d[ -][45]\.\d{1,3}\.\d{1,3}"
    r"|#[45]\.\d{1,3}\.\d{1,3}|status:?[ \t]{0,3}[45]\.\d{1,3}\.\d{1,3}))[^\n]{0,900}",
    re.MULTILINE | re.IGNORECASE,
)


def read_generic(text: str, exclude: frozenset[str]) -> TextReport | None:
    """A failure report from a mailer daemon in no known format: the first line with
    an SMTP error code, and the address on that line or the few lines above it
    ("Recipient: <ann@example.org>" / "Reason: 550 5.1.1 ..."), other than ``exclude``."""
    found = _CODE_LINE.search(text)
    if found is None:
        return None
    line = found.group(0)
    permanent = re.search(r"(?<![\w.])5(?:\.\d{1,3}\.\d{1,3}|[0-5]\d[ :-])", line) is not None
    above = text[max(0, found.start() - 1000) : found.start()].splitlines()[-5:]
    address = ""
    for candidate in [line, *reversed(above)]:
        found_here = [_address(a) for a in _ADDR_RE.findall(candidate)]
        address = next((a for a in found_here if a.lower() not in exclude), "")
        if address:
            break
    entry = TextEntry(address, "failed" if permanent else "delayed", _collapse(line))
    return TextReport("generic", (entry,), "")
