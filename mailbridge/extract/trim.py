"""Cut a plain-text reply down to what the writer wrote.

``trim_text(text) -> (kept, elided)`` is a pure function.  It works in three
steps, each small enough to reason about:

1. **Classify** every line (:func:`classify`): empty, the writer's text, a
   quoted line (``>``), a quote header ("On ... wrote:", possibly wrapped over
   several lines), or a *cut* line after which nothing is the writer's: an
   "Original message" marker, a header block (``From:/Sent:/To:``), a delimiter
   (``-- ``, ``____``), a mobile sign-off, a signature block.
2. **Cut** at the first cut line.  A quote header not followed by a quote is a
   cut line too: the old message follows unquoted.
3. **Resolve quotes** in what is left: a quote nobody answered (at the end, or
   followed only by a closing like "Regards, Ann") is dropped with its header;
   a quote the writer answered below (interleaved reply) is kept as ``>`` lines
   so the comment still makes sense; a bottom-posted quote under its header is
   dropped.  A message that is only a quote yields ``""``.

Everything that is dropped goes to ``elided`` so an operator can see it.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence

from mailbridge.extract import matchers as m
from mailbridge.extract import signoffs as so
from mailbridge.extract.blocks import header_group_top, is_real_header_block
from mailbridge.extract.known import Known, our_lines

__all__ = [
    "OPENS_WITH_HEADER",
    "Kind",
    "classify",
    "joined_header_end",
    "strip_blank_edges",
    "trim_lines",
    "trim_text",
]


class Kind(enum.Enum):
    EMPTY = "e"
    TEXT = "t"
    QUOTE = "q"
    HEADER = "h"  # quote attribution, "On ... wrote:"
    CUT = "c"  # nothing from here on is the writer's
    FORWARD = "f"  # forwarded-message marker: a cut, unless it opens the message
    BANNER = "b"  # a mail gateway's warning above the reply: dropped


_FENCE = ("```", "~~~")


def _split_inline_headers(lines: Sequence[str]) -> list[str]:
    """Put an "On ... wrote:" that trails the reply on its own line."""
    out: list[str] = []
    for line in lines:
        if "On " in line and not m.is_quote_line(line):
            at = m.split_inline_quote_header(line.rstrip())
            if at is not None:
                out.append(line[:at].rstrip(" -\t"))
                out.append(line[at:])
                continue
        out.append(line)
    return out


def joined_header_end(clean: Sequence[str], i: int) -> int | None:
    """Last line of a quote header that starts at ``i`` and wraps over lines.

    Handles "On Tue, ..., Ann Smith <\\nann@example.org> wrote:", headers cut
    after the name or before the verb, and Polymail's header spread over
    "<", "mailto:Ann <ann@example.org>" and "> wrote:" lines.
    """
    if not m.could_start_quote_header(clean[i]):
        return None
    parts = [clean[i]]
    dated = m.starts_with_date(clean[i])  # "2013/11/1 Ann <\nann@example.org>": no colon
    j = i
    for _ in range(4):
        j += 1
        while j < len(clean) and not clean[j] and j + 1 < len(clean) and clean[j + 1][:1] == "<":
            j += 1  # Polymail leaves a blank line before "<"
        if j >= len(clean) or not clean[j] or len(clean[j]) > 200:
            return None
        nxt = clean[j]
        if m.starts_new_quote_header(nxt):
            return None  # the next line is a header on its own
        parts.append(nxt)
        if (dated or m.could_end_quote_header(nxt)) and m.is_quote_header(" ".join(parts)):
            return j
    return None


def _header_block_end(clean: Sequence[str], i: int) -> int | None:
    """Last line of a "From:/Sent:/To:" block starting at ``i``, if it is one."""
    first = m.header_field(clean[i])
    if first is None:
        return None
    j = i + 1
    while j < len(clean) and j - i <= 8:  # a value may wrap over a few lines
        name = m.header_field(clean[j])
        if name is not None and name != first:
            return j  # two different fields: enough to know
        if not clean[j] and j - i > 1:
            break
        j += 1
    return None


def _block_tail(clean: Sequence[str], last: int) -> int:
    """Extend a header block over wrapped value lines, up to the blank line."""
    while last + 1 < len(clean) and clean[last + 1]:
        last += 1
    return last


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
        elif m.is_quote_header(c):
            kinds[i] = Kind.HEADER
        elif (end := joined_header_end(clean, i)) is not None:
            for k in range(i, end + 1):
                kinds[k] = Kind.HEADER
            i = end
        elif (end := _header_block_end(clean, i)) is not None and is_real_header_block(clean, i):
            if begun:
                kinds[i] = Kind.CUT
            else:  # a block that opens the message is an attribution (see _first_cut)
                end = _block_tail(clean, end)
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
        or m.is_quote_header(c)
        or m.could_start_quote_header(c)
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


#: Why a moderator should look: the message opened with a header, kept under it.
OPENS_WITH_HEADER = "the message opens with a quote header; the text under it is kept"


def _first_cut(
    kinds: Sequence[Kind], clean: Sequence[str], dropped: set[int], notes: list[str]
) -> int:
    """Index of the first line after which nothing is the writer's."""
    seen_text = False
    seen_any = False  # anything but blank lines and banners: the message has begun
    i = 0
    n = len(kinds)
    while i < n:
        k = kinds[i]
        if k is Kind.TEXT:
            seen_text = True
        elif k is Kind.FORWARD:
            if seen_text:
                return i
            # A message that *is* a forward: drop the marker and the headers, keep the body.
            dropped.add(i)
            j = i + 1
            while j < n and kinds[j] is Kind.EMPTY:
                j += 1
            end = _header_block_end(clean, j) if j < n else None
            if end is not None:
                end = _block_tail(clean, end)
                dropped.update(range(j, end + 1))
                i = end
        elif k is Kind.CUT:
            return i
        elif k is Kind.HEADER:
            j = i + 1
            while j < n and kinds[j] in (Kind.EMPTY, Kind.HEADER):
                j += 1
            if j < n and kinds[j] is Kind.TEXT and not seen_any:
                # The message opens with an attribution over unquoted text: a reply
                # written under a pasted header (or a forward without its marker).
                # Cutting here would leave nothing, so the text is the writer's and
                # only the header goes (the caller marks it for a moderator).
                dropped.update(range(i, j))
                notes.append(OPENS_WITH_HEADER)
                seen_any = True
                i = j
                continue
            if j >= n or kinds[j] is not Kind.QUOTE:
                return i  # the old message follows unquoted (or nothing does)
            i = j  # the quote itself is resolved later
            continue
        if k is not Kind.EMPTY and k is not Kind.BANNER:
            seen_any = True
        i += 1
    return n


