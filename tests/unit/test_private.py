"""What looks private (issue 10): contact details in several countries' formats are seen;
the sample thread's 243 comments and ordinary numbers are not."""

from __future__ import annotations

import json

import pytest
from support import SEED_JSON

from mailbridge.moderate.private import private_findings


@pytest.mark.parametrize(
    ("text", "finding"),
    [
        ("Call me on 07700 900123 if you want to talk.", "a phone number"),
        ("Mein Handy: +49 151 23456789", "a phone number"),
        ("(555) 123-4567 is my cell", "a phone number"),
        ("I live at 221B Baker Street, London NW1 6XE.", "a postal address"),
        ("Écrivez-moi : 12 rue de la Paix, 75002 Paris", "a postal address"),
        ("Via Roma 15, 00184 Roma", "a postal address"),
        ("Hauptstraße 5, 10115 Berlin", "a postal address"),
        ("We moved to 42 Elm Drive, Springfield, IL 62704 last year.", "a postal address"),
        ("write to ann.smith@example.com anytime", "an email address"),
        (
            "Thanks,\nAnn Smith\nLCSW, Clinical Director\nSunrise Clinic",
            "a signature with a name and title",
        ),
    ],
)
def test_contact_details_are_seen(text: str, finding: str) -> None:
    assert finding in private_findings(text)


@pytest.mark.parametrize(
    "text",
    [
        "In 2012 I read 3 books about attachment.",
        "I was born on 12/05/1980, and therapy took from 2001 to 2003.",
        "My therapist charged 120 dollars for 50 minutes.",
        "Chapter 11 of the book, page 245, says it better.",
    ],
)
def test_ordinary_numbers_are_not(text: str) -> None:
    assert private_findings(text) == []


def test_none_of_the_sample_threads_comments_is_flagged() -> None:
    comments = json.loads(SEED_JSON.read_text())["comments"]
    assert [c["id"] for c in comments if private_findings(c["body"])] == []


# Long, adversarial comments: each shape makes some pattern try every start position.
# 100 KB is five times the longest comment the API takes, and more than a reply's text.
ADVERSARIAL = {
    "letters around an @": "a" * 50_000 + "@" + "b-" * 25_000,
    "dotted words before an @": "a." * 50_000 + "@",
    "dotted words after an @": "@" + "a." * 50_000,
    "many @": "a@b-" * 25_000,
    "digits and spaces": "1 2 " * 25_000,
    "digits and brackets": "(1) " * 25_000,
    "a digit then spaces": "1" + " " * 100_000,
    "eight digits, again and again": ("1 " * 8 + "x ") * 5_500,
    "numbers and words": ("12 " + "abc " * 3) * 6_000,
    "a street word then letters": "rue " + "a" * 100_000,
    "postcodes without a town": "A1 " * 33_000,
    "short lines": "Director\n" * 11_000,
}


@pytest.mark.timeout(60)  # each shape took 0.1 s at most when this was written
@pytest.mark.parametrize("shape", sorted(ADVERSARIAL))
def test_long_adversarial_text_is_read_in_bounded_time(shape: str) -> None:
    # Before: "letters around an @" took minutes (a web comment of 20,000 characters,
    # 38 s on the event loop), every start before the "@" running to it.
    text = ADVERSARIAL[shape]
    assert isinstance(private_findings(text), list)
