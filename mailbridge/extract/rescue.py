"""Never "empty" by accident: when the trimming rules leave nothing of a reply (or only
a sign-off) although it has words above its first quote, those words, for a moderator
to check (issue 13; docs/extraction.md, "Never empty by accident")."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from mailbridge.extract import matchers as m
from mailbridge.extract import quote_headers as qh
from mailbridge.extract import signoffs as so
from mailbridge.extract.blocks import is_real_header_block
from mailbridge.extract.line_kinds import joined_header_end
from mailbridge.extract.trim import strip_blank_edges

__all__ = ["above_first_quote", "rescue"]


def above_first_quote(lines: Sequence[str], attribution: Collection[int] = ()) -> list[str]:
    """The writer's lines above the first quote or attribution, without what only a
    phone or a separator adds: what a reply says before any rule cut it."""
    out: list[str] = []
    clean = [m.clean(x) for x in lines]
    for i, line in enumerate(lines):
        c = clean[i]
        if (
            i in attribution
            or m.is_quote_line(line)
            or (c and (qh.is_quote_header(c) or m.is_delimiter(c) or m.is_original_marker(c)))
            or (c and m.is_forward_marker(c))
            or joined_header_end(clean, i) is not None
            or is_real_header_block(clean, i)
        ):
            break  # a quote, its attribution or header block, a signature under "-- "
        if c and so.is_mobile_signature(c):
            continue
        out.append(line.rstrip())
    return strip_blank_edges(out)


def rescue(kept: Sequence[str], lines: Sequence[str], attribution: Collection[int] = ()) -> str:
    """When the rules left nothing, or only a sign-off, of a message that has words
    above its first quote: those words, for a moderator to check (never "empty" by
    accident); "" when the message truly says nothing more."""
    said = [x.strip() for x in kept if x.strip()]
    if said and not (so.is_closing(said[0]) and so.looks_like_signoff(said)):
        return ""  # words are left (a lone "Hello" too); only "Thanks,\nAnn" is not
    above = above_first_quote(lines, attribution)
    words = [x.strip() for x in above if x.strip()]
    if not words or words == said or so.looks_like_signoff(words):
        return ""
    return "\n".join(above)
