"""Writing validated events to the journal: in batches, on a thread of their own.

Measured on ``bench/ingest.py`` (100,000 trade events): SQLite was the larger half of the
cost once validation moved to msgspec, and commits the costliest part of it. So events are
staged and written a few hundred at a time (or after at most 2 ms when the stream is
quiet), with one multi-row INSERT per few hundred rows (:meth:`Journal.add_many`) and WAL
checkpoints on their own thread (:meth:`Journal.checkpoint_in_background`). The write runs
on one journal thread, one batch at a time and in order, while the event loop reads and
validates the next ones (sqlite3 releases the GIL as it works); the loop also stays free
for keys and paints during a burst. When more than a few batches wait, the reader pauses:
memory stays bounded and a ``--max-events`` stop is not preceded by a huge read-ahead.

Order and safety: batches are written in arrival order. ``before_commit`` hooks run on the
journal thread inside each batch's transaction, just before the COMMIT that makes its events
durable (what a hook writes there commits with them, or not at all); a hook that also has a
``committed`` method (:class:`Consumer`) hears of the batch again on the journal thread once
that COMMIT has succeeded, in batch order, before the next batch is written: that is where
a consumer may show events to the world, since nothing it shows can be taken back. A batch
whose COMMIT fails reaches no ``committed``. ``on_written`` hears of each batch on the loop
after all that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal

log = logging.getLogger("tui_trader.stream")

STAGE_ROWS = 1000  # events gathered per transaction before a write starts (measured: 500
# cost ~10% more on the ingest benchmark; more than 1,000 gained nothing and held memory)
STAGE_SECONDS = 0.002  # longest an event waits for its transaction
MAX_STAGED = 4 * STAGE_ROWS  # staged rows at which the reader waits for the write in flight


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


Record = tuple[int, Row]
"""A stored new event: its rowid and what was stored."""

Written = Callable[[list[tuple[int, Row]], dict[str, int]], None]


@runtime_checkable
class Consumer(Protocol):
    """A ``before_commit`` hook with a second half (e.g. headless's stdout).

    ``__call__`` runs in the batch's transaction, before COMMIT (record how far earlier
    batches got); ``committed`` runs after the COMMIT succeeded, outside the journal's lock
    (show the batch)."""

    def __call__(self, records: list[Record]) -> None: ...

    def committed(self, records: list[Record]) -> None: ...


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
        self._inflight: asyncio.Future[tuple[list[tuple[int, Row]], dict[str, int]]] | None = None
        self._inflight_rows = 0
        self.max_staged = MAX_STAGED
        """Staged rows at which the reader waits (:attr:`congested`). A listener that holds
        the readers (:meth:`Supervisor.hold`) lowers it to :data:`STAGE_ROWS`: every staged
        row reaches that listener at the next commit, all at once."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
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

    @property
    def unwritten(self) -> int:
        """Rows staged or being written: what the listeners will hear of next."""
        return len(self._staged) + self._inflight_rows

    @property
    def congested(self) -> bool:
        """More is staged than the next write will take: the reader should wait."""
        return len(self._staged) >= self.max_staged

    async def room(self) -> None:
        """Wait until the write in flight is done (backpressure for a fast reader)."""
        while self.congested and self._inflight is not None and self.failed is None:
            await asyncio.shield(self._inflight)
            # a finished write's callback (which starts the next one) must run before we
            # look again; awaiting a done future does not yield, so this would spin
            await asyncio.sleep(0)

    def flush(self) -> None:
        """Start writing what is staged (one write at a time, in order)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._inflight is not None or not self._staged or self.failed is not None:
            return
        rows, self._staged = self._staged, []
        self._inflight_rows = len(rows)
        self._inflight = self._loop.run_in_executor(self._executor, self._write, rows)
        self._inflight.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[tuple[list[tuple[int, Row]], dict[str, int]]]) -> None:
        self._inflight = None
        self._inflight_rows = 0
        exc = future.exception()
        if exc is not None:
            self.failed = exc
            log.error("journal write failed: %s", exc)
            self._on_failed(exc)
            return
        new, duplicates = future.result()
        self._on_written(new, duplicates)
        if self._staged:
            self.flush()

    async def drain(self) -> None:
        """Write everything staged and wait for it."""
        while self.failed is None and (self._inflight is not None or self._staged):
            self.flush()
            if self._inflight is not None:
                await asyncio.shield(self._inflight)
                await asyncio.sleep(0)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def _write(self, rows: list[Row]) -> tuple[list[tuple[int, Row]], dict[str, int]]:
        """On the journal thread: store, let the hooks record, commit, then let consumers
        show what is now durable."""
        with self.journal.batch():  # nobody commits this batch before its hooks ran
            new, duplicates = self._write_locked(rows)
        if new:
            # outside the lock: a consumer's printing must not hold up the desk's own
            # journal writes (audit rows, order intents) on the loop
            for hook in self.before_commit:
                if isinstance(hook, Consumer):
                    hook.committed(new)
        return new, duplicates

    def _write_locked(self, rows: list[Row]) -> tuple[list[tuple[int, Row]], dict[str, int]]:
        journal = self.journal
        events = [row for row in rows if row.quarantine is None]
        if len(events) != len(rows):
            for row in rows:
                if row.quarantine is not None:
                    journal.quarantine(row.stream, row.payload, row.quarantine)
        rowids = journal.add_many(events)
        duplicates: dict[str, int] = {}
        if None in rowids:
            new: list[tuple[int, Row]] = []
            for row, rowid in zip(events, rowids, strict=True):
                if rowid is None:
                    duplicates[row.stream] = duplicates.get(row.stream, 0) + 1
                else:
                    new.append((rowid, row))
        else:
            new = list(zip(rowids, events, strict=True))  # type: ignore[arg-type]
        if new:
            for hook in self.before_commit:
                hook(new)
        journal.commit()
        return new, duplicates
