"""Comments without Markdown rendered without the parser (mailbridge/render/plain.py):
the same HTML as markdown-it's, for any text the quick path takes."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from support import real_comment_texts

from mailbridge.render import _parser, _render, _sanitise
from mailbridge.render.plain import plain_html


def markdown_it(text: str) -> str:
    md = _parser()
    return _sanitise(md.renderer.render(md.parse(text, {}), md.options, {}))


def quick(text: str) -> str | None:
    found = plain_html(text, _parser().linkify.pretest)
    return None if found is None else _sanitise(found)


# Prose, and everything that could make it Markdown: line starts that open blocks,
# inline markers, entities, links with and without a scheme, every kind of space.
PIECES = st.sampled_from(
    [
        "word", "Ann", "é", "Straße", "日本", "0", "12", "1.", "2)", "10.", "1.5", "(3.1).",
        " ", "  ", "   ", "    ", "\n", "\n\n", "\r\n", "\r", " \n", "  \n", "\t", "\u00a0",
        "\u3000", "\u2028", "\x0b", "\x0c", "\x1c", "\x00", "-", "--", "---", "+", "=", "===",
        ">", "#", "*", "**", "_", "`", "```", "~", "~~", "[", "]", "(", ")", "!", "![", "&",
        "&amp;", "&#42;", "<", "<b>", "\\", "|", '"', "'", ".", ",", ":", "?", "/", "//",
        "://", "http://x.org", "www.", "example.com", ".org", "a@b.de", "localhost",
        ".1.", "$", "%", "^", "{", "}", "@",
    ]
)  # fmt: skip
# And prose with only a few of those, so that most examples take the quick path.
PROSE = st.sampled_from(["word", "Ann", "é", "0", "12", "1.5", "(3.1).", " ", "  ", "\n",
                         "\n\n", "\r\n", " \n", "  \n", ".", ",", "'", '"', "?", "!"])  # fmt: skip
TEXTS = st.one_of(
    st.lists(PIECES, max_size=24).map("".join),
    st.lists(st.one_of(PROSE, PROSE, PROSE, PIECES), max_size=24).map("".join),
)


@settings(max_examples=1500, deadline=None)
@given(TEXTS)
@example('Hello Ann,\nthank you.\n\nSecond paragraph, "quoted".')
@example("  three leading spaces\n       then seven\nend  ")
@example("- a list")
@example("a\n1. a list after a line")
@example("a\n    indented: a continuation, not code")
@example("    indented: code")
@example("   - three spaces, a list")
@example("   2) three spaces, a list")
@example("a\n   1. three spaces, a list")
@example("a\n   ---")
def test_same_html_as_markdown_it(text: str) -> None:
    found = quick(text)
    if found is not None:
        assert found == markdown_it(text)


def test_same_html_on_real_comments_and_most_take_the_quick_path() -> None:
    taken = 0
    texts = real_comment_texts()
    for text in texts:
        found = quick(text)
        if found is not None:
            taken += 1
            assert found == markdown_it(text), text
    # Otherwise the comparison above compares almost nothing.
    assert taken > len(texts) * 0.7


def test_prose_takes_the_quick_path() -> None:
    prose = "Thank you, Ann.\nI didn't know that (really).\n\nBest,\nBo"
    assert (
        quick(prose)
        == "<p>Thank you, Ann.<br>\nI didn't know that (really).</p>\n<p>Best,<br>\nBo</p>\n"
    )
    assert _render(prose) == markdown_it(prose)


def test_markdown_is_left_to_markdown_it() -> None:
    for text in ("*yes*", "a_b_c", "`x`", "[a](http://x.org)", "&amp;", "a\\b", "~~no~~",
                 "- item", "1. item", "> quote", "    code", "# title", "see www.x.org",
                 "see http://x.org", "mail a@b.de", "tab\there"):  # fmt: skip
        assert plain_html(text, _parser().linkify.pretest) is None, text
