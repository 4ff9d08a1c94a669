"""What looks private in a comment: a writer's own contact details, published by accident.

On sensitive threads people reply from their phone and their signature, address or
number comes along. Such a comment is flagged for the moderator (held, with what was
seen) and never published without one, trusted writer or not. Pure functions; false
alarms cost a moderator a glance, misses cost a person their privacy, so the
patterns lean towards flagging.
"""

from __future__ import annotations

import re

from mailbridge.moderate.private_text import looks_like_a_phone, readable, without_links

__all__ = ["contact_in_name", "held_as_private", "held_note", "private_findings"]

# Bounded like addresses themselves (64 before the "@", labels of 63): unbounded, a
# 20,000-character comment of letters around one "@" took 38 s to search, every start
# before the "@" running to it and the domain part backtracking (issue 10's DoS).
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){0,8}\.[a-z]{2,24}", re.IGNORECASE)
# An address written to dodge harvesters: "jane(at)example.org", "jane [at] example
# [dot] org", "jane dot doe at gmail dot com", "jane at gmail.com". A bare " at " is
# English ("read it at bbc.co.uk", "only at shop.com"), so it needs the last dot
# spelled, or a mail provider's domain, and a domain that is no word of a sentence.
_AT = r"\s*[\[(<{]\s*(?:at|@)\s*[\])>}]\s*"
_SPELLED_DOT = r"(?:\s*[\[(<{]\s*(?:dot|\.)\s*[\])>}]\s*|\s+dot\s+)"
_DOT = rf"(?:{_SPELLED_DOT}|\.)"
_LOCAL = rf"\b[\w+-]{{1,64}}(?:{_DOT}[\w+-]{{1,64}}){{0,4}}"
_LABELS = rf"[\w-]{{1,63}}(?:{_DOT}[\w-]{{1,63}}){{0,4}}"
_PROVIDER_NAMES = ("gmail", "googlemail", "yahoo", "hotmail", "outlook", "icloud", "aol",
                   "protonmail", "proton", "gmx", "orange", "laposte", "libero", "yandex",
                   "live")  # fmt: skip
_PROVIDERS = "(?:" + "|".join(_PROVIDER_NAMES) + ")"
_SPELLED_EMAIL = re.compile(
    rf"{_LOCAL}{_AT}{_LABELS}{_DOT}[a-z]{{2,12}}\b"
    rf"|{_LOCAL}\s+at\s+(?!(?:the|a|an|this|that|my|your|our|their|his|her|its)\b)"
    rf"(?:{_LABELS}{_SPELLED_DOT}|{_PROVIDERS}{_DOT})[a-z]{{2,12}}\b",
    re.IGNORECASE,
)
# What each of those needs, looked for first in lower case, substrings before patterns
# (a bare " at " is in most long replies): a bracketed at or dot, a spelled dot, or
# " at " before a mail provider.
_BRACKETED = re.compile(r"[\[(<{]\s*(?:at|@|dot|\.)\s*[\])>}]")
_WORD_DOT = re.compile(r"\sdot\s")
_AT_PROVIDER = re.compile(rf"\sat\s+{_PROVIDERS}")


def _spelled_hint(lower: str) -> bool:
    return (
        ("dot" in lower and _WORD_DOT.search(lower) is not None)
        or _BRACKETED.search(lower) is not None
        or (
            any(name in lower for name in _PROVIDER_NAMES)
            and _AT_PROVIDER.search(lower) is not None
        )
    )


# A phone number: nine digits or more within one run of digits, spaces, dots, slashes,
# dashes (typographic ones too) and brackets, or seven after a word saying it is one;
# runs of years, dates, decimals, thousands and labelled numbers are told apart, and
# links are no runs (private_text).
_PHONE_RUN = re.compile(r"\d(?:[\s().\-/\u2010-\u2015\u2212]*\d|,\d)*")
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
# The words each street pattern needs, looked for first in the text in lower case as
# ignoring case reads it (_lower): most comments name no street, and each pattern costs
# a scan that ignores case at every word of a long reply. A street word after a number
# follows a space, so it begins a word split on spaces; one before a number is
# followed by a space, so it ends one.
_NUMBER_STREET_WORDS = ("street", "st.", "avenue", "ave", "road", "rd.", "lane", "ln.",
                        "boulevard", "blvd", "drive", "dr.", "court", "ct.", "place", "pl.",
                        "way", "terrace")  # fmt: skip
_STREET_NUMBER_WORDS = ("rue", "avenue", "boulevard", "via", "viale", "calle", "avenida",
                        "straße", "strasse", "weg", "gasse", "platz", "ulica", "ul.")  # fmt: skip
