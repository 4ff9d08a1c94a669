"""WordPress's REST API (``wp/v2``, at ``?rest_route=``), as the bridge uses it.

Every answer is checked before it is believed: a status that is not 2xx, a body that
is not the JSON expected (a login page, a PHP error, a caching plugin's HTML), a
comment without its ``raw`` content (the user cannot edit comments) each raise a
:class:`WordPressError` that says what came back. Requests are spaced out to
``requests_per_second``, so a large first sync never floods a small host. Every answer
is bounded in size (``max_answer_mb``, counted as it arrives, after decompression) and
in time (``timeout_seconds``, the body read included): a plugin printing a page into
the API, or a proxy streaming forever, costs the daemon that much memory and time, once
a poll, and no more.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from mailbridge import __version__

__all__ = [
    "Page",
    "WordPressClient",
    "WordPressDown",
    "WordPressError",
    "WordPressMissing",
    "WordPressRefused",
    "WordPressRejected",
    "WordPressTooLarge",
    "WpComment",
    "WpPost",
]

STATUSES = ("approved", "hold", "spam", "trash")


class WordPressError(Exception):
    """WordPress did not do what was asked; the message says what it answered."""


class WordPressDown(WordPressError):
    """Unreachable, too slow, a 5xx or 429, or an answer that is not its JSON: retry later."""


class WordPressTooLarge(WordPressDown):
    """An answer larger than ``wordpress.max_answer_mb``: refused unread past it."""


class WordPressRefused(WordPressError):
    """401 or 403: the user or its Application Password is wrong, or lacks the right."""


class WordPressMissing(WordPressError):
    """404: no such comment or post (deleted for good)."""


class WordPressRejected(WordPressError):
    """Another 4xx: WordPress refused this request (its error code in ``code``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"WordPress answered {status} {code}: {message}")
        self.status = status
        self.code = code

    @property
    def post_closed(self) -> bool:
        """Refused for its post: comments closed there, or the post not published."""
        return self.code in _POST_REFUSALS


@dataclass(frozen=True)
class WpComment:
    id: int
    post: int
    parent: int
    author_name: str
    author_email: str
    content: str  # the raw content, as stored (HTML)
    status: str  # approved, hold, spam or trash
    date_gmt: str  # ISO 8601 without a zone: UTC
    type: str = "comment"  # or pingback, trackback: never mirrored


@dataclass(frozen=True)
class WpPost:
    id: int
    slug: str
    title: str
    link: str
    comments_open: bool


@dataclass(frozen=True)
class Page:
    comments: list[WpComment]
    total: int  # X-WP-Total: how many match, as counted when this page was made
    pages: int  # X-WP-TotalPages


