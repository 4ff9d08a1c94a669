"""The spam rules' quick looks answer as their patterns do over the whole text, for any
text: they only skip texts where a pattern could not match (rules._links, _bait,
_phones, _repeats, _hides_a_link; scripts.dominant_script and bayes.tokens on ASCII text)."""

from __future__ import annotations

import re
from collections import Counter
from re import _constants as C  # the parser's opcodes, to read rules._PROMOTION
from re import _parser
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from support import real_comment_texts

from mailbridge.spam import bayes, rules, scripts
from mailbridge.spam.scripts import dominant_script

# Pieces of links, numbers and runs, with what ignoring case and Unicode let through:
# other scripts' digits and letters, the long s, a digit that is not a decimal.
PIECES = st.sampled_from(
    [
        "http", "https://", "HTTP://", "www.", "ww.", "example", ".com", ".co", ".c", ".org",
        ".online", ".comx", ".", "/", "/x", " ", "\n", "a", "b", "B", "é", "\u017f", "ж",
        "日本", "0", "1", "123", "0123456789", "012345678", "+", "+4915123456789",
        "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669", "\u00b2", "_",
        "!", "!!", "aa", "aaa", "AAA", "ééé", "\u00b2\u00b2\u00b2", "thumb", "thumbs",
        " up", "this ", "THUMB", "x", "-", "'", "don't", "\u0130", "I", "Www.", "hTTp://",
        "&amp;", "<b>", "\uff21", "w", "W", "w ", "w w w", "W  w\nw", "aw w w", "w w wx",
        "w w w w", ". com", ".  tk", " . be/", " com /", " net/", "\u3000", "\t", "ы w w w",
        "check out ", "checking my ", "sub4sub", "subscribe", "visit my ", "my channel",
        "do a search on google", "search \"", "watch?v=", "i ", "it ", "quite ", "zoo ",
        "please like", "new video", "win a $", "a channel", "our channel", "'em", "hit me up",
        "help me get", "ÿ",
    ]
)  # fmt: skip
TEXTS = st.lists(PIECES, max_size=24).map("".join)
# rules._hides_a_link's three hints as the one pattern they were.
HINT = re.compile(
    r"\.\s+(?:com|net|org|info|ru|tk)\b|\s(?:\.\s*)?(?:com|net|be)\s*/|\b[wW]\s+[wW]\s+[wW]\b"
)


def plain_script(text: str) -> str | None:
    """dominant_script without its ASCII shortcut."""
    counted: Counter[str] = Counter()
    for ch, n in Counter(text).items():
        if ch.isalpha() and (script := scripts._script(ch)) is not None:
            counted[script] += n
    letters = sum(counted.values())
    if letters < 8:
        return None
    script, seen = counted.most_common(1)[0]
    return script if seen / letters >= 0.6 else None


def plain_tokens(text: str) -> frozenset[str]:
    """bayes.tokens without its ASCII shortcut."""
    body = rules.normalise(text)
    found = {w.lower() for w in bayes._WORD.findall(body) if len(w) > 1 or w.isdigit()}
    hosts = {"host:" + m.group(1).lower().removeprefix("www.") for m in bayes._HOST.finditer(body)}
    if hosts:
        found.add("host:*")
    return frozenset(found | hosts)


# rules._PROMOTION as it was, without the lookahead of its first letters.
PROMOTION = re.compile(re.sub(r"^\\b\(\?=\[[^\]]*\]\)", lambda _: r"\b", rules._PROMOTION.pattern))
assert PROMOTION.pattern != rules._PROMOTION.pattern


def same_as_the_patterns(text: str) -> None:
    low = text.lower()
    assert [m.group(0) for m in rules._PROMOTION.finditer(low)] == [
        m.group(0) for m in PROMOTION.finditer(low)
    ]
    assert rules._links(low) == rules._URL.findall(low)
    assert rules._bait(low) == [m.group(0) for m in rules._BAIT.finditer(low)]
    assert rules._phones(text) == [m.group(0) for m in rules._PHONE.finditer(text)]
    assert rules._repeats(text) == (rules._REPEAT.search(text) is not None)
    assert rules._hides_a_link(text) == (HINT.search(text) is not None)
    assert dominant_script(text) == plain_script(text)
    assert bayes.tokens(text) == plain_tokens(text)


