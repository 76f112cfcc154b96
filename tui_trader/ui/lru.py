"""Textual's ``LRUCache.clear`` leaves the cache's ring of links as cyclic garbage.

The cache is a circular doubly linked list of ``[prev, next, key, value]`` lists; ``clear``
drops the dict and the head, and the ring, with every cached value in it (rendered rows,
lines and their segments), can then only be freed by the cyclic collector. A ``DataTable``
clears its caches whenever its rows change (a position opened or closed), widgets clear
theirs on DOM and style changes: under load that was most of what the collector found
(bench/ui.py ``--gc-census``: Segments, lists and tuples), and the full collections that
freed it were the longest pauses of the screen.

``clear`` here empties each link first, so the values go by reference counting, as they do
when a full cache evicts one. Applied when the app module is imported; checked by
``tests/ui/test_lru.py`` (which fails if Textual changes the cache's shape).
"""

from __future__ import annotations

from typing import Any

from textual.cache import LRUCache

_clear = LRUCache.clear


def clear(self: LRUCache[Any, Any]) -> None:
    for link in self._cache.values():
        link.clear()
    _clear(self)


def apply() -> None:
    """Install the method (idempotent)."""
    LRUCache.clear = clear  # type: ignore[method-assign]