_POSTCODE = re.compile(
    r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"  # UK
    r"|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"  # US state + ZIP
    r"|\b\d{5}\s+[A-ZÀ-Ý][a-zà-ÿ]+(?:[ -][A-ZÀ-Ý][a-zà-ÿ]+)?\s*$",  # DE/FR/IT/ES: 75011 Paris
    re.MULTILINE,
)
# German, Dutch and Nordic streets are one word with the street in it: "Musterstraße
# 12", "Hauptstr. 5", "Keizersgracht 123", "Storgatan 8".
_COMPOUND_STREET_WORDS = ("straße", "strasse", "str.", "weg", "gasse", "platz", "allee", "ufer",
                          "straat", "laan", "plein", "gracht", "gatan", "vägen", "vej",
                          "veien")  # fmt: skip
_COMPOUND_STREET = re.compile(
    # Two letters before the street word, looked behind at: a lazy run of letters up
    # to it cost every word of a long reply thirty tries of every street word.
    r"(?<=[A-Za-zÀ-ÿ]{2})(?:" + "|".join(map(re.escape, _COMPOUND_STREET_WORDS)) + r")"
    r"\s*\d{1,4}[a-z]?\b",
    re.IGNORECASE,
)
# French addresses put the number first: "12 rue de la République", "3 bis, quai Voltaire".
_FRENCH_STREET_WORDS = ("rue", "av.", "bd", "boulevard", "allée", "allee", "impasse", "chemin",
                        "quai", "cours")  # fmt: skip
_FRENCH_STREET = re.compile(
    r"\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:"
    + "|".join(map(re.escape, _FRENCH_STREET_WORDS))
    + r")\s+(?:d[eu]s?\s+|de\s+la\s+|de\s+l'|d')?[A-Za-zÀ-ÿ]",
    re.IGNORECASE,
)
# US and UK abbreviations without their dot, after a capitalised name: "5 Main St".
_ABBREVIATED_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][\w'.-]*\s+){1,3}"
    r"(?:St|Rd|Ave|Ln|Blvd|Ct|Pl|Sq|Cres|Hwy|Pkwy)\b"  # not Dr: "Top 10 Best Dr Who"
)
_PO_BOX = re.compile(
    r"\b(?:P\.?\s?O\.?\s?Box|Post\s+Office\s+Box|Postfach|Bo[iî]te\s+postale|"
    r"Apartado(?:\s+de\s+correos)?|Casella\s+postale)\s*\d{1,7}",
    re.IGNORECASE,
)
# East Asian: a Japanese postcode mark, chōme, or ward, city or town then 2-21-1; a
# Chinese road then its number (建国路88号; 5月3号 alone is a date); a Korean road
# (테헤란로 123, 연남로1길 12) after its district (강남구, 마포구, 군, 시, 동).
_EAST_ASIAN_ADDRESS = re.compile(
    r"〒\s*\d{3}-?\d{4}|\d{1,4}丁目\s*\d{1,4}|[都道府県市区町村][^\s\d]{0,12}?\d{1,4}-\d{1,4}"
    r"|[路街道巷弄]\s*\d{1,5}\s*[号號]"
    r"|[가-힣]{1,6}[구군시동]\s+[가-힣\d]{1,12}(?:로|길)\s?\d{1,4}(?:-\d{1,4})?(?!\d)"
)
# The abbreviation every _ABBREVIATED_STREET match ends with, looked for first: a
# pattern that starts with a capital is scanned quickly, one that starts with \b\d is
# tried at every word of a long reply.
_STREET_ABBREVIATION = re.compile(r"(?:St|Rd|Ave|Ln|Blvd|Ct|Pl|Sq|Cres|Hwy|Pkwy)\b")
# What every postcode match holds: a capital next to a digit, spaces between at most.
# Two patterns, not one alternation: each is scanned for its first character, where the
# alternation was tried at every digit and capital.
_CAPITAL_DIGIT = re.compile(r"[A-Z]\s*\d")
_DIGIT_CAPITAL = re.compile(r"\d\s*[A-ZÀ-Ý]")
_DIGIT = re.compile(r"\d")
_TITLE = re.compile(
    r"\b(?:Ph\.?\s?D|M\.?D\.|Psy\.?\s?D|LCSW|LMFT|LPC|MSW|RN|Esq\.?|MBA|CPA|"
    r"Director|Manager|Therapist|Psychotherapist|Counsell?or|Psychologist|Psychiatrist|"
    r"Attorney|Lawyer|Solicitor|Barrister|Paralegal|Accountant|Physician|Social Worker|"
    r"CEO|CTO|CFO|COO|VP|President|Founder|Head of|Officer|Supervisor|Coordinator|"
    r"Engineer|Developer|Designer|Consultant|Specialist|Analyst|Advis[eo]r|"
    r"Pastor|Chaplain|Rabbi|Professor|Lecturer|Teacher|Nurse|"
    # French, German, Spanish, Italian.
    r"Directeur|Directrice|Responsable|Ingénieure?|Gérante?|Avocate?|Psychologue|"
    r"Geschäftsführer(?:in)?|Leiter(?:in)?|Rechtsanw[aä]lt(?:in)?|Psychotherapeut(?:in)?|"
    r"Sozialarbeiter(?:in)?|Ärztin|Arzt|Directora|Gerente|Abogad[oa]|Psicólog[oa]|"
    r"Direttore|Direttrice|Avvocato|Psicolog[oa])\b"
)


