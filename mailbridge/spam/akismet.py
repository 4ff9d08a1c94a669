"""The optional Akismet check (``[spam] akismet_key``): one more signal, never the
only one, and never a reason to lose or delay a comment.

Only comments from the web form are sent: they carry what Akismet needs (the reader's
IP address and browser). Emailed replies answer a notification mailbridge sent, to a
signed reply address, with the sender authenticated; their "IP address" would be a
mail server's. The commenter's email address is not sent unless the operator says so
(``spam.akismet_send_email``): on sensitive threads it is not ours to share.

Any failure (the service down, slow, or answering something unexpected, an invalid
key) leaves the comment to the local rules and is logged; the request that posted
the comment waits at most ``spam.akismet_timeout_seconds``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import aiohttp

from mailbridge import __version__
from mailbridge.models import NewComment
from mailbridge.spam.rules import RuleScore

__all__ = ["HEADERS", "Akismet", "AkismetVerdict", "with_akismet"]

log = logging.getLogger(__name__)

_SPAM_WEIGHT = 3.0
_DISCARD_WEIGHT = 6.0  # Akismet's "pro tip: discard": blatant spam
_HAM_WEIGHT = -1.0
# Akismet asks clients to name themselves so.
HEADERS = {"User-Agent": f"mailbridge/{__version__} | Akismet-client"}


@dataclass(frozen=True)
class AkismetVerdict:
    spam: bool
    discard: bool = False
    # The fields comment-check was sent, without the key: a moderator's contrary
    # decision is reported with the same (mailbridge.spam.akismet_feedback).
    sent: tuple[tuple[str, str], ...] = ()


class Akismet:
    def __init__(
        self,
        *,
        key: str,
        blog: str,
        endpoint: str = "https://rest.akismet.com",
        timeout: float = 3.0,
        send_email: bool = False,
    ) -> None:
        self._key = key
        self._blog = blog
        self.endpoint = endpoint.rstrip("/")
        self._url = self.endpoint + "/1.1/comment-check"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._send_email = send_email

    def form(self, comment: NewComment, permalink: str) -> dict[str, str]:
        """What is sent: the fields of Akismet's comment-check."""
        fields = {
            "api_key": self._key,
            "blog": self._blog,
            "user_ip": comment.client_ip or "",
            "user_agent": comment.user_agent,
            "permalink": permalink,
            "comment_type": "reply" if comment.parent_id is not None else "comment",
            "comment_author": comment.author,
            "comment_content": comment.body,
            "comment_date_gmt": comment.created_at,
            "blog_charset": "UTF-8",
        }
        if self._send_email and comment.email:
            fields["comment_author_email"] = comment.email
        return fields

    async def check(self, comment: NewComment, permalink: str) -> AkismetVerdict | None:
        """Akismet's answer, or None (logged) when there is none to be had."""
        if comment.client_ip is None:
            return None  # not from the web form (see the module's docstring)
        form = self.form(comment, permalink)
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout, headers=HEADERS) as session,
                session.post(self._url, data=form, allow_redirects=False) as response,
            ):
                text = (await response.text(errors="replace")).strip()
                discard = response.headers.get("X-akismet-pro-tip", "") == "discard"
                if response.status == 200 and text in ("true", "false"):
                    sent = tuple((k, v) for k, v in form.items() if k != "api_key")
                    return AkismetVerdict(spam=text == "true", discard=discard, sent=sent)
                help_text = response.headers.get("X-akismet-debug-help", "")
                log.warning(
                    "Akismet answered %d %r%s; scoring with the local rules only",
                    response.status,
                    text[:60],
                    f" ({help_text})" if help_text else "",
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "Akismet unreachable (%s); scoring with the local rules only",
                type(exc).__name__,
            )
        return None


def with_akismet(scored: RuleScore, verdict: AkismetVerdict | None) -> RuleScore:
    """The local score with Akismet's answer added as one more weighted signal."""
    if verdict is None:
        return scored
    if verdict.discard:
        amount, signal = _DISCARD_WEIGHT, "Akismet: blatant spam"
    elif verdict.spam:
        amount, signal = _SPAM_WEIGHT, "Akismet: spam"
    else:
        amount, signal = _HAM_WEIGHT, "Akismet: not spam"
    s = min(max(scored.score, 1e-9), 1.0 - 1e-9)
    logit = math.log(s / (1.0 - s)) + amount
    return RuleScore(1.0 / (1.0 + math.exp(-logit)), (*scored.signals, signal), scored.evidence)