@settings(max_examples=1500, deadline=None)
@given(TEXTS)
def test_same_as_the_patterns(text: str) -> None:
    same_as_the_patterns(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_same_as_the_patterns_on_any_text(text: str) -> None:
    same_as_the_patterns(text)


def test_same_as_the_patterns_on_real_comments() -> None:
    for text in real_comment_texts():
        same_as_the_patterns(rules.normalise(text))


def test_each_quick_look_lets_matches_through() -> None:
    # The comparisons above are worth something only if the patterns do match.
    text = "thumbs up!!!!! call +4915123456789 or 0123456789, see www.x.org and y.com/z"
    low = text.lower()
    assert rules._links(low) == ["www.x.org", "y.com/z"]
    assert rules._bait(low) == ["thumbs up"]
    assert rules._bait("a thumb this up") == ["thumb this up"]
    assert rules._phones(text) == ["+4915123456789", "0123456789"]
    assert rules._repeats(text) and rules._repeats("ж" * 5) and rules._repeats("\u00b2" * 5)
    assert not rules._repeats("aaaa1a") and not rules._repeats("11111")
    assert dominant_script("plain ascii words") == "Latin" and dominant_script("short") is None
    assert dominant_script("x" * 8, share=1.5) is None
    assert bayes.tokens("I see HTTP://Example.org/x") == {
        "see",
        "http",
        "example",
        "org",
        "host:*",
        "host:example.org",
    }
    assert rules._hides_a_link("see w w w.example") and rules._hides_a_link("x. com")
    assert rules._hides_a_link("youtu be/x") and rules._hides_a_link("aw w w w")
    assert not rules._hides_a_link("aw w w") and not rules._hides_a_link("w w wx")
    assert rules._phones("0\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")


def _firsts(seq: Any) -> tuple[set[str], bool]:
    """The characters a regular expression's parsed ``seq`` can start with, and whether
    it can match nothing; ValueError for what this does not follow."""
    out: set[str] = set()
    for op, av in seq:
        found, empty = _first_of(op, av)
        out |= found
        if not empty:
            return out, False
    return out, True


def _first_of(op: Any, av: Any) -> tuple[set[str], bool]:
    if op is C.LITERAL:
        return {chr(av)}, False
    if op is C.IN:
        chars: set[str] = set()
        for kind, value in av:
            if kind is C.LITERAL:
                chars.add(chr(value))
            elif kind is C.RANGE:
                chars |= {chr(c) for c in range(value[0], value[1] + 1)}
            else:
                raise ValueError(f"a class this check cannot list: {kind}")
        return chars, False
    if op is C.SUBPATTERN:
        return _firsts(av[3])
    if op is C.BRANCH:
        out: set[str] = set()
        empty = False
        for branch in av[1]:
            found, could_be_empty = _firsts(branch)
            out |= found
            empty = empty or could_be_empty
        return out, empty
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT):
        least, _most, inner = av
        found, could_be_empty = _firsts(inner)
        return found, least == 0 or could_be_empty
    if op in (C.ASSERT, C.ASSERT_NOT, C.AT):
        return set(), True
    raise ValueError(f"an opcode this check cannot follow: {op}")


def test_the_promotion_lookahead_lists_every_first_letter_of_its_alternatives() -> None:
    boundary, lookahead, *alternatives = _parser.parse(rules._PROMOTION.pattern)
    assert boundary == (C.AT, C.AT_BOUNDARY)
    assert lookahead[0] is C.ASSERT
    allowed, _ = _firsts(lookahead[1][1])
    starts, empty = _firsts(alternatives)
    assert not empty
    assert starts == allowed == set("abcdefghjlmnoprstvw")
