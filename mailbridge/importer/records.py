"""What an import file holds, independent of its format; format detection."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mailbridge.errors import ImportFormatError
from mailbridge.models import CommentStatus
from mailbridge.moderate.private import held_note, private_findings

__all__ = [
    "EMPTY",
    "EPOCH",
    "ERASED",
    "ImportedComment",
    "ImportedThread",
    "SourcePost",
    "SourceThread",
    "clean_line",
    "clean_text",
    "dated",
    "detect_format",
    "kept_without_text",
    "one_line",
    "safe_url",
    "usable_key",
    "utc_date",
]

EMPTY = "empty message"  # why a comment without text is not imported
ERASED = "a former commenter"  # mailbridge.people.data.FORMER, not imported from there
# The date of a comment whose own date is missing or cannot be read (said in the summary).
EPOCH = "1970-01-01T00:00:00+00:00"
_XML_HEAD = 1 << 16  # where an XML export's root element must start
_UNIX_TIME = re.compile(r"\d{9,}(\.\d*)?")


@dataclass(frozen=True)
class ImportedComment:
    source_id: str  # the id in the source file; parent refers to it
    parent_source_id: str | None
    author: str
    email: str | None
    body: str
    created_at: str  # ISO 8601 UTC
    status: CommentStatus
    undated: bool = False  # its date was missing or unreadable: created_at is EPOCH
    held_reason: str | None = None  # set below: what a pending one's moderator is told
    # False: its writer asked not to be emailed (mailbridge's own export says so);
    # the import subscribes them to answers only if True.
    notify: bool = True

    def __post_init__(self) -> None:
        # Cleaned where every format's comments are made: a NUL or an escape from the
        # file never reaches a page or an email, and both engines store the same. Made
        # by the reader process when a large file is read apart, so the cleaning is
        # not on the writer's path (pickle restores the fields without calling this).
        object.__setattr__(self, "author", clean_line(self.author) or "Anonymous")
        object.__setattr__(self, "body", clean_text(self.body))
        if self.status is CommentStatus.PENDING and (found := private_findings(self.body)):
            # Waiting in the queue page like any other: it says so (issue 10).
            object.__setattr__(self, "held_reason", held_note(found))


@dataclass
class ImportedThread:
    key: str
    title: str
    url: str
    author: str
    author_email: str | None
    comments: list[ImportedComment] = field(default_factory=list)
    closed: bool = False  # closed to new comments
    skipped: dict[str, int] = field(default_factory=dict)  # why -> how many, for the summary
    post_id: str = ""  # WordPress's ID of the post (a WXR's), to follow a rename


@dataclass(frozen=True)
class SourceThread:
    """A thread of a file read as a stream (Disqus, Isso): written as it is read."""

    source_id: str
    key: str
    title: str
    url: str
    closed: bool = False


@dataclass(frozen=True)
class SourcePost:
    """A comment of a file read as a stream, naming its thread and parent by source id."""

    source_id: str
    thread: str
    parent: str | None
    author: str
    email: str | None
    body: str  # Markdown
    created_at: str
    status: CommentStatus
    skip: str = ""  # why it is not imported ("deleted in Disqus"), or ""
    undated: bool = False  # its date was missing or unreadable: created_at is EPOCH


def kept_without_text(author: str, email: str | None, status: CommentStatus) -> bool:
    """Whether a comment without text is stored anyway: what erasure in mailbridge
    leaves of a removed comment (``mailbridge export`` writes it). Its replies hang
    on it and stay off the page with it; skipped, they came to the top level and
    were published, quoting the erased words as often as not."""
    return author == ERASED and not email and status is CommentStatus.REJECTED


def usable_key(key: str) -> bool:
    """Can ``key`` name a thread? It is part of the thread's address (/threads/KEY) and
    the widget's data-thread: one word, no / ? or #."""
    return bool(key) and not any(ch.isspace() or not ch.isprintable() or ch in "/?#" for ch in key)


def safe_url(url: str) -> str:
    """Keep only http(s) links: an export could carry javascript: or data: URLs, or a
    line break or a space inside one (never in a real address), to break out of a link."""
    url = url.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return ""
    return url if url.lower().startswith(("http://", "https://")) else ""


