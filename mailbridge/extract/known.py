"""What mailbridge sent, recognised in a reply. Pure functions.

mailbridge wrote the notification being answered, so it can tell its own words
from the writer's far better than any rule about markup: a quoted block, a header
block or a blockquote that carries words of the notification is ours to cut,
whatever its markup or language; one that does not is probably the writer's own
(a quote from elsewhere, a poem, their own "From: ..." line).

Words are compared, not characters: clients rewrap quoted lines, turn links into
"text (url)", add or drop Markdown marks and quote markers. Six consecutive words
of what we sent, in order, mark a line as ours.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["WINDOW", "Known", "our_lines"]

WINDOW = 6  # consecutive words: long enough to be ours, short enough for a wrapped line
_WORD = re.compile(r"\w+")  # quote marks (">", "|") fall between words: no need to strip them


def _words(text: str) -> list[str]:
    if text.isascii():  # lowered once: in ASCII, lower case moves no word's bounds
        return _WORD.findall(text.lower())
    return [w.lower() for w in _WORD.findall(text)]


@dataclass(frozen=True, slots=True)
class Known:
    """The word windows of what was sent (a notification's text, the comment it
    carried), or none: then the extractor falls back to its rules alone."""

    windows: frozenset[tuple[str, ...]]
    # The windows' first words: most of a reply's words start none of them, and
    # asking a word is cheaper than building a window to ask.
    firsts: frozenset[str]

    @classmethod
    def of(cls, texts: Iterable[str]) -> Known | None:
        windows: set[tuple[str, ...]] = set()
        for text in texts:
            words = _words(text)
            windows.update(tuple(words[i : i + WINDOW]) for i in range(len(words) - WINDOW + 1))
        if not windows:
            return None
        return cls(frozenset(windows), frozenset(w[0] for w in windows))


def our_lines(known: Known, lines: Sequence[str]) -> set[int]:
    """Indices of the lines that carry a window of what was sent (quote marks ignored)."""
    stream: list[str] = []
    owner: list[int] = []
    for index, line in enumerate(lines):
        words = _words(line)
        stream += words
        owner += [index] * len(words)
    found: set[int] = set()
    windows, firsts = known.windows, known.firsts
    for start in range(len(stream) - WINDOW + 1):
        if stream[start] in firsts and tuple(stream[start : start + WINDOW]) in windows:
            found.update(owner[start : start + WINDOW])
    return found