def _has_digit(text: str) -> bool:
    if text.isascii():
        return any(digit in text for digit in "0123456789")
    return _DIGIT.search(text) is not None


def _lower(text: str) -> str:
    """``text`` in lower case as the patterns ignore case: they also take a dotless or
    dotted capital i for "i" (the long s and the Kelvin sign are ASCII once readable)."""
    if text.isascii():
        return text.lower()
    return text.replace("\u0130", "i").replace("\u0131", "i").lower()


def _postal(text: str, lower: str) -> bool:
    # Every street and postcode pattern needs a digit; most comments have none.
    if not _has_digit(text):
        return False
    words = set(lower.split())
    number_street = any(word.startswith(_NUMBER_STREET_WORDS) for word in words)
    street_number = any(word.endswith(_STREET_NUMBER_WORDS) for word in words)
    compound = any(word in lower for word in _COMPOUND_STREET_WORDS)
    french = not words.isdisjoint(_FRENCH_STREET_WORDS)  # each followed by a space
    box = any(word in lower for word in ("box", "postfach", "postale", "apartado"))
    east_asian = not text.isascii() and any(
        c in text for c in "〒丁都道府県市区町村路街道巷弄구군시동"
    )
    searches = (
        (number_street, _NUMBER_STREET),
        (street_number, _STREET_NUMBER),
        (compound, _COMPOUND_STREET),
        (french, _FRENCH_STREET),
        (box, _PO_BOX),
        (east_asian, _EAST_ASIAN_ADDRESS),
    )
    if any(needed and pattern.search(text) for needed, pattern in searches):
        return True
    if _STREET_ABBREVIATION.search(text) and _ABBREVIATED_STREET.search(text):
        return True
    hint = _CAPITAL_DIGIT.search(text) or _DIGIT_CAPITAL.search(text)
    return hint is not None and _POSTCODE.search(text) is not None


def _phone(text: str) -> bool:
    text = without_links(text)
    for run in _PHONE_RUN.finditer(text):
        found = run.group(0)
        if len(found) >= 7 and (digits := sum(map(str.isdigit, found))) >= 7:
            if looks_like_a_phone(text, run.start(), found, digits):
                return True
    return False


def _signature_block(text: str) -> bool:
    """A name and a title among the last lines, next to contact details or on their own."""
    tail = [line.strip() for line in text.strip().splitlines()[-5:] if line.strip()]
    short = [line for line in tail if len(line) <= 60]
    return len(short) >= 2 and any(_TITLE.search(line) for line in short)


def private_findings(text: str) -> list[str]:
    """What looks like personal details in ``text``, in words for the moderator."""
    text = readable(text)  # as the page will show it
    lower = _lower(text)
    found = []
    if ("@" in text and _EMAIL.search(text)) or (
        _spelled_hint(lower) and _SPELLED_EMAIL.search(text)
    ):
        found.append("an email address")
    if _phone(text):
        found.append("a phone number")
    if _postal(text, lower):
        found.append("a postal address")
    if _signature_block(text):
        found.append("a signature with a name and title")
    return found


def contact_in_name(name: str) -> str | None:
    """What a name to be shown holds that reaches its writer (an email address, a phone
    number), if anything: a phone's autofill puts the address in the name field, and a
    name is on the page beside every comment, where nobody is asked first."""
    text = readable(name)
    lower = _lower(text)
    if ("@" in text and _EMAIL.search(text)) or (
        _spelled_hint(lower) and _SPELLED_EMAIL.search(text)
    ):
        return "an email address"
    return "a phone number" if _phone(text) else None


# How the note about these reads in a comment's held reason (after any other reason).
_NOTE = "it may reveal personal details: "


def held_note(findings: list[str]) -> str:
    """The held reason's words about ``findings``, as moderators read them."""
    return _NOTE + ", ".join(findings)


def held_as_private(reason: str | None) -> bool:
    """Whether a comment's held reason says it may reveal personal details."""
    return reason is not None and _NOTE in reason