def _quote_only(kinds: Sequence[Kind], clean: Sequence[str]) -> bool:
    """Keep a message that is nothing but an unattributed quote: it was meant."""
    for i, k in enumerate(kinds):
        if k is Kind.HEADER:
            return False
        if k is Kind.QUOTE:
            inner = clean[i].lstrip("> \t")
            return not (
                m.is_quote_header(inner)
                or m.is_original_marker(inner)
                or m.header_field(inner) is not None  # "> Subject: ...": a quoted message
            )
    return False


def _ours_from(lines: Sequence[str], clean: Sequence[str], first: int) -> int:
    """Where the block that carries what we sent starts: from its first line of ours,
    up over the rest of its quote and over a real attribution or header block right
    above it, in any language ("Le 3 mars 2026 à 18:37, Ann a écrit :")."""
    start = first
    if m.is_quote_line(lines[first]):
        while start > 0 and m.is_quote_line(lines[start - 1]):
            start -= 1
    top = header_group_top(clean, start)
    return start if top is None else top


def trim_lines(
    lines: Sequence[str],
    attribution: Collection[int] = (),
    sender: tuple[str, ...] = (),
    known: Known | None = None,
    bare_quotes: Collection[int] = (),
    notes: list[str] | None = None,
) -> tuple[list[str], list[str]]:
    """Kept and elided lines of a reply (see the module docstring).

    With ``known`` (what mailbridge sent), the block carrying it is cut whatever
    its shape, and nothing above it is cut for looking like a header or a quote.
    ``notes`` gets why a moderator should check the result, if anything.
    """
    ours = our_lines(known, lines) if known is not None else set()
    start = _ours_from(lines, [m.clean(x) for x in lines], min(ours)) if ours else 0
    kinds, clean = classify(lines, attribution, sender, start, bare_quotes)
    if ours and start < len(kinds) and Kind.CUT not in kinds[:start]:
        first = min(ours)
        if kinds[first] is not Kind.QUOTE:  # our text, unquoted: cut where its block starts
            kinds[start] = Kind.CUT
        else:  # our quote: what leads into it is its attribution, in whatever language
            for k in range(start, first):
                if kinds[k] is Kind.TEXT:
                    kinds[k] = Kind.HEADER
    dropped = {i for i, k in enumerate(kinds) if k is Kind.BANNER}
    cut = _first_cut(kinds, clean, dropped, notes if notes is not None else [])
    dropped.update(range(cut, len(lines)))
    text_idx = [i for i in range(cut) if kinds[i] is Kind.TEXT and i not in dropped]
    if not text_idx:
        if ours or not _quote_only(kinds[:cut], clean):  # our own quote is never "meant"
            dropped.update(range(cut))
    else:
        _resolve_quotes(kinds, clean, cut, text_idx, dropped)
    kept = [
        "" if kinds[i] is Kind.EMPTY else lines[i].rstrip()
        for i in range(len(lines))
        if i not in dropped
    ]
    elided = [lines[i].rstrip() for i in range(len(lines)) if i in dropped]
    return strip_blank_edges(kept), strip_blank_edges(elided)


