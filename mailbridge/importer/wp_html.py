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


# Past these, markdownify is no use and harmful: it took 1.7 s for 120,000 characters
# and more than a minute for 2 MB (it grows faster than the text), and HTML nested a few
# hundred deep exhausted Python's recursion in it (a traceback, mid-import). The page
# shows such text as plain text anyway (mailbridge.render: MAX_MARKDOWN_CHARS 50,000,
# MAX_NESTING 20).
MAX_CONVERTED_CHARS = 50_000
MAX_CONVERTED_DEPTH = 50
_VOID = frozenset({"br", "hr", "img", "input", "wbr", "area", "col", "embed", "meta", "link"})


def _too_deep(content: str) -> bool:
    depth = 0
    for match in _TAG.finditer(content):
        tag = match.group(0)
        if tag.startswith("</"):
            depth = max(depth - 1, 0)
        elif not tag.endswith("/>") and match.group(1).lower() not in _VOID:
            depth += 1
            if depth > MAX_CONVERTED_DEPTH:
                return True
    return False


def wordpress_to_markdown(content: str) -> str:
    if not any(m.group(1).lower() in _WORDPRESS_TAGS for m in _TAG.finditer(content)):
        # Still HTML: WordPress keeps a typed "&" or "<" as "&amp;" or "&lt;".
        return unescape(content)
    if len(content) > MAX_CONVERTED_CHARS or _too_deep(content):
        # Kept as it came: every word stays, the tags show as text, and the Markdown
        # renderer decodes the entities.
        return content
    # Imported here, when a comment first holds a tag: markdownify brings BeautifulSoup,
    # 0.1 to 0.2 s of imports that an import's writing process never needs.
    from markdownify import markdownify

    content = _TAG.sub(_keep_as_text, content)
    paragraphs = re.split(r"\n\s*\n", content.replace("\r\n", "\n"))
    converted = []
    for paragraph in paragraphs:
        # A single newline is a line break on WordPress's page (wpautop adds <br>).
        html = paragraph.strip().replace("\n", "<br>\n")
        markdown = markdownify(html, heading_style="ATX", bullets="-")
        converted.append(markdown.strip())
    return "\n\n".join(p for p in converted if p)
