"""Per-stream event storage with replay cursors and live fan-out for SSE readers.

Events are stored once, as the compact JSON line the wire carries, in the order they
happened. A connection replays the stored events its cursor selects and then follows the
live tail; replayed events are byte-identical to the first delivery (API.md §9 #17).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredEvent:
    ulid: str
    legacy_id: int
    at: datetime
    line: str  # compact JSON, as sent on the stream's current route


class EventLog:
    """One stream's events. ``retention`` caps how many are kept for replay: the oldest go
    in chunks of an eighth of it (so no event copies the whole list), and a reader still
    behind them gets Alpaca's "dropped N messages" notice. None keeps the whole session."""

    def __init__(self, name: str, legacy_start: int, retention: int | None = None) -> None:
        self.name = name
        self._events: list[StoredEvent] = []
        self._dropped = 0  # events trimmed by retention; absolute index = position + dropped
        self._next_legacy = legacy_start
        self._retention = retention
        self._waiters: list[asyncio.Future[None]] = []
        self.sorted = True  # False once an out-of-order ULID was stored

    def __len__(self) -> int:
        return len(self._events)

    @property
    def next_legacy(self) -> int:
        """The integer id the next event will get (v1 payloads carry it inside)."""
        return self._next_legacy

    @property
    def end(self) -> int:
        """Absolute index one past the newest event (stable across retention trims)."""
        return self._dropped + len(self._events)

    def append(self, ulid: str, at: datetime, payload: dict[str, Any]) -> StoredEvent:
        legacy = self._next_legacy
        self._next_legacy += 1
        line = json.dumps(payload, separators=(",", ":"))
        if self._events and ulid < self._events[-1].ulid:
            self.sorted = False
        event = StoredEvent(ulid, legacy, at, line)
        self._events.append(event)
        self._trim(self._retention // 8 if self._retention is not None else 0)
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        return event

    def restore(self, first: int, events: list[StoredEvent], next_legacy: int) -> None:
        """Take back a saved history (:mod:`tui_trader.sim.resume`): ``first`` is the absolute
        index of ``events[0]``, so cursors and indices stay what clients saw."""
        self._events = list(events)
        self._dropped = first
        self._next_legacy = max(next_legacy, events[-1].legacy_id + 1 if events else 0)
        self._trim(0)  # a file saved with a longer retention (or none) keeps its newest
        self.sorted = all(a.ulid < b.ulid for a, b in itertools.pairwise(self._events))

    def _trim(self, slack: int) -> None:
        """Down to ``retention`` once more than ``retention + slack`` are kept."""
        keep = self._retention
        if keep is not None and len(self._events) > keep + slack:
            trim = len(self._events) - keep
            del self._events[:trim]
            self._dropped += trim

    def since(self, index: int) -> list[tuple[int, StoredEvent]]:
        """Every stored event at absolute ``index`` or later, with its index (for saving)."""
        start = max(index, self._dropped) - self._dropped
        return [(self._dropped + i, e) for i, e in enumerate(self._events[start:], start)]

    def wake_all(self) -> None:
        """Release every waiting reader (shutdown): they re-check and find nothing new."""
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def get(self, index: int) -> StoredEvent | None:
        """The event at absolute ``index``, or None if trimmed or not yet written."""
        pos = index - self._dropped
        if 0 <= pos < len(self._events):
            return self._events[pos]
        return None

    def first_index(self) -> int:
        return self._dropped

    def index_after_ulid(self, ulid: str) -> int:
        """Absolute index of the first stored event whose ULID sorts after ``ulid``.

        Exact when ids are sorted; when an inversion was stored, the caller filters each
        event by id anyway, so the earliest candidate is returned.
        """
        if not self.sorted:
            return self._dropped
        lo, hi = 0, len(self._events)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._events[mid].ulid <= ulid:
                lo = mid + 1
            else:
                hi = mid
        return self._dropped + lo

    def index_at_or_after(self, at: datetime) -> int:
        lo, hi = 0, len(self._events)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._events[mid].at < at:
                lo = mid + 1
            else:
                hi = mid
        return self._dropped + lo

    def index_after_legacy(self, legacy_id: int) -> int:
        lo, hi = 0, len(self._events)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._events[mid].legacy_id <= legacy_id:
                lo = mid + 1
            else:
                hi = mid
        return self._dropped + lo

    async def wait_beyond(self, index: int, patience: float) -> bool:
        """Wait until an event exists at absolute ``index`` or ``patience`` seconds pass."""
        if index < self.end:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(fut, patience)
        except TimeoutError:
            return False
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)
        return index < self.end
