"""Relaxed header canonicalization (RFC 6376 3.4.2) of a message in clean CRLF form,
byte for byte what dkimpy's ``rfc822_parse`` and ``canonicalize_headers`` give.

dkimpy splits the whole message with a regular expression, joins the body again and
runs two more per header: about half of what signing a notification cost with an
ed25519 key (issue 14; docs/performance.md). mailbridge's own messages are plain CRLF
with ordinary headers, which string methods handle at C speed. Anything else (a bare
LF, a header line dkimpy would refuse or skip, an unusual space character) gets
``None`` here, and the caller uses dkimpy's own code, so the two never differ:
tests/dkim/test_canon.py checks that on generated messages.
"""

from __future__ import annotations

import re
from typing import Protocol

import dkim

__all__ = ["hash_signed_headers", "relaxed_headers"]

# A field name as dkimpy reads it: printable ASCII up to the first colon.
_NAME = re.compile(rb"[\x21-\x7e]+")
# Whitespace dkimpy's relaxed rule treats apart from space and tab (bytes.split would not).
_ODD = re.compile(rb"[\r\n\x0b\x0c]")

Headers = list[tuple[bytes, bytes]]


def relaxed_headers(message: bytes) -> tuple[Headers, bytes] | None:
    """``(canonical headers, body)`` as dkimpy computes them, or None when only dkimpy's
    own parsing is sure to agree with itself."""
    if message.count(b"\n") != message.count(b"\r\n"):
        return None  # a bare LF: dkimpy rewrites line ends
    head, blank, body = message.partition(b"\r\n\r\n")
    if not blank or not head:
        return None
    fields: list[tuple[bytes, list[bytes]]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not fields:
                return None
            fields[-1][1].append(line)  # a folded value goes on, unfolded
            continue
        name, colon, value = line.partition(b":")
        if not colon or _NAME.fullmatch(name) is None:
            return None  # dkimpy refuses it, or skips an mbox "From " line
        fields.append((name, [value]))
    canonical: Headers = []
    for name, pieces in fields:
        value = b"".join(pieces)
        if _ODD.search(value) is not None:
            return None
        # Runs of spaces and tabs become one space, none at either end.
        canonical.append((name.lower(), b" ".join(value.split()) + b"\r\n"))
    return canonical, body


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...


def hash_signed_headers(
    hasher: _Hasher, canonical: Headers, include: list[bytes], signature: bytes
) -> bool:
    """What dkimpy's ``hash_headers`` hashes for relaxed headers, into ``hasher``; False
    (nothing hashed) when the signature header needs dkimpy's own rules.

    Each name in ``include`` (lower case) takes the last of its occurrences not taken
    yet, from the bottom up; then the DKIM-Signature header with b= emptied, canonical,
    without its CRLF (RFC 6376 3.7)."""
    value = dkim.RE_BTAG.sub(b"\\1", signature).replace(b"\r\n", b"")
    if _ODD.search(value) is not None:
        return False
    where: dict[bytes, list[int]] = {}
    for index, (name, _value) in enumerate(canonical):
        where.setdefault(name, []).append(index)
    for name in include:
        found = where.get(name)
        if found:
            header_name, header_value = canonical[found.pop()]
            hasher.update(header_name)
            hasher.update(b":")
            hasher.update(header_value)
    hasher.update(b"dkim-signature:")
    hasher.update(b" ".join(value.split()))
    return True
