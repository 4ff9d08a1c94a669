"""HTML reply -> lines of text, using the quote structure the client marked up.

Parsing is done by a real HTML5 parser (selectolax / lexbor); nothing here
looks at HTML with regular expressions.  The walk renders text the way a person
would type it (paragraphs, line breaks, list items, table rows, links as
``text (url)``) and reads the client's own markers:

* **cut from here on** (the rest of the document is the old message):
  Outlook's ``divRplyFwdMsg`` / ``appendonsend`` / ``OutlookMessageHeader``,
  and Outlook desktop's header box (a ``border-top`` div that starts with
  ``From:``/``Von:``/...);
* **quote containers**: Gmail's ``gmail_quote``, Thunderbird's
  ``moz-cite-prefix``, Yahoo's ``yahoo_quoted``, ProtonMail's and Zoho's: text
  in them outside a ``<blockquote>`` is the attribution ("On ... wrote:");
* **quotes**: every ``<blockquote>`` (Apple's and Thunderbird's
  ``type="cite"``, Gmail's, generic ones) is rendered as ``>`` lines;
* **signatures**: Gmail's ``gmail_signature``, Thunderbird's ``moz-signature``,
  Outlook's ``Signature`` block: elided.

The lines then go through the same text rules as plain-text replies
(:func:`mailbridge.extract.trim.trim_lines`), which decide whether a quote was
answered (kept as ``>`` lines) or not (dropped with its attribution).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from mailbridge.extract import matchers as m

__all__ = ["MAX_TAGS", "RenderedHtml", "render_html"]

_SKIP = frozenset(
    {"head", "style", "script", "title", "xml", "template", "noscript", "svg", "math"}
)
_BLOCK = frozenset(
    {
        "div",
        "li",
        "ul",
        "ol",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "address",
        "dl",
        "dt",
        "dd",
        "center",
        "form",
        "fieldset",
        "figure",
        "figcaption",
        "main",
        "nav",
        "aside",
        "tbody",
        "thead",
        "tfoot",
        "caption",
        "details",
        "summary",
    }
)
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "hr"})
#: Tags parsed at most (see :func:`_cap_tags`).
MAX_TAGS = 20_000
#: Deeper quotes are shown with this many ">" (keeps output linear in the input).
MAX_QUOTE_MARKS = 24
_ASCII_SPACE = " \t\n\r\f\v"
_SPACES = re.compile(r"[ \t\n\r\f\v]+")  # not \s: a no-break space is meant
_CUT_IDS = (
    "divrplyfwdmsg",
    "appendonsend",
    "outlookmessageheader",
    "mail-editor-reference-message",
)
_CONTAINER_CLASSES = frozenset(
    {
        "gmail_quote",
        "gmail_quote_container",
        "moz-cite-prefix",
        "yahoo_quoted",
        "protonmail_quote",
        "zmail_extra",
        "ydp_quoted",
    }
)
_SIGNATURE_CLASSES = frozenset({"gmail_signature", "moz-signature", "signature"})
_SIGNATURE_IDS = frozenset({"signature", "applemailsignature", "divtagdefaultwrapper_signature"})


# What to do when an element ends: (what the element started, its tag, text to append).
_Closing = tuple[str, str, str]
_NO_CLOSING: _Closing = ("", "", "")


@dataclass
class RenderedHtml:
    """Lines of text, which of them are attributions, and what the markup cut."""

    lines: list[str] = field(default_factory=list)
    attribution: set[int] = field(default_factory=set)
    # Lines of a bare <blockquote> (no client's quote markup): likely the writer's own.
    bare_quotes: set[int] = field(default_factory=set)
    elided: list[str] = field(default_factory=list)
    truncated: bool = False


@dataclass
class _Walk:
    out: RenderedHtml
    cur: list[str] = field(default_factory=list)
    sink: list[str] | None = None  # while set, lines go to the elided sink
    depth: int = 0  # blockquote depth
    container: int = 0  # > 0 inside a quote container
    container_depth: int = 0  # blockquote depth at which the container started
    pre: int = 0
    cut: bool = False
    lists: list[int] = field(default_factory=list)  # -1 for <ul>, else next <ol> number
    flushes: int = 0  # lines ended so far (an inline mark cannot span lines)
    bare: int = 0  # > 0 inside a bare <blockquote> at the top level
    # Open inline marks: (mark, index in ``cur`` of the opening mark, ``flushes`` then).
    marks: list[tuple[str, int, int]] = field(default_factory=list)
    # Was the last line written blank?  One flag per destination (reply, elided).
    blank: dict[bool, bool] = field(default_factory=lambda: {True: True, False: True})

    def _lines(self) -> list[str]:
        return self.sink if self.sink is not None else self.out.lines

    def flush(self, force: bool = False) -> None:
        """End the current line; with ``force``, even an empty one (a <br>)."""
        if not self.cur and not force:
            return
        text = "".join(self.cur).rstrip()
        self.cur = []
        self.flushes += 1
        lines = self._lines()
        if self.depth:
            marks = ">" * min(self.depth, MAX_QUOTE_MARKS)
            text = (marks + " " + text) if text.strip() else marks
        elif not text.strip():
            text = ""
        if self.sink is None and self.container and self.depth == self.container_depth and text:
            self.out.attribution.add(len(lines))
        if self.sink is None and self.bare and self.depth:
            self.out.bare_quotes.add(len(lines))
        lines.append(text)
        self.blank[self.sink is None] = not text.strip("> ")

    def paragraph(self) -> None:
        self.flush()
        lines = self._lines()
        if lines and not self.blank[self.sink is None]:
            lines.append(">" * min(self.depth, MAX_QUOTE_MARKS) if self.depth else "")
            self.blank[self.sink is None] = True

    def text(self, data: str) -> None:
        if not self.pre:
            data = _SPACES.sub(" ", data)
            if not self.cur or self.cur[-1].endswith((" ", "\t")):
                data = data.lstrip(_ASCII_SPACE)
        if data:
            if self.pre and "\n" in data:
                first, *rest = data.split("\n")
                self.cur.append(first)
                for part in rest:
                    self.flush(force=True)
                    self.cur.append(part)
            else:
                self.cur.append(data)

    def open_mark(self, mark: str) -> None:
        self.marks.append((mark, len(self.cur), self.flushes))
        self.cur.append(mark)

    def close_mark(self) -> None:
        """End ``**bold**``/``*italic*``/code: Markdown wants the marks against the
        words, and an element with no words gets no marks."""
        if not self.marks:
            return
        mark, at, flushes = self.marks.pop()
        if flushes != self.flushes or at >= len(self.cur) or self.cur[at] != mark:
            return  # a line break inside: leave the text as it is
        inner = "".join(self.cur[at + 1 :])
        if not inner.strip() or self.pre:
            self.cur[at] = ""
            return
        lead = inner[: len(inner) - len(inner.lstrip())]
        trail = inner[len(inner.rstrip()) :]
        self.cur[at + 1 :] = [lead + mark + inner.strip() + mark + trail]
        self.cur[at] = ""


_INLINE_MARKS = {"b": "**", "strong": "**", "i": "*", "em": "*", "code": "`"}
_HEADINGS = {"h1": "# ", "h2": "## ", "h3": "### ", "h4": "#### ", "h5": "##### ", "h6": "###### "}


def _classes(attrs: dict[str, str | None]) -> set[str]:
    value = attrs.get("class") or ""
    return set(value.lower().split()) if value else set()


def _is_outlook_header_box(node: LexborNode, attrs: dict[str, str | None]) -> bool:
    style = (attrs.get("style") or "").lower().replace(" ", "")
    if "border-top:solid" not in style and "border-top:1pt" not in style:
        return False
    return m.header_field(m.clean(_leading_text(node, 200))) is not None


def _leading_text(node: LexborNode, limit: int) -> str:
    """The first ``limit`` characters of a subtree's text, without reading all of it."""
    parts: list[str] = []
    size = 0
    for child in node.traverse(include_text=True):
        if child.tag == "-text":
            text = child.text_content or ""
            parts.append(text)
            size += len(text)
            if size >= limit:
                break
    return " ".join(parts)[:limit]


