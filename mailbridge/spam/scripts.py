"""Which writing system a text is in, from Unicode character names. Pure functions.

"Language mismatch" as a spam signal, kept to what can be told without a language
model: a comment in Cyrillic or Han characters under a post whose readers write in
Latin letters is a classic of link spam. Two languages of one script (English and
Spanish) are not told apart: readers do write in their own language, and that is
not spam.
"""

from __future__ import annotations

import functools
import string
import unicodedata
from collections import Counter

__all__ = ["dominant_script"]

# Unicode name prefixes of letters, to a script; CJK ideographs and kana are one "CJK".
_PREFIXES = (
    ("LATIN", "Latin"),
    ("CYRILLIC", "Cyrillic"),
    ("GREEK", "Greek"),
    ("ARABIC", "Arabic"),
    ("HEBREW", "Hebrew"),
    ("CJK", "CJK"),
    ("HIRAGANA", "CJK"),
    ("KATAKANA", "CJK"),
    ("HANGUL", "Hangul"),
    ("THAI", "Thai"),
    ("DEVANAGARI", "Devanagari"),
    ("BENGALI", "Bengali"),
    ("TAMIL", "Tamil"),
    ("GEORGIAN", "Georgian"),
    ("ARMENIAN", "Armenian"),
    ("ETHIOPIC", "Ethiopic"),
)
_ASCII_LETTERS = string.ascii_letters.encode()


@functools.lru_cache(maxsize=8192)
def _script(char: str) -> str | None:
    # Cached: a text uses few distinct letters, and this ran for every letter of a
    # thread's latest comments on each new comment (a tenth of the inbound path's
    # time in a profile, bench/inbound_bench.py).
    if char < "\x80":
        return "Latin"  # the ASCII letters (only letters are asked about)
    name = unicodedata.name(char, "")
    for prefix, script in _PREFIXES:
        if name.startswith(prefix):
            return script
    return None


def dominant_script(text: str, *, share: float = 0.6, least: int = 8) -> str | None:
    """The script of at least ``share`` of the text's letters (and ``least`` of them);
    None for a text too short or too mixed to say."""
    if text.isascii():  # every letter Latin: the count alone decides
        letters = len(text) - len(text.encode("ascii").translate(None, _ASCII_LETTERS))
        return "Latin" if letters >= least and share <= 1.0 else None
    counted: Counter[str] = Counter()
    for ch, n in Counter(text).items():  # each distinct character once
        if ch.isalpha() and (script := _script(ch)) is not None:
            counted[script] += n
    letters = sum(counted.values())
    if letters < least:
        return None
    script, seen = counted.most_common(1)[0]
    return script if seen / letters >= share else None
