"""Header blocks that are real, not a writer's line that looks like one. Pure functions.

"From: my own experience, this is not how it works." is a sentence; "From: Ann Smith
<ann@example.org>" above "Sent: Tuesday, 3 March 2026 17:02" is a header block. A
field counts when its value is plausible for a header (an address, a date or time,
or a short name), and a block only when two such fields follow each other: one line
that looks like a header never cuts anything (docs/extraction.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from mailbridge.extract import matchers as m
from mailbridge.extract import quote_headers as qh

__all__ = [
    "block_tail",
    "header_block_end",
    "header_group_top",
    "is_real_header_block",
    "plausible_field",
]

_DIGIT = re.compile(r"\d")
_SENTENCE_END = (".", "!", "?", ";")


def plausible_field(c: str) -> bool:
    """``c`` is a header field (of any language) whose value could be a header's."""
    if m.header_field(c) is None:
        return False
    value = c.split(":", 1)[1].strip() if ":" in c else c
    if not value:
        return True  # "Cc:" with nothing after it
    if "@" in value or _DIGIT.search(value):
        return True
    return len(value.split()) <= 6 and not value.endswith(_SENTENCE_END)


def is_real_header_block(clean: Sequence[str], i: int) -> bool:
    """Two plausible header fields in the block from line ``i`` on (a subject may be
    a sentence), at least one with an address or a date: "From: Ann
    <ann@example.org>" / "Sent: 3 March 2026"."""
    fields = []
    for c in clean[i : i + 8]:
        if not c:
            break
        if m.header_field(c) is None:
            continue  # a value wrapped onto the next line
        if plausible_field(c):
            fields.append(c)
    if len(fields) < 2:
        return False
    return any("@" in f or _DIGIT.search(f.split(":", 1)[-1]) for f in fields)


def _attribution(c: str) -> bool:
    """An attribution in any language: a line ending in ":" that names a time or an
    address ("Dne 25. 11. 2026 v 18:37 Ann napsal:")."""
    return c.endswith(":") and len(c) < 250 and ("@" in c or _DIGIT.search(c) is not None)


def header_group_top(clean: Sequence[str], below: int) -> int | None:
    """The first line of a real attribution or header block that ends right above
    line ``below`` (blank lines between allowed), or None when there is none."""
    j = below - 1
    while j >= 0 and not clean[j]:
        j -= 1
    if j < 0:
        return None
    c = clean[j]
    if (
        qh.is_quote_header(c)
        or _attribution(c)
        or m.is_original_marker(c)
        or m.is_forward_marker(c)
    ):
        top = j
    else:
        top = j
        while top > 0 and clean[top - 1] and m.header_field(clean[top - 1]) is not None:
            top -= 1
        if m.header_field(clean[top]) is None or not is_real_header_block(clean, top):
            # A wrapped attribution: "On Tue, ..., Ann <" / "ann@example.org> wrote:".
            if top > 0 and clean[top - 1] and qh.is_quote_header(f"{clean[top - 1]} {c}"):
                return top - 1
            return None
    # A separator or an "Original Message" line right above belongs to the block.
    k = top - 1
    while k >= 0 and clean[k] and (m.is_delimiter(clean[k]) or m.is_original_marker(clean[k])):
        top = k
        k -= 1
    return top


def header_block_end(clean: Sequence[str], i: int) -> int | None:
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


def block_tail(clean: Sequence[str], last: int) -> int:
    """Extend a header block over wrapped value lines, up to the blank line."""
    while last + 1 < len(clean) and clean[last + 1]:
        last += 1
    return last
