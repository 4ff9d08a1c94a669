"""A comment's text (Markdown, as its writer typed it) to safe HTML.

The writer's text is stored as they wrote it; this renders a small, safe subset
of CommonMark with markdown-it-py (paragraphs, line breaks, emphasis, links and
bare URLs, lists, quotes, code) and then sanitises the result with nh3 (Rust's
ammonia), so even a bug in the Markdown step cannot let markup through:

- raw HTML in the text is escaped, never interpreted (``html=False``);
- links are absolute http(s) only (a path or ``//host`` is not a link), and carry
  ``rel="nofollow ugc noopener"``;
- no images (a comment must not make readers' browsers fetch anything), no
  headings (a line followed by ``---`` is a rule, not a banner);
- text nested deeper than :data:`MAX_NESTING` levels or longer than
  :data:`MAX_MARKDOWN_CHARS` is shown as escaped plain text with its line breaks
  (every word kept), so rendering stays linear.
"""

from __future__ import annotations

import html
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

from mailbridge.render.cache import TextCache
from mailbridge.render.linkify import QuickLinkify
from mailbridge.render.plain import plain_html

__all__ = ["MAX_MARKDOWN_CHARS", "MAX_NESTING", "RENDER_VERSION", "render_comment"]

# Bumped whenever the output for the same text changes (caches key on it).
RENDER_VERSION = 2
MAX_MARKDOWN_CHARS = 50_000
MAX_NESTING = 20
_TAGS = {
    "p", "br", "strong", "em", "del", "s", "a", "ul", "ol", "li", "blockquote", "code", "pre", "hr",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
_SCHEMES = {"http", "https"}
_REL = "nofollow ugc noopener"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark",
        {"html": False, "linkify": True, "breaks": True, "maxNesting": MAX_NESTING},
    )
    md.linkify = QuickLinkify()  # linkify-it's answers, sooner (render/linkify.py)
    md.enable(["linkify", "strikethrough"])
    md.disable(["image", "heading", "lheading", "html_block", "html_inline"])
    return md


def _could_link(text: str) -> bool:
    linkify = _parser().linkify
    return linkify is None or bool(linkify.pretest(text))


def _plain(text: str) -> str:
    paragraphs = [p for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    return "".join(
        "<p>" + html.escape(p.strip()).replace("\n", "<br>\n") + "</p>\n" for p in paragraphs
    )


def _sanitise(markup: str) -> str:
    return nh3.clean(
        markup,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_SCHEMES,
        link_rel=_REL,
        # A link without a scheme resolves against whichever page shows it: through
        # the widget, to a path of the blog itself, passing for the site's own link.
        url_relative="deny",
        strip_comments=True,
    )


# Rendered comments by text, per process: a changed thread renders only what is new.
# 4 M characters of HTML (the texts are kept as digests): what 8 M of text and HTML
# together held before, some five thousand comments of usual size.
CACHE = TextCache(4 * 1024 * 1024)


def render_comment(text: str) -> str:
    """The sanitised HTML for one comment's text (cached: the same text renders the same)."""
    found = CACHE.get(text)
    if found is None:
        found = _render(text)
        CACHE.put(text, found)
    return found


def _render(text: str) -> str:
    if len(text) > MAX_MARKDOWN_CHARS:
        return _sanitise(_plain(text))
    md = _parser()
    quick = plain_html(text, _could_link)
    if quick is not None:
        return _sanitise(quick)
    env: dict[str, object] = {}
    tokens = md.parse(text, env)
    if any(token.level >= MAX_NESTING - 1 for token in tokens):
        # markdown-it stops descending at maxNesting and drops what is deeper:
        # show such text plain instead, so no word is lost.
        return _sanitise(_plain(text))
    return _sanitise(md.renderer.render(tokens, md.options, env))
