"""The spam score of a new comment: the rules, the trained filter, and what only the
store knows (repeated text, the site's own links)."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import aiosqlite

from mailbridge.spam import training
from mailbridge.spam.akismet import AkismetVerdict, with_akismet
from mailbridge.spam.bayes import spam_probability, tokens, with_filter
from mailbridge.spam.rules import RuleScore, TextFeatures, own_link_prefixes, rule_score
from mailbridge.spam.scripts import dominant_script

__all__ = ["SpamVerdict", "score_comment", "score_text"]


@dataclass(frozen=True)
class SpamVerdict:
    score: float
    spam: bool
    signals: tuple[str, ...]

    def reason(self) -> str:
        return f"spam score {self.score:.2f}: " + (", ".join(self.signals) or "no signal")


async def _repeated(conn: aiosqlite.Connection, comment_id: int, body: str) -> bool:
    """The same text in another comment (a bot pasting one message everywhere)."""
    if len(body) < 20:
        return False  # "Thank you!" is allowed twice
    # substr(...) as written in the index comments_by_body_start (migration 0018); the
    # unary + keeps SQLite from substituting ?1 for body there (constant propagation),
    # which would hide the index from the planner.
    async with conn.execute(
        "SELECT 1 FROM comments WHERE substr(body, 1, 48) = substr(?1, 1, 48) AND +body = ?1"
        " AND id != ?2 AND source != 'import' LIMIT 1",
        (body, comment_id),
    ) as cur:
        return await cur.fetchone() is not None


async def _thread(conn: aiosqlite.Connection, thread_id: int) -> tuple[str, str | None]:
    """The thread's URL, and the script its title and published comments are written in."""
    async with conn.execute("SELECT url, title FROM threads WHERE id = ?", (thread_id,)) as cur:
        row = await cur.fetchone()
    if row is None:
        return "", None
    async with conn.execute(
        "SELECT body FROM comments WHERE thread_id = ? AND status = 'approved' "
        "ORDER BY id DESC LIMIT 20",
        (thread_id,),
    ) as cur:
        published = [str(r[0]) for r in await cur.fetchall()]
    return str(row[0] or ""), _thread_script("\n".join([str(row[1]), *published]))


_SCRIPTS: OrderedDict[bytes, str | None] = OrderedDict()
_SCRIPTS_KEPT = 64


def _thread_script(text: str) -> str | None:
    """``dominant_script(text)``, remembered for the latest 64 texts by their digest.

    A thread's title and latest published comments change far less often than it gets
    comments: each reply to it asked the same question of the same text. Kept by
    digest, not by the text itself: 64 texts of 20 long comments each held 6 MB."""
    key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    if key in _SCRIPTS:
        _SCRIPTS.move_to_end(key)
        return _SCRIPTS[key]
    script = _SCRIPTS[key] = dominant_script(text)
    if len(_SCRIPTS) > _SCRIPTS_KEPT:
        _SCRIPTS.popitem(last=False)
    return script


async def score_text(
    conn: aiosqlite.Connection | None,
    body: str,
    *,
    own_links: tuple[str, ...] = (),
    first_comment: bool = False,
    repeated: bool = False,
    seconds_to_write: float | None = None,
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
    site_urls: tuple[str, ...] = (),
    akismet: AkismetVerdict | None = None,
    features: TextFeatures | None = None,
    words: frozenset[str] | None = None,
) -> SpamVerdict:
    """The verdict on ``body`` for ``thread_id``; ``comment_id`` is the comment's own id
    when it is stored already (its own text is not a repeat of itself)."""
    url, script = await _thread(conn, thread_id)
    own = own_link_prefixes(*site_urls, url)
    scored = await score_text(
        conn,
        body,
        own_links=own,
        first_comment=first_comment,
        repeated=await _repeated(conn, comment_id, body),
        seconds_to_write=seconds_to_write,
        thread_script=script,
        features=features,
        words=words,
    )
    scored = with_akismet(scored, akismet)
    return SpamVerdict(scored.score, scored.score >= threshold, scored.signals)