def _link_target(node: LexborNode, attrs: dict[str, str | None]) -> str:
    """The URL for a Markdown ``[label](url)``, or "" when the label says it already
    (or the link goes nowhere a reader could follow)."""
    href = (attrs.get("href") or "").strip()
    if not href.lower().startswith(("http://", "https://")) or any(c in href for c in " ()<>"):
        return ""
    label = " ".join((node.text(deep=True) or "").split())
    bare = href.split("://", 1)[-1].rstrip("/")
    if not label or bare in label or label in href:
        return ""
    return href


def _image(attrs: dict[str, str | None]) -> str:
    """``![alt](src)`` for a picture on the web; an attached one (cid:) is an attachment."""
    src = (attrs.get("src") or "").strip()
    if not src.lower().startswith(("http://", "https://")) or any(c in src for c in " ()<>"):
        return ""
    alt = " ".join((attrs.get("alt") or "").split()).replace("]", "")
    return f"![{alt}]({src})"


def _cap_tags(html: str) -> tuple[str, bool]:
    """The document up to its ``MAX_TAGS``-th tag.

    HTML5 tree building checks the stack of open elements on every tag, so a
    hostile document of nested elements costs time quadratic in its depth.  Real
    replies have a few thousand tags, and the writer's part comes first.
    """
    if html.count("<") <= MAX_TAGS:
        return html, False
    pos = -1
    for _ in range(MAX_TAGS):
        pos = html.find("<", pos + 1)
    return html[:pos], True


def render_html(html: str) -> RenderedHtml:
    """Render ``html`` to lines; never raises on any input string."""
    out = RenderedHtml()
    html, out.truncated = _cap_tags(html)
    tree = LexborHTMLParser(html)
    root = tree.body or tree.root
    if root is None:
        return out
    walk = _Walk(out)
    # Iterative walk (no recursion limit on hostile nesting): (node, exit-callback).
    stack: list[tuple[LexborNode | None, _Closing]] = [(root, _NO_CLOSING)]
    while stack:
        node, closing = stack.pop()
        if node is None:
            _close(walk, closing)
            continue
        _enter(walk, node, stack)
    walk.flush()
    out.lines = _squeeze(out.lines, out.attribution, out.bare_quotes)
    out.elided = [x for x in _squeeze(out.elided, set()) if x.strip()]
    return out


