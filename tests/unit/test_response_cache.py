"""The published threads' response cache: bounded in bytes, and a thread's newer
version drops its older ones (no request can get those any more)."""

from __future__ import annotations

from mailbridge.web.published import _Bytes


def test_a_newer_version_drops_the_older_ones_of_that_thread_only() -> None:
    cache = _Bytes(1_000_000)
    cache.put(("api", 1, 5, None, None), b"t1 v5")
    cache.put(("api", 1, 5, 50, None), b"t1 v5 page")
    cache.put(("api", 2, 9, None, None), b"t2 v9")
    cache.put(("api", 1, 6, None, None), b"t1 v6")
    assert cache.get(("api", 1, 5, None, None)) is None
    assert cache.get(("api", 1, 5, 50, None)) is None
    assert cache.get(("api", 1, 6, None, None)) == b"t1 v6"
    assert cache.get(("api", 2, 9, None, None)) == b"t2 v9"
    assert len(cache) == 2
    cache.put(("api", 1, 6, 50, None), b"t1 v6 page")  # another page of the same version
    assert cache.get(("api", 1, 6, None, None)) == b"t1 v6" and len(cache) == 3


def test_the_byte_budget_still_evicts_the_least_recently_used() -> None:
    cache = _Bytes(10)
    cache.put(("api", 1, 1, None, None), b"aaaa")
    cache.put(("api", 2, 1, None, None), b"bbbb")
    cache.get(("api", 1, 1, None, None))
    cache.put(("api", 3, 1, None, None), b"cccc")
    assert cache.get(("api", 2, 1, None, None)) is None
    assert cache.get(("api", 1, 1, None, None)) == b"aaaa"
    cache.put(("api", 4, 1, None, None), b"x" * 11)  # larger than the budget: not kept
    assert cache.get(("api", 4, 1, None, None)) is None
