"""The journal's connection: opening it, its lock, the batch transaction, checkpoints, close.

Every part of :class:`~tui_trader.broker.journal.Journal` writes through what is here: the
batch that the caller ends with :meth:`~JournalConnection.commit` (events, cursor moves and
quarantined lines together), or :meth:`~JournalConnection._write_now` for records that must
be durable at once (order intents, the audit trail, settings, delivery marks).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from tui_trader.broker.facts import RECENT_FACTS, FactMemory
from tui_trader.broker.journal.schema import JournalError, create_private, migrate

log = logging.getLogger("tui_trader.broker.journal")

_BUSY_TIMEOUT_S: Final = 5.0
_WAL_RESTART_BYTES: Final = 64 * 1024 * 1024

_SET_CURSOR: Final = (
    "INSERT INTO cursors (stream, id, at) VALUES (?, ?, ?)"
    " ON CONFLICT (stream) DO UPDATE SET id = excluded.id, at = excluded.at"
)


class JournalConnection:
    """The connection, its lock and its batch state; the parts of ``Journal`` build on it."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        clock: Callable[[], float],
        recent_facts: int = RECENT_FACTS,
    ) -> None:
        self._conn = conn
        self._recent_facts = recent_facts
        self._path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._pending = 0
        self._floor = 0  # highest committed rowid when the open batch began
        self._top = 0  # highest rowid in the open batch (its inserts are ours alone)
        self._duplicates: dict[str, int] = {}
        # cursor moves of the open batch, written once at commit (not once per event)
        self._cursor_moves: dict[str, tuple[str, str | None]] = {}
        self._checkpointer: tuple[threading.Thread, threading.Event] | None = None
        # held by a background round, by the writer's restart (SQLite answers a checkpoint
        # tried during another one with "busy" at once, without waiting) and by every COMMIT
        # (the WAL-reset bug: a commit that starts the WAL over must not meet a round)
        self._checkpointing = threading.Lock()
        self._commit_turn: AbstractContextManager[object] = self._checkpointing  # a bench
        # (bench/journal_race.py) sets it to nullcontext() to measure the unguarded baseline
        self._closed = False
        self._fact_memory: FactMemory | None = None  # loaded at the first write
        self._wal = f"{path}-wal"

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        recent_facts: int = RECENT_FACTS,
    ) -> Self:
        """Open (creating and migrating if needed) the journal at ``path``.

        ``clock`` stamps ``received_at``; ``recent_facts`` is the size of the memory of
        facts (:mod:`tui_trader.broker.facts`); tests inject both.
        """
        create_private(path)
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=_BUSY_TIMEOUT_S
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            # 8 KiB pages suit ~1.5 KB events (measured: ~15% less CPU per insert than 4 KiB);
            # it only takes effect on a new file, before WAL mode is set
            conn.execute("PRAGMA page_size = 8192")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"{path}: cannot use WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise JournalError(f"{path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, clock, recent_facts)

    def checkpoint_in_background(self, every: float = 0.5) -> None:
        """Move WAL checkpoints off the writing thread.

        An automatic checkpoint runs inside whichever commit crosses the threshold and
        fsyncs twice: on the ingest benchmark that made a commit cost milliseconds. Here a
        thread of its own, on its own connection, checkpoints passively (never blocking the
        writer) every ``every`` seconds, with the GIL released while SQLite works.

        A passive checkpoint never lets the WAL start over while batches follow each other
        without a gap: measured, a steady stream grew it by the size of every event (141 MB
        after 100,000), and close() then had to copy the tail of all that. So the writer
        itself, between two batches, restarts it once it passes ``_WAL_RESTART_BYTES``
        (:meth:`_commit`): the background rounds have copied nearly all of it by then. The
        rounds and that restart take turns (SQLite refuses a checkpoint during another one
        without waiting): on a slow disk the rounds ran nearly back to back, every restart
        came back busy and the WAL grew regardless (5.3 MB past a 256 KB limit in CI).

        Every COMMIT takes its turn with the rounds too. The SQLite this runs on (3.40 with
        Python 3.11; the bug is in 3.7.0-3.51.2) has the WAL-reset bug: a round that starts
        just after a complete checkpoint, while another connection commits the transaction
        that starts the WAL over, records frames as copied that are not, and the file is
        corrupt ("database disk image is malformed": once in CI; here 2 of ~430 and 1 of
        2,000 runs of the WAL test's work with rounds back to back; 0 of 1,600 once commits
        take turns, ``bench/journal_race.py``). A commit waits at most for one round under way.
        """
        with self._lock:
            if self._checkpointer is not None or self._closed:
                return
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")
            # a transaction writes WAL frames only at COMMIT (no spill of a big batch half-way),
            # so the COMMIT is the one moment it can start the WAL over (see _commit)
            self._conn.execute("PRAGMA cache_spill = OFF")
            self._conn.execute(f"PRAGMA journal_size_limit = {_WAL_RESTART_BYTES}")
            stop = threading.Event()

            def run() -> None:
                conn = sqlite3.connect(self._path, timeout=_BUSY_TIMEOUT_S)
                try:
                    while not stop.wait(every):
                        with self._checkpointing:
                            try:
                                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                            except sqlite3.Error as exc:  # busy now: the next round catches up
                                log.debug("background checkpoint skipped: %s", exc)
                finally:
                    conn.close()

            thread = threading.Thread(target=run, name="journal-checkpoint", daemon=True)
            self._checkpointer = (thread, stop)
            thread.start()

    @property
    def path(self) -> Path:
        return self._path

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Commit the open batch and close. Idempotent.

        Committing (not rolling back) keeps a batch already received on shutdown, whatever
        stopped the loop: every row in it is consistent with its cursor.
        """
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer[1].set()
            checkpointer[0].join(timeout=10)
        with self._lock:
            if self._closed:
                return
            try:
                self._commit()
                if checkpointer is not None:  # leave a small file behind, as SQLite would
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                # Closing rolls the batch back; the resume overlap fetches it again.
                log.warning("journal %s: last batch not committed: %s", self._path, exc)
            finally:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the batch transaction -------------------------------------------------------------

    def _begin(self) -> None:
        if not self._conn.in_transaction:
            # IMMEDIATE takes the write lock now, so a batch never fails half-way on a
            # read-to-write upgrade; the busy timeout waits for another writer instead.
            self._conn.execute("BEGIN IMMEDIATE")
            self._floor = self._top = self._conn.execute(
                "SELECT coalesce(max(rowid), 0) FROM events"
            ).fetchone()[0]

    def _commit(self) -> None:
        if self._conn.in_transaction:
            if self._cursor_moves:
                self._conn.executemany(
                    _SET_CURSOR, [(s, i, a) for s, (i, a) in self._cursor_moves.items()]
                )
            if self._checkpointer is None:
                self._conn.execute("COMMIT")
            else:
                # never while a background round runs: SQLite <= 3.51.2's WAL-reset bug
                # (https://www.sqlite.org/wal.html#walresetbug) corrupts the file when a
                # commit that starts the WAL over meets a checkpoint on another connection
                with self._commit_turn:
                    self._conn.execute("COMMIT")
                self._restart_big_wal()
        self._cursor_moves.clear()
        self._pending = 0
        if self._fact_memory is not None:
            self._fact_memory.committed()

    @contextmanager
    def _write_now(self) -> Iterator[None]:
        """Write and commit at once, taking any open batch along (so it cannot outlive it)."""
        with self._lock:
            self._begin()
            yield
            self._commit()

    def _restart_big_wal(self) -> None:
        """Start the WAL over (and cut the file back) once it has grown past the limit.

        Between batches, on the writer's own connection, after any background round under
        way (it copies what this would); a reader on an old snapshot makes it wait at most a
        moment, and then it is tried again after a later batch.
        """
        try:
            if os.stat(self._wal).st_size <= _WAL_RESTART_BYTES:
                return
        except OSError:
            return
        with self._checkpointing:
            self._conn.execute("PRAGMA busy_timeout = 50")
            try:
                busy = self._conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]
                if busy:
                    log.debug("WAL restart put off: a reader holds an older snapshot")
            except sqlite3.Error as exc:
                log.debug("WAL restart skipped: %s", exc)
            finally:
                self._conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")

    def commit(self) -> None:
        """End the batch: its events become durable and visible to every connection."""
        with self._lock:
            self._commit()

    def rollback(self) -> None:
        """Drop the open batch (events, cursor moves and quarantined lines together)."""
        with self._lock:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            self._cursor_moves.clear()
            self._pending = 0
            if self._fact_memory is not None:
                self._fact_memory.rolled_back()

    @property
    def pending(self) -> int:
        """Adds and quarantined lines since the last commit (for the caller's batching)."""
        return self._pending

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the journal for a whole batch (adds, hooks, commit): no other thread's
        write can commit it half-way."""
        with self._lock:
            yield
