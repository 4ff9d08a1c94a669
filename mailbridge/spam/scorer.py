"""The spam score of a new comment: the rules, plus what only the store knows."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from mailbridge.spam.rules import rule_score

__all__ = ["SpamVerdict", "score_comment"]


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
    async with conn.execute(
        "SELECT 1 FROM comments WHERE body = ? AND id != ? AND source != 'import' LIMIT 1",
        (body, comment_id),
    ) as cur:
        return await cur.fetchone() is not None


async def score_comment(
    conn: aiosqlite.Connection,
    comment_id: int,
    body: str,
    *,
    first_comment: bool,
    threshold: float,
    seconds_to_write: float | None = None,
) -> SpamVerdict:
    scored = rule_score(
        body,
        first_comment=first_comment,
        repeated=await _repeated(conn, comment_id, body),
        seconds_to_write=seconds_to_write,
    )
    return SpamVerdict(scored.score, scored.score >= threshold, scored.signals)
