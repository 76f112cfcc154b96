"""The paper account's file: one SQLite database in the user data dir, owned by one emulator.

SQLite (WAL, one transaction per save) rather than a JSON rewritten each time: a save is atomic
by construction, a ``kill -9`` loses at most the changes since the last save (the emulator saves
on a short debounce and at a clean stop) and never leaves a half-written file, and the parts
that only grow (events, fills, minute bars) are appended rather than rewritten.

The file carries its format (``PRAGMA user_version``) and SQLite's ``application_id``. A file
that is not ours, corrupt, or of another format is never deleted: it is moved aside (renamed
with a suffix saying why and when) and the emulator starts a fresh account, saying so.
One emulator owns the file at a time (an advisory lock on a sidecar ``.lock`` file, released
by the OS even on ``kill -9``): a second one is refused with :class:`StateInUse`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory lock
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("tui_trader.sim")

FORMAT: Final = 1
"""The state file's format; a file of another format is moved aside, never migrated blindly."""
APPLICATION_ID: Final = 0x54545341  # "TTSA": tui-trader sim account
STATE_FILE: Final = "sim-account.sqlite3"

_SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)",
    "CREATE TABLE orders (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "body TEXT NOT NULL)",
    "CREATE TABLE activities (account_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, "
    "PRIMARY KEY (account_id, seq))",
    "CREATE TABLE events (stream TEXT NOT NULL, idx INTEGER NOT NULL, ulid TEXT NOT NULL, "
    "legacy_id INTEGER NOT NULL, at TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (stream, idx))",
    "CREATE TABLE bars (symbol TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, "
    "PRIMARY KEY (symbol, seq))",
)


class StateError(Exception):
    """The state file cannot be used; ``aside`` is where it was moved (None: left in place)."""

    def __init__(self, message: str, aside: Path | None = None) -> None:
        super().__init__(message)
        self.aside = aside


class StateInUse(StateError):
    """Another emulator owns the paper account's file."""


def state_path(data_dir: Path) -> Path:
    """Where the embedded emulator's paper account lives in ``data_dir``."""
    return data_dir / STATE_FILE


@dataclass
class Saved:
    """What a state file holds, as read (decoded into objects by :mod:`tui_trader.sim.resume`)."""

    instance: str  # this paper account's identity: a reset makes a new one
    clean: bool  # the last run stopped cleanly (False: killed, the last moments may be lost)
    body: dict[str, Any]
    orders: list[tuple[str, dict[str, Any]]]  # (account id, order), oldest first
    activities: dict[str, list[dict[str, Any]]]
    events: dict[str, tuple[int, list[tuple[int, str, int, str, str]]]]  # first index, rows
    bars: dict[str, tuple[int, list[list[Any]]]]  # first seq, rows


@dataclass
class Pending:
    """One save: the mutable state whole, the orders that changed, what grew since last time."""

    body: dict[str, Any]
    orders: list[tuple[str, str, int, dict[str, Any]]]  # (id, account id, seq, body)
    activities: list[tuple[str, int, dict[str, Any]]]
    events: list[tuple[str, int, str, int, str, str]]
    bars: list[tuple[str, int, list[Any]]]
    dropped: dict[str, int]  # per stream: events below this index are gone (retention)
    bars_dropped: dict[str, int] = field(default_factory=dict)  # per symbol: seqs below, gone


