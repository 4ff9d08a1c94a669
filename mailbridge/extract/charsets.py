"""Turn a body part's bytes into text, whatever its charset label says.

Order of trust:

1. Pure ASCII decodes as itself (unless the label is UTF-7, which is ASCII-shaped).
2. Bytes that are valid UTF-8 *and* contain multi-byte sequences are UTF-8,
   whatever the label: legacy 8-bit text is almost never valid UTF-8 by chance,
   while "charset=Big5" on a UTF-8 body is a common client bug.
3. The declared charset, through a table of aliases that mail uses but Python
   does not know (and the supersets that clients really mean: GB2312 -> GB18030,
   ISO-8859-1 -> windows-1252, Shift_JIS -> cp932), decoded strictly.
4. Detection with charset-normalizer, for undeclared and wrongly declared bodies.
5. ISO-8859-1, which maps every byte to one character: lossless, nothing is lost
   or replaced, and the moderator sees that a fallback happened.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from types import MappingProxyType

from charset_normalizer import from_bytes

__all__ = ["decode_bytes", "lookup_charset"]

# Labels seen in real mail that Python's codec registry does not resolve, and
# labels whose real-world meaning is a superset of the standard one.
_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "iso-8859-8-i": "iso-8859-8",
        "iso-8859-6-i": "iso-8859-6",
        "x-mac-roman": "mac-roman",
        "x-mac-cyrillic": "mac-cyrillic",
        "cp-850": "cp850",
        "x-sjis": "cp932",
        "shift_jis": "cp932",
        "shift-jis": "cp932",
        "sjis": "cp932",
        "windows-31j": "cp932",
        "gb2312": "gb18030",
        "gbk": "gb18030",
        "x-gbk": "gb18030",
        "cn-gb": "gb18030",
        "big5": "big5hkscs",
        "euc-kr": "cp949",
        "ks_c_5601-1987": "cp949",
        "iso-8859-1": "cp1252",
        "latin1": "cp1252",
        "latin-1": "cp1252",
        "us-ascii": "cp1252",
        "ascii": "cp1252",
        "ansi_x3.4-1968": "cp1252",
        "tis-620": "cp874",
        "windows-874": "cp874",
        "utf8": "utf-8",
        "unicode-1-1-utf-7": "utf-7",
        "x-unicode20utf8": "utf-8",
    }
)
_NO_CHARSET = frozenset({"", "unknown", "x-unknown", "unknown-8bit", "x-user-defined", "default"})


def lookup_charset(label: str | None) -> str | None:
    """A Python codec name for a MIME charset label, or None when there is none."""
    if label is None:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _NO_CHARSET or len(name) > 40:
        return None
    name = _ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name).name
        # Python's codecs include bytes-to-bytes ones (base64, hex, zlib, uu, rot13):
        # no charset, and decoding text with them raises LookupError. A label such
        # as "base64" (a mistake or a hostile message) is then no label at all.
        b"a".decode(codec, "ignore")  # (an empty input is not checked)
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None
    return codec


# Codecs whose bytes look like ASCII (or binary): the label must be used first.
_STATEFUL = ("utf-7", "utf-16", "utf-32", "iso2022", "hz")
# Three bytes >= 0x80 in a row: a script written entirely in the upper half
# (Cyrillic, Greek, CJK), not accented Latin letters among ASCII ones.
_HIGH_RUN = re.compile(rb"[\x80-\xff]{3}")


def _looks_western(data: bytes) -> bool:
    """Accented Latin text in windows-1252: "Tr\xe8s bien", "Gr\xfc\xdfe"."""
    return _HIGH_RUN.search(data) is None


def _is_utf8_family(codec: str | None) -> bool:
    return codec is not None and codec.startswith("utf")


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str, bool]:
    """``(text, codec, fallback)``: fallback is True when the label was not used."""
    codec = lookup_charset(declared)
    if codec is not None and codec.startswith(_STATEFUL):
        try:  # these look like ASCII or like binary: trust the label first
            return data.decode(codec), codec, False
        except UnicodeDecodeError:
            pass
    if data.isascii():
        return data.decode("ascii"), codec or "ascii", False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return text, "utf-8", not _is_utf8_family(codec)
    if codec is not None and not _is_utf8_family(codec):
        try:
            return data.decode(codec), codec, False
        except UnicodeDecodeError:
            pass
    if codec is None and _looks_western(data):
        try:
            return data.decode("cp1252"), "cp1252", True
        except UnicodeDecodeError:
            pass
    best = from_bytes(data[:65536]).best()
    if best is not None:
        guess = lookup_charset(best.encoding)
        if guess is not None:
            try:
                return data.decode(guess), guess, True
            except UnicodeDecodeError:
                pass
    return data.decode("latin-1"), "latin-1", True
