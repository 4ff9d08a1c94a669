"""The daemon's SMTP protocol parses MAIL and RCPT addresses as aiosmtpd does, with a
quicker path for a plain ``<local@domain>`` (mailbridge/inbound/server.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from aiosmtpd import smtp as aiosmtpd_smtp
from aiosmtpd.smtp import SMTP
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailbridge.inbound.server import _LimitedSMTP

PIECES = st.sampled_from(
    [
        "a", "Z", "0", ".", "..", "@", "@@", "<", ">", "<>", " ", "\t", '"', "\\", "(", ")",
        "[", "]", ",", ":", ";", "-", "_", "+", "=", "!", "#", "$", "%", "&", "'", "*", "/",
        "?", "^", "`", "{", "|", "}", "~", "ö", "日", "example", "org", "[127.0.0.1]",
        " SIZE=100", " BODY=8BITMIME", " SMTPUTF8", "=", "\x00", "\x0b", "\n", "\u00a0",
        "(c)", " (c) ", "\u2028",
    ]
)  # fmt: skip


def protocol(local_part_limit: int) -> Any:
    # Only _getaddr is called: no loop, handler or transport needed.
    server = object.__new__(_LimitedSMTP)
    server.local_part_limit = local_part_limit
    return server


@settings(max_examples=2000, deadline=None)
@given(st.lists(PIECES, max_size=14).map("".join), st.sampled_from([0, 3, 64]))
@example("<reader@example.org>", 0)
@example("<reader@example.org> SIZE=4096 BODY=8BITMIME", 0)
@example("<reply+AbC.d-e_f@reply.example.org>", 0)
@example("<abcd@example.org>", 3)
@example("<a..b@example.org>", 0)
@example("<.a@example.org>", 0)
@example("<a@example.org.>", 0)
@example("<a@-example.org>", 0)
@example("<a@[127.0.0.1]>", 0)
@example("<>", 0)
@example("<", 0)
@example(" <a@example.org>", 0)
@example("a@example.org", 0)
@example('<"a b"@example.org>', 0)
@example("<a@example.org>>", 0)
@example("<a@example.org> (comment) SIZE=1", 0)
@example("<a@example.org> \u00a0 SIZE=1", 0)
@example("<a@example.org>\x0b SIZE=1", 0)
def test_every_address_argument_gets_aiosmtpds_own_answer(arg: str, limit: int) -> None:
    server = protocol(limit)
    assert outcome(server._getaddr, arg) == outcome(partial(SMTP._getaddr, server), arg)


def outcome(parse: Callable[[str], object], arg: str) -> object:
    """What parsing answers, or the exception it raises (aiosmtpd's own parsing raises
    IndexError on a lone "<"; the quicker path must leave that to it as well)."""
    try:
        return parse(arg)
    except Exception as exc:
        return type(exc)


def test_a_plain_address_does_not_reach_the_header_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def parser(*args: object) -> None:
        raise AssertionError("parsed by the email package")

    monkeypatch.setattr(aiosmtpd_smtp, "get_angle_addr", parser)
    monkeypatch.setattr(aiosmtpd_smtp, "get_addr_spec", parser)
    server = protocol(0)
    assert server._getaddr("<reply+x.y@reply.example.org> SIZE=9") == (
        "reply+x.y@reply.example.org",
        "SIZE=9",
    )
    with pytest.raises(AssertionError, match="parsed by the email package"):
        server._getaddr('<"a b"@example.org>')  # not plain: aiosmtpd's own parsing
