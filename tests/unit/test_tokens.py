from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbridge.errors import BadLink, ExpiredLink
from mailbridge.inbound.recipients import Kind, kind_of
from mailbridge.rejections import BadReplyToken, RelayDenied, UnknownRecipient
from mailbridge.tokens import (
    Action,
    Keyring,
    UndoLink,
    make_bounce_token,
    make_moderation_token,
    make_reply_token,
    make_undo_token,
    read_bounce_token,
    read_moderation_token,
    read_reply_token,
    read_undo_token,
)

KEYS = Keyring.from_secret(b"k" * 32)
OTHER = Keyring.from_secret(b"o" * 32)
TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_reply_token_round_trip_and_shape() -> None:
    token = make_reply_token(KEYS.reply, 7, 1234, TODAY + timedelta(days=90))
    assert len(token) == 32 and token == token.lower() and token.isalnum()
    parsed = read_reply_token(KEYS.reply, token)
    assert (parsed.address_id, parsed.comment_id) == (7, 1234)
    assert not parsed.expired(TODAY)
    assert parsed.expired(TODAY + timedelta(days=91))


def test_reply_token_is_case_insensitive() -> None:
    token = make_reply_token(KEYS.reply, 1, 2, TODAY)
    assert read_reply_token(KEYS.reply, token.upper()).comment_id == 2


@given(st.integers(0, 31), st.integers(0, 4))
def test_any_changed_character_is_refused(position: int, shift: int) -> None:
    token = make_reply_token(KEYS.reply, 1, 2, TODAY)
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    new = alphabet[(alphabet.index(token[position]) + shift + 1) % 32]
    tampered = token[:position] + new + token[position + 1 :]
    with pytest.raises(BadReplyToken):
        read_reply_token(KEYS.reply, tampered)


@pytest.mark.parametrize("token", ["", "short", "!" * 32, "a" * 33, "0" * 32])
def test_malformed_reply_tokens(token: str) -> None:
    with pytest.raises(BadReplyToken):
        read_reply_token(KEYS.reply, token)


def test_keys_are_bound_to_their_purpose_and_instance() -> None:
    token = make_reply_token(KEYS.reply, 1, 2, TODAY)
    with pytest.raises(BadReplyToken):
        read_reply_token(OTHER.reply, token)
    with pytest.raises(BadReplyToken):
        read_reply_token(KEYS.moderation, token)
    link = make_moderation_token(KEYS.moderation, 2, Action.APPROVE, NOW, 7)
    with pytest.raises(BadLink):
        read_moderation_token(KEYS.reply, link, NOW)


def test_moderation_token_round_trip_binds_comment_action_and_moderator() -> None:
    expires = NOW + timedelta(days=14)
    for action in Action:
        token = make_moderation_token(KEYS.moderation, 99, action, expires, 12)
        link = read_moderation_token(KEYS.moderation, token, NOW)
        assert (link.comment_id, link.action, link.moderator_id) == (99, action, 12)
    # The moderator is covered by the MAC: a link cannot be re-attributed.
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[12] ^= 1  # the last byte of the moderator id
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(BadLink):
        read_moderation_token(KEYS.moderation, forged, NOW)


def _link_before_moderators(comment_id: int, action: Action, expires: datetime) -> str:
    """A link as mailbridge minted them before the moderator was part of the token."""
    payload = struct.pack(">IBI", comment_id, action.code, int(expires.timestamp()))
    mac = hmac.new(KEYS.moderation, b"moderate\0" + payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")


def test_links_minted_before_moderators_were_named_still_work_until_they_expire() -> None:
    token = _link_before_moderators(5, Action.REJECT, NOW + timedelta(days=3))
    link = read_moderation_token(KEYS.moderation, token, NOW)
    assert (link.comment_id, link.action, link.moderator_id) == (5, Action.REJECT, None)
    with pytest.raises(ExpiredLink):
        read_moderation_token(KEYS.moderation, token, NOW + timedelta(days=4))
    with pytest.raises(BadLink):
        read_moderation_token(OTHER.moderation, token, NOW)


def test_moderation_token_expires() -> None:
    token = make_moderation_token(KEYS.moderation, 1, Action.SPAM, NOW - timedelta(seconds=1), 1)
    with pytest.raises(ExpiredLink):
        read_moderation_token(KEYS.moderation, token, NOW)


@given(st.text(max_size=80))
def test_arbitrary_moderation_tokens_never_crash(token: str) -> None:
    with pytest.raises(BadLink):
        read_moderation_token(KEYS.moderation, token, NOW)


def test_recipient_sorting() -> None:
    token = make_reply_token(KEYS.reply, 3, 4, TODAY)
    found = kind_of(f"reply+{token}@Reply.Example.org", "reply.example.org")
    assert (found.kind, found.token) == (Kind.REPLY, token)
    assert kind_of(f"REPLY+{token.upper()}@reply.example.org", "reply.example.org").token == (
        token.upper()
    )
    assert read_reply_token(KEYS.reply, token.upper()).address_id == 3
    assert kind_of("bounce+abc@reply.example.org", "reply.example.org").kind is Kind.BOUNCE
    extra = kind_of("Comments@Example.org", "reply.example.org", ("comments@example.org",))
    assert extra.kind is Kind.EXTRA
    with pytest.raises(RelayDenied):
        kind_of(f"reply+{token}@gmail.com", "reply.example.org")
    with pytest.raises(UnknownRecipient):
        kind_of("webmaster@reply.example.org", "reply.example.org")
    # RFC 5321 4.5.1: postmaster is accepted, at the reply domain and bare.
    for postmaster in (
        "postmaster@reply.example.org",
        "PostMaster@Reply.Example.org",
        "postmaster",
    ):
        assert kind_of(postmaster, "reply.example.org").kind is Kind.POSTMASTER
    with pytest.raises(RelayDenied):
        kind_of("postmaster@elsewhere.example", "reply.example.org")


def test_epoch_revokes_and_bounce_tokens_round_trip() -> None:
    token = make_reply_token(KEYS.reply, 3, 4, TODAY, epoch=2)
    assert read_reply_token(KEYS.reply, token, 2).comment_id == 4
    for wrong in (0, 1, 3):
        with pytest.raises(BadReplyToken):
            read_reply_token(KEYS.reply, token, wrong)
    bounce = make_bounce_token(KEYS.bounce, 77)
    assert len(bounce) == 24 and read_bounce_token(KEYS.bounce, bounce) == 77
    with pytest.raises(BadReplyToken):
        read_bounce_token(KEYS.reply, bounce)


def test_an_undo_link_names_its_decision_and_one_from_before_is_still_read() -> None:
    key, now = b"k" * 32, datetime(2026, 12, 1, tzinfo=UTC)
    later = now + timedelta(days=30)
    token = make_undo_token(key, 7, "pending", "approved", 3, later, 41)
    assert len(token) <= 48
    assert read_undo_token(key, token, now) == UndoLink(7, "pending", "approved", 3, 41)
    # As they were made before (no decision id): valid until they expire, naming none.
    payload = struct.pack(">IBBII", 7, 0, 1, 3, int(later.timestamp()))
    mac = hmac.new(key, b"undo decision\0" + payload, hashlib.sha256).digest()[:16]
    old = base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")
    assert read_undo_token(key, old, now) == UndoLink(7, "pending", "approved", 3, None)
    with pytest.raises(ExpiredLink):
        read_undo_token(key, token, later + timedelta(seconds=1))
    with pytest.raises(BadLink):
        read_undo_token(key, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), now)
