"""The spam scorer's memory of threads' scripts (mailbridge/spam/scorer.py): the same
answer as working it out, for the latest texts, kept by digest: 64 threads' latest
comments (about 90 KB of text each) held 6 MB when the texts themselves were the keys."""

from __future__ import annotations

import tracemalloc

from mailbridge.spam import scorer
from mailbridge.spam.scripts import dominant_script

TEXTS = [
    "A thread about attachment and therapy, written in English. " * 30,
    "Тред о привязанности, написанный по-русски, с длинными комментариями. " * 30,
    "これは日本語で書かれたスレッドです。" * 30,
    "short",
    "Mixed: English words and русские слова, half and half, поровну. " * 10,
]


def test_the_same_answer_as_working_it_out() -> None:
    for _ in range(2):  # the second time from memory
        for text in TEXTS:
            assert scorer._thread_script(text) == dominant_script(text)


def test_a_hundred_long_texts_leave_little_behind() -> None:
    scorer._SCRIPTS.clear()
    texts = [f"{n} " + "Everything I read here helps me understand. " * 2_000 for n in range(100)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for text in texts:
            assert scorer._thread_script(text) == "Latin"
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(scorer._SCRIPTS) == 64
    assert kept < 64 * 1_000, kept  # digests, not the 64 texts of 90 KB (5.8 MB)