def move_aside(path: Path, why: str) -> Path:
    """Rename ``path`` (and its WAL files) to ``<path>.<why>-<stamp>``; the new name."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.{why}-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{why}-{stamp}-{n}")
        n += 1
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    path.rename(target)
    return target


class AccountStore:
    """The paper account's file, opened and locked by one emulator for its lifetime."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.note: str | None = None  # said once at start: a file moved aside, a resume
        self._lock: IO[str] | None = None
        self._db: sqlite3.Connection | None = None
        self.instance = ""

    # ------------------------------------------------------------------------ open/close
    def open(self) -> Saved | None:
        """Lock and open the file; what it holds, or None for a new account.

        A file that cannot be read is moved aside and ``note`` says so; a file another
        emulator holds raises :class:`StateInUse`.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._take_lock()
        saved: Saved | None = None
        if self.path.exists():
            try:
                saved = self._read()
            except StateError as exc:
                self._close_db()
                aside = move_aside(self.path, "unreadable")
                self.note = (
                    f"the saved paper account could not be used ({exc}); it was kept as "
                    f"{aside} and a fresh account starts"
                )
                log.warning("%s", self.note)
                saved = None
        if saved is None:
            self._create()
        else:
            self.instance = saved.instance
        return saved

    def set_aside(self, why: str) -> None:
        """The file read but cannot be resumed (its content, not its form): keep it aside and
        start a fresh file in its place."""
        self._close_db()
        aside = move_aside(self.path, "unreadable")
        self.note = (
            f"the saved paper account could not be resumed ({why}); it was kept as {aside} "
            "and a fresh account starts"
        )
        log.warning("%s", self.note)
        self._create()

    def close(self, clean: bool) -> None:
        if self._db is not None and clean:
            with contextlib.suppress(sqlite3.Error), self._db:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES ('clean', '1')")
        self._close_db()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _take_lock(self) -> None:
        lock = self.path.with_name(self.path.name + ".lock").open("a+")
        if fcntl is not None:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.seek(0)
                who = lock.read().strip()
                lock.close()
                raise StateInUse(
                    f"the paper account {self.path} is in use by another tui-trader"
                    + (f" (pid {who})" if who else "")
                ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # atomic always; a power cut may lose the last
        return db

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _create(self) -> None:
        fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        db = self._db = self._connect()
        self.instance = uuid.uuid4().hex[:16]
        with db:
            db.execute("BEGIN")
            for stmt in _SCHEMA:
                db.execute(stmt)
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("instance", self.instance), ("created", _now()), ("clean", "0")],
            )
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute(f"PRAGMA user_version={FORMAT}")

    def _read(self) -> Saved:
        try:
            db = self._db = self._connect()
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if app_id != APPLICATION_ID:
                raise StateError("not a tui-trader paper account file")
            if version != FORMAT:
                raise StateError(f"saved in format {version}, this version reads format {FORMAT}")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise StateError("the file is damaged")
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            row = db.execute("SELECT body FROM state WHERE id = 1").fetchone()
            if row is None:  # created, never saved: nothing to resume
                raise StateError("it holds no saved state")
            saved = Saved(
                instance=meta["instance"],
                clean=meta.get("clean") == "1",
                body=json.loads(row[0]),
                orders=[
                    (a, json.loads(b))
                    for a, b in db.execute("SELECT account_id, body FROM orders ORDER BY seq")
                ],
                activities={},
                events={},
                bars={},
            )
            for acct, body in db.execute(
                "SELECT account_id, body FROM activities ORDER BY account_id, seq"
            ):
                saved.activities.setdefault(acct, []).append(json.loads(body))
            for stream, first in db.execute("SELECT stream, MIN(idx) FROM events GROUP BY stream"):
                rows = db.execute(
                    "SELECT idx, ulid, legacy_id, at, line FROM events WHERE stream = ? "
                    "ORDER BY idx",
                    (stream,),
                ).fetchall()
                saved.events[stream] = (first, rows)
            for symbol, seq, body in db.execute(
                "SELECT symbol, seq, body FROM bars ORDER BY symbol, seq"
            ):
                saved.bars.setdefault(symbol, (seq, []))[1].append(json.loads(body))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('clean', '0')")
            return saved
        except (sqlite3.Error, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise StateError(f"unreadable: {exc}") from None

    # ------------------------------------------------------------------------------ save
    def save(self, pending: Pending) -> None:
        """Write one save in one transaction: all of it, or (on any failure) none of it."""
        db = self._db
        if db is None:
            return
        with db:
            db.execute("BEGIN")
            db.execute("INSERT OR REPLACE INTO state VALUES (1, ?)", (_dumps(pending.body),))
            db.executemany(
                "INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)",
                [(i, a, seq, _dumps(body)) for i, a, seq, body in pending.orders],
            )
            db.executemany(
                "INSERT OR REPLACE INTO activities VALUES (?, ?, ?)",
                [(a, seq, _dumps(body)) for a, seq, body in pending.activities],
            )
            db.executemany(
                "INSERT OR REPLACE INTO events VALUES (?, ?, ?, ?, ?, ?)", pending.events
            )
            db.executemany(
                "INSERT OR REPLACE INTO bars VALUES (?, ?, ?)",
                [(sym, seq, _dumps(body)) for sym, seq, body in pending.bars],
            )
            for stream, first in pending.dropped.items():
                db.execute("DELETE FROM events WHERE stream = ? AND idx < ?", (stream, first))
            for symbol, first in pending.bars_dropped.items():
                db.execute("DELETE FROM bars WHERE symbol = ? AND seq < ?", (symbol, first))


def saved_instance(path: Path) -> str | None:
    """The identity of the paper account kept at ``path``, read without opening it for
    writing or taking its lock (a replay reads it while the desk may be running); None when
    there is no readable account file."""
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            if db.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                return None
            row = db.execute("SELECT value FROM meta WHERE key = 'instance'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


def reset(path: Path) -> Path | None:
    """Start the paper account over: the old file is moved aside (kept), never deleted."""
    if not path.exists():
        return None
    store = AccountStore(path)
    store._take_lock()  # refuse while an emulator is running on it
    try:
        return move_aside(path, "reset")
    finally:
        store.close(clean=False)


def _dumps(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
