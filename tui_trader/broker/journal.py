"""The per-account event journal: one SQLite file that decides "seen it?" and "resume where?".

Every broker event is stored once, keyed by ``(stream, id)`` and optionally by a *fact* key
(e.g. ``fill:<order_id>:<cum_qty>``) that lets an event synthesised by REST polling and the
same fact arriving later on the stream de-duplicate each other (API.md §2.4; facts are
compared in memory over a recent window, and fills durably at any age, see
:mod:`tui_trader.broker.facts`). A stream's cursor is written in the same transaction as
the event it points at, so after any crash, ``kill -9`` included, the cursor is never ahead
of what is stored: the supervisor resumes a little before it and the journal drops the
overlap (§2.4-2.5).

Writes are batched: the caller decides when to :meth:`Journal.commit`. WAL with
``synchronous=NORMAL`` makes a commit survive the process dying at any point; a power cut may
take back the last few commits, but never half of one, and the resume overlap fetches them
again. Event reads (:meth:`~Journal.events_after`, :meth:`~Journal.last_rowid`,
:meth:`~Journal.count`) show committed events only, even on the writer's own connection, so
a consumer can never deliver an event that a crash could still take back.

Nothing secret belongs here: payloads are broker event lines. Callers must never journal
request headers, API keys or anything read from the credential store.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from tui_trader.broker.facts import (
    FILL_HIGH,
    FILL_LOW,
    RECENT_FACTS,
    FactMemory,
    at_window,
    is_fill,
)

if TYPE_CHECKING:
    from tui_trader.core.events import Event

__all__ = [
    "SCHEMA_VERSION",
    "Journal",
    "JournalError",
    "JournalEvent",
    "journal_path",
]

log = logging.getLogger("tui_trader.broker.journal")

SCHEMA_VERSION: Final = 4
APPLICATION_ID: Final = 0x54545452
"""``PRAGMA application_id`` ("TTTR"): refuse to migrate some other program's database."""

SOURCES: Final = frozenset({"stream", "poll"})
_BUSY_TIMEOUT_S: Final = 5.0
_WAL_RESTART_BYTES: Final = 64 * 1024 * 1024
_SAFE_CHARS: Final = re.compile(r"[^a-z0-9._-]+")
_MAX_NAME: Final = 64

# Migration i takes the schema from user_version i to i + 1. Later tables (order intents,
# breaker_log, audit) arrive as new entries; a released entry is never edited.
_MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        """
        CREATE TABLE events (
            rowid INTEGER PRIMARY KEY,
            stream TEXT NOT NULL,
            id TEXT NOT NULL,
            fact TEXT,
            at TEXT,
            type TEXT NOT NULL,
            payload TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('stream', 'poll')),
            received_at REAL NOT NULL,
            UNIQUE (stream, id)
        )
        """,
        # Most events have no fact: a partial index keeps them out of it (cheaper inserts).
        "CREATE UNIQUE INDEX events_fact ON events (fact) WHERE fact IS NOT NULL",
        # The foreign key makes "the cursor points at a stored event" a schema rule.
        """
        CREATE TABLE cursors (
            stream TEXT PRIMARY KEY,
            id TEXT NOT NULL,
            at TEXT,
            FOREIGN KEY (stream, id) REFERENCES events (stream, id)
        )
        """,
        """
        CREATE TABLE quarantine (
            rowid INTEGER PRIMARY KEY,
            stream TEXT NOT NULL,
            line TEXT NOT NULL,
            reason TEXT NOT NULL,
            received_at REAL NOT NULL
        )
        """,
        """
        CREATE TABLE deliveries (
            consumer TEXT PRIMARY KEY,
            last_rowid INTEGER NOT NULL CHECK (last_rowid >= 0)
        )
        """,
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (
        # Every order intent, written before it is sent: a restart, a timeout or a dropped
        # response is resolved by looking the client_order_id up, never by sending again
        # blind. state: pending, submitted, rejected, unknown, abandoned.
        """
        CREATE TABLE orders (
            client_order_id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            state TEXT NOT NULL,
            symbol TEXT NOT NULL,
            source TEXT NOT NULL,
            intent TEXT NOT NULL,
            order_id TEXT,
            detail TEXT
        )
        """,
        "CREATE INDEX orders_state ON orders (state)",
        # The desk's audit trail: every signal, risk verdict, order and denial, with why.
        """
        CREATE TABLE audit (
            rowid INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            symbol TEXT,
            data TEXT NOT NULL
        )
        """,
    ),
    (
        # Facts move to memory (broker/facts.py: a unique index over random order ids made
        # every commit rewrite pages all over a growing B-tree). Polled rows keep a small
        # index so that their facts load quickly at start.
        "DROP INDEX events_fact",
        "CREATE INDEX events_poll_fact ON events (fact) WHERE source = 'poll' AND fact IS NOT NULL",
    ),
    (
        # A fill counts once at any age (broker/facts.py): a polled fill that memory does not
        # know is looked up among the stored fills near its time. Keyed by ``at``, not by the
        # random fact, so a stream's inserts land at the end of the index.
        f"CREATE INDEX events_fill_at ON events (at)"
        f" WHERE fact >= '{FILL_LOW}' AND fact < '{FILL_HIGH}'",
    ),
)
assert len(_MIGRATIONS) == SCHEMA_VERSION

