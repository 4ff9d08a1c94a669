"""The text the personal-details check reads: as a reader will see it on the page.

Pure functions, for mailbridge.moderate.private. A comment's words are Markdown
(docs/formatting.md): an entity or a backslash escape is shown as the character it
stands for, so ``jane&#64;example.org`` and ``jane\\@example.org`` are shown as an
address. Phones write full-width digits and signs (a Japanese number with full-width
hyphens, a full-width at sign), and invisible format characters can sit between digits. The
check reads the text with all of that undone; numbers that are something else (a
link, an ISBN, dates, decimals, thousands) are told apart here too.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["looks_like_a_phone", "readable", "without_links"]

# Markdown's backslash escapes: any ASCII punctuation (CommonMark 2.4).
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# Links are not phone numbers however many digits their path has ("/2023/05/12/12345",
# an ISBN in a shop's link); tel: links and links to a chat with a number are, and are
# kept (wa.me/447700900123, api.whatsapp.com/send?phone=..., viber://, t.me/+44...).
_LINK = re.compile(r"\b(?:https?://|www\.)[^\s<>()\[\]]{1,2000}", re.IGNORECASE)
_CHAT_LINK = re.compile(r"wa\.me/|whatsapp|phone|tel[=:]|t\.me/\+|viber|signal\.me", re.IGNORECASE)
# A number named as something else just before it: an ISBN, an order or a ticket.
_LABELLED = re.compile(
    r"(?:\bISBN(?:-1[03])?|\border|\binvoice|\bticket|\btracking|\bcase|\bref(?:erence)?)"
    r"\s*(?:n(?:o|umber)\.?|#)?\s*[:#]?\s*$",
    re.IGNORECASE,
)
# A word saying a phone number follows, then up to 20 characters without a digit.
_PHONE_LABEL = re.compile(
    r"(?:\b(?:tel|tél|phone|call|ring|mobile|mob|cell|whatsapp|sms|text me|handy|telefon|"
    r"portable|móvil|movil|cellulare)|電話|携帯)[^\d\n]{0,20}$",
    re.IGNORECASE,
)
# Shapes of a run's pieces (split on spaces) that are not part of a phone number.
_NOT_PHONE_PIECE = re.compile(
    r"\d{1,2}([./-])\d{1,2}\1(?:\d{4}|\d{2})"  # a date: 12/05/1980, 01.02.03
    r"|\d{4}([./-])\d{1,2}\2\d{1,2}"  # 2024-03-15
    r"|97[89](?:-\d{1,7}){3}-\d"  # an ISBN-13 with its hyphens: 978-0-306-40615-7
    r"|\d+[.,]\d+"  # a decimal: 36.6, 2,5
    r"|(?:19|20)\d\d(?:[-/\u2013](?:19|20)\d\d)?"  # a year, years: 1998 2004, 2019-2020
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?"  # thousands: 1,000,000
    r"|\d{1,3}(?:\.\d{3})+,\d+"  # 1.234.567,89 (German, Spanish, Italian prices)
    r"|\d{1,3}(?:\.\d{3}){3,}"  # 2.124.821.694 (views; 3-3-3 dotted is a phone in Spain)
)
_DIGIT = re.compile(r"\d")
# Format characters a page shows as nothing: soft hyphen, zero-width spaces and joiners,
# direction marks and overrides, word joiner, invisible operators, byte order mark.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")


def readable(text: str) -> str:
    """``text`` as shown: entities and escapes undone, full-width forms as ASCII
    (NFKC), invisible format characters (zero-width spaces, soft hyphens) dropped."""
    if "&" in text:
        text = html.unescape(text)
    if "\\" in text:
        text = _ESCAPE.sub(r"\1", text)
    if not text.isascii():
        if not unicodedata.is_normalized("NFKC", text):
            text = unicodedata.normalize("NFKC", text)
        text = _INVISIBLE.sub("", text)
    return text


def without_links(text: str) -> str:
    if not ("http" in text or "www" in text or "HTTP" in text or "WWW" in text):
        return text
    return _LINK.sub(lambda link: link[0] if _CHAT_LINK.search(link[0]) else " ", text)


def looks_like_a_phone(text: str, start: int, run: str, digits: int) -> bool:
    """Whether ``run`` (``digits`` digits with separators), found at ``start`` of
    ``text``, reads as a phone number rather than as dates, decimals, thousands or a
    number labelled as an ISBN or an order. Seven or eight digits are one only after
    a word that says so ("call me on 9123 4567"): Denmark's, Norway's, Hong Kong's and
    Singapore's numbers have eight, a US local one seven, and so have many dates."""
    if digits < 9 and not _PHONE_LABEL.search(text, max(0, start - 40), start):
        return False
    if _LABELLED.search(text, max(0, start - 30), start):
        return False
    pieces = [p.strip("()[]+") for p in run.split()]
    numbers = [p for p in pieces if _DIGIT.search(p)]
    return not all(_NOT_PHONE_PIECE.fullmatch(p) for p in numbers)
