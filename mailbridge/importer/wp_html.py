"""WordPress comment HTML to the Markdown mailbridge stores.

WordPress keeps a comment as the writer typed it, with the few tags its form allows
(``a``, ``em``, ``strong``, ``blockquote``, ``code``, ``del``...) and blank lines that it
turns into paragraphs when it displays them (``wpautop``). mailbridge stores
Markdown and renders it (mailbridge.render); converting at import makes imported
comments look as they did on the blog, with markdownify (a well-kept converter)
doing the tags. Text without tags is what we store once its entities are decoded.
"""

from __future__ import annotations

import re
from html import unescape

from markdownify import markdownify

__all__ = ["wordpress_to_markdown"]

_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)[^>]*>")
# What WordPress lets commenters use ($allowedtags in kses.php), plus p and br. Any
# other tag was not markup on the blog either: it stays as the text it is.
_WORDPRESS_TAGS = frozenset(
    "a abbr acronym b blockquote br cite code del em i p pre q s strike strong".split()
)


def _keep_as_text(match: re.Match[str]) -> str:
    if match.group(1).lower() in _WORDPRESS_TAGS:
        return match.group(0)
    return match.group(0).replace("<", "&lt;").replace(">", "&gt;")


def wordpress_to_markdown(content: str) -> str:
    if not any(m.group(1).lower() in _WORDPRESS_TAGS for m in _TAG.finditer(content)):
        # Still HTML: WordPress keeps a typed "&" or "<" as "&amp;" or "&lt;".
        return unescape(content)
    content = _TAG.sub(_keep_as_text, content)
    paragraphs = re.split(r"\n\s*\n", content.replace("\r\n", "\n"))
    converted = []
    for paragraph in paragraphs:
        # A single newline is a line break on WordPress's page (wpautop adds <br>).
        html = paragraph.strip().replace("\n", "<br>\n")
        markdown = markdownify(html, heading_style="ATX", bullets="-")
        converted.append(markdown.strip())
    return "\n\n".join(p for p in converted if p)
