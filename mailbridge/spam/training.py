"""The trained filter's state in the database: learnt from decisions, read to score.

A moderator's Approve teaches "ham", Spam teaches "spam"; any other decision (reject,
undo back to pending) forgets what the comment taught. Each comment counts once,
with its latest human decision, so changing one's mind never counts a comment twice.
Automatic decisions teach nothing: the filter must not learn from itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import aiosqlite

from mailbridge.models import CommentStatus
from mailbridge.spam.bayes import Counts, tokens
from mailbridge.store.engine import Dialect, dialect_of, json_list

__all__ = [
    "LABELS",
    "counts_for",
    "forget",
    "learn",
    "learn_decision",
    "learn_text",
    "trained_docs",
]

# A moderator's decision as a label: what the filter learns, and Akismet is told.
LABELS = {CommentStatus.APPROVED: "ham", CommentStatus.SPAM: "spam"}


_ADD = {
    "spam": "INSERT INTO spam_words (word, spam) VALUES (?, MAX(?, 0)) "
    "ON CONFLICT (word) DO UPDATE SET spam = MAX(spam_words.spam + ?, 0)",
    "ham": "INSERT INTO spam_words (word, ham) VALUES (?, MAX(?, 0)) "
    "ON CONFLICT (word) DO UPDATE SET ham = MAX(spam_words.ham + ?, 0)",
}
_DOCS = "UPDATE spam_training_docs SET docs = MAX(docs + ?, 0) WHERE label = ?"
# SQLite's two-argument MAX is PostgreSQL's GREATEST (PostgreSQL's max is only the
# aggregate); the statements are otherwise the same.
_SQL: dict[Dialect, tuple[dict[str, str], str]] = {
    "sqlite": (_ADD, _DOCS),
    "postgresql": (
        {label: sql.replace("MAX(", "GREATEST(") for label, sql in _ADD.items()},
        _DOCS.replace("MAX(", "GREATEST("),
    ),
}


async def _count(conn: aiosqlite.Connection, body: str, label: str, step: int) -> None:
    add, docs = _SQL[dialect_of(conn)]
    words = sorted(tokens(body))
    await conn.executemany(add[label], [(word, step, step) for word in words])
    await conn.execute(docs, (step, label))


async def learn_text(conn: aiosqlite.Connection, body: str, spam: bool) -> None:
    """Learn one labelled text that is not a comment here (``mailbridge spam train``)."""
    await _count(conn, body, "spam" if spam else "ham", 1)


async def learnt_from(conn: aiosqlite.Connection, comment_id: int) -> bool:
    """Whether the filter learnt from the comment (a person's Approve or Spam)."""
    async with conn.execute(
        "SELECT 1 FROM spam_trained_comments WHERE comment_id = ?", (comment_id,)
    ) as cur:
        return await cur.fetchone() is not None


async def forget(conn: aiosqlite.Connection, comment_id: int) -> None:
    async with conn.execute(
        "SELECT label, body FROM spam_trained_comments WHERE comment_id = ?", (comment_id,)
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return
    await _count(conn, row[1], row[0], -1)
    await conn.execute("DELETE FROM spam_trained_comments WHERE comment_id = ?", (comment_id,))


async def learn(conn: aiosqlite.Connection, comment_id: int, body: str, spam: bool) -> None:
    """Let one comment teach ``spam`` (or ham), replacing what it taught before."""
    await forget(conn, comment_id)
    label = "spam" if spam else "ham"
    await _count(conn, body, label, 1)
    await conn.execute(
        "INSERT INTO spam_trained_comments (comment_id, label, body) VALUES (?, ?, ?)",
        (comment_id, label, body),
    )


async def learn_decision(
    conn: aiosqlite.Connection, comment_id: int, body: str, status: CommentStatus
) -> None:
    """A moderator set ``status``: learn Approve and Spam, forget anything else."""
    label = LABELS.get(status)
    if label is None:
        await forget(conn, comment_id)
    else:
        await learn(conn, comment_id, body, label == "spam")


async def trained_docs(conn: aiosqlite.Connection) -> tuple[int, int]:
    """(spam, ham) documents learnt."""
    async with conn.execute("SELECT label, docs FROM spam_training_docs") as cur:
        found = {label: docs for label, docs in await cur.fetchall()}
    return found.get("spam", 0), found.get("ham", 0)


async def counts_for(conn: aiosqlite.Connection, words: Iterable[str]) -> Counts:
    """The state the filter needs for these words only (a comment's, not the table)."""
    spam_docs, ham_docs = await trained_docs(conn)
    found: dict[str, tuple[int, int]] = {}
    async with conn.execute(
        f"SELECT word, spam, ham FROM spam_words WHERE word IN {json_list(conn, 'text')}",  # noqa: S608
        (json.dumps(sorted(set(words))),),
    ) as cur:
        for word, spam, ham in await cur.fetchall():
            found[word] = (spam, ham)
    return Counts(spam_docs, ham_docs, found)
