"""Read header fields the way a receiver does: from the raw bytes, decoding RFC 2047
encoded words only where and as RFC 2047 says (not as Python's email package does,
which also decodes what receivers leave alone)."""

from __future__ import annotations

import base64
import re

ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def header_lines(raw: bytes) -> list[bytes]:
    """Every physical line of the header block, without CRLF."""
    return header_block(raw).split(b"\r\n")


def fields(raw: bytes) -> list[tuple[str, str]]:
    """(name, value as on the wire, folds kept) of each header field, in order."""
    found: list[tuple[str, str]] = []
    for line in header_block(raw).decode("utf-8").split("\r\n"):
        if line[:1] in (" ", "\t"):
            name, value = found[-1]
            found[-1] = (name, value + "\r\n" + line)
        else:
            name, _colon, value = line.partition(":")
            found.append((name, value))
    return found


def field(raw: bytes, name: str) -> str:
    """The one field ``name``, as on the wire (leading space and folds kept)."""
    values = [v for n, v in fields(raw) if n.lower() == name.lower()]
    assert len(values) == 1, f"{name}: {len(values)} fields"
    return values[0]


def unfold(value: str) -> str:
    """RFC 5322 2.2.3: unfolding removes each CRLF that is followed by whitespace."""
    return re.sub(r"\r\n(?=[ \t])", "", value)


def decode_word(match: re.Match[str]) -> str:
    charset, encoding, text = match.groups()
    if encoding in "bB":
        data = base64.b64decode(text, validate=True)
    else:
        data = re.sub(
            rb"=([0-9A-F]{2})",
            lambda m: bytes([int(m.group(1), 16)]),
            text.replace("_", " ").encode("ascii"),
        )
    # Each word must hold whole characters (RFC 2047 5): decoded alone, strictly.
    return data.decode(charset, errors="strict")


def decode_text(value: str) -> str:
    """Unstructured text (RFC 2047 6.2): whitespace between two adjacent encoded words
    is dropped, all other whitespace and text is kept as it is."""
    parts = re.split(r"([ \t]+)", unfold(value))
    out: list[str] = []
    space = ""
    previous_encoded = False
    for part in parts:
        if not part:
            continue
        if part.isspace():
            space = part
            continue
        encoded = ENCODED_WORD.fullmatch(part)
        if not (encoded and previous_encoded):
            out.append(space)
        out.append(decode_word(encoded) if encoded else part)
        previous_encoded = encoded is not None
        space = ""
    out.append(space)
    return "".join(out)


def mailbox(value: str) -> tuple[str, str]:
    """(display name as a receiver shows it, address) of a one-mailbox field."""
    text = unfold(value).strip()
    match = re.fullmatch(r"(.*?)\s*<([^<>\s]+)>", text)
    if match is None:
        assert "<" not in text and " " not in text, text
        return "", text
    phrase, address = match.groups()
    if phrase.startswith('"'):
        assert phrase.endswith('"') and len(phrase) > 1, phrase
        return re.sub(r"\\(.)", r"\1", phrase[1:-1]), address
    return decode_text(phrase), address


def encoded_words(value: str) -> list[str]:
    return [m.group(0) for m in ENCODED_WORD.finditer(value)]


def text(raw: bytes, name: str) -> str:
    """The decoded value of unstructured field ``name`` (the whitespace after the colon,
    and a fold right after it, are not part of it)."""
    return decode_text(unfold(field(raw, name)).lstrip(" \t"))
