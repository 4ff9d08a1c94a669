"""Security headers on every answer, and errors that say what went wrong in the right format.

API paths (``/api/...``) always answer JSON ``{"error": ..., "field": ...}``; pages
answer an HTML page from the error template. Nothing internal (tracebacks,
class names) reaches the client; the log has the details.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from mailbridge.store import is_unwritable
from mailbridge.templating import Renderer

__all__ = [
    "PARSER_REFUSALS",
    "REDACT_CAPABILITIES",
    "admin_error",
    "error_middleware",
    "json_error",
    "loggable",
    "security_headers",
]

log = logging.getLogger(__name__)

# Seconds a client is asked to wait when the database cannot take writes.
UNWRITABLE_RETRY_AFTER = 30

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_HEADERS = {
    # Moderation links are capabilities: never leak them through Referer.
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    return response


class _ParserRefusals(logging.Filter):
    """On aiohttp's server logger: a request its HTTP parser refuses (a bad method,
    chunk size or header, a Content-Encoding it cannot decode) is one INFO line, not
    an ERROR with a traceback. aiohttp has answered it 400 already; the client sent
    garbage, nothing on our side failed."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "HTTP request refused by the parser (400): %s"
            record.args = (" ".join(str(exc).split())[:300],)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


PARSER_REFUSALS = _ParserRefusals()

# The routes whose last path segment is a capability: a sign-in, moderation, undo,
# confirmation, unsubscribe or privacy link. The queue's own forms are not.
_CAPABILITY = re.compile(
    r"(/(?:moderate/signin|moderate/undo|moderate|confirm|unsubscribe|privacy)/)"
    r"(?!(?:decide|undo|signout)(?:[\s?/\"]|$))[^/?\s\"]+"
)


class _Capabilities(logging.Filter):
    """On the access log: the token of a link is replaced with "***". A request line
    holds it whole, and the log goes where the operator's logs go (journald, a log
    collector): whoever reads it could sign in as a moderator or decide a comment."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _CAPABILITY.sub(r"\1***", record.getMessage())
        record.args = None
        # aiohttp also passes the request line as an extra (a formatter may show it).
        line = getattr(record, "first_request_line", None)
        if isinstance(line, str):
            record.first_request_line = _CAPABILITY.sub(r"\1***", line)
        return True


REDACT_CAPABILITIES = _Capabilities()


def loggable(path: str) -> str:
    """A request's path for a log line: a link's token as ***."""
    return _CAPABILITY.sub(r"\1***", path)


def json_error(status: int, message: str, field: str | None = None) -> web.Response:
    return web.json_response({"error": message, "field": field}, status=status)


# The admin API's errors are {"code", "message"} (docs/api.md); these are the codes of
# the errors made here rather than by its handlers (no such route, a body too large).
_ADMIN_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    500: "internal_error",
    503: "unavailable",
}


def admin_error(status: int, message: str) -> web.Response:
    code = _ADMIN_CODES.get(status, "error")
    response = web.json_response({"code": code, "message": message}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _reason(status: int) -> str:
    return {
        400: "Bad request",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        413: "Request too large",
        415: "Unsupported media type",
        429: "Too many requests",
        503: "Try again in a moment",
    }.get(status, "Error")


def error_middleware(
    renderer: Renderer, site_name: str
) -> Callable[..., Awaitable[web.StreamResponse]]:
    def html_error(status: int, message: str) -> web.Response:
        body = renderer.page(
            "error", site_name=site_name, status=status, title=_reason(status), message=message
        )
        return web.Response(text=body, status=status, content_type="text/html")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        is_api = request.path.startswith("/api/")

        def error(status: int, message: str) -> web.Response:
            if request.path.startswith("/api/admin/"):
                return admin_error(status, message)
            return json_error(status, message) if is_api else html_error(status, message)

        try:
            return await handler(request)
        except web.RequestPayloadError as exc:
            # The body does not decode (a Content-Encoding it is not in): the client's
            # doing. The rest of it cannot be read either: the connection ends after
            # this answer, and the body counts as read, or aiohttp would try to drain
            # it and log the same error again with a traceback.
            log.info("HTTP %s %s: refused a body that cannot be read (%s)", request.method,
                     loggable(request.path), " ".join(str(exc).split()))  # fmt: skip
            message = "The request body could not be read (is its Content-Encoding right?)."
            response = error(400, message)
            response.force_close()
            request.content.feed_eof()
            return response
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            message = (
                exc.text
                if exc.text and not exc.text.startswith(f"{exc.status}:")
                else (_reason(exc.status))
            )
            if exc.status == 413:
                message = "The request body is too large."
            response = error(exc.status, message)
            for name in ("Allow", "Retry-After"):
                if name in exc.headers:
                    response.headers[name] = exc.headers[name]
            return response
        except ConnectionResetError:
            if request.transport is not None and not request.transport.is_closing():
                raise
            # The client left before its body arrived: an answer nobody reads, and a
            # line, not a traceback (aiohttp logs one for an exception raised here).
            log.info("HTTP %s %s: the client went away mid-request", request.method,
                     loggable(request.path))  # fmt: skip
            message = "The request body did not arrive."
            return error(400, message)
        except Exception as exc:
            if is_unwritable(exc):
                # Locked by another process, disk full, read-only: nothing was kept,
                # and trying again later is the right thing for the client to do.
                log.error(
                    "HTTP %s %s: database cannot take writes: %s",
                    request.method,
                    loggable(request.path),
                    exc,
                )
                message = (
                    "We cannot save anything right now (the database is busy or full); "
                    "nothing was kept. Please try again in a minute."
                )
                response = error(503, message)
                response.headers["Retry-After"] = str(UNWRITABLE_RETRY_AFTER)
                return response
            log.exception("HTTP %s %s failed", request.method, loggable(request.path))
            message = "Something went wrong on our side; it has been logged."
            return error(500, message)

    return middleware
