"""Pure: the sentences a moderator reads about a comment's state, a decision's
effect and the decisions made so far (for the confirm and done pages)."""

from __future__ import annotations

from dataclasses import dataclass

from mailbridge.models import Channel, Comment, CommentStatus, Decision
from mailbridge.tokens import Action

__all__ = [
    "HistoryLine",
    "effect",
    "history_lines",
    "outcome",
    "placed_by",
    "state",
    "undone_already",
]

_STATE = {
    CommentStatus.PENDING: "This comment is waiting for moderation: it is not on the page.",
    CommentStatus.APPROVED: "This comment is published.",
    CommentStatus.REJECTED: "This comment was rejected: it is not on the page.",
    CommentStatus.SPAM: "This comment was marked as spam: it is not on the page.",
}

_GERUND = {
    Action.APPROVE: "Approving",
    Action.REJECT: "Rejecting",
    Action.SPAM: "Marking it as spam",
    Action.TRUST: "Approving it and trusting its writer",
}

_PAST = {
    CommentStatus.PENDING: "Put back to pending",
    CommentStatus.APPROVED: "Approved",
    CommentStatus.REJECTED: "Rejected",
    CommentStatus.SPAM: "Marked as spam",
}


def state(comment: Comment) -> str:
    return _STATE[comment.status]


def effect(comment: Comment, action: Action) -> str | None:
    """What pressing ``action``'s button changes; None when it changes nothing."""
    target = CommentStatus(action.status)
    if action is Action.TRUST:
        trusting = " Their next comments will be published at once, without waiting."
        if comment.status is target:
            return "It stays published." + trusting
        return (effect(comment, Action.APPROVE) or "") + trusting
    if comment.status is target:
        return None
    doing = _GERUND[action]
    it = "" if action is Action.SPAM else " it"
    if target is CommentStatus.APPROVED:
        if comment.published_at is None:
            return (
                f"{doing}{it} will publish it on the page and email the people who asked to "
                "hear about it (the person it answers, those following the thread)."
            )
        return (
            f"{doing}{it} will put it back on the page. Nobody is emailed about it a second "
            "time: its readers were told when it was first published."
        )
    if comment.status is CommentStatus.APPROVED:
        return f"{doing}{it} will remove it from the page."
    return f"{doing}{it} keeps it off the page; nobody is told."


def outcome(previous: CommentStatus, status: CommentStatus, first_publication: bool) -> str:
    """What a decision just did, for the page after the button."""
    if status is CommentStatus.APPROVED:
        if previous is CommentStatus.APPROVED:
            return "It is published."
        if first_publication:
            return "It is published, and the people who asked to hear about it are told."
        return "It is published again; nobody is emailed about it a second time."
    if previous is CommentStatus.APPROVED:
        return "It is no longer on the page."
    return "It is not shown publicly."


@dataclass(frozen=True)
class HistoryLine:
    what: str  # "Approved"
    who: str  # the moderator's address, or a note that it is unknown
    you: bool  # decided through the very link being viewed's moderator
    when: str  # "2026-11-25 18:37 UTC"
    channel: str  # "link"


def history_lines(history: tuple[Decision, ...], viewer_id: int | None) -> list[HistoryLine]:
    """The decisions, oldest first. The addresses are moderators', never commenters':
    only moderators hold the links that show them."""
    return [
        HistoryLine(
            what=_PAST[d.status],
            who=d.moderator
            or (
                "the operator"
                if d.channel is Channel.CLI
                else "a moderator (not recorded: an older link)"
            ),
            you=viewer_id is not None and d.moderator_id == viewer_id,
            when=d.decided_at[:16].replace("T", " ") + " UTC",
            channel=d.channel.value,
        )
        for d in history
    ]


def undone_already(history: tuple[Decision, ...], decision_id: int | None) -> bool:
    """Whether the latest decision is the undo of ``decision_id``: an Undo pressed twice,
    or its page reloaded, is told that it worked, not that someone decided since."""
    if decision_id is None or len(history) < 2:
        return False
    undone, latest = history[-2], history[-1]
    return (
        undone.id == decision_id
        and latest.previous is undone.status
        and latest.status is undone.previous
    )


def placed_by(history: tuple[Decision, ...], learnt: bool) -> Decision | None:
    """The decision that put the comment where it is: the latest, less any decision
    taken back by the Undo after it (the Undo's previous status is the decision's, and
    its status what the decision found). ``learnt``: a person's latest decision taught
    the filter, which an Undo never does (mailbridge.moderate.undoing): it stands as is.

    The spam folder's "why": a comment the filter caught, published from the folder
    and put back by Undo, read "Marked as spam on the queue page" instead of the
    filter's reasons, as if the author had marked it."""
    left = list(history)
    while (
        not learnt
        and len(left) >= 3
        and left[-1].previous is left[-2].status
        and left[-1].status is left[-2].previous
    ):
        del left[-2:]
    return left[-1] if left else None
