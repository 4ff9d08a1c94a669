"""The spam rules (issue 10): promotion is spam, conversation is not."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import SEED_JSON

from mailbridge.spam import rules
from mailbridge.spam.rules import normalise, own_link_prefixes, rule_score
from mailbridge.spam.scripts import dominant_script

SPAM = [
    "Check out my channel for more videos! http://youtube.com/spammer",
    "Please subscribe to my channel, I make music",
    "Earn money from home!!! Visit my site www.cash-fast.example",
    "hey guys check my new song",
    "follow 4 follow",
    "Cheap viagra http://pills.example/buy",
]
HAM = [
    "I disagree with your second point: attachment is not only about the mother.",
    "Thank you, this helped me understand my own therapy. Do you have a book to recommend?",
    "My therapist said something similar last week, and I was not ready to hear it.",
    "I like this series very much; the third part was the one that stayed with me.",
    "Sorry for the delay, I've been off all week. To answer your question: yes, it did.",
]


@pytest.mark.parametrize("text", SPAM)
def test_promotion_is_spam(text: str) -> None:
    assert rule_score(text).score >= 0.5, rule_score(text)


@pytest.mark.parametrize("text", HAM)
def test_conversation_is_not(text: str) -> None:
    assert rule_score(text).score < 0.5, rule_score(text)


def test_none_of_the_sample_threads_comments_is_spam() -> None:
    comments = json.loads(SEED_JSON.read_text())["comments"]
    flagged = [c["id"] for c in comments if rule_score(c["body"]).score >= 0.5]
    assert flagged == []


def test_form_and_store_signals_weigh_in() -> None:
    plain = "Nice post."
    assert rule_score(plain).score < 0.5
    assert rule_score(plain, trapped=True).score >= 0.5
    assert rule_score(plain, seconds_to_write=0.8).score >= 0.5
    assert rule_score("A longer comment that someone pasted everywhere.", repeated=True).signals


def test_exported_markup_is_undone_before_scoring() -> None:
    assert normalise("it&#39;s<br />here\ufeff") == "it's\nhere"


def test_a_link_to_the_site_itself_is_not_promotion() -> None:
    own = own_link_prefixes("https://blog.example.org", "https://blog.example.org/2019/post")
    text = "I wrote more about this in the comments at https://blog.example.org/2019/post."
    assert rule_score(text, own_links=own).signals == ()
    assert rule_score(text).signals  # the same link elsewhere counts
    # A look-alike host is not the site.
    spoof = "See https://blog.example.org.cheap-pills.example/buy now"
    assert any(s.startswith("links") for s in rule_score(spoof, own_links=own).signals)


@pytest.mark.parametrize(
    "text",
    [
        "I feel like my therapist does not hear me.",
        "Thank you for letting me share my story.",
        "Since when has this blog had its own YouTube channel?",
        "This is my favorite song ♥ 😀😀😀😀😀😀",
        "You are so close to 14,000,000 subscribers!",
    ],
)
def test_ordinary_words_that_look_like_promotion_are_not(text: str) -> None:
    assert rule_score(text).score < 0.5, rule_score(text)


def test_a_script_other_than_the_threads_weighs_in_but_never_alone() -> None:
    russian = "Отличная статья, спасибо большое за ваш труд"
    assert dominant_script(russian) == "Cyrillic"
    assert dominant_script("Muy buen artículo, gracias") == "Latin"  # one script, two languages
    assert dominant_script("ok 好") is None  # too short to say
    alone = rule_score(russian, thread_script="Latin")
    assert alone.score < 0.5 and alone.signals == ("written in Cyrillic, the thread in Latin",)
    assert rule_score(russian, thread_script="Cyrillic").signals == ()
    with_link = rule_score(f"{russian} http://shop.example/x", thread_script="Latin")
    assert with_link.score > rule_score(f"{russian} http://shop.example/x").score


def test_shortened_and_bare_ip_links_weigh_more() -> None:
    plain = rule_score("More on this at http://example.net/article about the topic").score
    for link in ("http://bit.ly/3xYz", "https://tinyurl.com/abc", "http://203.0.113.9/x"):
        scored = rule_score(f"More on this at {link} about the topic")
        assert "a shortened or bare-IP link" in scored.signals and scored.score > plain


@pytest.mark.parametrize(
    "text", ["Get views at pimpmyviews. com today", "share youtu  be/ARkglzjQuP0 now", "W W W. X"]
)
def test_a_link_broken_up_to_hide_it_is_seen(text: str) -> None:
    assert "a link broken up to hide it" in rule_score(text).signals


def test_sentences_that_end_before_com_or_net_are_not_links() -> None:
    for text in ("I think so. Com on, it is fine.", "It is good. Net result: fine."):
        assert rule_score(text).signals == ()


def test_asking_for_likes_weighs_in_but_never_decides_alone() -> None:
    alone = rule_score("Thumbs up if you listen to this in 2015.")
    assert alone.signals == ("asks for likes",) and alone.score < 0.5
    assert rule_score("Thumbs up if you like it, and subscribe to my channel").score >= 0.5


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("+447935454150 lovely girl talk to me xxx", "a phone number"),
        ("best ever 0687119038 call now", "a phone number"),
        ("GTA V $20 PS4 $200 visit the site hh.nl", "promotion:1"),
        ("She loves Vena. trojmiasto.pl/Vena-Bus-Taxi", "links:1"),
        ("How To Make A Lot Of Money Fast", "promotion:1"),
        ("Thank you. Please give your email.", "promotion:1"),
        ("Just look her name up on the internet. Hit me up", "promotion:2"),
    ],
)
def test_contact_and_money_bait_written_out_is_seen(text: str, signal: str) -> None:
    scored = rule_score(text)
    assert signal in scored.signals and scored.score >= 0.5
    assert scored.evidence  # what the trained filter must have seen approved to clear it


@pytest.mark.parametrize(
    "text",
    [
        "It has 1 753 682 421 views now",  # a count, not a number to call
        "The 2014 and 2015 seasons: 20152016 in the archive id",
        "I moved to the U.S. in 2009 and to the U.K. later",
        "He said it was 0.5 per cent, not 0.05",
    ],
)
def test_numbers_and_abbreviations_are_not_contacts(text: str) -> None:
    assert rule_score(text).signals == ()


def test_a_long_comment_with_a_hidden_link_is_not_conversation() -> None:
    text = "Media is Evil! Please see and share: W W W. THE FARRELL REPORT. NET " + "word " * 70
    scored = rule_score(text)
    assert "long, without links" not in scored.signals and scored.score >= 0.1
    assert "long, without links" in rule_score("word " * 70).signals


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(["w", "W", " ", "\u00a0", ".", "com", "net", "be", "org", "/", "x", "ab"]),
        max_size=14,
    ).map("".join)
)
def test_the_quick_look_for_a_hidden_link_misses_none(text: str) -> None:
    # the cheap look is a necessary condition of the full pattern (rules._hides_a_link)
    if rules._OBFUSCATED.search(text):
        assert rules._hides_a_link(text), text
