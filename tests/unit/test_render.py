"""Comment text to safe HTML (issue 9, formatting): what is kept, what never gets through."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbridge.importer.wp_html import wordpress_to_markdown
from mailbridge.render import MAX_MARKDOWN_CHARS, MAX_NESTING, render_comment

ALLOWED = {
    "p",
    "br",
    "strong",
    "em",
    "del",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "hr",
}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def tags(markup: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    parser = _Tags()
    parser.feed(markup)
    return parser.tags


def test_formatting_is_kept() -> None:
    out = render_comment(
        "Hello *you* and **all**\nnext line\n\n> a quote\n\n- one\n- two\n\n1. first\n\n"
        "`code` ~~gone~~ https://example.org/a?b=1 [site](https://example.net)"
    )
    assert "<em>you</em>" in out and "<strong>all</strong>" in out
    assert "<br>" in out and "<blockquote>" in out and "<ul>" in out and "<ol>" in out
    assert "<code>code</code>" in out and "<s>gone</s>" in out
    assert '<a href="https://example.org/a?b=1" rel="nofollow ugc noopener">' in out
    assert '<a href="https://example.net" rel="nofollow ugc noopener">site</a>' in out


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "<a href='javascript:alert(1)'>x</a>",
        "![pixel](https://tracker.example/p.gif)",
        '<iframe src="https://evil.example"></iframe>',
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "<style>body{display:none}</style>",
    ],
)
def test_nothing_active_gets_through(text: str) -> None:
    out = render_comment(text)
    for tag, attrs in tags(out):
        assert tag in ALLOWED
        for name, value in attrs:
            assert name in ("href", "rel", "start")
            if name == "href":
                assert value is not None and value.startswith(("http://", "https://"))
    assert "javascript:" not in out.lower().replace("javascript:alert", "") or "<a" not in out
    assert "<img" not in out and "<script" not in out and "<iframe" not in out


def test_raw_html_is_shown_as_text() -> None:
    assert (
        render_comment("<b>bold?</b> & 1 < 2") == "<p>&lt;b&gt;bold?&lt;/b&gt; &amp; 1 &lt; 2</p>\n"
    )


def test_deep_nesting_and_long_text_keep_every_word() -> None:
    deep = "> " * (MAX_NESTING * 5) + "the last word"
    assert "the last word" in render_comment(deep)
    long_text = ("word " * 20 + "\n") * (MAX_MARKDOWN_CHARS // 100 + 10)
    out = render_comment(long_text)
    assert out.startswith("<p>") and out.count("word") == long_text.count("word")


words = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8)
markdownish = st.lists(
    st.one_of(
        words,
        st.sampled_from(
            ["*", "**", "_", "`", "> ", "- ", "\n", "\n\n", "[", "]", "(", ")", "<", ">", "#", " "]
        ),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(markdownish)
def test_any_text_renders_to_allowed_tags_and_keeps_its_words(parts: list[str]) -> None:
    text = " ".join(parts)
    out = render_comment(text)
    assert all(tag in ALLOWED for tag, _ in tags(out))
    visible = html.unescape(re.sub(r"<[^>]+>", " ", out))
    for word in re.findall(r"[^\W_]+", text):
        assert word in visible


def test_wordpress_html_becomes_markdown_that_renders_the_same() -> None:
    content = (
        'I agree with <a href="https://example.org/post">this</a>, <em>really</em>.\n'
        "Second line\n\n<blockquote>their words</blockquote>\n\n<strong>Thanks</strong>"
    )
    markdown = wordpress_to_markdown(content)
    assert markdown == (
        "I agree with [this](https://example.org/post), *really*.  \nSecond line\n\n"
        "> their words\n\n**Thanks**"
    )
    out = render_comment(markdown)
    assert '<a href="https://example.org/post" rel="nofollow ugc noopener">this</a>' in out
    assert "<em>really</em>" in out and "<blockquote>" in out and "<strong>Thanks</strong>" in out
    assert wordpress_to_markdown("no tags, 2*3\n\nkept as is") == "no tags, 2*3\n\nkept as is"


@pytest.mark.parametrize(
    "text",
    [
        "[the author's answer](/posts/retraction/)",  # the blog's own address, on its page
        "[official site](//evil.example/login)",  # another host, scheme taken from the page
        "[here](evil.example/page)",
    ],
)
def test_links_without_a_scheme_are_not_links(text: str) -> None:
    """A relative link resolved against whichever page showed it: on a blog, through
    the widget, to a path of the blog itself (its logout, its search page echoing
    words), so a commenter's link passed for the site's own; "//host" went to any host.
    docs/formatting.md: links other than http(s) are not links. The words stay."""
    out = render_comment(text)
    assert "href" not in out, out
    assert re.sub(r"\[|\]\(.*", "", text).split("(")[0] in html.unescape(out)


def test_http_links_stay_links() -> None:
    out = render_comment("[a page](https://example.org/a) and http://example.org/b")
    hrefs = [dict(attrs)["href"] for tag, attrs in tags(out) if tag == "a"]
    assert hrefs == ["https://example.org/a", "http://example.org/b"]
