"""Header fields in wire form: the bytes a receiver reads, encoded and folded here.

Python 3.11's email package folds two kinds of value wrongly for the mail we send
(issue 8). A token longer than the line, such as a List-Unsubscribe URL with a port or
a long host, is turned into RFC 2047 encoded words so that it can be broken, and no
receiver decodes encoded words in a structured header: one-click unsubscribe broke.
In text, the space between two adjacent encoded words is lost ("Ü“Attachment”") or a
fold doubles it. So every header mailbridge sends is encoded and folded here, and
handed to the email package as a header object, which EmailPolicy emits through the
object's own ``fold`` (the documented path for header objects).

Rules (RFC 5322 2.1.1, 2.2.3; RFC 2047 2, 5, 6.2):

* a field is folded only at the whitespace between two tokens, never inside one; a
  token longer than a line (a URL) keeps a line to itself, whole. No line reaches 998
  octets (checked), and lines are kept to 76 characters where the tokens allow.
* structured values (message ids, dates, List-*) are ASCII tokens, never encoded.
* text (Subject) and display names: plain ASCII words stay as they are; a run of
  other words becomes UTF-8 encoded words of at most 75 characters, each holding
  whole characters, cut between words where possible and never inside a grapheme
  cluster as far as it can be told without a table, and the spaces between the
  words of a run are inside the encoded text, since decoders drop the whitespace
  between adjacent encoded words.
"""

from __future__ import annotations

import base64
import string
import unicodedata
from collections.abc import Sequence
from email.policy import Policy
from urllib.parse import quote, urlsplit, urlunsplit

import idna

__all__ = [
    "MAX_ENCODED_WORD",
    "MAX_LINE",
    "WIDTH",
    "WireHeader",
    "ascii_url",
    "cluster_cut",
    "encoded_word",
    "fold",
    "mailbox_header",
    "phrase_tokens",
    "room_after",
    "structured_header",
    "text_header",
    "text_tokens",
]

MAX_ENCODED_WORD = 75  # RFC 2047 2
WIDTH = 76  # RFC 2047 2: a line holding an encoded word; within RFC 5322's 78
MAX_LINE = 998  # RFC 5322 2.1.1, not counting CRLF
# A longer ASCII word is encoded (and so may be cut) rather than risk the 998 limit.
_LONGEST_PLAIN_WORD = 500

_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
# RFC 2047 5(3): the characters that may stand for themselves in a Q-encoded word in a
# phrase; used for text too, where it is merely cautious.
_Q_SAFE = frozenset(string.ascii_letters + string.digits + "!*+-/")
_MIN_ROOM = 20  # the longest encoded word of one character: =?utf-8?b?8J+YgA==?=
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ (Persian words), ZWJ (emoji sequences)


def _q(chunk: str) -> str:
    out = []
    for byte in chunk.encode("utf-8"):
        char = chr(byte)
        if char == " ":
            out.append("_")
        elif char in _Q_SAFE:
            out.append(char)
        else:
            out.append(f"={byte:02X}")
    return "".join(out)


def encoded_word(chunk: str) -> str:
    """``chunk`` as one UTF-8 encoded word: Q or B, whichever is shorter."""
    q = f"=?utf-8?q?{_q(chunk)}?="
    b = f"=?utf-8?b?{base64.b64encode(chunk.encode('utf-8')).decode('ascii')}?="
    return q if len(q) <= len(b) else b


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _joins_previous(text: str, i: int) -> bool:
    """Would a cut before ``text[i]`` split a grapheme cluster? Approximately: before a
    combining mark, joiner, variation selector, emoji modifier or tag, after a joiner,
    inside a pair of regional indicators (a flag), before a Hangul vowel or final."""
    char, prev = text[i], text[i - 1]
    if char in _JOINERS or prev in _JOINERS:
        return True
    if unicodedata.category(char) in ("Mn", "Mc", "Me"):
        return True
    point = ord(char)
    if (
        0xFE00 <= point <= 0xFE0F  # variation selectors
        or 0xE0100 <= point <= 0xE01EF
        or 0x1F3FB <= point <= 0x1F3FF  # skin tones
        or 0xE0020 <= point <= 0xE007F  # tags (subdivision flags)
        or 0x1160 <= point <= 0x11FF  # conjoining Hangul vowels and finals
        or 0xD7B0 <= point <= 0xD7FF
    ):
        return True
    if _regional(char) and _regional(prev):
        count = 0
        j = i - 1
        while j >= 0 and _regional(text[j]):
            count += 1
            j -= 1
        return count % 2 == 1
    return False


