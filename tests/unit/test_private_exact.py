"""The private-details check answers as its plain patterns do, for any text: the words
and digits it looks for first only skip texts where a pattern could not match."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from support import real_comment_texts

from mailbridge.moderate import private
from mailbridge.moderate.private import _TITLE, private_findings
from mailbridge.moderate.private_text import readable

# The check as it was written first: one search of each pattern over the whole text
# (the text as shown, and phone runs, read as the check reads them). Patterns added
# since are the module's own, searched without the words looked for first.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
_ADDED = (
    private._COMPOUND_STREET,
    private._FRENCH_STREET,
    private._ABBREVIATED_STREET,
    private._PO_BOX,
    private._EAST_ASIAN_ADDRESS,
)
_STREET = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:[A-ZÀ-Ýa-zà-ÿ'.-]+\s+){0,3}?"
    r"(?:street|st\.|avenue|ave\.?|road|rd\.|lane|ln\.|boulevard|blvd\.?|drive|dr\.|"
    r"court|ct\.|place|pl\.|way|terrace)\b"
    r"|\b(?:rue|avenue|boulevard|via|viale|calle|avenida|straße|strasse|weg|gasse|platz|"
    r"ulica|ul\.)\s+[A-ZÀ-Ýa-zà-ÿ'. -]{2,40}?,?\s*\d{1,5}\b",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"
    r"|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b"
    r"|\b\d{5}\s+[A-ZÀ-Ý][a-zà-ÿ]+(?:[ -][A-ZÀ-Ý][a-zà-ÿ]+)?\s*$",
    re.MULTILINE,
)


def reference(text: str) -> list[str]:
    text = readable(text)
    found = []
    if _EMAIL.search(text) or private._SPELLED_EMAIL.search(text):
        found.append("an email address")
    if private._phone(text):
        found.append("a phone number")
    if _STREET.search(text) or _POSTCODE.search(text) or any(p.search(text) for p in _ADDED):
        found.append("a postal address")
    tail = [line.strip() for line in text.strip().splitlines()[-5:] if line.strip()]
    short = [line for line in tail if len(line) <= 60]
    if len(short) >= 2 and any(_TITLE.search(line) for line in short):
        found.append("a signature with a name and title")
    return found


# Pieces of addresses, numbers and mail, with what ignoring case lets through (the
# long s, the Kelvin sign, the dotless i, the capital sharp s), digits of other
# scripts, and the separators a phone number's digits may have between them.
PIECES = st.sampled_from(
    [
        "0", "1", "12", "123", "12345", "4567", "+", "(", ")", ".", "-", "/", " ", "  ",
        "\n", "\t", "\u2003", "\u0663", "\u0661\u0662\u0663\u0664\u0665", "a", "B", "x",
        "Street", "st.", "ST.", "\u017ft.", "Ave", "rd.", "Way", "WAY", "lane", "blvd",
        "rue", "Via", "viale", "STRASSE", "straße", "Stra\u1e9eE", "ulica", "ul.", "de",
        "la", "Paix", "Hauptstraße", "NW1", "6XE", "SW1A", "1AA", "IL", "NY", "75002",
        "Paris", "Écija", "ä", "É", "@", "a@b.co", "ann.smith", "example", ".com", ",",
        "'", "\u212a", "\u0131", "word", "call", "me", "Director", "LCSW",
        " at ", "(at)", "[AT]", " dot ", "[dot]", "&#64;", "\\@", "\uff20", "\uff10",
        "\uff0d", "\u200b", "\u2013", "PO Box ", "Postfach", "Apartado", "Musterstraße",
        "Hauptstr.", "Keizersgracht", "Storgatan", "rue", "bis", "quai", "〒", "区",
        "丁目", "渋谷", "建国路", "88号", "강남구", "테헤란로", " 123", "Main St", "High Rd",
        "ISBN ", "order #", "https://x.org/",
        "wa.me/", "12/05/1980", "36.6", "1,000,000", "2.124.821.694",
    ]
)  # fmt: skip
_STREET_WORDS = (
    "street st. avenue ave ave. road rd. lane ln. boulevard blvd blvd. drive dr. court "
    "ct. place pl. way terrace rue via viale calle avenida straße strasse weg gasse "
    "platz ulica ul."
).split()
# Every street word in three cases and with a long s, between numbers and words.
STREET_WORDS = st.sampled_from(_STREET_WORDS).flatmap(
    lambda w: st.sampled_from([w, w.title(), w.upper(), w.replace("s", "\u017f")])
)
NUMBERS = st.sampled_from(["1", "22", "221B", "4567", "12345", "75002", "62704-1234"])
GAPS = st.sampled_from([" ", "  ", ", ", "\n", "\t", "", "-"])
WORDS = st.lists(st.sampled_from(["Baker", "de la", "Elm", "Paix", "x", "É"]), max_size=4)
ADDRESSES = st.one_of(
    st.tuples(NUMBERS, GAPS, WORDS.map(" ".join), GAPS, STREET_WORDS),
    st.tuples(STREET_WORDS, GAPS, WORDS.map(" ".join), GAPS, NUMBERS),
    st.tuples(st.sampled_from(["IL", "NY", "N", "NW1", "SW1A", "É"]), GAPS, NUMBERS),
    st.tuples(NUMBERS, GAPS, st.sampled_from(["Paris", "Berlin", "Écija", "paris"]), GAPS),
).map("".join)
TEXTS = st.lists(st.one_of(PIECES, ADDRESSES), max_size=24).map("".join)


@settings(max_examples=1500, deadline=None)
@given(TEXTS)
def test_same_findings_as_the_plain_patterns(text: str) -> None:
    assert private_findings(text) == reference(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_same_findings_on_any_text(text: str) -> None:
    assert private_findings(text) == reference(text)


def test_same_findings_on_real_comments() -> None:
    texts = real_comment_texts()
    assert len(texts) >= 243
    assert [private_findings(t) for t in texts] == [reference(t) for t in texts]


def test_each_kind_is_found_by_both() -> None:
    # The comparisons above are worth something only if both sides find things.
    examples = {
        "an email address": "write to ann.smith@example.com",
        "a phone number": "call +49 (151) 234-567-89",
        "a postal address": "12 rue de la Paix, 75002 Paris",
    }
    for finding, text in examples.items():
        assert private_findings(text) == reference(text) == [finding]
    assert private_findings("Rue de Rivoli 5") == ["a postal address"]
    assert private_findings("SW1A 1AA") == ["a postal address"]


def test_every_street_word_in_every_case() -> None:
    # Each word the street patterns need, as ignoring case lets it be written, before
    # and after a house number: the words looked for first must include them all.
    for word in _STREET_WORDS:
        for written in (word, word.title(), word.upper(), word.replace("s", "\u017f")):
            for text in (
                f"at 12 {written}",
                f"at 12 Elm {written}, now",
                f"{written} Baker 12",
                f"({written} Baker 12",
            ):
                assert private_findings(text) == reference(text), text


def test_every_added_street_word_in_every_case() -> None:
    # The words looked for first in ASCII text must let through every way the added
    # street patterns match: one-word streets, French numbers first, boxes.
    words = (*private._COMPOUND_STREET_WORDS, *private._FRENCH_STREET_WORDS)
    for word in words:
        for written in (word, word.title(), word.upper()):
            for text in (
                f"at Muster{written} 12",
                f"Muster{written}12, now",
                f"12 {written} de la Paix",
                f"3 bis, {written} Voltaire",
            ):
                assert private_findings(text) == reference(text), text
    for text in ("PO Box 12", "p.o. box 12", "POST OFFICE BOX 9", "postfach 12", "apartado 7"):
        assert private_findings(text) == reference(text) == ["a postal address"], text
