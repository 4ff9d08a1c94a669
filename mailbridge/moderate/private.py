"""What looks private in a comment: a writer's own contact details, published by accident.

On sensitive threads people reply from their phone and their signature, address or
number comes along. Such a comment is flagged for the moderator (held, with what was
seen) and never published without one, trusted writer or not. Pure functions; false
alarms cost a moderator a glance, misses cost a person their privacy, so the
patterns lean towards flagging.
"""

from __future__ import annotations

import re

__all__ = ["private_findings"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
# A phone number: at least nine digits within one run of digits, spaces, dots,
# dashes and brackets, optionally after a +. Years and dates have fewer digits.
_PHONE_RUN = re.compile(r"\+?\(?\d[\d\s().\-/]{7,}\d")
_STREET = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:[A-ZÀ-Ýa-zà-ÿ'.-]+\s+){0,3}?"
    r"(?:street|st\.|avenue|ave\.?|road|rd\.|lane|ln\.|boulevard|blvd\.?|drive|dr\.|"
    r"court|ct\.|place|pl\.|way|terrace)\b"
    r"|\b(?:rue|avenue|boulevard|via|viale|calle|avenida|straße|strasse|weg|gasse|platz|"
    r"ulica|ul\.)\s+[A-ZÀ-Ýa-zà-ÿ'. -]{2,40}?,?\s*\d{1,5}\b",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"  # UK
    r"|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"  # US state + ZIP
    r"|\b\d{5}\s+[A-ZÀ-Ý][a-zà-ÿ]+(?:[ -][A-ZÀ-Ý][a-zà-ÿ]+)?\s*$",  # DE/FR/IT/ES: 75011 Paris
    re.MULTILINE,
)
_TITLE = re.compile(
    r"\b(?:Ph\.?\s?D|M\.?D\.|Psy\.?\s?D|LCSW|LMFT|LPC|MSW|RN|Esq\.?|MBA|"
    r"Director|Manager|Therapist|Counsell?or|Psychologist|Psychiatrist|Attorney|"
    r"CEO|CTO|Founder|Pastor|Professor|Teacher|Nurse)\b"
)


def _phone(text: str) -> bool:
    for match in _PHONE_RUN.finditer(text):
        if sum(ch.isdigit() for ch in match.group(0)) >= 9:
            return True
    return False


def _signature_block(text: str) -> bool:
    """A name and a title among the last lines, next to contact details or on their own."""
    tail = [line.strip() for line in text.strip().splitlines()[-5:] if line.strip()]
    short = [line for line in tail if len(line) <= 60]
    return len(short) >= 2 and any(_TITLE.search(line) for line in short)


def private_findings(text: str) -> list[str]:
    """What looks like personal details in ``text``, in words for the moderator."""
    found = []
    if _EMAIL.search(text):
        found.append("an email address")
    if _phone(text):
        found.append("a phone number")
    if _STREET.search(text) or _POSTCODE.search(text):
        found.append("a postal address")
    if _signature_block(text):
        found.append("a signature with a name and title")
    return found