def cluster_cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, not inside a grapheme cluster (as
    far as :func:`_joins_previous` tells): half a flag or an accent's letter without
    it would be shown."""
    if len(text) <= limit:
        return text
    cut = limit
    while cut > 1 and _joins_previous(text, cut):
        cut -= 1
    return text[:cut]


def _longest_fit(run: str, start: int, limit: int) -> int:
    """The largest end such that ``run[start:end]`` fits one encoded word of ``limit``
    characters; at least one character.

    The encoded length never shrinks as the chunk grows, so a binary search works.
    """
    low, high = start + 1, len(run)
    while low < high:
        mid = (low + high + 1) // 2
        if len(encoded_word(run[start:mid])) <= limit:
            low = mid
        else:
            high = mid - 1
    return low


def _pieces(run: str, first_limit: int) -> list[str]:
    """Cut ``run`` into pieces that each fit an encoded word (the first one of
    ``first_limit`` characters): after a space where possible, else between grapheme
    clusters, never inside a character."""
    pieces: list[str] = []
    start = 0
    while start < len(run):  # each turn takes at least one character
        end = _longest_fit(run, start, first_limit if not pieces else MAX_ENCODED_WORD)
        if end < len(run):
            # A space ends its piece: the next piece then starts with a whole word.
            space = run.rfind(" ", start + 1, end)
            if space > start:
                end = space + 1
            else:
                cut = end
                while cut > start + 1 and _joins_previous(run, cut):
                    cut -= 1
                if cut > start + 1 or not _joins_previous(run, cut):
                    end = cut
                # else: one cluster longer than an encoded word; cut it where it fits.
        pieces.append(run[start:end])
        start = end
    return pieces


def _tokens(words: Sequence[str], plain: set[int], first_room: int) -> list[str]:
    """Words in wire form: those whose index is in ``plain`` as they are, each run of
    the others as encoded words holding the run's inner spaces. ``first_room`` is
    what the field's first line leaves for a first encoded word."""
    tokens: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            # Too little room (a long field name): the first word goes on its own line.
            first = MAX_ENCODED_WORD
            if not tokens and first_room >= _MIN_ROOM:
                first = min(first_room, MAX_ENCODED_WORD)
            tokens.extend(encoded_word(piece) for piece in _pieces(" ".join(run), first))
            run.clear()

    for index, word in enumerate(words):
        if index in plain:
            flush()
            tokens.append(word)
        else:
            run.append(word)
    flush()
    return tokens


def _plain_text(word: str) -> bool:
    # "=?" would be read as the start of an encoded word: such a word is encoded.
    return (
        word.isascii()
        and word.isprintable()
        and "=?" not in word
        and len(word) <= _LONGEST_PLAIN_WORD
    )


def _atom(word: str) -> bool:
    return bool(word) and all(c in _ATEXT for c in word) and "=?" not in word


def room_after(name: str) -> int:
    """What the first line of field ``name`` leaves for its first token."""
    return WIDTH - len(name) - 2


def text_tokens(text: str, first_room: int = MAX_ENCODED_WORD) -> list[str]:
    """Unstructured text (a Subject) as wire tokens, to be joined by single spaces or
    folds. Runs of spaces count as one; the text must be one line."""
    words = [w for w in text.split(" ") if w]
    return _tokens(words, {i for i, w in enumerate(words) if _plain_text(w)}, first_room)


