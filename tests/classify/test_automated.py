"""Machine mail is recognised from its headers; a person's reply never is."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address

import pytest
from classify.machine_support import fixture, from_address, message, names

from mailbridge.classify import (
    MachineReason,
    classify_automated,
    classify_raw,
    is_machine_address,
    may_auto_reply,
)
from mailbridge.classify.headers import parse_head
from mailbridge.outbound.compose import compose

R = MachineReason

# What each hand-written auto-reply is caught by: its strongest reason, and every
# reason that must be among the signals (headers first, the subject as fallback).
AUTO_REPLIES = {
    "auto_outlook_exchange_oof_en": (R.AUTOREPLY_HEADER, {R.OUT_OF_OFFICE_SUBJECT}),
    "auto_outlook_exchange_oof_de": (
        R.AUTO_SUBMITTED,
        {R.AUTOREPLY_HEADER, R.OUT_OF_OFFICE_SUBJECT},
    ),
    "auto_outlook_oof_es_encoded": (R.OUT_OF_OFFICE_SUBJECT, set()),
    "auto_gmail_vacation": (R.AUTO_SUBMITTED, {R.AUTOREPLY_HEADER, R.PRECEDENCE_BULK}),
    "auto_icloud_vacation": (R.NULL_SENDER, {R.AUTO_SUBMITTED}),
    "auto_zimbra_oof": (R.NULL_SENDER, {R.AUTO_SUBMITTED, R.PRECEDENCE_BULK}),
    "auto_lotus_notes_oof_de": (R.OUT_OF_OFFICE_SUBJECT, set()),
    "auto_cpanel_autoresponder": (R.AUTOREPLY_HEADER, {R.PRECEDENCE_BULK}),
    "auto_mailing_list_post": (R.PRECEDENCE_BULK, {R.LIST_MAIL}),
    "auto_newsletter_noreply": (R.PRECEDENCE_BULK, {R.LIST_MAIL, R.MACHINE_SENDER}),
}


def test_every_auto_fixture_has_an_expectation() -> None:
    assert sorted(AUTO_REPLIES) == names("auto_")


@pytest.mark.parametrize("name", sorted(AUTO_REPLIES))
def test_auto_replies_are_machine_mail_from_their_headers_alone(name: str) -> None:
    raw = fixture(name)
    # The envelope sender a person would have: the headers alone must decide.
    verdict = classify_raw(raw, from_address(raw))
    assert verdict is not None, name
    reason, also = AUTO_REPLIES[name]
    assert verdict.reason == reason
    assert also <= {s.reason for s in verdict.signals}
    assert verdict.evidence == str(verdict.signals[0])
    assert not verdict.may_reply
    assert not may_auto_reply(parse_head(raw), from_address(raw))


@pytest.mark.parametrize("name", names("person_"))
@pytest.mark.parametrize("envelope", ["from", None])
def test_people_replying_in_any_language_are_not_machines(name: str, envelope: str | None) -> None:
    raw = fixture(name)
    mail_from = from_address(raw) if envelope == "from" else None
    assert classify_raw(raw, mail_from) is None


def test_the_person_fixtures_cover_the_reply_prefixes_of_many_languages() -> None:
    subjects = {n: parse_head(fixture(n))["Subject"] for n in names("person_")}
    assert len(subjects) >= 12
    assert "Re: out of office hours" in subjects.values()


def test_outlook_reply_with_x_auto_response_suppress_is_filed_but_not_auto_answered() -> None:
    raw = fixture("person_outlook_with_suppress_header")
    headers = parse_head(raw)
    assert "AutoReply" in headers["X-Auto-Response-Suppress"]
    assert classify_automated(headers, from_address(raw)) is None
    assert not may_auto_reply(headers, from_address(raw))


@pytest.mark.parametrize(
    ("value", "answer"),
    [("All", False), ("DR, OOF, AutoReply", False), ("OOF", True), ("DR, RN, NRN", True)],
)
def test_x_auto_response_suppress_is_never_a_machine_sign(value: str, answer: bool) -> None:
    headers = {"From": "ann@example.org", "Subject": "Re: hello", "X-Auto-Response-Suppress": value}
    assert classify_automated(headers, "ann@example.org") is None
    assert may_auto_reply(headers, "ann@example.org") is answer


def test_a_person_may_be_answered() -> None:
    assert may_auto_reply({"From": "ann@example.org", "Subject": "Re: hi"}, "ann@example.org")


@pytest.mark.parametrize(
    "value",
    [
        "auto-replied",
        "auto-generated",
        "auto-notified",
        "Auto-Replied",
        "auto-replied (vacation)",
        'auto-replied; owner-email="ann@example.org"',
        "auto-generated (zimbra; notification)",
    ],
)
def test_auto_submitted_other_than_no_is_a_machine(value: str) -> None:
    verdict = classify_automated({"Auto-Submitted": value}, "ann@example.org")
    assert verdict is not None and verdict.reason == "auto_submitted"
    assert verdict.evidence == f"Auto-Submitted: {value}"


@pytest.mark.parametrize("value", ["no", "No", " no ", "no (a person wrote this)", ""])
def test_auto_submitted_no_means_a_person(value: str) -> None:
    assert classify_automated({"Auto-Submitted": value}, "ann@example.org") is None


@pytest.mark.parametrize("mail_from", ["", "<>", "  "])
def test_the_null_sender_is_a_machine(mail_from: str) -> None:
    verdict = classify_automated({"From": "ann@example.org"}, mail_from)
    assert verdict is not None and verdict.reason == "null_sender"
    assert verdict.evidence == "MAIL FROM: <>"


def test_an_unknown_envelope_sender_is_no_sign() -> None:
    assert classify_automated({"From": "ann@example.org"}, None) is None


@pytest.mark.parametrize("value", ["<>", "< >", "<<>>"])
def test_a_stored_null_return_path_is_a_machine(value: str) -> None:
    verdict = classify_automated({"Return-Path": value}, None)
    assert verdict is not None and verdict.reason == "null_sender"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Autoreply", "yes"),
        ("X-Autoreply", ""),
        ("X-Autorespond", "Re: your message"),
        ("X-Auto-Reply", "true"),
        ("X-AutoReply-From", "ann@example.org"),
        ("X-Mail-Autoreply", "yes"),
        ("X-FC-MachineGenerated", "true"),
        ("X-Autogenerated", "Reply"),
        ("X-POST-MessageClass", "9; Autoresponder"),
        ("Delivered-To", "Autoresponder"),
    ],
)
def test_responder_headers_are_machine_signs(header: str, value: str) -> None:
    verdict = classify_automated({header: value}, "ann@example.org")
    assert verdict is not None and verdict.reason == "autoreply_header"


@pytest.mark.parametrize(
    ("header", "value"),
    [("X-Autoreply", "no"), ("X-Autorespond", "false"), ("X-FC-MachineGenerated", "false")],
)
def test_responder_headers_saying_no_are_not(header: str, value: str) -> None:
    assert classify_automated({header: value}, "ann@example.org") is None


def test_exchange_rules_loop_alone_is_not_a_sign_but_with_suppression_it_is() -> None:
    # A person's mail forwarded by their own inbox rule carries the loop header alone.
    alone = {"X-MS-Exchange-Inbox-Rules-Loop": "ann@example.org", "Subject": "RE: hi"}
    assert classify_automated(alone, "ann@example.org") is None
    oof = dict(alone, **{"X-Auto-Response-Suppress": "All"})
    verdict = classify_automated(oof, "ann@example.org")
    assert verdict is not None and verdict.reason == "autoreply_header"


@pytest.mark.parametrize("value", ["bulk", "junk", "list", "auto_reply", "Bulk", "bulk; x=1"])
def test_precedence_bulk_junk_list_and_auto_reply_are_machines(value: str) -> None:
    verdict = classify_automated({"Precedence": value}, "ann@example.org")
    assert verdict is not None and verdict.reason == "precedence_bulk"


@pytest.mark.parametrize("value", ["first-class", "normal", "special-delivery", ""])
def test_other_precedence_values_are_people(value: str) -> None:
    assert classify_automated({"Precedence": value}, "ann@example.org") is None


@pytest.mark.parametrize(
    "header",
    [
        "List-Id",
        "List-Unsubscribe",
        "List-Post",
        "List-Owner",
        "List-Subscribe",
        "List-Help",
        "List-Archive",
        "X-Mailing-List",
        "Mailing-List",
    ],
)
def test_list_headers_on_inbound_are_list_mail(header: str) -> None:
    verdict = classify_automated({header: "<readers.lists.example.net>"}, "ann@example.org")
    assert verdict is not None and verdict.reason == "list_mail"


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Content-Type", 'multipart/report; report-type=delivery-status; boundary="b"'),
        ("Content-Type", 'multipart/report; report-type=disposition-notification; boundary="b"'),
        ("X-Failed-Recipients", "ann@example.org"),
        ("X-MS-Exchange-Message-Is-Ndr", ""),
    ],
)
def test_delivery_reports_are_machine_mail(header: str, value: str) -> None:
    verdict = classify_automated({header: value}, "ann@example.org")
    assert verdict is not None and verdict.reason == "delivery_report"


MACHINE_ADDRESSES = [
    "MAILER-DAEMON@mx.example.net",
    "mailer_daemon@example.net",
    "Mail-Daemon@example.net",
    "postmaster@example.net",
    "no-reply@shop.example",
    "noreply@shop.example",
    "NoReply+news@shop.example",
    "no_reply@shop.example",
    "do-not-reply@example.org",
    "donotreply@example.org",
    "do.not.reply@example.org",
    "noreply-dmarc-support@google.com",
    "no-reply-aws@amazon.example",
    "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example",
]
PERSON_ADDRESSES = [
    "ann@example.org",
    "nora.reply@example.org",
    "replyguy@example.org",
    "daemon.fan@example.org",
    "mailer@example.org",
    "postmistress@example.org",
    "noreen@example.org",
]


@pytest.mark.parametrize("address", MACHINE_ADDRESSES)
def test_machine_senders(address: str) -> None:
    assert is_machine_address(address)
    verdict = classify_automated({"From": f"Robot <{address}>"}, "ann@example.org")
    assert verdict is not None and verdict.reason == "machine_sender"
    assert verdict.evidence == f"From: {address}"


@pytest.mark.parametrize("address", PERSON_ADDRESSES)
def test_addresses_that_only_look_like_machines_are_people(address: str) -> None:
    assert not is_machine_address(address)
    assert classify_automated({"From": address}, address) is None


def test_list_robot_names_count_only_as_envelope_sender() -> None:
    # "owner-x@" as a From is a person's choice of address; as a return path, a robot's.
    headers = {"From": "owner-readers@lists.example.net"}
    assert classify_automated(headers, "ann@example.org") is None
    assert classify_automated(headers, "owner-readers@lists.example.net") is not None


@pytest.mark.parametrize(
    "mail_from",
    [
        "MAILER-DAEMON@mx.example.net",
        "readers-bounces+ann=example.org@lists.example.net",
        "owner-readers@lists.example.net",
        "readers-request@lists.example.net",
        "listserv@lists.example.net",
        "majordomo@lists.example.net",
    ],
)
def test_list_robots_and_daemons_as_envelope_sender(mail_from: str) -> None:
    verdict = classify_automated({"From": "ann@example.org"}, mail_from)
    assert verdict is not None and verdict.reason == "machine_sender"
    assert verdict.evidence == f"MAIL FROM: {mail_from}"


def test_every_signal_is_reported_strongest_first() -> None:
    headers = {
        "From": "MAILER-DAEMON@mx.example.net",
        "Auto-Submitted": "auto-replied",
        "Precedence": "bulk",
        "List-Id": "<readers.lists.example.net>",
        "Subject": "Out of Office",
    }
    verdict = classify_automated(headers, "")
    assert verdict is not None
    assert [s.reason for s in verdict.signals] == [
        "null_sender",
        "auto_submitted",
        "precedence_bulk",
        "list_mail",
        "machine_sender",
        "out_of_office_subject",
    ]
    assert [s.header for s in verdict.signals][:2] == ["MAIL FROM", "Auto-Submitted"]


def test_header_names_are_case_insensitive_in_mappings() -> None:
    verdict = classify_automated({"auto-submitted": "auto-replied"}, "ann@example.org")
    assert verdict is not None and verdict.evidence == "Auto-Submitted: auto-replied"


def test_evidence_is_bounded() -> None:
    verdict = classify_automated({"X-Autorespond": "x" * 5000}, "ann@example.org")
    assert verdict is not None and len(verdict.signals[0].value) <= 200


def test_reason_codes_are_plain_strings() -> None:
    assert {r.value for r in MachineReason} == {
        "null_sender",
        "auto_submitted",
        "autoreply_header",
        "delivery_report",
        "precedence_bulk",
        "list_mail",
        "machine_sender",
        "out_of_office_subject",
    }
    assert str(MachineReason.AUTO_SUBMITTED) == "auto_submitted"


def test_our_own_notification_coming_back_is_machine_mail() -> None:
    # A forwarding loop (the reader's mailbox forwards to a reply address): what
    # mailbridge sends says it is a machine, so mailbridge never files or answers it.
    raw = compose(
        sender=Address("Example Blog", "comments", "example.org"),
        to=Address("Ann", "ann", "example.org"),
        subject="Re: Learning to trust again",
        text="Marta replied to your comment.",
        html="<p>Marta replied to your comment.</p>",
        message_id="<c42.5f1e2d3c4b5a69788796a5b4@example.org>",
        date=datetime(2026, 3, 3, 17, 20, tzinfo=UTC),
        reply_to=Address("Example Blog", "reply+c42.AbCdEf0123", "reply.example.org"),
    )
    verdict = classify_raw(raw, "bounce+o1187.Zx9QwErTy@reply.example.org")
    assert verdict is not None and verdict.reason == "auto_submitted"


def test_raw_8bit_utf8_subject_is_decoded() -> None:
    raw = "Subject: Réponse automatique : Re: hi\r\nFrom: a@example.fr\r\n\r\nx".encode()
    verdict = classify_raw(raw, "a@example.fr")
    assert verdict is not None and verdict.reason == "out_of_office_subject"
    assert verdict.evidence == "Subject: Réponse automatique : Re: hi"


def test_raw_8bit_latin1_subject_is_decoded() -> None:
    raw = "Subject: Abwesenheitsnotiz: Grüße\r\n\r\nx".encode("latin-1")
    verdict = classify_raw(raw, "a@example.de")
    assert verdict is not None and verdict.evidence == "Subject: Abwesenheitsnotiz: Grüße"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\r\n\r\nbody only",
        b"no colon here\r\n\r\n",
        b"Subject: =?utf-8?B?!!!?=\r\n\r\n",
        b"Subject: =?x-unknown?Q?abc?=\r\n\r\n",
        b"From: <<<@@@>>>\r\n\r\n",
    ],
)
def test_malformed_headers_do_not_raise(raw: bytes) -> None:
    classify_raw(raw, None)
    classify_raw(raw, "")


def test_message_helper_round_trips() -> None:
    raw = message({"From": "ann@example.org", "Subject": "Re: hi"})
    assert classify_raw(raw, "ann@example.org") is None
