"""The journal's memory of *facts*: what lets a fill seen by REST polling and the same fill
later on the stream (or the other way round) count once (API.md §2.4).

A fact key (``fill:<order id>:<cum qty>``, ``<status>:<order id>``) used to be a unique
index of the events table. Fact keys begin with an order id, which is random, so every
commit's inserts landed on leaf pages all over a B-tree that grows with the journal:
on ``bench/ingest.py`` that index cost more than storing the events themselves, and in a
journal of a million events each commit of a thousand would rewrite about as many pages.

Facts only ever need to meet inside one window: REST polling runs while the stream is down
and reads activities from a little before the last streamed event, and the stream, when it
is back, replays from that same cursor. So the journal keeps in memory the newest
``limit`` facts of every source (loaded from the newest rows when it first writes) and,
apart, every polled fact (few: polling only runs in outages; loaded through a small partial
index), and asks them before each insert. A fact older than that window is not compared;
``(stream, id)`` stays a unique key in SQLite whatever the age.
"""

from __future__ import annotations

import sqlite3
from typing import Final

RECENT_FACTS: Final = 50_000
"""Facts remembered: far more than the events of any outage's overlap at a real account's
rate, and about 6 MB."""


class FactMemory:
    """Facts stored in the journal, newest first out of memory; undone with the batch."""

    def __init__(self, limit: int = RECENT_FACTS) -> None:
        self.limit = limit
        # insertion-ordered dicts, trimmed to the newest ``limit`` once they pass 1.5x that:
        # one C-speed rebuild now and then instead of an eviction per fact
        self._recent: dict[str, None] = {}
        self._polled: dict[str, None] = {}
        self._batch: list[str] = []  # remembered in the open transaction

    @classmethod
    def load(cls, conn: sqlite3.Connection, limit: int = RECENT_FACTS) -> FactMemory:
        """The facts of the newest stored rows, and every polled one (newest ``limit``)."""
        memory = cls(limit)
        recent = conn.execute(
            "SELECT fact FROM events WHERE fact IS NOT NULL ORDER BY rowid DESC LIMIT ?",
            (limit,),
        ).fetchall()
        memory._recent.update((fact, None) for (fact,) in reversed(recent))
        # through the partial index (few rows), then newest last
        polled = conn.execute(
            "SELECT rowid, fact FROM events INDEXED BY events_poll_fact"
            " WHERE source = 'poll' AND fact IS NOT NULL"
        ).fetchall()
        polled.sort()
        memory._polled.update((fact, None) for _, fact in polled[-limit:])
        return memory

    def __contains__(self, fact: object) -> bool:
        return fact in self._recent or fact in self._polled

    def known(self, facts: list[str]) -> set[str]:
        """Which of ``facts`` are stored (set operations: this runs for every batch)."""
        return (self._recent.keys() & facts) | (self._polled.keys() & facts)

    def remember(self, facts: list[str], polled: list[str]) -> None:
        """Facts just stored in the open transaction (``polled``: those of polled rows)."""
        self._batch += facts
        self._push(self._recent, facts)
        if polled:
            self._push(self._polled, polled)

    def _push(self, memory: dict[str, None], facts: list[str]) -> None:
        memory.update(dict.fromkeys(facts))
        if len(memory) > self.limit + self.limit // 2:
            newest = list(memory)[-self.limit :]
            memory.clear()
            memory.update(dict.fromkeys(newest))

    def committed(self) -> None:
        self._batch.clear()

    def rolled_back(self) -> None:
        """Forget what the rolled-back transaction stored: it may come again."""
        for fact in self._batch:
            self._recent.pop(fact, None)
            self._polled.pop(fact, None)
        self._batch.clear()

    def __len__(self) -> int:
        """Facts remembered (between ``limit`` and 1.5x that once full)."""
        return len(self._recent)
