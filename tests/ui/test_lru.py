"""A cleared Textual LRUCache leaves no ring of links for the cyclic collector."""

from __future__ import annotations

import gc

from textual.cache import LRUCache

import tui_trader.ui.app  # noqa: F401  (installs the fix, as the app does)
from tui_trader.ui import lru


def test_a_cleared_cache_is_freed_by_reference_counting() -> None:
    assert LRUCache.clear is lru.clear
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            cache: LRUCache[int, list[int]] = LRUCache(50)
            for i in range(80):  # full: some evicted, 50 in the ring
                cache.set(i, [i])
            cache.clear()
            del cache
        assert gc.collect() == 0  # unpatched: 20 rings of 50 links and their values
    finally:
        gc.enable()


def test_a_cleared_cache_works_as_before() -> None:
    cache: LRUCache[str, int] = LRUCache(3)
    for key, value in (("a", 1), ("b", 2), ("c", 3), ("d", 4)):
        cache.set(key, value)
    assert cache.get("a") is None and cache.get("d") == 4 and len(cache) == 3
    cache.clear()
    assert len(cache) == 0 and cache.get("d") is None
    cache.set("e", 5)
    cache.set("f", 6)
    assert cache.get("e") == 5 and cache.get("f") == 6 and len(cache) == 2
