"""Writing validated events to the journal in batches: the commit is the costly part.

A network chunk carries a few dozen events; committing each chunk made commits the largest
cost of a fast replay. Events are therefore staged and written a few hundred at a time, or
after at most 2 ms when the stream is quiet, in one multi-row INSERT per few hundred rows
(:meth:`Journal.add_many`), with WAL checkpoints moved off this thread
(:meth:`Journal.checkpoint_in_background`).

A writer thread was tried and measured (``bench/ingest.py``, same run): under one GIL it
used more CPU in all and read ahead of what it could store, 15-17k events/s against 26-33k
inline, so it was dropped.

Order and safety: batches are written in the order events arrived; ``before_commit`` hooks
(a consumer printing events and recording how far it got, in the same transaction) run just
before the commit that makes the events durable; ``on_written`` hears of them after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal

log = logging.getLogger("tui_trader.stream")

STAGE_ROWS = 500  # events gathered per transaction at most
STAGE_SECONDS = 0.002  # longest an event waits for its transaction


class Row(NamedTuple):
    """One event to store (or, with ``quarantine`` set, one line to keep aside). The first
    seven fields are what :meth:`Journal.add_many` takes."""

    stream: str
    key: str
    at: str | None
    kind: str
    payload: str
    fact: str | None = None
    source: str = "stream"
    symbol: str | None = None
    quarantine: str | None = None  # the reason, for a line that did not parse


Record = tuple[int, str, str, str, str | None, str]
"""A stored new event as consumers print it: (rowid, stream, id, type, at, payload)."""

Written = Callable[[list[tuple[int, Row]], dict[str, int]], None]


class BatchWriter:
    def __init__(
        self,
        journal: Journal,
        loop: asyncio.AbstractEventLoop,
        on_written: Written,
        on_failed: Callable[[BaseException], None],
    ) -> None:
        self.journal = journal
        self._loop = loop
        self._on_written = on_written
        self._on_failed = on_failed
        self.before_commit: list[Callable[[list[Record]], None]] = []
        self._staged: list[Row] = []
        self._timer: asyncio.TimerHandle | None = None
        self.failed: BaseException | None = None

    def submit(self, rows: list[Row]) -> None:
        if self.failed is not None:
            raise RuntimeError("the journal cannot be written") from self.failed
        if not rows:
            return
        self._staged.extend(rows)
        if len(self._staged) >= STAGE_ROWS:
            self.flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(STAGE_SECONDS, self.flush)

    def flush(self) -> None:
        """Write and commit what is staged, now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        rows, self._staged = self._staged, []
        if not rows or self.failed is not None:
            return
        try:
            self._write(rows)
        except Exception as exc:  # the supervisor stops: an unwritable journal loses nothing
            self.failed = exc
            log.exception("journal write failed")
            self._on_failed(exc)

    def _write(self, rows: list[Row]) -> None:
        journal = self.journal
        events = [row for row in rows if row.quarantine is None]
        if len(events) != len(rows):
            for row in rows:
                if row.quarantine is not None:
                    journal.quarantine(row.stream, row.payload, row.quarantine)
        rowids = journal.add_many(events)
        new: list[tuple[int, Row]] = []
        duplicates: dict[str, int] = {}
        for row, rowid in zip(events, rowids, strict=True):
            if rowid is None:
                duplicates[row.stream] = duplicates.get(row.stream, 0) + 1
            else:
                new.append((rowid, row))
        if new and self.before_commit:
            records: list[Record] = [(i, r[0], r[1], r[3], r[2], r[4]) for i, r in new]
            for hook in self.before_commit:
                hook(records)
        journal.commit()
        self._on_written(new, duplicates)