# ON CONFLICT DO NOTHING rather than INSERT OR IGNORE: both skip a row that repeats
# (stream, id), but OR IGNORE would also silently drop a row that breaks NOT NULL or
# CHECK, and report a bug as a duplicate.
_INSERT_EVENT: Final = (
    "INSERT INTO events (stream, id, fact, at, type, payload, source, received_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_MANY_ROWS: Final = 256  # rows per multi-row INSERT at most (8 parameters each)
_MANY_SQL: dict[tuple[int, int], str] = {}


def _pieces(total: int) -> Iterator[tuple[int, int]]:
    """``(start, rows)`` cutting ``total`` rows into multi-row INSERTs of a power of two rows.

    A prepared INSERT of a few hundred rows takes a few hundred KB in SQLite, and sqlite3
    keeps the last 128 statements it ran: cut to any length, batches of every size 1..400
    filled that cache with ~43 MB, growing for minutes under load (bench/ui.py
    ``--heap-census``: SQLite's memory was most of the RSS climb). Powers of two make at
    most nine shapes per row width.
    """
    start = 0
    while start < total:
        rows = min(_MANY_ROWS, 1 << ((total - start).bit_length() - 1))
        yield start, rows
        start += rows


def _insert_many_sql(rows: int, width: int = 7) -> str:
    """``INSERT ... VALUES (...),(...) ON CONFLICT DO NOTHING``: one statement per few
    hundred events.

    No ``RETURNING``: each returned row is a step of its own, with the GIL given back and
    taken again, and on the ingest benchmark that cost more than the inserts. Which rows
    were new is told by the row count instead (see :meth:`Journal.add_many`).
    """
    sql = _MANY_SQL.get((rows, width))
    if sql is None:
        # numbered parameters: ?1 is the shared received_at, then ``width`` per row as the
        # caller's tuples come (stream, id, at, type, payload, fact, source, extras...), of
        # which the first seven are used: the rows flatten into parameters at C speed
        values = ",".join(
            "(" + ", ".join(f"?{2 + width * i + j}" for j in range(7)) + ", ?1)"
            for i in range(rows)
        )
        sql = (
            "INSERT INTO events (stream, id, at, type, payload, fact, source, received_at)"
            f" VALUES {values} ON CONFLICT DO NOTHING"
        )
        _MANY_SQL[rows, width] = sql
    return sql


_SET_CURSOR: Final = (
    "INSERT INTO cursors (stream, id, at) VALUES (?, ?, ?)"
    " ON CONFLICT (stream) DO UPDATE SET id = excluded.id, at = excluded.at"
)
_SELECT_EVENTS: Final = "SELECT rowid, stream, id, fact, at, type, payload, source FROM events"
_FILLS_NEAR: Final = (
    "SELECT fact FROM events INDEXED BY events_fill_at"
    f" WHERE fact >= '{FILL_LOW}' AND fact < '{FILL_HIGH}'"
)
_PARAMS_PER_QUERY: Final = 500


class JournalError(Exception):
    """The file cannot be used as a journal (another program's, or a newer schema)."""


@dataclass(frozen=True, slots=True)
class IntentRow:
    client_order_id: str
    created_at: float
    updated_at: float
    state: str
    symbol: str
    source: str
    intent: dict[str, Any]
    order_id: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    rowid: int
    at: float
    kind: str
    symbol: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """One stored event; ``payload`` is the ``data:`` line exactly as received."""

    rowid: int
    stream: str
    id: str
    fact: str | None
    at: str | None
    type: str
    payload: str
    source: str


def journal_path(data_dir: Path, account_key: str) -> Path:
    """``<data_dir>/journal-<key>.sqlite3``, creating ``data_dir``.

    The key (an account id or an emulator URL) becomes a file name that is safe on every
    platform and stable across runs, since a different name would lose the cursor. A key
    that is not already safe (lowercase letters, digits, ``.``, ``_``, ``-``) gets a hash
    of the original appended, so two keys that sanitise alike never share a file, even on a
    case-insensitive file system.
    """
    if not account_key.strip():
        raise ValueError("the account key must not be empty")
    safe = _SAFE_CHARS.sub("-", account_key.lower()).strip("-.")[:_MAX_NAME]
    if safe != account_key:
        digest = hashlib.sha256(account_key.encode()).hexdigest()[:12]
        safe = f"{safe}-{digest}" if safe else digest
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return data_dir / f"journal-{safe}.sqlite3"


def _create_private(path: Path) -> None:
    """Create the file owner-only before SQLite does; its -wal and -shm files copy the mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version, refusing files this code must not touch."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if app_id not in (0, APPLICATION_ID):
        raise JournalError(f"{path} belongs to another program (application_id {app_id})")
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} has journal schema {version}; this version reads up to {SCHEMA_VERSION}"
        )
    if version == 0 and conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]:
        raise JournalError(f"{path} is an SQLite database but not a journal")
    return version


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    # Checked first without a lock: a consumer opening an up-to-date journal must not wait
    # for the writer's batch to end.
    if _schema_version(conn, path) == SCHEMA_VERSION:
        return
    # IMMEDIATE, then check again: two processes opening a new file at once must not both
    # create the schema.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = _schema_version(conn, path)
        for step in _MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Journal:
    """A connection to one account's journal. Use :meth:`open`; close it or use ``with``.

    One process writes (the streaming supervisor); consumers may open their own. Calls are
    serialised by a lock, so the object may move between threads (e.g. ``to_thread``).
    """

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
    ) -> Journal:
        """Open (creating and migrating if needed) the journal at ``path``.

        ``clock`` stamps ``received_at``; ``recent_facts`` is the size of the memory of
        facts (:mod:`tui_trader.broker.facts`); tests inject both.
        """
        _create_private(path)
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
            _migrate(conn, path)
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
        (:meth:`_commit`): the background rounds have copied nearly all of it by then.
        """
        with self._lock:
            if self._checkpointer is not None or self._closed:
                return
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")
            self._conn.execute(f"PRAGMA journal_size_limit = {_WAL_RESTART_BYTES}")
            stop = threading.Event()

            def run() -> None:
                conn = sqlite3.connect(self._path, timeout=_BUSY_TIMEOUT_S)
                try:
                    while not stop.wait(every):
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
            self._conn.execute("COMMIT")
            if self._checkpointer is not None:
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

        Between batches, on the writer's own connection; a reader on an old snapshot makes
        it wait at most a moment, and then it is tried again after a later batch.
        """
        try:
            if os.stat(self._wal).st_size <= _WAL_RESTART_BYTES:
                return
        except OSError:
            return
        self._conn.execute("PRAGMA busy_timeout = 50")
        try:
            self._conn.execute("PRAGMA wal_checkpoint(RESTART)")
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

    # -- events ----------------------------------------------------------------------------

    def add(
        self,
        stream: str,
        id: str,
        at: str | None,
        type: str,
        payload: str,
        *,
        fact: str | None = None,
        source: str = "stream",
        advance_cursor: bool = True,
    ) -> int | None:
        """Store an event in the open batch; its rowid if new, ``None`` if a duplicate.

        A duplicate repeats ``(stream, id)`` or a non-null ``fact`` (fills at any age,
        other facts within the memory window: :mod:`tui_trader.broker.facts`). A new event with
        ``advance_cursor`` moves the stream's cursor to ``(id, at)`` in the same
        transaction. Polled events (``source="poll"``) should not advance it: their ids are
        not stream ids.
        """
        if source not in SOURCES:
            raise ValueError(f"source must be one of {sorted(SOURCES)}, not {source!r}")
        with self._lock:
            self._begin()
            self._pending += 1
            facts = self._facts()
            if fact is not None and (
                fact in facts
                or (
                    is_fill(fact)
                    and self._stored_fills(
                        [(stream, id, at, type, payload, fact, source)], set(), facts
                    )
                )
            ):
                self._duplicates[stream] = self._duplicates.get(stream, 0) + 1
                return None
            cur = self._conn.execute(
                _INSERT_EVENT, (stream, id, fact, at, type, payload, source, self._clock())
            )
            if cur.rowcount != 1:
                self._duplicates[stream] = self._duplicates.get(stream, 0) + 1
                return None
            rowid = cur.lastrowid
            self._top = max(self._top, rowid or 0)
            if fact is not None:
                facts.remember([fact], [fact] if source == "poll" else [])
            if advance_cursor:
                self._cursor_moves[stream] = (id, at)
            return rowid

    def add_many(self, rows: Sequence[Sequence[Any]]) -> list[int | None]:
        """:meth:`add` for many ``(stream, id, at, type, payload, fact, source, ...)`` at once
        (items past the seventh are ignored, so callers can pass their own row tuples).

        Same rules, same result per row (its rowid, or None for a duplicate), far less
        overhead: a fast replay spends most of its journal time here.
        """
        for row in rows:
            if len(row) < 7:
                raise ValueError(f"an event row needs 7 items, not {len(row)}")
            if row[6] not in SOURCES:
                raise ValueError(f"source must be one of {sorted(SOURCES)}, not {row[6]!r}")
        with self._lock:
            self._begin()
            memory = self._facts()
            facts = [row[5] for row in rows if row[5] is not None]
            if len(set(facts)) != len(facts):
                # one fact twice in these rows (rare): which one is new depends on the
                # (stream, id) verdicts in order, so decide them one by one
                return [
                    self.add(*r[:5], fact=r[5], source=r[6], advance_cursor=r[6] != "poll")
                    for r in rows
                ]
            known = memory.known(facts) if facts else set()
            if facts:
                known |= self._stored_fills(rows, known, memory)
            if not known:
                results = self._insert_many(rows)
            else:  # rows whose fact is stored already never reach SQLite
                keep = [i for i, row in enumerate(rows) if row[5] not in known]
                stored = self._insert_many([rows[i] for i in keep]) if keep else []
                results = [None] * len(rows)
                for i, rowid in zip(keep, stored, strict=True):
                    results[i] = rowid
                for row in rows:
                    if row[5] in known:
                        self._pending += 1
                        self._duplicates[row[0]] = self._duplicates.get(row[0], 0) + 1
            stored_rows = (
                rows
                if not known and None not in results
                else [r for r, rowid in zip(rows, results, strict=True) if rowid is not None]
            )
            memory.remember(
                facts if stored_rows is rows else [r[5] for r in stored_rows if r[5] is not None],
                [r[5] for r in stored_rows if r[6] == "poll" and r[5] is not None],
            )
        return results

    def _facts(self) -> FactMemory:
        if self._fact_memory is None:
            self._fact_memory = FactMemory.load(self._conn, self._recent_facts)
        return self._fact_memory

    def _stored_fills(
        self, rows: Sequence[Sequence[Any]], known: set[str], memory: FactMemory
    ) -> set[str]:
        """Fill facts of ``rows`` that memory does not hold but the journal does: the
        durable tier of :mod:`tui_trader.broker.facts` (polled fills by time; streamed
        fills against polled ones once memory no longer holds them all)."""
        polled = [r for r in rows if r[6] == "poll" and is_fill(r[5]) and r[5] not in known]
        found: set[str] = set()
        if polled:
            wanted = {r[5] for r in polled}
            window = at_window([r[2] for r in polled])
            if window is None:  # a stamp that cannot be read: compare every stored fill
                cur = self._conn.execute(_FILLS_NEAR)
            else:
                cur = self._conn.execute(_FILLS_NEAR + " AND at >= ? AND at < ?", window)
            found.update(fact for (fact,) in cur if fact in wanted)
        if not memory.polled_complete:
            streamed = [
                r[5] for r in rows if r[6] != "poll" and is_fill(r[5]) and r[5] not in known
            ]
            for start in range(0, len(streamed), _PARAMS_PER_QUERY):
                chunk = streamed[start : start + _PARAMS_PER_QUERY]
                found.update(
                    fact
                    for (fact,) in self._conn.execute(
                        "SELECT fact FROM events INDEXED BY events_poll_fact"
                        " WHERE source = 'poll' AND fact IS NOT NULL"
                        f" AND fact IN ({','.join('?' * len(chunk))})",
                        chunk,
                    )
                )
        return found

    def _insert_many(self, rows: Sequence[Sequence[Any]]) -> list[int | None]:
        """The SQL half of :meth:`add_many`: rows whose facts are new, ``(stream, id)`` decides."""
        results: list[int | None] = []
        now = self._clock()
        for start, size in _pieces(len(rows)):
            chunk = rows[start : start + size]
            widths = set(map(len, chunk))
            width = min(widths)  # >= 7: add_many checked
            params: list[Any] = [now]
            if len(widths) == 1:  # one shape (the writer's Row): flatten at C speed
                params.extend(itertools.chain.from_iterable(chunk))
                del params[len(params) - (width - 7) :]  # the last row's extras: unreferenced
            else:  # rows of mixed shapes: cut each to seven
                width = 7
                for row in chunk:
                    params += row[:7]
            top = self._top
            cur = self._conn.execute(_insert_many_sql(len(chunk), width), params)
            self._pending += len(chunk)
            if cur.rowcount == len(chunk):
                # nothing was a duplicate: one statement, rowids max + 1 in row order
                self._top = top + len(chunk)
                results += range(top + 1, top + len(chunk) + 1)
                moved: set[str] = set()
                for row in reversed(chunk):  # the cursor goes to each stream's last
                    if row[6] == "stream" and row[0] not in moved:
                        moved.add(row[0])
                        self._cursor_moves[row[0]] = (row[1], row[2])
                continue
            results += self._sort_out(chunk, top, cur.rowcount)
        return results

    def _sort_out(self, chunk: Sequence[Sequence[Any]], top: int, added: int) -> list[int | None]:
        """Which rows of a multi-row insert were new, when some were duplicates (rare: a
        resume overlap). The new ones are the rows above ``top``, in row order."""
        inserted: dict[tuple[str, str, str | None], int] = {}
        if added > 0:
            # keyed by (stream, id, fact): one id may come twice in a chunk with different
            # facts, and only the one that was inserted must count as new
            inserted = {
                (stream, id_, fact): rowid
                for rowid, stream, id_, fact in self._conn.execute(
                    "SELECT rowid, stream, id, fact FROM events WHERE rowid > ?", (top,)
                )
            }
            self._top = max(inserted.values())
        results: list[int | None] = []
        for row in chunk:
            stream, id_, at, source = row[0], row[1], row[2], row[6]
            # pop: of identical rows in one chunk only the first can be the new one
            rowid = inserted.pop((stream, id_, row[5]), None)
            results.append(rowid)
            if rowid is None:
                self._duplicates[stream] = self._duplicates.get(stream, 0) + 1
            elif source == "stream":
                self._cursor_moves[stream] = (id_, at)
        return results

    def add_event(
        self,
        event: Event,
        *,
        fact: str | None = None,
        source: str = "stream",
        advance_cursor: bool = True,
    ) -> int | None:
        """:meth:`add` for a parsed event: its key, raw ``at``, kind and wire line."""
        if not event.raw:
            raise ValueError("the event has no raw line (not built by parse_event)")
        return self.add(
            event.stream.value,
            event.key,
            event.at_raw,
            event.kind,
            event.raw,
            fact=fact,
            source=source,
            advance_cursor=advance_cursor,
        )

    @property
    def duplicates(self) -> dict[str, int]:
        """Duplicates dropped per stream by this object (in memory, for the status line)."""
        with self._lock:
            return dict(self._duplicates)

    def cursor(self, stream: str) -> tuple[str, str | None] | None:
        """``(id, at)`` of the stream's last new event, including the open batch."""
        with self._lock:
            if stream in self._cursor_moves:
                return self._cursor_moves[stream]
            row = self._conn.execute(
                "SELECT id, at FROM cursors WHERE stream = ?", (stream,)
            ).fetchone()
        return None if row is None else (row[0], row[1])

    def last_id_below(self, stream: str, bound: str) -> str | None:
        """The greatest stored stream id that sorts below ``bound`` (polled events excluded).

        With ULIDs, ``bound`` = the first 10 characters (the millisecond) of the last event
        gives the last event of an earlier millisecond: the resume point that re-reads every
        same-millisecond event, whatever their random tails (API.md §2.5).
        """
        with self._lock:
            row = self._conn.execute(
                "SELECT max(id) FROM events WHERE stream = ? AND source = 'stream' AND id < ?",
                (stream, bound),
            ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def _cap(self) -> int | None:
        """Highest rowid that event reads may show: the open batch is not committed yet."""
        return self._floor if self._conn.in_transaction else None

    def events_after(
        self, rowid: int, stream: str | None = None, limit: int | None = None
    ) -> list[JournalEvent]:
        """Committed events with a rowid above ``rowid``, in rowid (arrival) order."""
        if limit is not None and limit < 0:
            raise ValueError("limit must not be negative")
        sql = _SELECT_EVENTS + " WHERE rowid > ?"
        params: list[Any] = [rowid]
        with self._lock:
            cap = self._cap()
            if cap is not None:
                sql += " AND rowid <= ?"
                params.append(cap)
            if stream is not None:
                sql += " AND stream = ?"
                params.append(stream)
            sql += " ORDER BY rowid LIMIT ?"
            params.append(-1 if limit is None else limit)
            rows = self._conn.execute(sql, params).fetchall()
        return [JournalEvent(*row) for row in rows]

    def last_rowid(self) -> int:
        """The rowid of the newest committed event (0 when there is none)."""
        with self._lock:
            cap = self._cap()
            if cap is not None:
                return cap
            row = self._conn.execute("SELECT coalesce(max(rowid), 0) FROM events").fetchone()
        return int(row[0])

    def count(self, stream: str | None = None) -> int:
        """How many committed events there are, on one stream or in all."""
        sql = "SELECT count(*) FROM events WHERE rowid <= ?"
        with self._lock:
            cap = self._cap()
            params: list[Any] = [(1 << 63) - 1 if cap is None else cap]
            if stream is not None:
                sql += " AND stream = ?"
                params.append(stream)
            row = self._conn.execute(sql, params).fetchone()
        return int(row[0])

    # -- quarantine ------------------------------------------------------------------------

    def quarantine(self, stream: str, line: str, reason: str) -> None:
        """Keep a line that could not be parsed, in the open batch, for later diagnosis."""
        with self._lock:
            self._begin()
            self._pending += 1
            self._conn.execute(
                "INSERT INTO quarantine (stream, line, reason, received_at) VALUES (?, ?, ?, ?)",
                (stream, line, reason, self._clock()),
            )

    def quarantined_count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM quarantine").fetchone()[0])

    # -- deliveries ------------------------------------------------------------------------

    def delivered(self, consumer: str) -> int:
        """The last rowid ``consumer`` recorded as handled (0 when none)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT last_rowid FROM deliveries WHERE consumer = ?", (consumer,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def mark_delivered(self, consumer: str, rowid: int, *, commit: bool = True) -> None:
        """Record that ``consumer`` handled every event up to ``rowid``.

        A consumer prints (or applies) events, then marks; a restart repeats only the
        window after the last mark. The mark never moves back, so a late, stale call
        cannot make a consumer repeat what it has already recorded. ``commit=False`` puts
        the mark in the open batch instead, so one commit makes the events and the mark
        durable together (the writer's own consumers, handled just before that commit).
        """
        if rowid < 0:
            raise ValueError("rowid must not be negative")
        sql = (
            "INSERT INTO deliveries (consumer, last_rowid) VALUES (?, ?)"
            " ON CONFLICT (consumer) DO UPDATE"
            " SET last_rowid = max(last_rowid, excluded.last_rowid)"
        )
        if not commit:
            with self._lock:
                self._begin()
                self._conn.execute(sql, (consumer, rowid))
            return
        with self._write_now():
            self._conn.execute(sql, (consumer, rowid))

    # -- settings --------------------------------------------------------------------------

    # -- order intents and the audit trail --------------------------------------------------

    def record_intent(
        self, client_order_id: str, symbol: str, intent: Mapping[str, Any], source: str
    ) -> None:
        """Write an order intent before it is sent (committed at once); a repeat is an error:
        one client_order_id is one order, ever."""
        now = self._clock()
        with self._write_now():
            self._conn.execute(
                "INSERT INTO orders (client_order_id, created_at, updated_at, state, symbol,"
                " source, intent) VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                (client_order_id, now, now, symbol, source, json.dumps(dict(intent))),
            )

    def update_intent(
        self,
        client_order_id: str,
        state: str,
        *,
        order_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        with self._write_now():
            self._conn.execute(
                "UPDATE orders SET state = ?, updated_at = ?,"
                " order_id = coalesce(?, order_id), detail = coalesce(?, detail)"
                " WHERE client_order_id = ?",
                (state, self._clock(), order_id, detail, client_order_id),
            )

    def intents(self, states: Sequence[str] | None = None) -> list[IntentRow]:
        """Order intents, oldest first (all, or those in ``states``)."""
        sql = (
            "SELECT client_order_id, created_at, updated_at, state, symbol, source, intent,"
            " order_id, detail FROM orders"
        )
        params: tuple[Any, ...] = ()
        if states is not None:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            params = tuple(states)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at, rowid", params).fetchall()
        return [
            IntentRow(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8])
            for r in rows
        ]

    def audit(self, kind: str, data: Mapping[str, Any], symbol: str | None = None) -> int:
        """Append to the audit trail (committed at once); returns the entry's rowid."""
        text = json.dumps(dict(data), default=str, separators=(",", ":"))
        with self._write_now():
            cur = self._conn.execute(
                "INSERT INTO audit (at, kind, symbol, data) VALUES (?, ?, ?, ?)",
                (self._clock(), kind, symbol, text),
            )
            return int(cur.lastrowid or 0)

    def audit_entries(self, after: int = 0, kind: str | None = None) -> list[AuditEntry]:
        sql = "SELECT rowid, at, kind, symbol, data FROM audit WHERE rowid > ?"
        params: list[Any] = [after]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY rowid", params).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the journal for a whole batch (adds, hooks, commit): no other thread's
        write can commit it half-way."""
        with self._lock:
            yield

    def get_setting(self, key: str, default: Any = None) -> Any:
        """The JSON value stored under ``key``, or ``default``."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value, committed at once (e.g. the pause flag)."""
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
        with self._write_now():
            self._conn.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, text),
            )
