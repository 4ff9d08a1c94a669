"""The spam score of a new comment: the rules, the trained filter, and what only the
store knows (repeated text, the site's own links)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import aiosqlite

from mailbridge.spam import training
from mailbridge.spam.akismet import AkismetVerdict, with_akismet
from mailbridge.spam.bayes import spam_probability, tokens, with_filter
from mailbridge.spam.rules import RuleScore, TextFeatures, own_link_prefixes, rule_score
from mailbridge.spam.scripts import dominant_script

__all__ = ["SpamVerdict", "ThreadScripts", "score_comment", "score_text"]


@dataclass(frozen=True)
class SpamVerdict:
    score: float
    spam: bool
    signals: tuple[str, ...]

    def reason(self) -> str:
        return f"spam score {self.score:.2f}: " + (", ".join(self.signals) or "no signal")


# A repeat says "bot" only of a text too long for two people to write alike: readers
# do write "Great article, thanks for sharing." word for word (the second went to the
# spam folder, 0.62 alone). Short spam is caught by its links and promotion anyway.
_REPEAT_WORDS = 12


async def _repeated(conn: aiosqlite.Connection, comment_id: int, body: str) -> bool:
    """The same text in another comment (a bot pasting one message everywhere)."""
    if len(body.split()) <= _REPEAT_WORDS:
        return False  # "Thank you so much for this post!" is allowed twice
    # substr(...) as written in the index comments_by_body_start (migration 0018); the
    # unary + keeps SQLite from substituting ?1 for body there (constant propagation),
    # which would hide the index from the planner.
    async with conn.execute(
        "SELECT 1 FROM comments WHERE substr(body, 1, 48) = substr(?1, 1, 48) AND +body = ?1"
        " AND id != ?2 AND source != 'import' LIMIT 1",
        (body, comment_id),
    ) as cur:
        return await cur.fetchone() is not None


async def _published_script(conn: aiosqlite.Connection, thread_id: int, title: str) -> str | None:
    """The script the thread's title and 20 latest published comments are written in."""
    async with conn.execute(
        "SELECT body FROM comments WHERE thread_id = ? AND status = 'approved' "
        "ORDER BY id DESC LIMIT 20",
        (thread_id,),
    ) as cur:
        published = [str(r[0]) for r in await cur.fetchall()]
    return dominant_script("\n".join([title, *published]))


class ThreadScripts:
    """Each thread's script (for the language signal), remembered by thread version.

    A thread's version moves whenever its title or its published comments change
    (migrations 0010 and 0023), far less often than it gets comments: every reply to a
    busy thread read its 20 latest comments (some 90 KB) and worked the same script out
    again. One per store (the versions are that database's), for the 64 threads last
    asked about."""

    KEPT = 64

    def __init__(self) -> None:
        self._known: OrderedDict[tuple[int, int], str | None] = OrderedDict()

    async def of(self, conn: aiosqlite.Connection, thread_id: int) -> tuple[str, str | None]:
        """The thread's URL, and its script (None: none dominates, or no such thread)."""
        async with conn.execute(
            "SELECT url, title, version FROM threads WHERE id = ?", (thread_id,)
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return "", None
        key = (thread_id, int(row[2]))
        if key in self._known:
            self._known.move_to_end(key)
            return str(row[0] or ""), self._known[key]
        script = self._known[key] = await _published_script(conn, thread_id, str(row[1]))
        if len(self._known) > self.KEPT:
            self._known.popitem(last=False)
        return str(row[0] or ""), script


async def score_text(
    conn: aiosqlite.Connection | None,
    body: str,
    *,
    own_links: tuple[str, ...] = (),
    first_comment: bool = False,
    repeated: bool = False,
    seconds_to_write: float | None = None,
    form_doubt: str | None = None,
    trapped: bool = False,
    thread_script: str | None = None,
    features: TextFeatures | None = None,
    words: frozenset[str] | None = None,
) -> RuleScore:
    """Rules plus the trained filter (when ``conn`` holds enough training).
    ``features`` and ``words``: what ``text_features`` and ``tokens`` give for
    ``body``, when they were worked out already (in a worker process)."""
    scored = rule_score(
        body,
        own_links=own_links,
        first_comment=first_comment,
        repeated=repeated,
        seconds_to_write=seconds_to_write,
        form_doubt=form_doubt,
        trapped=trapped,
        thread_script=thread_script,
        features=features,
    )
    if conn is None:
        return scored
    if words is None:
        words = tokens(body)
    counts = await training.counts_for(conn, words)
    return with_filter(scored, spam_probability(counts, words))


async def score_comment(
    conn: aiosqlite.Connection,
    thread_id: int,
    body: str,
    *,
    first_comment: bool,
    threshold: float,
    comment_id: int = 0,
    seconds_to_write: float | None = None,
    form_doubt: str | None = None,
    trapped: bool = False,
    site_urls: tuple[str, ...] = (),
    akismet: AkismetVerdict | None = None,
    features: TextFeatures | None = None,
    words: frozenset[str] | None = None,
    scripts: ThreadScripts | None = None,
) -> SpamVerdict:
    """The verdict on ``body`` for ``thread_id``; ``comment_id`` is the comment's own id
    when it is stored already (its own text is not a repeat of itself); ``scripts``:
    the store's memory of threads' scripts (worked out afresh without one)."""
    url, script = await (scripts or ThreadScripts()).of(conn, thread_id)
    own = own_link_prefixes(*site_urls, url)
    scored = await score_text(
        conn,
        body,
        own_links=own,
        first_comment=first_comment,
        repeated=await _repeated(conn, comment_id, body),
        seconds_to_write=seconds_to_write,
        form_doubt=form_doubt,
        trapped=trapped,
        thread_script=script,
        features=features,
        words=words,
    )
    scored = with_akismet(scored, akismet)
    return SpamVerdict(scored.score, scored.score >= threshold, scored.signals)
