"""Comments that use no Markdown, rendered without the Markdown parser. Pure functions.

Most comments are prose: paragraphs of lines, no emphasis, no list, no link. For those
markdown-it's answer is known in advance, one ``<p>`` per paragraph with ``<br />``
between its lines (``breaks``), yet parsing 4 KB of it cost about 0.8 ms, on the worker
of every emailed reply (its moderation email shows the comment as it will be
published) and of every page that shows it. :func:`plain_html` gives that same markup
for text that holds none of what could start a Markdown construct, and None for any
other, which markdown-it renders as before. A property test compares the two on
generated text and on real comments.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["plain_html"]

# Characters that start or close an inline construct (emphasis, code, links, images,
# autolinks, entities, escapes, strikethrough) or a block one (headings, quotes, tables
# of other presets), and every character Python's str.isspace() calls space but the
# space and line ends: markdown-it treats tabs and Unicode spaces differently from
# Python's strip(). NUL becomes U+FFFD.
_SPECIAL = re.compile(
    r"[*_`\[\]<>&\\~#|\x00\t\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
# A line start that may open a block: indented code (four spaces), a list item (any
# bullet, or a number and "." or ")"), a rule or setext underline. (A quote's ">", a
# heading's "#" and a fence's "`" or "~" are refused anywhere, above.)
_BLOCK_START = re.compile(r"(?m)^(?: {4}| {0,3}(?:[-+=]|\d{1,9}[.)]))")


def plain_html(text: str, could_link: Callable[[str], bool]) -> str | None:
    """markdown-it's HTML for ``text`` when it holds no Markdown, else None.

    ``could_link`` is linkify's pretest, asked of each paragraph as markdown-it asks
    it: a paragraph where it might find a link is left to markdown-it, which links it.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as markdown-it's first rule
    # "://" also starts markdown-it's inline linkify rule, which does not ask the pretest.
    if "://" in text or _SPECIAL.search(text) or _BLOCK_START.search(text):
        return None
    out: list[str] = []
    paragraph: list[str] = []
    for line in [*text.split("\n"), ""]:
        stripped = line.strip(" ")
        if stripped:
            paragraph.append(stripped)
        elif paragraph:
            content = "\n".join(paragraph)
            if could_link(content):
                return None
            out.append("<p>" + content.replace('"', "&quot;").replace("\n", "<br />\n") + "</p>\n")
            paragraph = []
    return "".join(out)
