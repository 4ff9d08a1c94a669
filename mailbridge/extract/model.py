"""Plain data passed out of the extractor: what the comment is, where it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Attachment:
    """A part of the message that is not published: an image, a file, a forwarded message.

    ``size`` is the decoded size in bytes.
    """

    filename: str | None
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Extraction:
    """The result of :func:`mailbridge.extract.extract` for one raw message.

    text
        The comment text: what the writer wrote, stripped; ``""`` when nothing of
        theirs is left (only a quote, only a signature, an empty message).
    part
        The content type the text came from (``text/plain``, ``text/html``), or
        ``""`` when the message had no usable body.
    attachments
        Parts that are not published; the moderator is told about them.
    elided
        What was cut (quoted notification, signature, ...), for the moderator.
    charset
        The codec the body was finally decoded with.
    charset_fallback
        True when the declared charset was missing, unknown or wrong and the body
        was decoded some other way (see ``docs/extraction.md``).
    defects
        Short notes on what was wrong with the message and repaired.
    unsure
        Why a moderator should check the text, or ``""``: set when the rules would
        have left nothing (or only a sign-off) of a message with words above its
        first quote, and those words were kept instead (never "empty" by accident).
    """

    text: str
    part: str
    attachments: tuple[Attachment, ...] = ()
    elided: str = ""
    charset: str = ""
    charset_fallback: bool = False
    defects: tuple[str, ...] = ()
    unsure: str = ""
