"""The text bounce formats, read from the sentences their MTAs write."""

from __future__ import annotations

import pytest
from classify.machine_support import message

from mailbridge.classify import parse_bounce
from mailbridge.classify.bounce_text import read_generic, read_text_report

EXCHANGE_2010 = """\
Delivery has failed to these recipients or groups:

Erin Example (erin@fabrikam.example)
The e-mail address you entered couldn't be found. Please check the recipient's e-mail \
address and try to resend the message. If the problem continues, please contact your helpdesk.

Diagnostic information for administrators:

Generating server: EXCH01.fabrikam.example

erin@fabrikam.example
#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##

Original message headers:

Message-ID: <c42.5f1e2d3c4b5a69788796a5b4@example.org>
Subject: Re: Learning to trust again
"""

EXCHANGE_2007 = """\
Delivery has failed to these recipients or groups:

erin@fabrikam.example
The recipient's mailbox is full and can't accept messages now.

Diagnostic information for administrators:

Generating server: EXCH01.fabrikam.example

erin@fabrikam.example
mx.fabrikam.example #552 5.2.2 mailbox full ##
"""

EXCHANGE_DELAYED = """\
Delivery is delayed to these recipients or groups:

erin@fabrikam.example

Subject: Re: Learning to trust again

This message hasn't been delivered yet. Delivery will continue to be attempted.

Diagnostic information for administrators:

Remote Server returned '400 4.4.7 Message delayed'
"""

O365_TEXT_ONLY = """\
Your message to erin@fabrikam.example couldn’t be delivered.
erin wasn't found at fabrikam.example.

More Info for Email Admins
Status code: 550 5.1.10

Error Details
Reported error: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP \
address lookup
"""

GMAIL_TEXT = """\

** Address not found **

Your message wasn't delivered to frank@example.com because the address couldn't be found, or \
is unable to receive mail.

The response from the remote server was:
550 5.1.1 The email account that you tried to reach does not exist.

----- Original message -----

Message-ID: <c42.5f1e2d3c4b5a69788796a5b4@example.org>
Subject: Re: Learning to trust again
"""

GMAIL_OLD = """\
Delivery to the following recipient failed permanently:

     frank@example.com

Technical details of permanent failure:
Google tried to deliver your message, but it was rejected by the server for the recipient \
domain example.com by mx.example.com. [198.51.100.7].

The error that the other server returned was:
552 5.2.2 Mailbox full
"""

GMAIL_DELAY = """\
** Message not delivered yet **

There was a temporary problem delivering your message to frank@example.com. Gmail will retry \
for 46 more hours. You'll be notified if the delivery fails permanently.

The response was:
451 4.3.0 Temporary lookup failure
"""

SENDMAIL_WARNING = """\
    **********************************************
    **      THIS IS A WARNING MESSAGE ONLY      **
    **  YOU DO NOT NEED TO RESEND YOUR MESSAGE  **
    **********************************************

The original message was received at Tue, 3 Mar 2026 17:20:12 GMT
from mail.example.org [198.51.100.2]

   ----- Transcript of session follows -----
<ivan@legacy.example>... Deferred: Connection refused by mx.legacy.example.
Warning: message still undelivered after 4 hours
Will keep trying until message is 5 days old
"""

EXIM_TWO = """\
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  ann@example.net
    Unrouteable address
  bob@example.net
    host mx.example.net [192.0.2.30]
    SMTP error from remote mail server after RCPT TO:<bob@example.net>:
    552 5.2.2 Mailbox full

------ This is a copy of the message, including all the headers. ------

Message-ID: <c42.5f1e2d3c4b5a69788796a5b4@example.org>
"""

QMAIL_TWO = """\
Hi. This is the qmail-send program at mail.oldhost.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<gina@oldhost.example>:
192.0.2.60 does not like recipient.
Remote host said: 550 5.1.1 <gina@oldhost.example>... User unknown
Giving up on 192.0.2.60.

<hal@oldhost.example>:
I'm not going to try again; this message has been in the queue too long. (#4.4.1)

--- Below this line is a copy of the message.

Message-ID: <c42.5f1e2d3c4b5a69788796a5b4@example.org>
"""

POSTFIX_PLAIN = """\
This is the mail system at host mail.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

                   The mail system

<info@example.net> (expanded from <contact@example.net>): host
    mx.example.net[192.0.2.30] said: 552 5.2.2 <info@example.net>: Mailbox
    full (in reply to RCPT TO command)
"""


def _entries(text: str) -> list[tuple[str, str, str]]:
    report = read_text_report(text)
    assert report is not None
    return [(e.address, e.action, e.diagnostic) for e in report.entries]