def phrase_tokens(name: str, first_room: int = MAX_ENCODED_WORD) -> list[str]:
    """A display name (RFC 5322 phrase) as wire tokens: atoms, else one quoted string
    (folded only at its spaces, which unfolding restores), else atoms and encoded words."""
    words = [w for w in name.split(" ") if w]
    if all(_atom(w) for w in words):
        return words
    if all(_plain_text(w) for w in words):
        quoted = " ".join(words).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}"'.split(" ")
    # Words with specials or non-ASCII: encoded (a Q word in a phrase encodes specials).
    return _tokens(words, {i for i, w in enumerate(words) if _atom(w)}, first_room)


def fold(name: str, tokens: Sequence[str], linesep: str = "\r\n", width: int = WIDTH) -> str:
    """``Name: tokens`` folded at the spaces between tokens, each line within ``width``
    where a token allows. The first token shares the name's line unless it is an
    encoded word that does not fit there (RFC 2047 limits such lines to 76)."""
    lines = [f"{name}:"]
    for index, token in enumerate(tokens):
        fits = len(lines[-1]) + 1 + len(token) <= width
        if fits or (index == 0 and not token.startswith("=?")):
            lines[-1] += " " + token
        else:
            lines.append(" " + token)
    for line in lines:
        if len(line.encode("utf-8")) > MAX_LINE:
            raise ValueError(f"header {name}: a line would pass {MAX_LINE} octets")
    return linesep.join(lines) + linesep


class WireHeader(str):
    """A header whose wire form is decided here: EmailPolicy emits ``fold()`` as is.

    Its string value is what a reader sees (the decoded text).
    """

    name: str
    tokens: tuple[str, ...]

    def __new__(cls, name: str, tokens: Sequence[str], shown: str) -> WireHeader:
        for token in tokens:
            # The only whitespace str.isprintable() lets through is the ASCII space
            # (tests/unit/test_header_bytes.py checks that over every code point).
            if not token or not token.isprintable() or " " in token:
                raise ValueError(f"header {name}: a token holds whitespace or a control")
        header = super().__new__(cls, shown)
        header.name = name
        header.tokens = tuple(tokens)
        return header

    def fold(self, *, policy: Policy) -> str:
        return fold(self.name, self.tokens, linesep=policy.linesep)


def text_header(name: str, text: str) -> WireHeader:
    return WireHeader(name, text_tokens(text, room_after(name)), text)


def mailbox_header(name: str, display_name: str, address: str) -> WireHeader:
    """``Name <address>`` (or the bare address without a name). The address must be
    normalised (mailbridge.addresses): a non-ASCII local part goes out as UTF-8
    (RFC 6532), which only a UTF-8 policy (SMTPUTF8) can emit."""
    if not display_name:
        return WireHeader(name, [address], address)
    return WireHeader(
        name,
        [*phrase_tokens(display_name, room_after(name)), f"<{address}>"],
        f"{display_name} <{address}>",
    )


def structured_header(name: str, value: str) -> WireHeader:
    """A value we build from ASCII tokens (ids, dates, List-*): folded, never encoded."""
    if not value.isascii() or not value.isprintable() or not value.strip():
        raise ValueError(f"header {name} must be one line of ASCII")
    return WireHeader(name, value.split(), value)


def ascii_url(url: str) -> str:
    """``url`` as an ASCII URI (RFC 3986): the host as IDNA A-labels, the rest
    percent-encoded. Headers (List-Unsubscribe) cannot carry anything else."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host.isascii():
        # Label by label: an ASCII label is a DNS name's as it stands, and may hold
        # what IDNA refuses in a U-label ("r3---sn-x", "00--0"); encoding the whole
        # host made IDNA refuse "00--0.bücher.example".
        host = ".".join(
            label if label.isascii() else idna.encode(label, uts46=True).decode("ascii")
            for label in host.split(".")
        )
    if ":" in host:
        host = f"[{host}]"  # IPv6
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    if parts.username is not None:
        netloc = f"{parts.netloc.rpartition('@')[0]}@{netloc}"
    safe = "/%:@!$&'()*+,;=-._~"
    return urlunsplit(
        (
            parts.scheme,
            quote(netloc, safe=safe + "[]"),
            quote(parts.path, safe=safe),
            quote(parts.query, safe=safe + "?"),
            quote(parts.fragment, safe=safe + "?"),
        )
    )