# What no comment or name needs and a web form refuses (mailbridge.text_rules): control
# characters but tab and line feed (NUL, which PostgreSQL cannot store: the store's
# adapter makes it U+FFFD; ESC; C1), bidi embeddings, overrides and isolates, lone
# surrogates (JSON's "\ud800").
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def clean_text(text: str) -> str:
    """An export's text without what it must not carry into a page or an email: line
    breaks as LF, the characters above dropped. A regular expression, not
    text_rules.strip_spoofing's letter-by-letter loop: an import has millions."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Every character dropped is unprintable: a text printable but for its line breaks
    # and tabs (nearly all) is returned as it is, a third faster than the regex's scan.
    if text.replace("\n", "").replace("\t", "").isprintable():
        return text
    return _UNWANTED.sub("", text)


def clean_line(text: str) -> str:
    """A name or a title: clean_text, on one line, spaces collapsed."""
    return " ".join(clean_text(text).split())


def _wide_encoding(head: bytes) -> str:
    """The name "UTF-16" or "UTF-32" when ``head`` is text in one of them (a byte order mark,
    or ASCII letters each with NUL bytes beside them, as an export starts), else "". Any
    other binary file (a zip, say) is not claimed to be text."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    sample = head[:32]
    for name, width in (("UTF-32", 4), ("UTF-16", 2)):
        for at in range(width):  # where the ASCII byte sits: little or big endian
            letters = sample[at::width]
            others = bytes(b for i, b in enumerate(sample) if i % width != at)
            if (
                len(sample) == 32
                and not others.strip(b"\x00")
                and all(32 <= b < 127 or b in b"\t\r\n" for b in letters)
            ):
                return name
    return ""


def one_line(exc: Exception) -> str:
    """A parser's message as one line: yajl's (ijson's C backend) are several, in bytes."""
    arg = exc.args[0] if exc.args else exc
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)


def utc_date(value: object) -> str | None:
    """A source's date as mailbridge stores it (ISO 8601, UTC, to the second), or None.

    Exports write ISO 8601 with ``Z``, an offset, none (taken as UTC) or nanoseconds,
    and some Unix time (a number, or its digits); stored as written, they would sort
    wrongly among other comments. Unix time counts from 1e8 (1973), so "2020" or 0 is
    no date; nor is anything before 1970.
    """
    if isinstance(value, bool) or (isinstance(value, int | float) and not value >= 1e8):
        return None
    try:
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str) and _UNIX_TIME.fullmatch(value.strip()):
            moment = datetime.fromtimestamp(float(value), UTC)
        elif isinstance(value, str) and len(value.strip()) >= 10:  # a date, not "2020"
            moment = datetime.fromisoformat(value.strip())
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        return None
    if moment.year < 1970:
        return None
    return moment.isoformat(timespec="seconds")


def dated(value: object) -> tuple[str, bool]:
    """(the date to store, whether it had to be EPOCH because ``value`` is no date)."""
    found = utc_date(value)
    return (EPOCH, True) if found is None else (found, False)


def detect_format(path: Path) -> str:
    """'wxr', 'disqus', 'isso', 'commento', 'remark42' or 'json', from the first bytes."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head.strip():
        raise ImportFormatError(f"{path}: the file is empty")
    wide = _wide_encoding(head)
    if wide:
        # Every format is read as UTF-8 (XML could say otherwise, but WordPress and
        # Disqus never do): say so, rather than "not an export".
        raise ImportFormatError(
            f"{path}: encoded in {wide}, not UTF-8; convert it first (iconv -f {wide} -t UTF-8)"
        )
    if head.startswith(b"SQLite format 3\x00"):
        from mailbridge.importer.isso import is_isso  # a database, not text

        if is_isso(path):
            return "isso"
        raise ImportFormatError(f"{path}: an SQLite database, but not Isso's")
    if text.startswith(b"<"):
        if b"<disqus" not in head and b"<rss" not in head:
            # Long comments or a stylesheet before the root: look further before refusing.
            with path.open("rb") as fh:
                head = fh.read(_XML_HEAD)
        if b"<disqus" in head:
            return "disqus"
        if b"<rss" in head:
            return "wxr"
        raise ImportFormatError(
            f"{path}: not a WordPress export (WXR, an <rss>) or a Disqus export (<disqus>), "
            "though it starts as XML or HTML does"
        )
    elif head.startswith(b"\x1f\x8b"):  # gzip: Remark42's automatic backups are
        import gzip

        try:
            with gzip.open(path, "rb") as inner:
                unpacked = inner.read(4096)
        except (OSError, EOFError) as exc:
            raise ImportFormatError(f"{path}: a broken gzip file ({exc})") from None
        from mailbridge.importer.remark42 import is_remark42

        if is_remark42(unpacked):
            return "remark42"
    elif text.startswith(b"{"):
        from mailbridge.importer.remark42 import is_remark42

        if is_remark42(text):
            return "remark42"
        # Commento's export opens with its comments, each starting with its commentHex.
        if b'"commentHex"' in head:
            return "commento"
        return "json"
    raise ImportFormatError(
        f"{path}: not a WordPress export (WXR XML), a Disqus export, an Isso database, "
        "a Commento export, a Remark42 backup or a mailbridge JSON file"
    )
