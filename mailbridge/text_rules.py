"""What a name or a comment may contain: every script, nothing that can spoof.

Zero-width joiners and non-joiners belong to Persian, Hindi and emoji families,
and variation selectors and tag characters to emoji: they are kept. What is
refused can make text show something other than what it is: bidi embeddings,
overrides and isolates (they reorder what follows, "Trojan Source"), a name made
only of invisible characters, and long stacks of combining marks on one letter
("Zalgo" text that spills over the lines around it). Pure functions; callers turn
:class:`TextRefused` into their own error (an HTTP 400, a held comment).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "MAX_COMBINING",
    "TextRefused",
    "check_body",
    "check_name",
    "strip_blank_edges",
    "strip_spoofing",
]

# Bidi embeddings, overrides and isolates: LRE RLE PDF LRO RLO, LRI RLI FSI PDI.
# The marks LRM, RLM and ALM only nudge neutral characters and stay allowed.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Real scripts stack at most a few marks (Vietnamese 2, Hebrew with cantillation 3,
# Tibetan up to about 5); more than this on one letter is decoration meant to overflow.
MAX_COMBINING = 6
# Category Cc within ASCII, but for line breaks and tabs.
_ASCII_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Zs", "Zl", "Zp", "Cc"})


class TextRefused(ValueError):
    """The text holds something that can spoof; ``reason`` says what, for the writer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _codepoint(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def _check_common(text: str, what: str) -> None:
    run = 0
    for ch in text:
        if ch in _BIDI_CONTROLS:
            raise TextRefused(
                f"{what} contains an invisible direction control ({_codepoint(ch)}) "
                "that can disguise text; please remove it"
            )
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise TextRefused(f"{what} contains an invalid character (a lone surrogate)")
        if unicodedata.category(ch) in ("Mn", "Me"):
            run += 1
            if run > MAX_COMBINING:
                raise TextRefused(
                    f"{what} stacks more than {MAX_COMBINING} combining marks on one letter"
                )
        else:
            run = 0


def check_name(name: str) -> None:
    """Refuse a display name that is not one visible line of text."""
    _check_common(name, "author")
    for ch in name:
        category = unicodedata.category(ch)
        if category in ("Cc", "Zl", "Zp"):
            raise TextRefused("author must be one line of text")
    if all(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in name):
        raise TextRefused("author must contain visible characters")


def check_body(body: str) -> None:
    """Refuse a comment body that can spoof; line breaks and tabs are fine."""
    _check_common(body, "body")
    for ch in body:
        if unicodedata.category(ch) == "Cc" and ch not in "\n\t":
            raise TextRefused(f"body contains a control character ({_codepoint(ch)})")
    if all(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in body):
        raise TextRefused("body must contain visible characters")


def strip_blank_edges(text: str) -> str:
    """``text`` without blank lines around it and trailing spaces, the first line's
    indentation kept: an indented first line is a Markdown code block, not a margin."""
    lines = text.split("\n")
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    return "\n".join(lines[start:]).rstrip()


def strip_spoofing(text: str) -> str:
    """``text`` without bidi controls, control characters (NUL included; line breaks
    and tabs stay) and with combining runs cut to the maximum.

    For text that cannot be sent back to its writer with a question (a reply by
    email): keep the words, drop what disguises or breaks them.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():
        # No bidi control, surrogate or combining mark can be there: only the ASCII
        # controls to drop, at C speed (a 4 KB reply took a millisecond letter by letter).
        return _ASCII_CONTROLS.sub("", text)
    out: list[str] = []
    run = 0
    for ch in text:
        if ch in _BIDI_CONTROLS or 0xD800 <= ord(ch) <= 0xDFFF:
            continue
        if unicodedata.category(ch) == "Cc" and ch not in "\n\t":
            continue
        if unicodedata.category(ch) in ("Mn", "Me"):
            run += 1
            if run > MAX_COMBINING:
                continue
        else:
            run = 0
        out.append(ch)
    return "".join(out)
