"""Nothing a sender can put in a message makes the checks raise, or pass without a key."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList
from senderauth.mailkit import Key, message, prepend, sign, zone

from mailbridge.senderauth import (
    AuthPolicy,
    StaticResolver,
    UnavailableResolver,
    authenticate,
    decide,
)
from mailbridge.senderauth.authres import AuthResSyntaxError, parse_authres
from mailbridge.senderauth.dmarc import InvalidDmarcRecord, parse_record

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ZONE = StaticResolver(
    {"_dmarc.example.com": "v=DMARC1; p=reject", "sel._domainkey.example.com": "v=DKIM1; p="},
    otherwise="nxdomain",
)
HEADERISH = st.lists(
    st.sampled_from(
        [
            b"From: Ann <ann@example.com>\r\n",
            b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=; b=\r\n",
            b"DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=sel; h=from:from;"
            b" bh=AAAA; b=AAAA; l=99999999999\r\n",
            b"Authentication-Results: mx; dmarc=pass header.from=example.com\r\n",
            b"Authentication-Results: mx; dkim=pass (((\r\n",
            b" folded continuation\r\n",
            b"\r\n",
            b"Subject: =?utf-8?q?caf=C3=A9?=\r\n",
            b"From: \xff\xfe@\xe9xample.com\r\n",
        ]
    )
    | st.binary(max_size=80),
    max_size=12,
).map(b"".join)


def _run(raw: bytes, resolver: StaticResolver | UnavailableResolver, psl: PublicSuffixList) -> None:
    async def go() -> None:
        result = await authenticate(
            raw, resolver=resolver, trusted_authserv_ids=["mx"], peer="127.0.0.1", suffixes=psl
        )
        result.to_log()
        result.summary()
        decide(result, AuthPolicy())
        # Nothing here holds a key for example.com, so nothing can authenticate locally.
        assert result.status != "authenticated" or result.source != "local checks"

    asyncio.run(go())


@SETTINGS
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes, suffixes: PublicSuffixList) -> None:
    _run(raw, ZONE, suffixes)


@SETTINGS
@given(raw=HEADERISH)
def test_header_soup_never_raises(raw: bytes, suffixes: PublicSuffixList) -> None:
    _run(raw, ZONE, suffixes)
    _run(raw, UnavailableResolver(), suffixes)


@SETTINGS
@given(value=st.text(max_size=300))
def test_the_authres_parser_only_raises_its_syntax_error(value: str) -> None:
    try:
        parse_authres(value)
    except AuthResSyntaxError:
        pass


@SETTINGS
@given(
    value=st.lists(
        st.sampled_from(
            ["mx", ";", "=", " ", "(", ")", '"', "\\", "dkim", "pass", "header.d", "."]
        ),
        max_size=40,
    ).map("".join)
)
def test_the_authres_parser_on_its_own_alphabet(value: str) -> None:
    try:
        parse_authres(value)
    except AuthResSyntaxError:
        pass


@SETTINGS
@given(value=st.text(max_size=200))
def test_the_dmarc_record_parser_only_raises_its_own_error(value: str) -> None:
    for text in (value, "v=DMARC1;" + value):
        try:
            parse_record(text)
        except InvalidDmarcRecord:
            pass


BODY = "Thanks, that helped a lot."


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    where=st.integers(min_value=0, max_value=len(BODY) - 1),
    letter=st.characters(min_codepoint=0x21, max_codepoint=0x7E),
)
def test_changing_any_visible_character_of_the_body_is_refused(
    where: int, letter: str, ed_key: Key, suffixes: PublicSuffixList
) -> None:
    raw = sign(message(body=BODY + "\r\n"), ed_key)
    changed = BODY[:where] + letter + BODY[where + 1 :]
    tampered = raw.replace(BODY.encode(), changed.encode())
    resolver = zone(ed_key, records={"_dmarc.example.com": "v=DMARC1; p=reject"})
    result = asyncio.run(authenticate(tampered, resolver=resolver, suffixes=suffixes))
    if changed == BODY:
        assert result.status == "authenticated"
    else:
        assert result.status == "failed"
        assert decide(result, AuthPolicy()).action == "refuse"


def test_prepend_keeps_a_signature_valid(ed_key: Key, suffixes: PublicSuffixList) -> None:
    raw = prepend(sign(message(), ed_key), "Received: from relay")
    resolver = zone(ed_key, records={"_dmarc.example.com": "v=DMARC1; p=reject"})
    result = asyncio.run(authenticate(raw, resolver=resolver, suffixes=suffixes))
    assert result.status == "authenticated"
