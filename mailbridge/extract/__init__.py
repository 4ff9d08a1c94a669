"""Reply extraction: from a reply email, exactly what the commenter wrote.

Public API (the daemon and ``mailbridge extract`` both call :func:`extract`):

* :func:`extract` -- raw RFC 5322 bytes -> :class:`Extraction` (never raises);
* :func:`extract_reply` -- the scorer's adapter (``body``/``html``/``message``);
* :func:`trim_text` -- plain-text body -> ``(kept, elided)``;
* :func:`html_to_reply_text` -- HTML body -> ``(kept, elided)``.

The policy (what is kept, what is cut) is documented in ``docs/extraction.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mailbridge.extract.html import MAX_TAGS, RenderedHtml, render_html
from mailbridge.extract.known import Known
from mailbridge.extract.mime import Body, is_stub, parse_mail
from mailbridge.extract.model import Attachment, Extraction
from mailbridge.extract.rescue import rescue
from mailbridge.extract.signoffs import sender_name_tokens
from mailbridge.extract.trim import trim_lines, trim_text
from mailbridge.text_rules import strip_blank_edges

__all__ = [
    "Attachment",
    "Extraction",
    "Extractor",
    "extract",
    "extract_reply",
    "html_to_reply_text",
    "trim_text",
]


#: What the daemon calls: raw bytes and what was sent (may be empty) -> the extraction.
Extractor = Callable[[bytes, Sequence[str]], Extraction]


def html_to_reply_text(
    html: str, sender: str | None = None, known: Known | None = None
) -> tuple[str, str]:
    """``(kept, elided)`` for an HTML reply body (see :mod:`mailbridge.extract.html`)."""
    kept, elided, _truncated = _html_reply(html, sender, known)
    return kept, elided


def _html_reply(html: str, sender: str | None, known: Known | None) -> tuple[str, str, bool]:
    return _trim_rendered(render_html(html), sender, known)


def _trim_rendered(
    rendered: RenderedHtml,
    sender: str | None,
    known: Known | None,
    notes: list[str] | None = None,
) -> tuple[str, str, bool]:
    kept, elided = trim_lines(
        rendered.lines,
        rendered.attribution,
        sender_name_tokens(sender),
        known,
        rendered.bare_quotes,
        notes,
    )
    cut = "\n".join(elided)
    if rendered.elided:
        cut = (cut + "\n" if cut else "") + "\n".join(rendered.elided)
    return "\n".join(kept), cut, rendered.truncated


def _join(bodies: list[Body]) -> str:
    return "\n".join(b.text for b in bodies)


def extract(raw: bytes, sent: Sequence[str] = ()) -> Extraction:
    """The comment text of one raw reply message.  Never raises on bytes input.

    ``sent`` is what mailbridge sent in the notification being answered (its text,
    the comment it carried), when known: see :mod:`mailbridge.extract.known`.
    """
    try:
        return _extract(raw, Known.of(sent))
    except Exception as exc:  # the daemon must get an answer for any bytes
        return Extraction(text="", part="", defects=(f"extraction failed: {type(exc).__name__}",))


def _extract(raw: bytes, known: Known | None) -> Extraction:
    mail = parse_mail(raw)
    plain = _join(mail.plain)
    saved = ""
    notes: list[str] = []
    if mail.plain and not is_stub(plain):
        bodies, part = mail.plain, "text/plain"
        text, elided = trim_text(plain, mail.sender, known, notes)
        saved = rescue(text.split("\n"), plain.replace("\r\n", "\n").split("\n"))
    elif mail.html:
        bodies, part = mail.html, "text/html"
        rendered = render_html(_join(mail.html))
        text, elided, truncated = _trim_rendered(rendered, mail.sender, known, notes)
        saved = rescue(text.split("\n"), rendered.lines, rendered.attribution)
        if truncated:
            mail.defects.append(f"HTML cut after {MAX_TAGS} tags")
    else:
        bodies, part = mail.plain, "text/plain" if mail.plain else ""
        text, elided = "", plain.strip()
    # A reply kept from under an opening quote header may be an old message: a human checks.
    unsure = notes[0] if notes and text.strip() else ""
    if saved:
        # The rules would have cut every word: file them all, held, for a human.
        unsure = "the rules would have cut all of it; everything above the quote is kept"
        elided = "\n".join(x for x in (elided, text.strip()) if x)
        text = saved
    return Extraction(
        text=strip_blank_edges(text),
        unsure=unsure,
        part=part,
        attachments=tuple(mail.attachments),
        elided=elided,
        charset=bodies[0].charset if bodies else "",
        charset_fallback=any(b.fallback for b in bodies),
        defects=tuple(mail.defects),
    )


def extract_reply(data: str | bytes, kind: str, sender: str | None = None) -> str:
    """Adapter for ``shared/tools/score_replies.py``.

    ``kind`` is ``"message"`` (raw RFC 822 bytes), ``"body"`` (a plain-text
    body) or ``"html"`` (an HTML body); ``sender`` is the From address when the
    case has one.
    """
    if kind == "message":
        raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
        return extract(raw).text
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    if kind == "html":
        return strip_blank_edges(html_to_reply_text(text, sender)[0])
    return strip_blank_edges(trim_text(text, sender)[0])
