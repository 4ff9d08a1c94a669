"""Reply addresses: ``reply+TOKEN@reply_domain``, checked at RCPT time without the database."""

from __future__ import annotations

from mailbridge.errors import RelayDenied, UnknownRecipient
from mailbridge.tokens import ReplyToken, read_reply_token

__all__ = ["REPLY_PREFIX", "parse_reply_address"]

REPLY_PREFIX = "reply+"


def parse_reply_address(address: str, reply_domain: str, key: bytes) -> ReplyToken:
    """The genuine token in ``address`` (expiry not checked), or the Rejection saying why not."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or domain.lower().rstrip(".") != reply_domain.lower():
        raise RelayDenied()
    if not local.lower().startswith(REPLY_PREFIX):
        raise UnknownRecipient()
    return read_reply_token(key, local[len(REPLY_PREFIX) :])
