"""What a moderation decision or undo gives back, and a comment as its moderator sees it."""

from __future__ import annotations

from dataclasses import dataclass

from mailbridge.models import Comment, CommentStatus, Decision, Thread

__all__ = ["ModerationOutcome", "ModerationView", "ModeratorAnswer"]


@dataclass(frozen=True)
class ModerationOutcome:
    comment: Comment
    previous: CommentStatus
    history: tuple[Decision, ...] = ()
    first_publication: bool = False  # this decision published it for the first time
    decision_id: int | None = None  # the decision recorded (None: nothing changed)
    trust_withdrawn: bool = False  # an undo took back the trust its decision gave

    @property
    def changed(self) -> bool:
        return self.previous is not self.comment.status


@dataclass(frozen=True)
class ModeratorAnswer:
    """What became of a moderator's answer sent with their verdict."""

    id: int
    again: bool = False  # the same words were stored before (this is that comment)
    held: tuple[str, ...] = ()  # what looked private: it waits for a moderator


@dataclass(frozen=True)
class ModerationView:
    """A comment as its moderator sees it: with its parent, thread and decisions."""

    comment: Comment
    parent: Comment | None
    thread: Thread
    history: tuple[Decision, ...]
