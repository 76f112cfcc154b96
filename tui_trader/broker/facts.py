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
from hashlib import blake2b
from typing import Final

import numpy as np
import numpy.typing as npt

RECENT_FACTS: Final = 50_000
"""Facts remembered: far more than the events of any outage's overlap at a real account's
rate. Held as 16-byte digests in numpy arrays: 2.4 MB at 74,000 facts, against 8.7 MB as
a dict of the strings (tracemalloc), see :class:`FactMemory`."""

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


_EMPTY: Final = np.empty(0, dtype=np.int64)


def digests(facts: list[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each fact's 128-bit BLAKE2b digest as two 64-bit halves: what memory compares. Two
    different facts share one with a chance of 2**-128 per pair; a 64-bit key among the
    window's 75,000 would have been about 4e-15 per fact looked up, over a long-lived desk's
    billions of lookups not quite nothing, and a false match would drop an event."""
    if not facts:
        return _EMPTY, _EMPTY
    raw = b"".join([blake2b(f.encode(), digest_size=16).digest() for f in facts])
    pairs = np.frombuffer(raw, dtype="<i8").reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1].copy()


class _Window:
    """The newest facts of one kind, as digests: in arrival order (to forget the oldest) and
    sorted by their first half (to look a batch up with ``searchsorted``).

    Why not a dict of the fact strings, as before: its 50,000-75,000 strings and their
    table held 8.7 MB, refilled every ten or fifteen seconds at the bench's 5,000 events a
    second. ``bench/ui.py``, 20 minutes, one run each way: Python's blocks in use about 6 MB
    fewer, RSS 123.2 -> 128.9 MB against 124.6 -> 131.6. It was not the cause of the RSS's
    creep after the first minute (issue 15): pymalloc's arenas still grew 5 MB either way.
    Here a window is four arrays, whatever its size."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._hi = self._lo = _EMPTY  # arrival order
        self._shi = self._slo = _EMPTY  # sorted by the first half

    def __len__(self) -> int:
        return len(self._hi)

    def hits(self, hi: npt.NDArray[np.int64], lo: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of the digests ``(hi, lo)`` the window holds."""
        found = np.zeros(len(hi), dtype=bool)
        if not len(self._shi) or not len(hi):
            return found
        left = np.searchsorted(self._shi, hi, "left")
        right = np.searchsorted(self._shi, hi, "right")
        one = right - left == 1  # nearly always: first halves rarely repeat
        found[one] = self._slo[left[one]] == lo[one]
        for i in np.flatnonzero(right - left > 1):
            found[i] = bool((self._slo[left[i] : right[i]] == lo[i]).any())
        return found

    def push(self, hi: npt.NDArray[np.int64], lo: npt.NDArray[np.int64]) -> bool:
        """Remember digests; True if older ones had to be forgotten (past 1.5x the limit,
        the newest ``limit`` stay: one re-sort now and then, not an eviction per fact)."""
        if not len(hi):
            return False
        self._hi = np.concatenate((self._hi, hi))
        self._lo = np.concatenate((self._lo, lo))
        if len(self._hi) > self.limit + self.limit // 2:
            self._hi, self._lo = self._hi[-self.limit :].copy(), self._lo[-self.limit :].copy()
            self._sort()
            return True
        order = np.argsort(hi, kind="stable")
        at = np.searchsorted(self._shi, hi[order])
        self._shi = np.insert(self._shi, at, hi[order])
        self._slo = np.insert(self._slo, at, lo[order])
        return False

    def forget(self, hi: npt.NDArray[np.int64], lo: npt.NDArray[np.int64]) -> None:
        """Forget these digests (a rolled-back batch's: rare)."""
        gone = set(zip(hi.tolist(), lo.tolist(), strict=True))
        keep = np.fromiter(
            (pair not in gone for pair in zip(self._hi.tolist(), self._lo.tolist(), strict=True)),
            dtype=bool,
            count=len(self._hi),
        )
        self._hi, self._lo = self._hi[keep], self._lo[keep]
        self._sort()

    def _sort(self) -> None:
        order = np.argsort(self._hi, kind="stable")
        self._shi, self._slo = self._hi[order], self._lo[order]


class FactMemory:
    """Facts stored in the journal, newest first out of memory; undone with the batch.

    Facts are compared by digest (:func:`digests`), so memory keeps no string of them. The
    cost, on the journal's thread: 1.6 ms to look up and remember a batch of 1,000 facts in a
    full window, against 0.4 ms with the dict of strings (8 ms a second at 5,000 events/s)."""

    def __init__(self, limit: int = RECENT_FACTS) -> None:
        self.limit = limit
        self._recent = _Window(limit)
        self._polled = _Window(limit)
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
        memory._recent.push(*digests([fact for (fact,) in reversed(recent)]))
        # through the partial index (few rows), then newest last
        polled = conn.execute(
            "SELECT rowid, fact FROM events INDEXED BY events_poll_fact"
            " WHERE source = 'poll' AND fact IS NOT NULL"
        ).fetchall()
        polled.sort()
        memory._polled.push(*digests([fact for _, fact in polled[-limit:]]))
        memory.polled_complete = len(polled) <= limit
        return memory

    def __contains__(self, fact: object) -> bool:
        return isinstance(fact, str) and bool(self.known([fact]))

    def known(self, facts: list[str]) -> set[str]:
        """Which of ``facts`` are stored (one vectorised look-up: this runs for every batch)."""
        hi, lo = digests(facts)
        found = self._recent.hits(hi, lo) | self._polled.hits(hi, lo)
        return {facts[i] for i in np.flatnonzero(found)}

    def remember(self, facts: list[str], polled: list[str]) -> None:
        """Facts just stored in the open transaction (``polled``: those of polled rows)."""
        self._batch += facts
        self._recent.push(*digests(facts))
        if polled and self._polled.push(*digests(polled)):
            self.polled_complete = False

    def committed(self) -> None:
        self._batch.clear()

    def rolled_back(self) -> None:
        """Forget what the rolled-back transaction stored: it may come again."""
        if self._batch:
            hi, lo = digests(self._batch)
            self._recent.forget(hi, lo)
            self._polled.forget(hi, lo)
        self._batch.clear()

    def __len__(self) -> int:
        """Facts remembered (between ``limit`` and 1.5x that once full)."""
        return len(self._recent)
