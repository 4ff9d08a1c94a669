"""WordPress comment HTML to the Markdown mailbridge stores.

WordPress keeps a comment as the writer typed it, with the few tags its form allows
(``a``, ``em``, ``strong``, ``blockquote``, ``code``, ``del``...) and blank lines that it
turns into paragraphs when it displays them (``wpautop``). mailbridge stores
Markdown and renders it (mailbridge.render); converting at import makes imported
comments look as they did on the blog, with markdownify (a well-kept converter)
doing the tags. Text without tags is already what we store and is kept as is.
"""

from __future__ import annotations

import re

from markdownify import markdownify

__all__ = ["wordpress_to_markdown"]

_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def wordpress_to_markdown(content: str) -> str:
    if _TAG.search(content) is None:
        return content
    paragraphs = re.split(r"\n\s*\n", content.replace("\r\n", "\n"))
    converted = []
    for paragraph in paragraphs:
        # A single newline is a line break on WordPress's page (wpautop adds <br>).
        html = paragraph.strip().replace("\n", "<br>\n")
        markdown = markdownify(html, heading_style="ATX", bullets="-", strip=["img", "script"])
        converted.append(markdown.strip())
    return "\n\n".join(p for p in converted if p)