class WordPressClient:
    def __init__(
        self,
        site_url: str,
        user: str,
        app_password: str,
        *,
        requests_per_second: float = 4.0,
        timeout_seconds: float = 15.0,
        max_answer_bytes: int = 32_000_000,
    ) -> None:
        # ?rest_route=, not /wp-json/: the same API, and it works without pretty
        # permalinks too (Apache with "Plain" ones has no rewrite for /wp-json/).
        self._base = site_url.rstrip("/") + "/"
        # HTTP Basic, as WordPress takes Application Passwords (RFC 7617, UTF-8).
        token = base64.b64encode(f"{user}:{app_password}".encode()).decode("ascii")
        self._authorization = "Basic " + token
        self._timeout_seconds = timeout_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._max_answer = max_answer_bytes
        # Where, for the log: the site's address without any user:password@ in it.
        self._shown = str(URL(self._base).with_user(None))
        self._spacing = 1.0 / requests_per_second
        self._next_at = 0.0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def comments(
        self,
        *,
        page: int = 1,
        per_page: int = 100,
        order: str = "desc",
        status: str = "all",
        include: list[int] | None = None,
        extra: dict[str, str] | None = None,
    ) -> Page:
        """One page of comments, newest (highest ID) first by default, in edit context."""
        params: dict[str, str] = {
            "context": "edit", "status": status, "orderby": "id", "order": order,
            "per_page": str(per_page), "page": str(page), "type": "comment",
        }  # fmt: skip
        if include is not None:
            params["include"] = ",".join(str(i) for i in include)
        params.update(extra or {})
        data, headers = await self._request("GET", "/comments", params=params)
        if not isinstance(data, list):
            raise WordPressDown("WordPress answered something other than a list of comments")
        try:
            total = int(headers.get("X-WP-Total", len(data)))
            pages = int(headers.get("X-WP-TotalPages", 1))
        except ValueError:
            raise WordPressDown("WordPress answered a page without its X-WP-Total") from None
        return Page([_comment(item) for item in data], total, pages)

    async def comment(self, wp_id: int) -> WpComment:
        data, _ = await self._request("GET", f"/comments/{wp_id}", params={"context": "edit"})
        return _comment(data)

    async def create_comment(self, fields: dict[str, Any]) -> WpComment:
        data, _ = await self._request("POST", "/comments", json_body=fields)
        return _comment(data)

    async def update_comment(self, wp_id: int, fields: dict[str, Any]) -> WpComment:
        data, _ = await self._request("POST", f"/comments/{wp_id}", json_body=fields)
        return _comment(data)

    async def delete_comment(self, wp_id: int) -> None:
        """Deleted for good, not trashed (Restore would bring it back as it was).
        POST with ``_method``, as WordPress's own clients do: some hosts refuse DELETE."""
        await self._request(
            "POST", f"/comments/{wp_id}", params={"_method": "DELETE", "force": "true"}
        )

    async def comments_open(self, post_id: int) -> bool:
        """Whether WordPress takes comments on the post now, as its own comment form
        decides: closed by hand, by age (*Automatically close comments on posts older
        than*, which a post's ``comment_status`` never shows), by a plugin, or the post a
        draft, trashed or deleted. Asked as a create that names an ID: WordPress checks
        the post first, then refuses any create with an ID, so nothing is ever made.
        ``mailbridge=comments_open`` (ignored by WordPress) tells it in access logs."""
        try:
            await self._request(
                "POST", "/comments", params={"mailbridge": "comments_open"},
                json_body={"post": post_id, "id": 1},
            )  # fmt: skip
        except WordPressRejected as exc:
            if exc.post_closed:
                return False
            if exc.status == 400:  # rest_comment_exists: past every check of the post
                return True
            raise
        raise WordPressDown(f"POST /comments: post {post_id}: a create with an ID was taken")

    async def posts(self, post_ids: list[int]) -> dict[int, WpPost]:
        """Those of the posts (or pages) published now, by ID: one request for at most
        100 posts, one more for the pages among them."""
        found: dict[int, WpPost] = {}
        for kind in ("posts", "pages"):
            wanted = [p for p in post_ids if p not in found]
            if not wanted:
                break
            data, _ = await self._request(
                "GET", f"/{kind}", params={"include": ",".join(map(str, wanted)),
                                           "per_page": "100", "context": "view"},
            )  # fmt: skip
            if not isinstance(data, list):
                raise WordPressDown(f"WordPress answered something other than a list of {kind}")
            found.update((post.id, post) for post in map(_post, data))
        return found

    async def post(self, post_id: int) -> WpPost:
        """A post, or a page (comments are allowed on both)."""
        try:
            data, _ = await self._request("GET", f"/posts/{post_id}", params={"context": "view"})
        except WordPressMissing:
            data, _ = await self._request("GET", f"/pages/{post_id}", params={"context": "view"})
        return _post(data)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: dict[str, Any] | None = None,
    ) -> tuple[Any, dict[str, str]]:
        await self._wait_turn()
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"User-Agent": f"mailbridge/{__version__}"},
            )
        where = f"{method} {path}"
        read = _Progress()
        try:
            # The whole exchange, body included, in timeout_seconds: aiohttp's own
            # timeout is kept too, but this one is the bound the docs promise.
            async with asyncio.timeout(self._timeout_seconds):
                async with self._session.request(
                    method, self._base, params={"rest_route": "/wp/v2" + path, **(params or {})},
                    json=json_body,
                    headers={"Authorization": self._authorization}, allow_redirects=False,
                ) as response:  # fmt: skip
                    status = response.status
                    headers = {k: v for k, v in response.headers.items()}
                    read.started = True
                    body = await self._bounded(response, where, read)
        except TimeoutError as exc:
            raise WordPressDown(
                f"{where}: no whole answer in {self._timeout_seconds:g} s "
                "(wordpress.timeout_seconds): "
                + (
                    f"it had begun, {read.size:,} bytes read (a proxy or plugin streaming "
                    "without end?); dropped"
                    if read.started
                    else "none began (WordPress overloaded or unreachable?)"
                )
            ) from exc
        except aiohttp.ClientError as exc:
            raise WordPressDown(f"{where}: {type(exc).__name__}: {exc}") from exc
        data = _json(body)
        if 200 <= status < 300:
            if data is _NOT_JSON:
                kind = headers.get("Content-Type", "?").split(";")[0]
                # With ?rest_route=, a site_url that is not WordPress's answers its page.
                raise WordPressDown(
                    f"{where}: answered {status} with {kind}, not JSON (a maintenance page, "
                    "or is wordpress.site_url not WordPress's address?)"
                )
            return data, headers
        code, message = _error_of(data, body)
        if status == 403 and code in _POST_REFUSALS:
            raise WordPressRejected(status, code, message)
        if status in (401, 403) and data is _NOT_JSON:
            # The web server's own login (a staging site's HTTP authentication) or a
            # firewall: it holds the Authorization header the Application Password is in.
            asks = headers.get("WWW-Authenticate", "")
            raise WordPressRefused(
                f"{where}: answered {status} before WordPress did"
                + (f" (WWW-Authenticate: {asks[:100]})" if asks else "")
                + f": {message}. HTTP authentication or a firewall in front of WordPress "
                "refused the bridge; let requests to ?rest_route= through to WordPress"
            )
        if status in (401, 403):
            raise WordPressRefused(
                f"{where}: answered {status} {code}: {message} (check wordpress.user and "
                "wordpress.app_password, and that the user may moderate comments)"
            )
        if status == 404 and code in ("rest_comment_invalid_id", "rest_post_invalid_id"):
            raise WordPressMissing(f"{where}: {message}")
        if status == 404 and code == "rest_no_route":
            raise WordPressDown(f"{where}: no REST API here (is wordpress.site_url right?)")
        if 300 <= status < 400:
            # Not followed: the password must not go to another address. Most often
            # the site answers at www. or https:// and site_url lacks it.
            raise WordPressDown(
                f"{where}: answered {status}, redirecting to {headers.get('Location', '?')} "
                "(set wordpress.site_url to the address WordPress answers at)"
            )
        if status >= 500 or status in (404, 408, 425, 429):
            # A 404 without WordPress's own code is a proxy or a maintenance page.
            raise WordPressDown(f"{where}: answered {status} {code}: {message}")
        raise WordPressRejected(status, code, message)

    async def _bounded(
        self, response: aiohttp.ClientResponse, where: str, read: _Progress
    ) -> bytes:
        """The body, read as it comes, refused past ``max_answer_bytes``: refused before
        reading any when its Content-Length says so, else when the bytes come to it (no
        length, chunked, gzip that unpacks large: counted unpacked)."""
        said = response.content_length
        if said is not None and said > self._max_answer:
            response.close()
            raise self._too_large(where, f"it said {said:,} bytes")
        chunks: list[bytes] = []
        async for chunk in response.content.iter_chunked(65536):
            read.size += len(chunk)
            if read.size > self._max_answer:
                response.close()  # the connection goes: nothing more is read from it
                raise self._too_large(where, f"{read.size:,} bytes read, more coming")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, where: str, how: str) -> WordPressTooLarge:
        method, path = where.split(" ", 1)
        return WordPressTooLarge(
            f"{method} {self._shown}?rest_route=/wp/v2{path}: answered more than "
            f"{self._max_answer / 1_000_000:g} MB (wordpress.max_answer_mb; {how}); refused "
            "unread past it (a plugin or theme printing into the REST API's answer, or a "
            "proxy in front of WordPress?)"
        )

    async def _wait_turn(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._next_at > now:
                await asyncio.sleep(self._next_at - now)
            self._next_at = max(now, self._next_at) + self._spacing


@dataclass
class _Progress:
    """How far an answer came, for the line saying why it was dropped."""

    started: bool = False
    size: int = 0


_NOT_JSON: Any = object()

# 403s that are about the post a comment goes to (comments closed there, by hand or
# by age; the post a draft, trashed, deleted or private), not about the credentials:
# that comment waits, the bridge goes on.
_POST_REFUSALS = frozenset(
    {
        "rest_comment_closed",
        "rest_comment_draft_post",
        "rest_comment_trash_post",
        "rest_comment_invalid_post_id",
        "rest_cannot_read_post",
    }
)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON


def _error_of(data: Any, body: bytes) -> tuple[str, str]:
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        return data["code"], str(data.get("message", ""))[:300]
    snippet = " ".join(body[:120].decode("utf-8", "replace").split())
    return "(not WordPress JSON)", snippet


def _post(data: Any) -> WpPost:
    try:
        title = data["title"]["rendered"] if isinstance(data["title"], dict) else ""
        return WpPost(
            id=int(data["id"]),
            slug=str(data["slug"] or data["id"]),
            title=str(title),
            link=str(data["link"]),
            comments_open=data.get("comment_status", "open") == "open",
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WordPressDown(f"WordPress answered a post without its {exc}") from None


def _comment(data: Any) -> WpComment:
    try:
        content = data["content"]
        if not isinstance(content, dict) or "raw" not in content:
            raise WordPressRefused(
                "WordPress sent comments without their raw content: the user cannot edit "
                "comments (it needs to be an Editor or an Administrator)"
            )
        status = str(data["status"])
        if status == "approve":  # the collection's filter name, not a comment's status
            status = "approved"
        if status == "post-trashed":
            # Its post is in the trash; WordPress puts it back when the post comes back.
            status = "trash"
        if status not in STATUSES:
            raise WordPressDown(f"WordPress answered a comment with status {status!r}")
        return WpComment(
            id=int(data["id"]),
            post=int(data["post"]),
            parent=int(data["parent"]),
            author_name=str(data.get("author_name") or ""),
            author_email=str(data.get("author_email") or ""),
            content=str(content["raw"]),
            status=status,
            date_gmt=str(data.get("date_gmt") or ""),
            type=str(data.get("type") or "comment"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WordPressDown(f"WordPress answered a comment without a usable {exc}") from None
