"""Text for the XML exports: escaped, in CDATA, and without characters XML 1.0 forbids."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

__all__ = ["as_html_text", "cdata", "text", "utc"]

# XML 1.0 allows tab, newline, carriage return and most of the rest; not other C0
# controls, surrogates, U+FFFE or U+FFFF. An emailed comment could carry one.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text(value: str) -> str:
    """For element content and attributes."""
    return html.escape(_FORBIDDEN.sub("", value), quote=True)


def cdata(value: str) -> str:
    # "]]>" would end the section early: split it across two.
    clean = _FORBIDDEN.sub("", value).replace("]]>", "]]]]><![CDATA[>")
    return f"<![CDATA[{clean}]]>"


def as_html_text(body: str) -> str:
    """A comment's text as WordPress and Disqus keep a plain comment: the characters
    that would be markup escaped, newlines kept (they make its paragraphs and line
    breaks there). ``mailbridge import`` decodes them back."""
    return html.escape(body, quote=False)


def utc(iso_moment: str) -> datetime:
    try:
        moment = datetime.fromisoformat(iso_moment.replace("Z", "+00:00"))
    except ValueError:
        return datetime(1970, 1, 1, tzinfo=UTC)
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
