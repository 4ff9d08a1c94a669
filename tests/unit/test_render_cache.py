"""The rendered-comment cache is bounded by the characters it holds (mailbridge.render)."""

from __future__ import annotations

import tracemalloc

from mailbridge import render
from mailbridge.render.cache import TextCache


def test_least_recently_used_go_first_and_the_budget_holds() -> None:
    cache = TextCache(budget=90)  # each entry costs 16 (its key's digest) + its value
    cache.put("a" * 10, "A" * 10)  # 26
    cache.put("b" * 10, "B" * 10)  # 52
    cache.put("c" * 10, "C" * 10)  # 78
    assert cache.get("a" * 10) == "A" * 10  # now the most recent
    cache.put("d" * 30, "D" * 30)  # 124: b goes, then c
    assert cache.get("b" * 10) is None and cache.get("c" * 10) is None
    assert cache.get("a" * 10) == "A" * 10 and cache.get("d" * 30) == "D" * 30
    assert cache.used == 72 <= cache.budget and len(cache) == 2
    cache.put("e" * 60, "E" * 80)  # larger than the whole budget: not kept, nothing lost
    assert cache.get("e" * 60) is None and len(cache) == 2
    cache.put("a" * 10, "Z" * 5)  # replaced, counted once
    assert cache.used == 67 and cache.get("a" * 10) == "Z" * 5


def test_the_keys_texts_are_not_kept() -> None:
    # The keys are comments' texts: kept whole, they were half the cache's memory.
    cache = TextCache(budget=1 << 20)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(100):
            cache.put(f"{n} " + "long comment text " * 5000, f"<p>{n}</p>")  # 90 KB keys
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(cache) == 100 and cache.get("7 " + "long comment text " * 5000) == "<p>7</p>"
    assert kept < 64 * 1024, kept


def test_render_comment_is_cached_and_its_memory_bounded() -> None:
    render.CACHE.clear()
    first = render.render_comment("**bold** and <b>raw</b>")
    assert first == render.render_comment("**bold** and <b>raw</b>")
    assert len(render.CACHE) == 1
    for n in range(3000):  # about 4 KB each: far more than the budget
        render.render_comment(f"reply {n} " + "word " * 800)
    assert render.CACHE.used <= render.CACHE.budget
    assert 0 < len(render.CACHE) < 3000