def _resolve_quotes(
    kinds: Sequence[Kind],
    clean: Sequence[str],
    cut: int,
    text_idx: Sequence[int],
    dropped: set[int],
) -> None:
    first_t, last_t = text_idx[0], text_idx[-1]
    # Answered quotes between two stretches of the writer's text make this an
    # interleaved reply; then the quote above the first answer is context too.
    interleaved = any(kinds[k] is Kind.QUOTE for k in range(first_t, last_t) if k not in dropped)
    i = 0
    while i < cut:
        if kinds[i] is Kind.TEXT or i in dropped:
            i += 1
            continue
        j = i
        while j < cut and kinds[j] is not Kind.TEXT:
            j += 1
        gap = range(i, j)
        quoted = [k for k in gap if kinds[k] in (Kind.QUOTE, Kind.HEADER)]
        if quoted:
            start = quoted[0]
            has_header = any(kinds[k] is Kind.HEADER for k in gap)
            if j > last_t:  # nobody answered this quote: drop it
                dropped.update(range(start, j))
            elif i < first_t:  # quote above the reply
                if interleaved:
                    dropped.update(k for k in gap if kinds[k] is Kind.HEADER)
                elif has_header:  # bottom-posting: the quote is the old message
                    dropped.update(range(start, j))
            else:
                if so.looks_like_signoff(_text_after(kinds, clean, j, cut)):
                    dropped.update(range(start, j))
                else:  # interleaved: keep what was answered, drop the attribution
                    dropped.update(k for k in gap if kinds[k] is Kind.HEADER)
        i = j


def _text_after(kinds: Sequence[Kind], clean: Sequence[str], j: int, cut: int) -> list[str]:
    """Up to four text lines after ``j``: enough to tell a bare sign-off."""
    out: list[str] = []
    for k in range(j, cut):
        if kinds[k] is Kind.TEXT:
            out.append(clean[k])
            if len(out) > 3:
                break
    return out


def strip_blank_edges(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def trim_text(
    text: str,
    sender: str | None = None,
    known: Known | None = None,
    notes: list[str] | None = None,
) -> tuple[str, str]:
    """``(kept, elided)`` for a plain-text reply body; both stripped of blank edges.

    ``sender`` is the From header value; when given, a signature block that
    starts with the sender's name is recognised too. ``known`` is what mailbridge
    sent, when the notification answered is known; ``notes`` as for :func:`trim_lines`.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = _split_inline_headers(text.split("\n"))
    kept, elided = trim_lines(lines, sender=so.sender_name_tokens(sender), known=known, notes=notes)
    return "\n".join(kept), "\n".join(elided)
