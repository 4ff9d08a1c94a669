"""Quote headers: the attribution line a client writes above the quoted message
("On ... wrote:"), in many languages, one line or wrapped over a few. A matcher of
:mod:`mailbridge.extract.matchers`' kind: one line (or a few joined with spaces) in,
yes or no out, in linear time on at most ``MAX_MATCH_LEN`` characters.
"""

# Matching mail in many languages needs Cyrillic, CJK and typographic characters:
# ruff: noqa: RUF001, RUF003

from __future__ import annotations

import re

from mailbridge.extract.matchers import MAX_MATCH_LEN

__all__ = [
    "could_end_quote_header",
    "could_start_quote_header",
    "is_quote_header",
    "split_inline_quote_header",
    "starts_new_quote_header",
    "starts_with_date",
]


# The attribution line a client writes above the quoted message, in many
# languages.  Real-world shapes (one per client family):
#   On Tue, Mar 1, 2016 at 6:02 PM, Ann Smith <ann@example.org> wrote:   (Gmail)
#   On 1 Mar 2016, at 18:02, Ann Smith <ann@example.org> wrote:          (Apple)
#   On 01/03/2016 18:02, Ann Smith wrote:                                (Thunderbird)
#   ---- On Tue, 01 Mar 2016 18:02:00 +0100 Ann <ann@example.org> wrote ----  (Zoho)
#   ---- Ann Smith wrote ----                                            (Android)
#   Am 01.03.2016 um 18:02 schrieb Ann Smith <ann@example.org>:          (de)
#   Ann Smith <ann@example.org> schrieb am Di., 1. März 2016 um 18:02:   (de, Gmail)
#   Le mar. 1 mars 2016 à 18:02, Ann Smith <ann@example.org> a écrit :   (fr)
#   El mar., 1 mar. 2016 a las 18:02, Ann Smith (<ann@example.org>) escribió:  (es)
#   Il giorno mar 1 mar 2016 alle ore 18:02 Ann <ann@example.org> ha scritto:  (it)
#   Em ter., 1 de mar. de 2016 às 18:02, Ann <ann@example.org> escreveu:  (pt)
#   Op di 1 mrt. 2016 om 18:02 schreef Ann Smith <ann@example.org>:      (nl)
#   Den 1 mars 2016 kl. 18:02 skrev Ann Smith <ann@example.org>:         (sv/da/no)
#   W dniu 1.03.2016 o 18:02, Ann Smith <ann@example.org> pisze:         (pl)
#   вт, 1 мар. 2016 г. в 18:02, Ann Smith <ann@example.org>:             (ru, Gmail: no verb)
#   2016年3月1日(火) 18:02 Ann Smith <ann@example.org>:                   (ja, Gmail: no verb)
#   在 2016年3月1日，下午6:02，Ann Smith <ann@example.org> 写道：           (zh, Apple)
#   2016-03-01 18:02 GMT+01:00 Ann Smith <ann@example.org>:             (old Gmail)
_VERBS = (
    "wrote",
    "writes",
    "sent",
    "schrieb",
    "geschrieben",
    "a écrit",
    "écrit",
    "escribió",
    "escribio",
    "ha escrito",
    "ha escrit",
    "va escriure",
    "ha scritto",
    "scrisse",
    "escreveu",
    "escribiu",
    "schreef",
    "skrev",
    "kirjoitti",
    "napisał",
    "napisała",
    "napisal",
    "pisze",
    "napsal",
    "napsala",
    "napísal",
    "написал",
    "написала",
    "написав",
    "пишет",
    "пише",
    "írta",
    "a scris",
    "yazdı",
    "έγραψε",
    "đã viết",
    "كتب",
    "كتبت",
    "כתב",
    "כתבה",
    "kirjutas",
    "rašė",
    "menulis",
    "写道",
    "寫道",
    "のメッセージ",
    "書きました",
    "작성",
)


def _ends_with_verb(s: str) -> bool:
    """True if ``s`` ends with an attribution verb ("... wrote:", "... a écrit :").

    A suffix comparison, not a regex search: cheap on any line.
    """
    tail = " ".join(s[-80:].split()).lower().rstrip(" :：-")
    if tail.endswith(")"):  # "napisał(a)"
        k = tail.rfind("(")
        if 0 <= k and len(tail) - k <= 5:
            tail = tail[:k].rstrip()
    k = tail.rfind("/")  # "كتب/كتبت"
    if 0 <= k and len(tail) - k <= 11 and " " not in tail[k:]:
        tail = tail[:k]
    if not tail.endswith(_VERBS):
        return False
    for verb in _VERBS:
        if tail.endswith(verb):
            before = tail[-len(verb) - 1 : -len(verb)]
            # Latin verbs must be whole words ("sent", not "consent"); CJK needs no space.
            return not before or not before.isalnum() or not verb[0].isascii()
    return False


