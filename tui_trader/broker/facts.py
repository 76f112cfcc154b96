"""The journal's memory of *facts*: what lets a fill seen by REST polling and the same fill
later on the stream (or the other way round) count once (API.md §2.4).

A fact key (``fill:<order id>:<cum qty>``, ``<status>:<order id>``) used to be a unique
index of the events table. Fact keys begin with an order id, which is random, so every
commit's inserts landed on leaf pages all over a B-tree that grows with the journal:
on ``bench/ingest.py`` that index cost more than storing the events themselves (and a
unique index on fill facts alone, a third of that benchmark's events, still cost ~25%).

So facts are compared in two tiers:

* **In memory, first**: the newest ``limit`` facts of every source (loaded from the newest
  rows when the journal first writes) and, apart, every polled fact (few: polling only
  runs while the stream is down; loaded through the small ``events_poll_fact`` index).
  Nearly every duplicate meets its twin here, within the resume overlap.
* **Fills, durably, whatever their age.** A fill moves money, so one that slipped out of
  the window must still count once:

  - a *polled* fill that memory does not know is looked up among the stored fills of
    ``at`` within :data:`FILL_AT_MARGIN` of its own, through ``events_fill_at``, an index
    on ``at`` of fill rows only. Keyed by time, not by the random fact, its inserts land
    at the end of the B-tree (within one ``at``, in rowid order), so it costs a stream
    next to nothing. The stream's ``at`` of a fill and the activity's
    ``transaction_time`` are stamps of one execution, milliseconds apart (API.md
    §11.3.3's sample: ``at`` 5 ms after the execution's ``timestamp``); the margin of a
    day also covers stamps written with any UTC offset.
  - a *streamed* fill that memory does not know is looked up in ``events_poll_fact``
    when memory no longer holds every polled fact (more than ``limit`` of them).

  A streamed fill is not compared durably with older *streamed* fills: the stream names
  each event once, and a replay repeats its id, which ``(stream, id)`` catches at any age.

Status facts (``new:``, ``canceled:``...) stay windowed. They are two thirds of a trade
stream, so a durable index on them is the cost this design avoids; and a status that
comes twice books no money (only fills reach the ledger's cash and positions) and leaves
an order where it already is. ``(stream, id)`` stays a unique key in SQLite whatever the
age.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Final

RECENT_FACTS: Final = 50_000
"""Facts remembered: far more than the events of any outage's overlap at a real account's
rate, and about 6 MB."""

FILL_AT_MARGIN: Final = timedelta(days=1)
"""How far apart two stamps of one fill may be and still be compared (see above)."""

FILL_LOW: Final = "fill:"
FILL_HIGH: Final = "fill;"  # ';' follows ':': every fill fact sorts in [FILL_LOW, FILL_HIGH)


def is_fill(fact: str | None) -> bool:
    return fact is not None and fact.startswith(FILL_LOW)


def at_window(stamps: list[str | None]) -> tuple[str, str] | None:
    """``(low, high)`` text bounds around ``stamps`` (RFC 3339), widened by the margin, for
    a range over the ``at`` column; None when one of them cannot be read (then every
    stored fill is compared)."""
    times: list[datetime] = []
    for stamp in stamps:
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None
        except ValueError:
            when = None
        if when is None:
            return None
        times.append(when if when.tzinfo is not None else when.replace(tzinfo=UTC))
    low = min(times).astimezone(UTC) - FILL_AT_MARGIN
    high = max(times).astimezone(UTC) + FILL_AT_MARGIN + timedelta(seconds=1)
    return low.strftime("%Y-%m-%dT%H:%M:%S"), high.strftime("%Y-%m-%dT%H:%M:%S")


class FactMemory:
    """Facts stored in the journal, newest first out of memory; undone with the batch."""

    def __init__(self, limit: int = RECENT_FACTS) -> None:
        self.limit = limit
        # insertion-ordered dicts, trimmed to the newest ``limit`` once they pass 1.5x that:
        # one C-speed rebuild now and then instead of an eviction per fact
        self._recent: dict[str, None] = {}
        self._polled: dict[str, None] = {}
        self.polled_complete = True  # every polled fact stored is in ``_polled``
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
        memory.polled_complete = len(polled) <= limit
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
        if polled and self._push(self._polled, polled):
            self.polled_complete = False

    def _push(self, memory: dict[str, None], facts: list[str]) -> bool:
        """Remember ``facts``; True if older ones had to be forgotten."""
        memory.update(dict.fromkeys(facts))
        if len(memory) > self.limit + self.limit // 2:
            newest = list(memory)[-self.limit :]
            memory.clear()
            memory.update(dict.fromkeys(newest))
            return True
        return False

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
