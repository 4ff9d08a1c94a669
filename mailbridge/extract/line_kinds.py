"""Classify every line of a plain-text reply: step 1 of :mod:`mailbridge.extract.trim`.

:func:`classify` gives each line a :class:`Kind`: empty, the writer's text, a
quoted line (``>``), a quote header ("On ... wrote:", possibly wrapped over
several lines), or a *cut* line after which nothing is the writer's: an
"Original message" marker, a header block (``From:/Sent:/To:``), a delimiter
(``-- ``, ``____``), a mobile sign-off, a signature block. Pure functions.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence

from mailbridge.extract import matchers as m
from mailbridge.extract import quote_headers as qh
from mailbridge.extract import signoffs as so
from mailbridge.extract.blocks import block_tail, header_block_end, is_real_header_block

__all__ = ["Kind", "classify", "joined_header_end"]


class Kind(enum.Enum):
    EMPTY = "e"
    TEXT = "t"
    QUOTE = "q"
    HEADER = "h"  # quote attribution, "On ... wrote:"
    CUT = "c"  # nothing from here on is the writer's
    FORWARD = "f"  # forwarded-message marker: a cut, unless it opens the message
    BANNER = "b"  # a mail gateway's warning above the reply: dropped


_FENCE = ("```", "~~~")


def joined_header_end(clean: Sequence[str], i: int) -> int | None:
    """Last line of a quote header that starts at ``i`` and wraps over lines.

    Handles "On Tue, ..., Ann Smith <\\nann@example.org> wrote:", headers cut
    after the name or before the verb, and Polymail's header spread over
    "<", "mailto:Ann <ann@example.org>" and "> wrote:" lines.
    """
    if not qh.could_start_quote_header(clean[i]):
        return None
    parts = [clean[i]]
    dated = qh.starts_with_date(clean[i])  # "2013/11/1 Ann <\nann@example.org>": no colon
    j = i
    for _ in range(4):
        j += 1
        while j < len(clean) and not clean[j] and j + 1 < len(clean) and clean[j + 1][:1] == "<":
            j += 1  # Polymail leaves a blank line before "<"
        if j >= len(clean) or not clean[j] or len(clean[j]) > 200:
            return None
        nxt = clean[j]
        if qh.starts_new_quote_header(nxt):
            return None  # the next line is a header on its own
        parts.append(nxt)
        if (dated or qh.could_end_quote_header(nxt)) and qh.is_quote_header(" ".join(parts)):
            return j
    return None


def classify(
    lines: Sequence[str],
    attribution: Collection[int] = (),
    sender: tuple[str, ...] = (),
    writer_until: int = 0,
    bare_quotes: Collection[int] = (),
) -> tuple[list[Kind], list[str]]:
    """Kinds of ``lines`` and the cleaned lines the matchers saw.

    ``attribution`` holds indices known to be quote headers (the HTML converter
    knows them from the markup); ``sender`` are the sender's name words. Lines
    before ``writer_until`` come before anything mailbridge sent (see
    :mod:`mailbridge.extract.known`): a header, a marker or a quote there is the
    writer's own, and only a signature cuts.
    """
    clean = [m.clean(x) for x in lines]
    kinds = [Kind.TEXT] * len(lines)
    in_fence = False
    seen_text = False
    begun = False  # a line other than blank or a banner: the message has started
    i = 0
    while i < len(lines):
        c = clean[i]
        if i < writer_until:
            if not c:
                kinds[i] = Kind.EMPTY
            elif not seen_text and so.is_mobile_signature(c) and _text_follows(lines, clean, i + 1):
                kinds[i] = Kind.BANNER  # "Sent from my iPhone" above the reply
                i += 1
                continue
            elif m.is_delimiter(c) or so.is_mobile_signature(c):
                kinds[i] = Kind.CUT
                break
            seen_text = True
            i += 1
            continue
        if not seen_text and c and m.is_gateway_banner(c):
            kinds[i] = Kind.BANNER
        elif c.startswith(_FENCE):
            in_fence = not in_fence
        elif in_fence:
            pass
        elif not c:
            kinds[i] = Kind.EMPTY
        elif i in attribution:
            kinds[i] = Kind.HEADER
        elif m.is_quote_line(lines[i]):
            # A bare HTML blockquote with no attribution above it is the writer's own.
            own = i in bare_quotes and not _after_attribution(kinds, clean, i)
            kinds[i] = Kind.TEXT if own else Kind.QUOTE
        elif m.is_forward_marker(c):
            kinds[i] = Kind.FORWARD
        elif not begun and so.is_mobile_signature(c) and _text_follows(lines, clean, i + 1):
            kinds[i] = Kind.BANNER  # "Sent from my iPhone" above the reply, not under it
        elif (
            m.is_original_marker(c)
            or m.is_delimiter(c)
            or so.is_mobile_signature(c)
            or m.is_reply_above_marker(c)
        ):
            kinds[i] = Kind.CUT
        elif qh.is_quote_header(c):
            kinds[i] = Kind.HEADER
        elif (end := joined_header_end(clean, i)) is not None:
            for k in range(i, end + 1):
                kinds[k] = Kind.HEADER
            i = end
        elif (end := header_block_end(clean, i)) is not None and is_real_header_block(clean, i):
            if begun:
                kinds[i] = Kind.CUT
            else:  # a block that opens the message is an attribution (see trim._first_cut)
                end = block_tail(clean, end)
                for k in range(i, end + 1):
                    kinds[k] = Kind.HEADER
                i = end
        if kinds[i] is Kind.CUT:
            break  # nothing after the first cut is the writer's: no need to look
        seen_text = seen_text or kinds[i] is Kind.TEXT
        begun = begun or kinds[i] not in (Kind.EMPTY, Kind.BANNER)
        i += 1
    _mark_quote_continuations(lines, kinds)
    _mark_signature_blocks(clean, kinds, sender)
    return kinds, clean


def _text_follows(lines: Sequence[str], clean: Sequence[str], i: int) -> bool:
    """Whether the next non-blank line from ``i`` is plain text, not a quote or its header."""
    while i < len(lines) and not clean[i]:
        i += 1
    if i >= len(lines):
        return False
    c = clean[i]
    return not (
        m.is_quote_line(lines[i])
        or qh.is_quote_header(c)
        or qh.could_start_quote_header(c)
        or m.header_field(c) is not None
        or m.is_original_marker(c)
        or m.is_forward_marker(c)
    )


def _after_attribution(kinds: Sequence[Kind], clean: Sequence[str], i: int) -> bool:
    """Whether the quote at ``i`` continues a quote or follows an attribution line."""
    j = i - 1
    while j >= 0 and kinds[j] is Kind.EMPTY:
        j -= 1
    if j < 0:
        return False
    if kinds[j] in (Kind.HEADER, Kind.QUOTE):
        return True
    c = clean[j]
    return c.endswith(":") and ("@" in c or any(ch.isdigit() for ch in c))


def _mark_quote_continuations(lines: Sequence[str], kinds: list[Kind]) -> None:
    """A quoted line wrapped by a client loses its ">": "> see (http://x\\n_y)\\n>".

    Only a line squeezed between two quoted lines, and only when it looks like
    the tail of the line above (indented, a word or two, or a lower-case
    continuation of a long line): a short interleaved answer stays the writer's.
    """
    for i in range(1, len(kinds) - 1):
        if kinds[i] is Kind.TEXT and kinds[i - 1] is Kind.QUOTE and kinds[i + 1] is Kind.QUOTE:
            line = lines[i]
            if (
                line[:1].isspace()
                or len(line.split()) <= 2
                or (line[:1].islower() and len(lines[i - 1]) >= 50)
            ):
                kinds[i] = Kind.QUOTE


def _mark_signature_blocks(
    clean: Sequence[str], kinds: list[Kind], sender: tuple[str, ...]
) -> None:
    """Mark the first line of a separator-less signature block as a cut.

    A paragraph (after the first one) is a signature when it starts with the
    sender's name and goes on for more lines ("Ann Smith\\nProduct Manager"), or
    when it carries contact details: a phone number or labelled field plus
    another contact line, or two labelled fields.
    """
    seen_text = False
    i = 0
    n = len(kinds)
    while i < n:
        if kinds[i] is not Kind.TEXT:
            if kinds[i] is Kind.CUT or kinds[i] is Kind.FORWARD:
                return
            i += 1
            continue
        j = i
        while j < n and kinds[j] is Kind.TEXT:
            j += 1
        para = clean[i:j]
        k = j
        while k < n and kinds[k] is Kind.EMPTY:
            k += 1
        in_list = len(para) > 1 and para[-2][:1] in "-*•+"
        if (k == n or kinds[k] is not Kind.TEXT) and so.is_dash_name(para[-1]) and not in_list:
            return  # "-Ann" closing the last paragraph: a sign-off, the writer's own
        if seen_text and (i == 0 or kinds[i - 1] is not Kind.QUOTE):
            # "Ann Smith\nvia mobile": a name right above the phone's sign-off.
            signed = j < n and kinds[j] is Kind.CUT and so.is_mobile_signature(clean[j])
            named = so.starts_with_sender_name(para[0], sender) and (
                signed or len(para) > 1 or "|" in para[0]
            )
            if named or _is_contact_block(para):
                kinds[i] = Kind.CUT
                return
        elif not seen_text and _is_contact_block(para, strict=True):
            kinds[i] = Kind.CUT  # nothing but a signature block
            return
        seen_text = True
        i = j


def _is_contact_block(para: Sequence[str], strict: bool = False) -> bool:
    """Contact details: a phone or labelled field plus another contact line.

    ``strict`` (for a block that opens the message) wants a real signature:
    four lines or more, two of them phone numbers or labelled fields.
    """
    if len(para) < (4 if strict else 2) or len(para) > 15 or any(len(x) > 100 for x in para):
        return False
    scores = [so.contact_kind(x) for x in para]
    strong = scores.count(2)
    if strict:
        return strong >= 2
    return (strong >= 1 and strong + scores.count(1) >= 2) or strong >= 2
