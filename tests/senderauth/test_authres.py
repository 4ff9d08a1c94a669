"""Authentication-Results: the parser, and which header (if any) is believed."""

from __future__ import annotations

import pytest

from mailbridge.senderauth.authres import (
    AuthResSyntaxError,
    parse_authres,
    peer_in_networks,
    topmost_trusted,
)


def test_a_typical_header_parses() -> None:
    header = parse_authres(
        " mx.example.org;\r\n\tdkim=pass (2048-bit key; unprotected) header.d=example.com"
        " header.s=sel header.b=AbC+/d==;\r\n\tspf=pass (sender IP is 192.0.2.1)"
        " smtp.mailfrom=ann@example.com;\r\n\tdmarc=pass (p=REJECT sp=REJECT dis=NONE)"
        " header.from=example.com"
    )
    assert header.authserv_id == "mx.example.org"
    dkim, spf, dmarc = header.results
    assert (dkim.method, dkim.result, dkim.prop("header.d")) == ("dkim", "pass", "example.com")
    assert dkim.prop("header.b") == "AbC+/d=="
    assert dkim.comments == ("2048-bit key; unprotected",)
    assert spf.prop("smtp.mailfrom") == "ann@example.com"
    assert (dmarc.result, dmarc.prop("header.from")) == ("pass", "example.com")
    assert dmarc.comments == ("p=REJECT sp=REJECT dis=NONE",)


def test_versions_quoted_values_reasons_and_nested_comments() -> None:
    header = parse_authres(
        '"relay one" 1; DKIM/1 = Pass reason="good (really)" header.i=@Example.com'
        " (outer (inner) comment); dmarc=fail policy.dmarc=reject header.from=example.com;"
    )
    assert header.authserv_id == "relay one"
    dkim, dmarc = header.results
    assert (dkim.method, dkim.result, dkim.reason) == ("dkim", "pass", "good (really)")
    assert dkim.prop("header.i") == "@Example.com"
    assert dkim.comments == ("outer (inner) comment",)
    assert dmarc.prop("policy.dmarc") == "reject"


def test_no_result_and_microsoft_style_keys() -> None:
    assert parse_authres("mx.example.org; none").results == ()
    header = parse_authres(
        "spf.protection.outlook.com; dkim=none (message not signed) header.d=none;"
        "dmarc=none action=none header.from=example.com;compauth=fail reason=001"
    )
    assert [r.method for r in header.results] == ["dkim", "dmarc", "compauth"]
    assert header.results[1].prop("action") == "none"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "; dkim=pass",
        "mx.example.org 2; dkim=pass",  # only version 1 exists
        "mx.example.org extra; dkim=pass",
        "mx.example.org; dkim",
        "mx.example.org; dkim=",
        "mx.example.org; dkim=pass header.d",
        "mx.example.org; dkim=pass header.d=",
        "mx.example.org; dkim=pass (unterminated",
        'mx.example.org; dkim=pass header.d="unterminated',
        "mx.example.org; dkim=pass) header.d=x",
        "mx.example.org; ; dkim=pass",
        "mx.example.org; dkim=pass " + "(" * 40 + ")" * 40,
        "mx.example.org; " + "x" * 20_000,
    ],
)
def test_malformed_headers_are_refused_whole(value: str) -> None:
    with pytest.raises(AuthResSyntaxError):
        parse_authres(value)


GENUINE = ("Authentication-Results", "mx.example.org; dmarc=fail header.from=example.com")
FORGED = ("Authentication-Results", "mx.example.org; dmarc=pass header.from=example.com")
FROM = ("From", "Ann <ann@example.com>")


def test_the_topmost_header_from_a_trusted_relay_is_honoured() -> None:
    headers = [("Received", "from relay"), GENUINE, ("X-Spam", "no"), FROM]
    header, note = topmost_trusted(headers, ["MX.example.org"])
    assert header is not None and header.results[0].result == "fail"
    assert "trusted relay mx.example.org" in note


def test_a_forged_copy_below_the_genuine_header_is_never_read() -> None:
    header, _ = topmost_trusted([GENUINE, FORGED, FROM], ["mx.example.org"])
    assert header is not None and header.results[0].result == "fail"


def test_an_untrusted_authserv_id_is_ignored_and_hides_what_is_below() -> None:
    headers = [("Authentication-Results", "other.example; dkim=pass"), FORGED, FROM]
    header, note = topmost_trusted(headers, ["mx.example.org"])
    assert header is None
    assert "untrusted" in note


def test_a_header_among_the_message_fields_is_buried_and_ignored() -> None:
    header, note = topmost_trusted([("Received", "x"), FROM, FORGED], ["mx.example.org"])
    assert header is None
    assert "above the message's own fields" in note


def test_nothing_is_believed_without_trusted_relays() -> None:
    assert topmost_trusted([FORGED, FROM], [])[0] is None
    assert topmost_trusted([FORGED, FROM], ["  "])[0] is None


def test_an_unreadable_topmost_header_is_ignored_not_skipped() -> None:
    headers = [("Authentication-Results", "mx.example.org; dkim=("), FORGED, FROM]
    header, note = topmost_trusted(headers, ["mx.example.org"])
    assert header is None
    assert "unreadable" in note


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("127.0.0.1", True),
        ("127.0.0.1:40000", True),
        ("127.8.9.10:25", True),
        ("::1", True),
        ("::1:40000", True),  # aiosmtpd's peer tuple joined with ":" by the handler
        ("[::1]:40000", True),
        ("192.0.2.25:41000", True),
        ("2001:db8::25", True),
        ("[2001:db8::25]:50000", True),
        ("198.51.100.1:40000", False),
        ("2001:db9::1", False),
        ("", False),
        ("/run/mailbridge.sock", False),
        ("relay.example:25", False),
    ],
)
def test_peers_are_matched_against_networks(peer: str, trusted: bool) -> None:
    networks = ["127.0.0.0/8", "::1/128", "192.0.2.0/24", "2001:db8::/32"]
    assert peer_in_networks(peer, networks) is trusted


def test_an_invalid_network_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        peer_in_networks("127.0.0.1", ["not-a-network"])