def test_exchange_2010_text() -> None:
    report = read_text_report(EXCHANGE_2010)
    assert report is not None and report.format == "exchange"
    assert _entries(EXCHANGE_2010) == [
        ("erin@fabrikam.example", "failed", "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found")
    ]
    assert "Message-ID: <c42.5f1e2d3c4b5a69788796a5b4@example.org>" in report.original


def test_exchange_mailbox_full_and_delay() -> None:
    assert _entries(EXCHANGE_2007) == [
        ("erin@fabrikam.example", "failed", "552 5.2.2 mailbox full")
    ]
    assert _entries(EXCHANGE_DELAYED) == [
        ("erin@fabrikam.example", "delayed", "400 4.4.7 Message delayed")
    ]


def test_office_365_text_with_a_typographic_apostrophe() -> None:
    report = read_text_report(O365_TEXT_ONLY)
    assert report is not None and report.format == "exchange"
    assert report.entries[0].address == "erin@fabrikam.example"
    assert report.entries[0].diagnostic.startswith("550 5.1.10 RESOLVER.ADR.RecipientNotFound")


def test_gmail_texts() -> None:
    report = read_text_report(GMAIL_TEXT)
    assert report is not None and report.format == "gmail"
    assert _entries(GMAIL_TEXT) == [
        (
            "frank@example.com",
            "failed",
            "550 5.1.1 The email account that you tried to reach does not exist.",
        )
    ]
    assert report.original.startswith("Message-ID:")
    assert _entries(GMAIL_OLD)[0][:2] == ("frank@example.com", "failed")
    assert _entries(GMAIL_DELAY) == [
        ("frank@example.com", "delayed", "451 4.3.0 Temporary lookup failure")
    ]


def test_sendmail_warning_names_the_address_in_its_transcript() -> None:
    assert _entries(SENDMAIL_WARNING) == [
        ("ivan@legacy.example", "delayed", "Deferred: Connection refused by mx.legacy.example.")
    ]


def test_exim_with_two_recipients() -> None:
    assert _entries(EXIM_TWO) == [
        ("ann@example.net", "failed", "Unrouteable address"),
        (
            "bob@example.net",
            "failed",
            "host mx.example.net [192.0.2.30] SMTP error from remote mail server after RCPT "
            "TO:<bob@example.net>: 552 5.2.2 Mailbox full",
        ),
    ]


def test_qmail_with_two_recipients() -> None:
    entries = _entries(QMAIL_TWO)
    assert [e[0] for e in entries] == ["gina@oldhost.example", "hal@oldhost.example"]
    assert entries[1][2].endswith("(#4.4.1)")


def test_postfix_plain_with_an_alias() -> None:
    assert _entries(POSTFIX_PLAIN) == [
        (
            "info@example.net",
            "failed",
            "host mx.example.net[192.0.2.30] said: 552 5.2.2 <info@example.net>: Mailbox full "
            "(in reply to RCPT TO command)",
        )
    ]


def _as_bounce(text: str) -> list[tuple[str, str, str]]:
    raw = message({"From": "MAILER-DAEMON@mx.example.net", "Subject": "Mail delivery failed"}, text)
    bounce = parse_bounce(raw)
    assert bounce is not None
    return [(r.address, r.status, r.kind) for r in bounce.recipients]


def test_kinds_for_the_text_formats() -> None:
    assert _as_bounce(EXIM_TWO) == [
        ("ann@example.net", "", "hard"),
        ("bob@example.net", "5.2.2", "soft"),
    ]
    assert _as_bounce(QMAIL_TWO) == [
        ("gina@oldhost.example", "5.1.1", "hard"),
        ("hal@oldhost.example", "4.4.1", "soft"),
    ]
    assert _as_bounce(EXCHANGE_2007) == [("erin@fabrikam.example", "5.2.2", "soft")]
    assert _as_bounce(GMAIL_DELAY) == [("frank@example.com", "4.3.0", "soft")]
    assert _as_bounce(POSTFIX_PLAIN) == [("info@example.net", "5.2.2", "soft")]


@pytest.mark.parametrize(
    "text",
    ["Hello, how are you?", "Version 5.1.1 is out", "Call 555 1234", "IP 10.5.1.1 is down"],
)
def test_no_report_in_ordinary_text(text: str) -> None:
    assert read_text_report(text) is None
    assert read_generic(text, frozenset()) is None


def test_generic_reads_the_first_error_line() -> None:
    report = read_generic("Sorry.\nRecipient: zed@example.net\n550 5.1.1 unknown\n", frozenset())
    assert report is not None
    assert [(e.address, e.action, e.diagnostic) for e in report.entries] == [
        ("zed@example.net", "failed", "550 5.1.1 unknown")
    ]
    delayed = read_generic("451 4.7.1 greylisted, try later\n", frozenset())
    assert delayed is not None and delayed.entries[0].action == "delayed"
