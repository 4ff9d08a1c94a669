"""Delivery reports are parsed and counted right; auto-replies and people are not bounces."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from classify.machine_support import fixture, message, names

from mailbridge.classify import Bounce, parse_bounce

OUR_ID = "<c42.5f1e2d3c4b5a69788796a5b4@example.org>"

# fixture: (format, address, action, status, kind, reporting MTA)
BOUNCES = {
    "bounce_postfix_dsn_hard": (
        "rfc3464",
        "ann@example.net",
        "failed",
        "5.1.1",
        "hard",
        "mail.example.org",
    ),
    "bounce_postfix_dsn_delayed": (
        "rfc3464",
        "bob@slow.example",
        "delayed",
        "4.4.1",
        "soft",
        "mail.example.org",
    ),
    "bounce_postfix_dsn_delivered": (
        "rfc3464",
        "carol@example.com",
        "delivered",
        "2.0.0",
        "none",
        "mail.example.org",
    ),
    "bounce_exim_plain": ("exim", "ann@example.net", "failed", "5.1.1", "hard", ""),
    # Exim says "Status: 5.0.0"; the diagnostic's 5.7.1 (a spam block) is what counts.
    "bounce_exim_dsn_policy_block": (
        "rfc3464",
        "dan@strict.example",
        "failed",
        "5.7.1",
        "soft",
        "mail.example.org",
    ),
    "bounce_exim_delay_warning": ("exim", "bob@slow.example", "delayed", "4.7.1", "soft", ""),
    "bounce_o365_ndr": (
        "rfc3464",
        "erin@fabrikam.example",
        "failed",
        "5.1.10",
        "hard",
        "AM7PR02MB6292.eurprd02.prod.outlook.com",
    ),
    "bounce_gmail_dsn": (
        "rfc3464",
        "frank@example.com",
        "failed",
        "5.1.1",
        "hard",
        "googlemail.com",
    ),
    "bounce_qmail": ("qmail", "gina@oldhost.example", "failed", "5.1.1", "hard", ""),
    "bounce_yahoo": ("yahoo", "henry.nonexistent@yahoo.com", "failed", "5.0.0", "hard", ""),
    "bounce_sendmail_plain": ("sendmail", "ivan@legacy.example", "failed", "5.1.1", "hard", ""),
    "bounce_generic_mailer_daemon": (
        "generic",
        "judy@gateway.example",
        "failed",
        "5.2.1",
        "hard",
        "",
    ),
}
# The generic report quotes no copy of the message, so no Message-ID can be found.
WITHOUT_ORIGINAL = {"bounce_generic_mailer_daemon"}


def _parse(name: str) -> Bounce:
    bounce = parse_bounce(fixture(name))
    assert bounce is not None, name
    return bounce


def test_every_bounce_fixture_has_an_expectation() -> None:
    assert sorted(BOUNCES) == names("bounce_")


@pytest.mark.parametrize("name", sorted(BOUNCES))
def test_bounce_fixtures(name: str) -> None:
    fmt, address, action, status, kind, reporting_mta = BOUNCES[name]
    bounce = _parse(name)
    assert bounce.format == fmt
    assert len(bounce.recipients) == 1
    recipient = bounce.recipients[0]
    assert (recipient.address, recipient.action, recipient.status, recipient.kind) == (
        address,
        action,
        status,
        kind,
    )
    assert recipient.diagnostic
    assert bounce.kind == kind
    assert bounce.reporting_mta == reporting_mta
    if name not in WITHOUT_ORIGINAL:
        assert bounce.original_message_id == OUR_ID


@pytest.mark.parametrize("name", sorted(set(BOUNCES) - WITHOUT_ORIGINAL))
def test_parsing_is_deterministic_and_json_ready(name: str) -> None:
    first, second = _parse(name), _parse(name)
    assert first == second
    record = asdict(first)
    assert record["recipients"][0]["kind"] in ("hard", "soft", "none")


@pytest.mark.parametrize(
    "name",
    [
        "bounce_postfix_dsn_hard",
        "bounce_gmail_dsn",
        "bounce_exim_plain",
        "bounce_qmail",
        "bounce_sendmail_plain",
        "bounce_yahoo",
        "bounce_o365_ndr",
        "bounce_postfix_dsn_delayed",
    ],
)
def test_the_returned_message_headers_are_read(name: str) -> None:
    headers = dict(_parse(name).original_headers)
    assert headers["Message-ID"] == OUR_ID
    assert headers["Subject"] == "Re: Learning to trust again"
    assert headers["From"] == "Example Blog <comments@example.org>"


def test_postfix_dsn_details() -> None:
    recipient = _parse("bounce_postfix_dsn_hard").recipients[0]
    assert recipient.diagnostic == (
        "550 5.1.1 <ann@example.net>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    )
    assert recipient.original_address == "ann@example.net"
    assert recipient.remote_mta == "mx.example.net"


def test_a_delivered_report_is_recognised_and_is_not_a_bounce() -> None:
    bounce = _parse("bounce_postfix_dsn_delivered")
    assert not bounce.is_bounce
    assert bounce.failed == ()
    assert bounce.kind == "none"


def test_a_delayed_report_is_a_soft_bounce() -> None:
    bounce = _parse("bounce_postfix_dsn_delayed")
    assert bounce.is_bounce and bounce.kind == "soft"
    assert bounce.failed == bounce.recipients


@pytest.mark.parametrize("name", names("auto_") + names("person_") + ["report_mdn_read_receipt"])
def test_auto_replies_people_and_read_receipts_are_not_bounces(name: str) -> None:
    assert parse_bounce(fixture(name)) is None
    assert parse_bounce(fixture(name), "") is None


# --- RFC 3464 details -------------------------------------------------------------------
def _dsn(status_block: str, *, cte: str = "", ctype: str = "message/delivery-status") -> bytes:
    encoding = f"Content-Transfer-Encoding: {cte}\r\n" if cte else ""
    return (
        "From: MAILER-DAEMON@mail.example.org\r\n"
        "To: bounce+o1.x@reply.example.org\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nThe mail system\r\n"
        f"--B\r\nContent-Type: {ctype}\r\n{encoding}\r\n{status_block}\r\n--B--\r\n"
    ).encode()


def test_several_recipients_each_get_their_entry() -> None:
    block = (
        "Reporting-MTA: dns; mail.example.org\r\n\r\n"
        "Final-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "Final-Recipient: rfc822; b@example.net\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n\r\n"
        "Final-Recipient: rfc822; c@example.net\r\nAction: delayed\r\nStatus: 4.4.7\r\n"
    )
    bounce = parse_bounce(_dsn(block))
    assert bounce is not None
    assert [(r.address, r.kind) for r in bounce.recipients] == [
        ("a@example.net", "hard"),
        ("b@example.net", "soft"),
        ("c@example.net", "soft"),
    ]
    assert bounce.kind == "hard"


def test_action_and_status_are_derived_when_missing() -> None:
    block = (
        "Reporting-MTA: dns; mail.example.org\r\n\r\n"
        "Final-Recipient: rfc822; a@example.net\r\nStatus: 5.1.1\r\n\r\n"
        "Final-Recipient: rfc822; b@example.net\r\nAction: failed\r\n"
        "Diagnostic-Code: smtp; 550 Unrouteable address\r\n"
    )
    bounce = parse_bounce(_dsn(block))
    assert bounce is not None
    a, b = bounce.recipients
    assert (a.action, a.status, a.kind) == ("failed", "5.1.1", "hard")
    assert (b.action, b.status, b.kind) == ("failed", "5.0.0", "hard")


def test_a_recipient_without_rfc822_prefix_or_with_brackets() -> None:
    block = "Final-Recipient: <a@example.net>\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    bounce = parse_bounce(_dsn(block))
    assert bounce is not None and bounce.recipients[0].address == "a@example.net"


def test_original_recipient_stands_in_for_a_missing_final_recipient() -> None:
    block = "Original-Recipient: rfc822;a@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    bounce = parse_bounce(_dsn(block))
    assert bounce is not None and bounce.recipients[0].address == "a@example.net"


def test_a_base64_encoded_status_part() -> None:
    import base64

    block = "Final-Recipient: rfc822; a@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    encoded = base64.encodebytes(block.encode()).decode()
    bounce = parse_bounce(_dsn(encoded, cte="base64"))
    assert bounce is not None and bounce.recipients[0].address == "a@example.net"


@pytest.mark.parametrize("ctype", ["message/global-delivery-status", "text/delivery-status"])
def test_other_status_part_types(ctype: str) -> None:
    block = "Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: utf-8; ä@example.net\r\n"
    block += "Action: failed\r\nStatus: 5.1.1\r\n"
    bounce = parse_bounce(_dsn(block, ctype=ctype))
    assert bounce is not None
    assert bounce.recipients[0].address == "ä@example.net"
    assert bounce.recipients[0].kind == "hard"


def test_a_report_without_recipient_blocks_falls_back_to_its_text() -> None:
    raw = _dsn("Reporting-MTA: dns; mail.example.org\r\n").replace(
        b"The mail system",
        b"This is the mail system at host mx.\r\n\r\n"
        b"<a@example.net>: host mx said: 550 5.1.1 no such user",
    )
    bounce = parse_bounce(raw)
    assert bounce is not None and bounce.format == "postfix"
    assert (bounce.recipients[0].address, bounce.recipients[0].kind) == ("a@example.net", "hard")


def test_read_receipts_and_abuse_reports_are_not_bounces() -> None:
    for report_type in ("disposition-notification", "feedback-report"):
        raw = _dsn("Final-Recipient: rfc822; a@example.net\r\nAction: failed\r\n").replace(
            b"report-type=delivery-status", f"report-type={report_type}".encode()
        )
        assert parse_bounce(raw) is None


# --- the gate: only what announces itself as a report is read as one --------------------------
def test_a_person_quoting_an_smtp_error_is_not_a_bounce() -> None:
    raw = message(
        {"From": "ann@example.org", "Subject": "Re: Learning to trust again"},
        "My old address gave 550 5.1.1 User unknown, so I use this one now.\r\n",
    )
    assert parse_bounce(raw) is None


def test_a_person_forwarding_a_bounce_is_not_a_bounce() -> None:
    body = (
        "Why did this bounce?\r\n\r\n---------- Forwarded message ---------\r\n"
        "This message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        "  ann@example.net\r\n    550 5.1.1 User unknown\r\n"
    )
    raw = message({"From": "ann@example.org", "Subject": "Fwd: Mail delivery failed"}, body)
    assert parse_bounce(raw) is None


def test_the_null_envelope_sender_opens_the_gate() -> None:
    body = "Your mail to zed@example.net failed.\r\n550 5.1.1 <zed@example.net> unknown user\r\n"
    raw = message({"From": "gateway@example.net", "Subject": "Notice"}, body)
    assert parse_bounce(raw) is None
    bounce = parse_bounce(raw, "")
    assert bounce is not None and bounce.format == "generic"
    assert bounce.recipients[0].address == "zed@example.net"


def test_x_failed_recipients_names_the_address_when_the_text_does_not() -> None:
    body = "Delivery failed.\r\n550 5.1.1 user unknown\r\n"
    raw = message(
        {
            "From": "Mailer-Daemon@mx.example.net",
            "X-Failed-Recipients": "zed@example.net",
            "Subject": "Mail delivery failed",
        },
        body,
    )
    bounce = parse_bounce(raw)
    assert bounce is not None and bounce.recipients[0].address == "zed@example.net"


def test_our_own_address_is_not_taken_for_the_failed_one() -> None:
    body = "Message from bounce+o1.x@reply.example.org\r\nRejected: 550 5.7.1 policy\r\n"
    raw = message(
        {
            "From": "postmaster@mx.example.net",
            "To": "bounce+o1.x@reply.example.org",
            "Subject": "Delivery failure",
        },
        body,
    )
    bounce = parse_bounce(raw)
    assert bounce is not None
    assert bounce.recipients[0].address == ""
    assert bounce.recipients[0].kind == "soft"


def test_a_daemon_message_without_any_error_code_is_not_a_bounce() -> None:
    raw = message(
        {"From": "MAILER-DAEMON@mx.example.net", "Subject": "Postmaster notice"},
        "Your mailbox quota settings were updated.\r\n",
    )
    assert parse_bounce(raw) is None


def test_original_message_id_from_references_when_nothing_else_has_it() -> None:
    bounce = _parse("bounce_exim_delay_warning")
    assert bounce.original_headers == ()
    assert bounce.original_message_id == OUR_ID
