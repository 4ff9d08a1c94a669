"""Each service's delivery events and an abuse report, read (pure): what counts as hard,
soft or a complaint, what is skipped, and that nothing but a clear refusal comes out of
any input."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbridge.classify.arf import parse_arf
from mailbridge.inbound_webhooks.events import (
    mailgun_event,
    postmark_event,
    sendgrid_events,
    sendgrid_key,
    sendgrid_signature_ok,
    ses_events,
)
from mailbridge.inbound_webhooks.providers import BadPayload, NotAuthentic


def failed(severity: str, code: int, enhanced: str, message: str) -> dict[str, Any]:
    return {
        "event-data": {
            "event": "failed", "id": "G9Bn5sl1TC6nu79C8C0bwg", "timestamp": 1521233195.37,
            "severity": severity, "recipient": "ann@example.org",
            "delivery-status": {"code": code, "enhanced-code": enhanced, "message": message},
            "message": {"headers": {"message-id": "notify.1@reply.example.org"}},
        }
    }  # fmt: skip


@pytest.mark.parametrize(
    ("severity", "code", "enhanced", "message", "kind"),
    [
        ("permanent", 550, "5.1.1", "The email account does not exist.", "hard"),
        ("permanent", 554, "5.7.1", "Service unavailable; client host blocked", "soft"),
        ("permanent", 552, "5.2.2", "Mailbox full", "soft"),
        ("permanent", 605, "", "Not delivering to previously bounced address", "hard"),
        ("temporary", 450, "4.2.1", "try later", "soft"),
        ("temporary", 550, "5.1.1", "User unknown", "soft"),  # Mailgun will retry it
    ],
)
def test_mailgun_failures(severity: str, code: int, enhanced: str, message: str, kind: str) -> None:
    event = mailgun_event(failed(severity, code, enhanced, message))
    assert event is not None and event.kind == kind
    assert event.message_id == "<notify.1@reply.example.org>"
    assert event.event_id == "G9Bn5sl1TC6nu79C8C0bwg@1521233195.37"


def test_mailgun_complaints_and_what_is_skipped() -> None:
    body = failed("permanent", 550, "5.1.1", "x")
    body["event-data"]["event"] = "complained"
    event = mailgun_event(body)
    assert event is not None and event.kind == "complaint"
    body["event-data"]["event"] = "delivered"
    assert mailgun_event(body) is None
    for bad in ([], {"event-data": "x"}, {"event-data": {"event": "failed"}}):
        with pytest.raises(BadPayload):
            mailgun_event(bad)


def sendgrid(**fields: Any) -> dict[str, Any]:
    return {"email": "ann@example.org", "timestamp": 1513299569, "sg_event_id": "e1",
            "smtp-id": "<notify.1@reply.example.org>", **fields}  # fmt: skip


def test_sendgrid_events() -> None:
    batch = [
        sendgrid(event="bounce", type="bounce", status="5.1.1", reason="550 5.1.1 unknown"),
        sendgrid(event="bounce", type="blocked", status="5.7.1", reason="554 5.7.1 blocked"),
        sendgrid(event="bounce", type="blocked", status="", reason="blocked by policy"),
        sendgrid(event="deferred", response="451 try again"),
        sendgrid(event="dropped", reason="Bounced Address"),
        sendgrid(event="dropped", reason="Unsubscribed Address"),
        sendgrid(event="spamreport"),
        sendgrid(event="open"),
        sendgrid(event="delivered", response="250 OK"),
    ]
    kinds = [e.kind for e in sendgrid_events(batch)]
    assert kinds == ["hard", "soft", "soft", "soft", "hard", "complaint"]
    for bad in ({}, [1], [sendgrid(event="bounce", sg_event_id="")], [{}] * 1001):
        with pytest.raises(BadPayload):
            sendgrid_events(bad)


def test_sendgrid_signature() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = sendgrid_key(base64.b64encode(der).decode())
    body = b'[{"event":"spamreport"}]'
    signature = base64.b64encode(
        private.sign(b"1700000000" + body, ec.ECDSA(hashes.SHA256()))
    ).decode()
    sendgrid_signature_ok(key, signature, "1700000000", body)
    for sig, ts, data in [
        (signature, "1700000001", body),  # another timestamp
        (signature, "1700000000", body + b" "),  # the body changed
        ("not base64!", "1700000000", body),
        (None, "1700000000", body),
        (signature, None, body),
    ]:
        with pytest.raises(NotAuthentic):
            sendgrid_signature_ok(key, sig, ts, data)
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert sendgrid_key(pem.decode()).public_numbers() == key.public_numbers()
    rsa_der = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for bad in ("not a key", base64.b64encode(rsa_der).decode(), ""):
        with pytest.raises(ValueError, match="key"):
            sendgrid_key(bad)


ARF = (
    b"From: <abusedesk@example.com>\r\nMessage-ID: <report.1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nAn abuse report.\r\n"
    b"--b\r\nContent-Type: message/feedback-report\r\n\r\n"
    b"Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n"
    b"From: <notify@example.org>\r\nMessage-ID: <notify.1@reply.example.org>\r\n"
    b"Subject: Re\r\n\r\nThe notification.\r\n"
    b"--b--\r\n"
)


def test_an_abuse_report() -> None:
    report = parse_arf(ARF)
    assert report is not None
    assert (report.feedback_type, report.report_id, report.returned_message_id) == (
        "abuse", "<report.1@example.com>", "<notify.1@reply.example.org>"
    )  # fmt: skip
    headers_only = ARF.replace(b"message/rfc822", b"text/rfc822-headers")
    assert parse_arf(headers_only) == report
    # A delivery report, a read receipt, a plain message: not abuse reports.
    assert parse_arf(ARF.replace(b"feedback-report;", b"delivery-status;")) is None
    assert parse_arf(b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n") is None
    # Without its feedback-report part it is not one either.
    assert parse_arf(ARF.replace(b"message/feedback-report", b"text/plain")) is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_read_as_a_report_or_not(raw: bytes) -> None:
    parse_arf(raw)
    parse_arf(ARF[: len(raw) % len(ARF)] + raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_read_as_events_or_refused(data: Any) -> None:
    for read in (mailgun_event, sendgrid_events, postmark_event):
        try:
            read(data)
        except BadPayload:
            pass
        try:
            read({"event-data": data} if read is mailgun_event else [data])
        except BadPayload:
            pass


def ses(kind: str, body: dict[str, Any], mail: dict[str, Any]) -> dict[str, Any]:
    return {"Message": json.dumps({"notificationType": kind, kind.lower(): body, "mail": mail})}


def test_ses_events() -> None:
    common = {"commonHeaders": {"messageId": "<notify.1@reply.example.org>"}}
    listed = {"headers": [{"name": "Message-ID", "value": "<notify.2@reply.example.org>"}]}
    recipients = [{"emailAddress": "Ann@example.org", "status": "5.1.1",
                   "diagnosticCode": "smtp; 550 5.1.1 User unknown"},
                  {"emailAddress": "bob@example.org", "status": "5.7.1",
                   "diagnosticCode": "smtp; 554 5.7.1 blocked"}]  # fmt: skip
    bounce = {"bounceType": "Permanent", "feedbackId": "fb", "bouncedRecipients": recipients}
    events = ses_events(ses("Bounce", bounce, common))
    assert [(e.kind, e.event_id, e.message_id) for e in events] == [
        ("hard", "fb/1", "<notify.1@reply.example.org>"),
        ("soft", "fb/2", "<notify.1@reply.example.org>"),
    ]
    transient = {**bounce, "bounceType": "Transient"}
    assert {e.kind for e in ses_events(ses("Bounce", transient, listed))} == {"soft"}
    assert ses_events(ses("Bounce", bounce, listed))[0].message_id == (
        "<notify.2@reply.example.org>"
    )
    assert ses_events(ses("Bounce", bounce, {}))[0].message_id == ""  # headers not included
    complaint = {"feedbackId": "c", "complainedRecipients": [{"emailAddress": "a@example.org"}]}
    assert [e.kind for e in ses_events(ses("Complaint", complaint, common))] == ["complaint"]
    not_spam = {**complaint, "complaintFeedbackType": "not-spam"}
    assert ses_events(ses("Complaint", not_spam, common)) == []
    assert ses_events(ses("Delivery", {}, common)) == []
    for bad in ({"Message": "not json"}, {"Message": "[]"}, ses("Bounce", {}, common)):
        with pytest.raises(BadPayload):
            ses_events(bad)


def test_postmark_events() -> None:
    returned = ARF.decode()  # a complaint's content: the loop's report of our message

    def bounce(**fields: Any) -> dict[str, Any]:
        return {"RecordType": "Bounce", "ID": 42, "Type": "HardBounce", "Email": "a@example.org",
                "Details": "smtp;550 5.1.1 user unknown", "Content": "", **fields}  # fmt: skip

    hard = postmark_event(bounce())
    assert hard is not None and (hard.kind, hard.event_id, hard.message_id) == ("hard", "42", "")
    full = postmark_event(bounce(Details="smtp;552 5.2.2 mailbox full"))
    assert full is not None and full.kind == "soft"
    soft = postmark_event(bounce(Type="SoftBounce"))
    assert soft is not None and soft.kind == "soft"
    assert postmark_event(bounce(Type="AutoResponder")) is None
    assert postmark_event(bounce(RecordType="Delivery")) is None
    complaint = postmark_event(
        bounce(RecordType="SpamComplaint", Type="SpamComplaint", Content=returned)
    )
    assert complaint is not None and complaint.kind == "complaint"
    assert complaint.message_id == "<notify.1@reply.example.org>"
    for bad in ([], bounce(ID=None)):
        with pytest.raises(BadPayload):
            postmark_event(bad)
