"""Header access shared by the classifiers: raw, case-insensitive, decoded on demand.

The classifiers look at a dozen header fields of every inbound message, so they
read the stored raw values once (``Message.raw_items()``: no policy work) and only
decode what they compare as text (Subject, From).  Decoding never raises: raw 8-bit
bytes are read as UTF-8 (else Latin-1), RFC 2047 encoded words are decoded with
their charset (else UTF-8), and a broken encoded word is left as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

__all__ = [
    "MAX_HEADER_BYTES",
    "MAX_VALUE_CHARS",
    "HeaderSource",
    "HeaderView",
    "decode_bytes",
    "decode_words",
    "head_of",
    "keyword",
    "local_part",
    "parse_head",
]

#: Where a header section may end: no real one is larger (the SMTP size limit
#: still applies to the whole message); anything beyond is read as body.
MAX_HEADER_BYTES = 256 * 1024
#: A field is truncated to this many characters before it is matched.
MAX_VALUE_CHARS = 2000

#: Either a parsed message (the pipeline's ``BytesHeaderParser`` result) or a plain
#: mapping of field name to value (tests, the CLI); names are case-insensitive.
HeaderSource = Message | Mapping[str, str]

# CRLF (or a bare LF) followed by whitespace: a folded line (RFC 5322 section 2.2.3).
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_SPACES = re.compile(r"\s+")
_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """``data`` as text in ``charset``; UTF-8, else Latin-1, when unknown or wrong."""
    if charset:
        try:
            return data.decode(charset, "replace")
        except (LookupError, ValueError):
            pass  # an unknown charset name ("unknown-8bit", "x-user-defined"...)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _undo_surrogates(value: str) -> str:
    # The compat32 parser keeps undeclared 8-bit header bytes as lone surrogates
    # (surrogateescape); most such headers are UTF-8, the rest mostly Latin-1.
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that no byte maps to
        return value.encode("utf-8", "replace").decode("utf-8")
    return decode_bytes(data)


def decode_words(value: str) -> str:
    """A field value as text: 8-bit bytes and RFC 2047 encoded words decoded."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        value = _undo_surrogates(value)
    if "=?" not in value:
        return value
    try:
        pieces = decode_header(value)
    except (HeaderParseError, ValueError, LookupError):
        return value  # a broken encoded word: matching the raw text is the best left
    out: list[str] = []
    for piece, charset in pieces:
        if isinstance(piece, str):
            out.append(piece)
        elif charset is None:
            # decode_header hands back the unencoded runs as raw-unicode-escape bytes.
            out.append(piece.decode("raw-unicode-escape", "replace"))
        else:
            out.append(decode_bytes(piece, charset))
    return "".join(out)


def _clean(value: str) -> str:
    unfolded = _FOLD.sub("", value[: MAX_VALUE_CHARS * 2])
    return _SPACES.sub(" ", unfolded).strip()[:MAX_VALUE_CHARS]


class HeaderView:
    """The header fields of one message, by lower-cased name, values unfolded."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    @classmethod
    def of(cls, source: HeaderSource | HeaderView) -> HeaderView:
        if isinstance(source, HeaderView):
            return source
        items = source.raw_items() if isinstance(source, Message) else source.items()
        fields: dict[str, list[str]] = {}
        for name, value in items:
            fields.setdefault(str(name).strip().lower(), []).append(_clean(str(value)))
        return cls(fields)

    def has(self, name: str) -> bool:
        return name in self._fields

    def get(self, name: str) -> str | None:
        """The first value of ``name`` (lower-case), unfolded, not decoded."""
        values = self._fields.get(name)
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        return self._fields.get(name, [])

    def text(self, name: str) -> str:
        """The first value of ``name`` decoded to text (encoded words, 8-bit bytes)."""
        value = self.get(name)
        return "" if value is None else _clean(decode_words(value))

    def addresses(self, name: str) -> list[str]:
        """The addr-specs in every ``name`` field, as written."""
        values = [decode_words(v) for v in self.get_all(name)]
        return [addr for _n, addr in getaddresses(values) if "@" in addr]


_KEYWORD_END = re.compile(r"[\s;(]")


def keyword(value: str) -> str:
    """The keyword of a structured value, lower-cased: "auto-replied (vacation)" ->
    "auto-replied", "auto-generated; owner-email=..." -> "auto-generated" (RFC 3834)."""
    return _KEYWORD_END.split(value.strip(), maxsplit=1)[0].lower()


def local_part(address: str) -> str:
    """The local part of ``address``, lower-cased, without a ``+tag`` sub-address."""
    local = address.strip().strip("<>").rpartition("@")[0] if "@" in address else address
    return unicodedata.normalize("NFKC", local.split("+", 1)[0]).strip().strip('"').lower()


def head_of(raw: bytes) -> bytes:
    """The header section of ``raw`` (up to the first blank line), bounded."""
    window = raw[:MAX_HEADER_BYTES]
    if window.startswith((b"\n", b"\r\n")):
        return b""  # no header section at all
    found = _BLANK_LINE.search(window)
    return window if found is None else window[: found.start()]


def parse_head(raw: bytes) -> Message:
    """Only the header section of ``raw``, with the fast compat32 policy."""
    return BytesHeaderParser(policy=compat32).parsebytes(head_of(raw))
