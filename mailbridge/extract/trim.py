"""Cut a plain-text reply down to what the writer wrote.

``trim_text(text) -> (kept, elided)`` is a pure function.  It works in three
steps, each small enough to reason about:

1. **Classify** every line (:func:`mailbridge.extract.line_kinds.classify`):
   empty, the writer's text, a quoted line (``>``), a quote header ("On ...
   wrote:", possibly wrapped over several lines), or a *cut* line after which
   nothing is the writer's: an "Original message" marker, a header block
   (``From:/Sent:/To:``), a delimiter (``-- ``, ``____``), a mobile sign-off, a
   signature block.
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

from collections.abc import Collection, Sequence

from mailbridge.extract import matchers as m
from mailbridge.extract import quote_headers as qh
from mailbridge.extract import signoffs as so
from mailbridge.extract.blocks import block_tail, header_block_end, header_group_top
from mailbridge.extract.known import Known, our_lines
from mailbridge.extract.line_kinds import Kind, classify

__all__ = [
    "OPENS_WITH_HEADER",
    "strip_blank_edges",
    "trim_lines",
    "trim_text",
]


def _split_inline_headers(lines: Sequence[str]) -> list[str]:
    """Put an "On ... wrote:" that trails the reply on its own line."""
    out: list[str] = []
    for line in lines:
        if "On " in line and not m.is_quote_line(line):
            at = qh.split_inline_quote_header(line.rstrip())
            if at is not None:
                out.append(line[:at].rstrip(" -\t"))
                out.append(line[at:])
                continue
        out.append(line)
    return out


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
            end = header_block_end(clean, j) if j < n else None
            if end is not None:
                end = block_tail(clean, end)
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
                qh.is_quote_header(inner)
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