# Words that open an attribution line in the languages we cover.
_QH_INTRO = re.compile(
    r"-{0,12}\s{0,3}(?:on|le|am|el|em|il|in\s+data|op|den|på|w\s+dniu|dnia|dne|vào|no\s+dia"
    r"|at|quoting|zitat\s+von|citando|στις|pada|في|在)(?:\s|$)",
    re.IGNORECASE,
)
# The same verbs anywhere in the line, for "Am 1.3.2016 um 18:02 schrieb Ann Smith:".
_VERBS_MID = (
    "wrote",
    "schrieb",
    "a écrit",
    "escribió",
    "ha scritto",
    "escreveu",
    "schreef",
    "skrev",
    "napisał",
    "pisze",
    "написал",
    "написала",
    "написав",
    "kirjoitti",
    "a scris",
)


def _has_verb(s: str) -> bool:
    low = " " + " ".join(s.lower().split()) + " "
    return any(f" {v} " in low or f" {v}:" in low for v in _VERBS_MID)


_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}\.\w")
_HAS_TIME = re.compile(r"\d{1,2}\s?[:.h]\s?\d{2}")
_HAS_DIGIT = re.compile(r"\d")
_USER_WORD = re.compile(r"пользователь|użytkownik|uživatel", re.IGNORECASE)
# Old Gmail put the date first and sometimes no colon:  2013/7/20 Ann <ann@example.org>
_QH_DATE_FIRST = re.compile(r"\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\.?\s")
# Lines that may start a header wrapped over two or three lines: an intro word,
# a date or a weekday abbreviation ("pe 20. lokakuuta", "tir. 18. apr."), or an address.
_QH_START = re.compile(r"(?:\d|[^\W\d_]{1,4}\.?,?\s+\d)")


def is_quote_header(s: str) -> bool:
    """True if ``s`` (a cleaned line, or a few lines joined) is a quote attribution."""
    if not s or len(s) > MAX_MATCH_LEN or s[0] == ">":
        return False
    has_email = "@" in s
    if _ends_with_verb(s):
        return bool(
            has_email
            or (_HAS_TIME.search(s) and _attribution_shaped(s))
            or s.startswith("--")
            or _USER_WORD.search(s)
            or (_QH_INTRO.match(s) and _HAS_DIGIT.search(s))
        )
    if s.endswith((":", "：")):
        if has_email:
            # Gmail's verb-less forms (ru, ja, ...) and "Quoting Ann <ann@example.org>:".
            return bool(_HAS_DIGIT.search(s) or _QH_INTRO.match(s))
        if _has_verb(s):
            return bool(_HAS_TIME.search(s) or (_QH_INTRO.match(s) and _HAS_DIGIT.search(s)))
    elif s[-1:] not in ".!?" and _QH_INTRO.match(s) and _HAS_TIME.search(s) and _has_verb(s):
        # "Am 20.06.24 um 16:20 schrieb Ann Smith" (no colon, no address)
        return True
    if _QH_DATE_FIRST.match(s) and len(s) < 200:
        return has_email or "GMT" in s
    return False


def _attribution_shaped(s: str) -> bool:
    """A line ending in "wrote" with a time in it is an attribution if it ends with a
    colon or opens as one does; not a sentence of the writer's own wrapped there
    ("... as noted in 5.19 you wrote", whose every word after it would be cut)."""
    return s.rstrip().endswith((":", "：")) or bool(_QH_INTRO.match(s) or _QH_START.match(s))


def could_start_quote_header(s: str) -> bool:
    """Whether ``s`` may be the first line of an attribution wrapped over lines."""
    if not s or len(s) > 250 or s[0] == ">":
        return False
    # "@" first: the address pattern is tried at every character of every line.
    return bool(
        _QH_INTRO.match(s) or _QH_START.match(s) or "<" in s or ("@" in s and _EMAIL.search(s))
    )


def starts_with_date(s: str) -> bool:
    """``s`` opens with an ISO-ish date, as old Gmail attributions do."""
    return _QH_DATE_FIRST.match(s) is not None


def could_end_quote_header(s: str) -> bool:
    """Cheap test: ``s`` ends like an attribution (a colon or a verb)."""
    return s.endswith((":", "：")) or _ends_with_verb(s)


def starts_new_quote_header(s: str) -> bool:
    """Whether ``s`` opens an attribution of its own (so it is no continuation)."""
    return bool(_QH_INTRO.match(s) or _QH_DATE_FIRST.match(s)) and is_quote_header(s)


_INLINE_ON = re.compile(r"(?:\s|-)On\s")


def split_inline_quote_header(s: str) -> int | None:
    """Offset of an "On ... wrote:" that shares its line with the reply, if any.

    Some clients put the attribution right after the last word of the reply:
    ``Thanks! On Tue, Mar 1, 2016 at 6:02 PM, Ann <ann@example.org> wrote:``
    """
    if len(s) > MAX_MATCH_LEN or "On " not in s:
        return None
    for n, m in enumerate(_INLINE_ON.finditer(s)):
        if n >= 4:
            break
        start = m.start() + 1
        if s[:start].strip(" -\t") and is_quote_header(s[start:]):
            return start
    return None
