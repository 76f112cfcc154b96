"""The journal's file: its name, its owner-only mode, its schema and the migrations to it.

A journal file is opened by every later version of the program, so its schema only moves
forward, one released migration at a time, and a file that is not a journal (another
program's database, or a newer schema) is refused rather than touched.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from pathlib import Path
from typing import Final

from tui_trader.broker.facts import FILL_HIGH, FILL_LOW

SCHEMA_VERSION: Final = 4
APPLICATION_ID: Final = 0x54545452
"""``PRAGMA application_id`` ("TTTR"): refuse to migrate some other program's database."""

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


class JournalError(Exception):
    """The file cannot be used as a journal (another program's, or a newer schema)."""


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


def create_private(path: Path) -> None:
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


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the file to :data:`SCHEMA_VERSION`, creating the schema in a new file."""
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
