"""What a moderation decision or undo gives back, and a comment as its moderator sees it
(read by :func:`read_view`)."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from mailbridge.errors import NotFound
from mailbridge.models import Comment, CommentStatus, Decision, Thread
from mailbridge.store import comments, decisions, threads

__all__ = ["ModerationOutcome", "ModerationView", "ModeratorAnswer", "read_view"]


@dataclass(frozen=True)
class ModerationOutcome:
    comment: Comment
    previous: CommentStatus
    history: tuple[Decision, ...] = ()
    first_publication: bool = False  # this decision published it for the first time
    decision_id: int | None = None  # the decision recorded (None: nothing changed)
    trust_withdrawn: bool = False  # an undo took back the trust its decision gave
    trust_given: bool = False  # "Approve and trust" trusted the writer now

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


async def read_view(conn: aiosqlite.Connection, comment_id: int) -> ModerationView:
    """A comment with its parent, thread and decisions, for the moderation pages."""
    comment = await comments.get_comment(conn, comment_id)
    if comment is None:
        raise NotFound(f"no comment {comment_id}")
    parent = None
    if comment.parent_id is not None:
        parent = await comments.get_comment(conn, comment.parent_id)
    thread = await threads.get_thread(conn, thread_id=comment.thread_id)
    assert thread is not None
    history = tuple(await decisions.history(conn, comment_id))
    return ModerationView(comment, parent, thread, history)
