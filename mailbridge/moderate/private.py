"""What looks private in a comment: a writer's own contact details, published by accident.

On sensitive threads people reply from their phone and their signature, address or
number comes along. Such a comment is flagged for the moderator (held, with what was
seen) and never published without one, trusted writer or not. Pure functions; false
alarms cost a moderator a glance, misses cost a person their privacy, so the
patterns lean towards flagging.
"""

from __future__ import annotations

import re

__all__ = ["holds_address", "private_findings"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
# A phone number: at least nine digits within one run of digits, spaces, dots,
# dashes and brackets (a "+" may lead). Years and dates have fewer digits.
_PHONE = re.compile(r"\d(?:[\s().\-/]*\d){8}")
# A house number before a street word, or a street word before a house number. Two
# patterns, not one alternation: each has a word that must be there (below).
_NUMBER_STREET = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:[A-ZÀ-Ýa-zà-ÿ'.-]+\s+){0,3}?"
    r"(?:street|st\.|avenue|ave\.?|road|rd\.|lane|ln\.|boulevard|blvd\.?|drive|dr\.|"
    r"court|ct\.|place|pl\.|way|terrace)\b",
    re.IGNORECASE,
)
_STREET_NUMBER = re.compile(
    r"\b(?:rue|avenue|boulevard|via|viale|calle|avenida|straße|strasse|weg|gasse|platz|"
    r"ulica|ul\.)\s+[A-ZÀ-Ýa-zà-ÿ'. -]{2,40}?,?\s*\d{1,5}\b",
    re.IGNORECASE,
)
# The words each street pattern needs, looked for first in ASCII text (where ignoring
# case is plain lower case): most comments name no street, and both patterns cost a
# scan that ignores case at every word of a long reply. A street word after a number
# follows a space, so it begins a word split on spaces; one before a number is
# followed by a space, so it ends one.
_NUMBER_STREET_WORDS = ("street", "st.", "avenue", "ave", "road", "rd.", "lane", "ln.",
                        "boulevard", "blvd", "drive", "dr.", "court", "ct.", "place", "pl.",
                        "way", "terrace")  # fmt: skip
_STREET_NUMBER_WORDS = ("rue", "avenue", "boulevard", "via", "viale", "calle", "avenida",
                        "strasse", "weg", "gasse", "platz", "ulica", "ul.")  # fmt: skip
_POSTCODE = re.compile(
    r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"  # UK
    r"|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"  # US state + ZIP
    r"|\b\d{5}\s+[A-ZÀ-Ý][a-zà-ÿ]+(?:[ -][A-ZÀ-Ý][a-zà-ÿ]+)?\s*$",  # DE/FR/IT/ES: 75011 Paris
    re.MULTILINE,
)
# What every postcode match holds: a capital next to a digit, spaces between at most.
_POSTCODE_HINT = re.compile(r"[A-Z]\s*\d|\d\s*[A-ZÀ-Ý]")
_DIGIT = re.compile(r"\d")
_TITLE = re.compile(
    r"\b(?:Ph\.?\s?D|M\.?D\.|Psy\.?\s?D|LCSW|LMFT|LPC|MSW|RN|Esq\.?|MBA|"
    r"Director|Manager|Therapist|Counsell?or|Psychologist|Psychiatrist|Attorney|"
    r"CEO|CTO|Founder|Pastor|Professor|Teacher|Nurse)\b"
)


def _has_digit(text: str) -> bool:
    if text.isascii():
        return any(digit in text for digit in "0123456789")
    return _DIGIT.search(text) is not None


def _postal(text: str) -> bool:
    # Every street and postcode pattern needs a digit; most comments have none.
    if not _has_digit(text):
        return False
    if text.isascii():
        words = set(text.lower().split())
        number_street = any(word.startswith(_NUMBER_STREET_WORDS) for word in words)
        street_number = any(word.endswith(_STREET_NUMBER_WORDS) for word in words)
    else:
        number_street = street_number = True
    if number_street and _NUMBER_STREET.search(text):
        return True
    if street_number and _STREET_NUMBER.search(text):
        return True
    return _POSTCODE_HINT.search(text) is not None and _POSTCODE.search(text) is not None


def _signature_block(text: str) -> bool:
    """A name and a title among the last lines, next to contact details or on their own."""
    tail = [line.strip() for line in text.strip().splitlines()[-5:] if line.strip()]
    short = [line for line in tail if len(line) <= 60]
    return len(short) >= 2 and any(_TITLE.search(line) for line in short)


def holds_address(text: str) -> bool:
    """Whether ``text`` holds what looks like an email address."""
    return "@" in text and _EMAIL.search(text) is not None


def private_findings(text: str) -> list[str]:
    """What looks like personal details in ``text``, in words for the moderator."""
    found = []
    if holds_address(text):
        found.append("an email address")
    if _PHONE.search(text):
        found.append("a phone number")
    if _postal(text):
        found.append("a postal address")
    if _signature_block(text):
        found.append("a signature with a name and title")
    return found
