"""A thread's answer is encoded in pieces (mailbridge.web.published.compact_json): the
very bytes ``json.dumps(..., ensure_ascii=False, separators=(",", ":")).encode()``
gives, without ever holding the whole answer as one string, which is four bytes a
character as soon as one comment has an emoji."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mailbridge.web.published import compact_json

_SCALARS = st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


@settings(max_examples=400)
@given(st.dictionaries(st.text(), _VALUES | st.lists(_VALUES, max_size=6), max_size=5))
def test_the_same_bytes_as_one_dumps(document: dict[str, Any]) -> None:
    assert compact_json(document) == _dumps(document)


def test_a_thread_answer_keeps_its_order_and_its_words() -> None:
    document = {
        "thread": {"key": "t", "title": "Ünïcode “quotes”", "url": "https://b.example/t"},
        "total": 2,
        "comments": [
            {"id": 1, "body": 'a </script> \u2028 "q" \\ \x00', "replies": []},
            {"id": 2, "body": "emoji \U0001f600 and 中文", "replies": [{"id": 3}]},
        ],
        "next": None,
    }
    assert compact_json(document) == _dumps(document)
    assert list(json.loads(compact_json(document))) == ["thread", "total", "comments", "next"]


def _peak(fn: Any, document: dict[str, Any]) -> int:
    tracemalloc.start()
    try:
        fn(document)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_one_wide_character_does_not_widen_the_whole_answer() -> None:
    # 300 comments of 4 KB of Latin text and one with an emoji: as one string, all
    # 1.2 M characters took four bytes each.
    comments = [{"id": n, "body": f"{n} " + "words of a reply, " * 230} for n in range(300)]
    comments.append({"id": 300, "body": "thanks \U0001f600"})
    document = {"thread": {"key": "t"}, "comments": comments, "next": None}
    assert compact_json(document) == _dumps(document)
    whole, pieces = _peak(_dumps, document), _peak(compact_json, document)
    assert pieces < whole / 2, (pieces, whole)
