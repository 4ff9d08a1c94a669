"""Moderation links: GET shows a confirmation page and changes nothing; POST decides.

Mail scanners and link previews open every link in an email, so a GET must be
harmless. The token in the URL is the only credential: it names one comment, one
action and the moderator it was sent to, and expires (see :mod:`mailbridge.tokens`).

A moderator may change their mind (a mistaken tap on a phone must be fixable): any
link of the comment acts while valid. Pressing a link whose action is already the
comment's status changes and records nothing ("Already approved"). Every change is
recorded with who, when, from what to what and how (``moderation_decisions``), and
both pages show that history.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from aiohttp import web

from mailbridge.bridges.wordpress.links import off_blog
from mailbridge.clock import Clock
from mailbridge.errors import ErasedComment, ExpiredLink, LinkError, NotFound
from mailbridge.models import Channel, CommentStatus, Decider
from mailbridge.moderate import explain
from mailbridge.moderate.moderators import still_moderates
from mailbridge.moderate.service import CommentService, ModerationOutcome
from mailbridge.notify import excerpt
from mailbridge.people import data as people
from mailbridge.store import Store
from mailbridge.templating import Renderer
from mailbridge.tokens import (
    Action,
    Keyring,
    ModerationLink,
    UndoLink,
    make_undo_token,
    read_moderation_token,
    read_undo_token,
)

__all__ = ["ModerationPages"]

log = logging.getLogger(__name__)

_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)  # reads a link whatever its expiry
UNDO_DAYS = 30
_ERASED = (
    "This comment was erased at its writer's request: it cannot be published or decided "
    "again, so nothing was changed."
)


class ModerationPages:
    def __init__(
        self,
        service: CommentService,
        keyring: Keyring,
        renderer: Renderer,
        clock: Clock,
        site_name: str,
        public_url: str,
        *,
        store: Store,
        moderators: Sequence[str],
    ) -> None:
        """``moderators``: moderation.moderators, who moderate every thread."""
        self._service = service
        self._store = store
        self._moderators = tuple(moderators)
        self._keyring = keyring
        self._renderer = renderer
        self._clock = clock
        self._site_name = site_name
        self._public_url = public_url.rstrip("/")

    def _html(self, name: str, **context: object) -> web.Response:
        body = self._renderer.page(name, site_name=self._site_name, **context)
        response = web.Response(text=body, content_type="text/html")
        response.headers["Cache-Control"] = "no-store"
        return response

    def _link(self, request: web.Request) -> ModerationLink:
        token = request.match_info["token"]
        try:
            return read_moderation_token(self._keyring.moderation, token, self._clock.now())
        except ExpiredLink as exc:
            log.warning("moderation link refused (ExpiredLink) from %s", request.remote)
            # Genuine but expired: it still names its comment, so say how to decide it.
            old = read_moderation_token(self._keyring.moderation, token, _LONG_AGO)
            raise web.HTTPForbidden(
                text=f"{exc.text} The site's operator can still decide on this comment: "
                f"mailbridge comment {old.comment_id} --approve (or --reject, --spam)."
            ) from None
        except LinkError as exc:
            log.warning("moderation link refused (%s) from %s", type(exc).__name__, request.remote)
            raise web.HTTPForbidden(text=exc.text) from None

    async def _still_moderator(self, comment_id: int, moderator_id: int | None) -> None:
        """Refuse a link whose moderator no longer moderates the comment's thread."""
        if moderator_id is None:
            return  # a link from before links named their moderator
        check = functools.partial(
            still_moderates,
            configured=self._moderators,
            moderator_id=moderator_id,
            comment_id=comment_id,
        )
        if not await self._store.read(check):
            log.warning("moderation link of a former moderator (%d) refused", moderator_id)
            raise web.HTTPForbidden(
                text="This link was sent to an address that no longer moderates comments "
                "here, so nothing was changed. A moderator can decide on the queue page: "
                f"{self._public_url}/moderate"
            )

    async def confirm(self, request: web.Request) -> web.Response:
        link = self._link(request)
        await self._still_moderator(link.comment_id, link.moderator_id)
        try:
            view = await self._service.view(link.comment_id)
        except NotFound:
            raise web.HTTPNotFound(text="That comment no longer exists.") from None
        comment = view.comment
        return self._html(
            "moderate_confirm",
            action=link.action.verb,
            done=comment.status.value == link.action.status and link.action is not Action.TRUST,
            state=explain.state(comment),
            effect=explain.effect(comment, link.action),
            history=explain.history_lines(view.history, link.moderator_id),
            comment=comment,
            parent=view.parent,
            parent_excerpt=excerpt(view.parent.body) if view.parent else "",
            thread=view.thread,
            expires=link.expires,
            off_blog=link.action.status == CommentStatus.APPROVED.value
            and await self._off_blog(comment.id),
        )

    async def _off_blog(self, comment_id: int) -> bool:
        """Its WordPress post takes no comments: approved, it is published here only,
        which the moderator must read where they decide, not in the log."""
        return await self._store.read(lambda c: off_blog(c, comment_id))

    async def act(self, request: web.Request) -> web.Response:
        link = self._link(request)
        await self._still_moderator(link.comment_id, link.moderator_id)
        by = Decider(Channel.LINK, link.moderator_id)
        try:
            outcome = await self._service.moderate(link.comment_id, link.action, by)
            view = await self._service.view(link.comment_id)
        except ErasedComment:
            raise web.HTTPGone(text=_ERASED) from None
        except NotFound:
            raise web.HTTPNotFound(text="That comment no longer exists.") from None
        thread = view.thread
        thread_url = f"{self._public_url}{thread.path}"
        comment_url = None
        if outcome.comment.status is CommentStatus.APPROVED:
            comment_url = f"{thread_url}#comment-{outcome.comment.id}"
        undo_url, undo_to = None, outcome.previous.value
        standing: tuple[int, CommentStatus, CommentStatus] | None = None
        trust_only = False
        if outcome.decision_id is not None:
            standing = (outcome.decision_id, outcome.previous, outcome.comment.status)
        elif (
            link.action is Action.TRUST
            and link.moderator_id is not None
            and ((alone := await self._trust_alone(outcome, link.moderator_id)) is not None)
        ):
            # Published before: the tap gave the trust alone, and its Undo takes back
            # that, not the earlier approval (which took the comment off the page).
            approved = CommentStatus.APPROVED
            standing, trust_only = (alone, approved, approved), True
        else:
            # Pressed again (a reload resends the POST, a phone restores the tab): the
            # decision that made it so can still be undone, so the button stays.
            latest = await self._service.standing_decision(link.comment_id, UNDO_DAYS)
            if latest is not None and latest.status is outcome.comment.status:
                standing = (latest.id, latest.previous, latest.status)
        if standing is not None and link.moderator_id is not None:
            decision_id, before, after = standing
            token = make_undo_token(
                self._keyring.moderation,
                outcome.comment.id,
                before.value,
                after.value,
                link.moderator_id,
                self._clock.now() + timedelta(days=UNDO_DAYS),
                decision_id,
            )
            undo_url, undo_to = f"{self._public_url}/moderate/undo/{token}", before.value
        return self._html(
            "moderate_done",
            undo_url=undo_url,
            undo_to=undo_to,
            trust_only=trust_only,
            undo_days=UNDO_DAYS,
            action=link.action.verb,
            status=outcome.comment.status.value,
            changed=outcome.changed,
            previous=outcome.previous.value,
            outcome=explain.outcome(
                outcome.previous, outcome.comment.status, outcome.first_publication
            ),
            history=explain.history_lines(outcome.history, link.moderator_id),
            comment=outcome.comment,
            thread=thread,
            thread_url=thread_url,
            comment_url=comment_url,
            expires=link.expires,
            off_blog=outcome.comment.status is CommentStatus.APPROVED
            and await self._off_blog(outcome.comment.id),
        )

    async def _trust_alone(self, outcome: ModerationOutcome, moderator_id: int) -> int | None:
        """The decision an Undo of "Approve and trust" pressed on a published comment
        is bound to (0: none), when the tap trusted its writer (this time, or pressed
        before: a reload); None otherwise."""
        if outcome.trust_given:
            return outcome.history[-1].id if outcome.history else 0
        return await self._service.trust_alone(outcome.comment.id, moderator_id, strict=True)

    def _undo_link(self, request: web.Request) -> UndoLink:
        try:
            return read_undo_token(
                self._keyring.moderation, request.match_info["token"], self._clock.now()
            )
        except ExpiredLink as exc:
            log.warning("undo link refused (ExpiredLink) from %s", request.remote)
            raise web.HTTPForbidden(
                text=f"{exc.text} An undo works for {UNDO_DAYS} days after its decision; "
                f"the comment can still be decided on the queue page, {self._public_url}/moderate."
            ) from None
        except LinkError as exc:
            log.warning("undo link refused (%s) from %s", type(exc).__name__, request.remote)
            raise web.HTTPForbidden(text=exc.text) from None

    async def undo_page(self, request: web.Request) -> web.Response:
        """GET /moderate/undo/TOKEN: the Undo button again (a bookmark, a link kept),
        whether the decision still stands; a GET changes nothing (mail scanners)."""
        undo = self._undo_link(request)
        await self._still_moderator(undo.comment_id, undo.moderator_id)
        try:
            view = await self._service.view(undo.comment_id)
        except NotFound:
            raise web.HTTPNotFound(text="That comment no longer exists.") from None
        if people.removed(view.comment):
            raise web.HTTPGone(text=_ERASED)  # its button would only answer this
        latest = view.history[-1] if view.history else None
        stands = view.comment.status.value == undo.status and (
            undo.decision_id is None or (latest.id if latest else 0) == undo.decision_id
        )
        already = not stands and explain.undone_already(view.history, undo.decision_id)
        trust_only = undo.previous == undo.status
        if trust_only:
            given = await self._service.trust_alone(undo.comment_id, undo.moderator_id)
            already, stands = stands and given is None, stands and given == undo.decision_id
        return self._html(
            "moderate_undo",
            stands=stands,
            trust_only=trust_only,
            already=already,
            comment=view.comment,
            thread=view.thread,
            previous=undo.previous,
            status=undo.status,
            history=explain.history_lines(view.history, undo.moderator_id),
        )

    async def undo(self, request: web.Request) -> web.Response:
        """POST /moderate/undo/TOKEN: the decision back, for 30 days, if none came since."""
        undo = self._undo_link(request)
        await self._still_moderator(undo.comment_id, undo.moderator_id)
        by = Decider(Channel.LINK, undo.moderator_id)
        try:
            outcome = await self._service.undo(
                undo.comment_id,
                CommentStatus(undo.status),
                CommentStatus(undo.previous),
                by,
                undo.decision_id,
            )
            view = await self._service.view(undo.comment_id)
        except ErasedComment:
            raise web.HTTPGone(text=_ERASED) from None
        except NotFound:
            raise web.HTTPNotFound(text="That comment no longer exists.") from None
        return self._html(
            "moderate_undone",
            undone=outcome is not None,
            already=outcome is None and explain.undone_already(view.history, undo.decision_id),
            untrusted=outcome is not None and outcome.trust_withdrawn,
            trust_only=undo.previous == undo.status,
            comment=view.comment,
            thread=view.thread,
            previous=undo.previous,
            status=undo.status,
            history=explain.history_lines(view.history, undo.moderator_id),
        )
