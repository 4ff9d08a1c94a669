"""Which page may have a thread, and what it is called: pure functions.

A static site cannot run an import for each new post, so the widget asks for its
thread on first view with the page's canonical URL and title (Isso's model). Only
pages of ``site.allowed_origins`` under ``site.thread_path_prefix`` may; the URL is
reduced to scheme, host and path (no query string, no fragment, no user info: a
query trick must not mint threads), the key derives from the path, and the title
is cleaned to one line of plain text.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from mailbridge.errors import ThreadRefused
from mailbridge.text_rules import TextRefused, check_name

__all__ = ["MAX_TITLE", "PageThread", "clean_title", "page_thread"]

MAX_TITLE = 200
MAX_URL = 2_000
_KEY_CHARS = re.compile(r"[^a-z0-9]+")
_TAGS = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class PageThread:
    key: str
    url: str
    title: str


def clean_title(title: object) -> str:
    """One line of plain text: tags removed, whitespace folded, at most MAX_TITLE."""
    if not isinstance(title, str):
        raise ThreadRefused(400, "title must be a string", "title")
    text = " ".join(_TAGS.sub(" ", title).split())[:MAX_TITLE].strip()
    if not text:
        raise ThreadRefused(400, "the page needs a title", "title")
    try:
        check_name(text)  # the same spoofing rules as names (bidi overrides, invisibles)
    except TextRefused as exc:
        raise ThreadRefused(400, exc.reason.replace("author", "title"), "title") from None
    return text


def _key_for(path: str) -> str:
    words = unicodedata.normalize("NFKD", unquote(path)).encode("ascii", "ignore").decode()
    slug = _KEY_CHARS.sub("-", words.lower()).strip("-")[:80].strip("-")
    if not slug:
        slug = "home"
    if slug != path.strip("/").lower():
        # Different paths can fold to one slug ("/a/b" and "/a-b"): keep them apart.
        slug += "-" + hashlib.sha256(path.encode()).hexdigest()[:6]
    return slug


def page_thread(
    url: object, title: object, origin: str | None, allowed: tuple[str, ...], prefix: str
) -> PageThread:
    """The thread a page may have, or :class:`ThreadRefused` saying why not."""
    if origin is None or origin not in allowed:
        raise ThreadRefused(403, "this site may not create comment threads here", "origin")
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise ThreadRefused(400, "url must be the page's address", "url")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cs") for ch in url):
        # A browser's location has none (it percent-encodes them); a lone surrogate
        # in the path could not even be hashed into the key (a 500).
        raise ThreadRefused(400, "url must not hold spaces or control characters", "url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ThreadRefused(400, "url is not a valid address", "url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise ThreadRefused(400, "url must be an http(s) address", "url")
    netloc = parts.hostname + (f":{port}" if port else "")
    page_origin = f"{parts.scheme}://{netloc}"
    if page_origin != origin:
        raise ThreadRefused(403, "url must be a page of the site that asks", "url")
    path = parts.path or "/"
    if "/../" in path + "/" or "/./" in path + "/" or "//" in path:
        raise ThreadRefused(400, "url path must be canonical", "url")
    if not path.startswith(prefix):
        raise ThreadRefused(403, f"only pages under {prefix} have comment threads", "url")
    canonical = urlunsplit((parts.scheme, netloc, path, "", ""))
    return PageThread(key=_key_for(path), url=canonical, title=clean_title(title))