def _enter(walk: _Walk, node: LexborNode, stack: list[tuple[LexborNode | None, _Closing]]) -> None:
    tag = node.tag or ""
    if tag == "-text":
        walk.text(node.text_content or "")
        return
    if tag.startswith("-") or tag in _SKIP:
        return
    attrs = node.attributes
    classes = _classes(attrs) if attrs else set()
    ident = (attrs.get("id") or "").lower() if attrs else ""
    closing = ""
    if (
        walk.sink is None
        and not walk.cut
        and (
            ident.endswith(_CUT_IDS)
            or "outlookmessageheader" in classes
            or (tag == "div" and attrs and _is_outlook_header_box(node, attrs))
        )
    ):
        walk.flush()
        walk.cut = True
        walk.sink = walk.out.elided  # everything from here on is the old message
    elif walk.sink is None and (
        classes & _SIGNATURE_CLASSES
        or ident in _SIGNATURE_IDS
        or (attrs and attrs.get("data-smartmail") == "gmail_signature")
    ):
        walk.flush()
        walk.sink = walk.out.elided
        closing = "unsink"
    elif (classes & _CONTAINER_CLASSES or ident.startswith("yahoo_quoted")) and not walk.container:
        walk.paragraph()
        walk.container_depth = walk.depth
        walk.container += 1
        closing = "container"
    if tag == "br":
        walk.flush(force=True)
        return
    if tag == "img":
        if attrs and walk.sink is None:
            walk.cur.append(_image(attrs))
        return
    if tag == "blockquote":
        walk.paragraph()
        if (
            walk.depth == 0
            and not walk.container
            and not closing
            and not classes
            and not ident
            and (attrs.get("type") or "").lower() != "cite"
        ):
            walk.bare += 1
            closing = "bare"
        walk.depth += 1
        closing = closing or "blockquote"
    elif tag == "p" and any(c.startswith("mso") for c in classes):
        walk.flush()  # Word-made HTML: one <p> per line, &nbsp; paragraphs for blank lines
        closing = closing or "line"
    elif tag in _PARAGRAPH:
        walk.paragraph()
        if tag == "pre":
            walk.pre += 1
        elif tag in _HEADINGS and not walk.depth:
            walk.cur.append(_HEADINGS[tag])
    elif tag in ("ul", "ol"):
        walk.flush()
        walk.lists.append(-1 if tag == "ul" else 1)
    elif tag == "li":
        walk.flush()
        marker = "- "
        if walk.lists and walk.lists[-1] > 0:
            marker = f"{walk.lists[-1]}. "
            walk.lists[-1] += 1
        walk.cur.append("  " * max(len(walk.lists) - 1, 0) + marker)
    elif tag in ("td", "th"):
        if walk.cur:
            walk.cur[-1] = walk.cur[-1].rstrip(_ASCII_SPACE)
            walk.cur.append("\t")
    elif tag in _BLOCK:
        walk.flush()
    suffix = ""
    if tag == "a" and attrs and (target := _link_target(node, attrs)):
        walk.cur.append("[")
        suffix = f"]({target})"
    elif tag in _INLINE_MARKS and not walk.pre:
        walk.open_mark(_INLINE_MARKS[tag])
        closing = closing or "mark"
    stack.append((None, (closing, tag, suffix)))
    children = list(node.iter(include_text=True))
    for child in reversed(children):
        stack.append((child, _NO_CLOSING))


def _close(walk: _Walk, closing: _Closing) -> None:
    what, tag, suffix = closing
    if suffix:
        walk.cur.append(suffix)
    if what == "mark":
        walk.close_mark()
    elif what == "line":
        walk.flush()
    elif tag == "blockquote":
        walk.flush()
        walk.depth = max(walk.depth - 1, 0)
        walk.paragraph()
        if what == "bare":
            walk.bare = max(walk.bare - 1, 0)
    elif tag in _PARAGRAPH:
        if tag == "pre":
            walk.pre = max(walk.pre - 1, 0)
        walk.paragraph()
    elif tag in ("ul", "ol"):
        walk.flush()
        if walk.lists:
            walk.lists.pop()
    elif tag in _BLOCK or tag == "li":
        walk.flush()
    if what == "unsink" and not walk.cut:
        walk.flush()
        walk.sink = None
    elif what == "container":
        walk.flush()
        walk.container = max(walk.container - 1, 0)


def _squeeze(lines: list[str], *marks: set[int]) -> list[str]:
    """Drop runs of blank lines beyond one, keeping the marked indices aligned."""
    out: list[str] = []
    remap: dict[int, int] = {}
    for i, line in enumerate(lines):
        if not line.strip() and (not out or not out[-1].strip()):
            continue
        remap[i] = len(out)
        out.append(line)
    for marked in marks:
        moved = {remap[i] for i in marked if i in remap}
        marked.clear()
        marked.update(moved)
    return out
