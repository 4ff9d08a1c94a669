"""QuickLinkify answers as linkify-it does, for any text: only sooner."""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from linkify_it import LinkifyIt
from markdown_it import MarkdownIt
from support import real_comment_texts

from mailbridge.render import _parser, _sanitise
from mailbridge.render.linkify import QuickLinkify

STOCK, QUICK = LinkifyIt(), QuickLinkify()

# Pieces that make and break links: schemes in both cases, what may and may not come
# before one ("_", ">", a full-width bar, Unicode spaces and punctuation), hosts and
# top-level domains, "@", and letters that case-fold into a scheme's (the long s, the
# Kelvin sign).
PIECES = st.sampled_from(
    [
        "http:", "HTTPS:", "ftp:", "//", "mailto:", "www.", "localhost", "example.com",
        ".org", ".рф", "1.2.3.4", ".12.", "@", "a@b.de", "_", ">", "<", "\uff5c", " ",
        "\u3000", "\u00a0", "\n", "\t", "(", ")", ".", ",", ":", "/", "!", "«", "—",
        "ſ", "\u212a", "word", "é", "0", "x", "ht", "tp", "s:", "mail", "to:", "LOCALHOST",
        "localhoſt", "WwW.", ".COM", ".Org", ".\u212ar", ".255.", ".1234.",
    ]
)  # fmt: skip
# Each piece after one of the characters that decide whether a scheme starts a link.
LEADS = st.sampled_from(["", "", "_", ">", " ", "\u3000", "a", "(", "\uff5c", "\n"])
TEXTS = st.lists(st.tuples(LEADS, PIECES).map("".join), max_size=16).map("".join)


def found(linkify: Any, text: str) -> list[tuple[str, int, int, str]]:
    return [(m.schema, m.index, m.last_index, m.url) for m in linkify.match(text) or []]


def test_the_quick_patterns_are_in_use() -> None:
    # Otherwise every comparison below compares linkify-it with itself.
    assert QUICK._quick is not None
    assert QUICK.re["schema_test"] != STOCK.re["schema_test"]


@settings(max_examples=600, deadline=None)
@given(TEXTS)
def test_same_answers_as_linkify_it(text: str) -> None:
    assert QUICK.pretest(text) == STOCK.pretest(text)
    assert QUICK.test(text) == STOCK.test(text)
    assert found(QUICK, text) == found(STOCK, text)


def test_same_answers_on_real_comments() -> None:
    texts = real_comment_texts()
    assert len(texts) > 1000
    for text in texts:
        assert (QUICK.pretest(text), QUICK.test(text)) == (STOCK.pretest(text), STOCK.test(text))


def test_same_html_as_with_linkify_it() -> None:
    stock = MarkdownIt("commonmark", _parser().options)
    stock.enable(["linkify", "strikethrough"])
    stock.disable(["image", "heading", "lheading", "html_block", "html_inline"])
    assert isinstance(stock.linkify, LinkifyIt) and not isinstance(stock.linkify, QuickLinkify)
    for text in real_comment_texts():
        assert _sanitise(_parser().render(text)) == _sanitise(stock.render(text))


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_a_scheme_without_a_colon_is_still_found(text: str) -> None:
    # A scheme added by name without ":" or "//": the ":" shortcut must not hide it.
    stock, quick = LinkifyIt().add("git+", "http:"), QuickLinkify().add("git+", "http:")
    assert quick._quick is not None and not quick._quick[-1]  # not gated by ":"
    probe = text + " git+example.com"
    assert quick.pretest(probe) == stock.pretest(probe)
    assert quick.test(probe) == stock.test(probe)


@pytest.mark.parametrize(
    ("name", "text"), [("schema_test", "see http://example.com"), ("host_fuzzy_test", "see x.com")]
)
def test_patterns_of_another_shape_are_kept_as_they_are(name: str, text: str) -> None:
    class Changed(QuickLinkify):
        def _compile(self) -> None:
            LinkifyIt._compile(self)
            self.re[name] = "(?:" + self.re[name] + ")"
            QuickLinkify._compile_quick(self)

    changed = Changed()
    assert changed._quick is None
    assert changed.pretest(text) and not changed.pretest("plain words")


def test_every_top_level_domain_starts_with_a_letter() -> None:
    # The quick host test looks for a top-level domain only after a dot and a letter.
    assert all(tld[:1].isalpha() for tld in STOCK.tlds_default)
    assert all(
        re.fullmatch(r"[a-z](?:[a-z]|\[[a-z]+\])", p) for p in STOCK.tlds_2ch_src_re.split("|")
    )


def test_only_the_long_s_folds_into_a_letter_of_the_named_hosts() -> None:
    # What lets the quick test look for "localhost" and "www." in the lowered text.
    letters = set("localhostwww.")
    every = [chr(c) for c in range(sys.maxunicode + 1)]
    lowered = {ch: low for ch in every if (low := ch.lower()) in letters}
    for letter in letters:
        pattern = re.compile(re.escape(letter), re.IGNORECASE)
        folded = {ch for ch in every if pattern.fullmatch(ch)}
        to_letter = {ch for ch, low in lowered.items() if low == letter}
        assert folded - to_letter <= {"\u017f"}, letter
        assert to_letter <= folded, letter


def test_a_top_level_domain_that_starts_with_a_digit_keeps_the_patterns() -> None:
    quick, stock = QuickLinkify().tlds(["3com"], True), LinkifyIt().tlds(["3com"], True)
    assert quick._quick is None
    assert quick.pretest("see x.3com") == stock.pretest("see x.3com") is True
