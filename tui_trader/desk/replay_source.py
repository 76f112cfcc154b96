"""A recorded session, read back: the journal's events and audit trail as one timeline.

The journal is opened read-only (an SQLite ``mode=ro`` URI: no migration, no write, no lock
held against the desk that may still be writing it), and checked to be a journal before
anything is read. Events (``received_at``) and audit entries (``at``) are stamped by the same
clock, the journal's, so merging them by time gives the order the desk lived them in; an
event and an audit entry stamped alike play the event first (the desk decides on what it
has received). Steps are read lazily, a page at a time: a long journal is never all in memory.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tui_trader.broker.journal import APPLICATION_ID, SCHEMA_VERSION

PAGE: Final = 2_000
FIRST_WITH_AUDIT: Final = 2
"""The audit table came with schema 2: an older journal has no decisions to show."""

_TIMELINE: Final = """
    SELECT * FROM (
        SELECT received_at AS t, 0 AS part, rowid, stream, id, at, type, payload, source
        FROM events
        UNION ALL
        SELECT at AS t, 1 AS part, rowid, kind, symbol, NULL, NULL, data, NULL FROM audit
    ) WHERE t >= ? ORDER BY t, part, rowid
"""


class ReplayError(Exception):
    """The journal cannot be replayed: missing, not a journal, or empty. One line."""


@dataclass(frozen=True, slots=True)
class EventStep:
    """A broker event as the journal stored it."""

    t: float  # epoch seconds, the journal's clock
    rowid: int
    stream: str
    id: str
    at: str | None
    type: str
    payload: str
    source: str


@dataclass(frozen=True, slots=True)
class AuditStep:
    """One of the desk's decisions, as its audit trail recorded it."""

    t: float
    rowid: int
    kind: str
    symbol: str | None
    data: dict[str, Any]


Step = EventStep | AuditStep


class Recording:
    """A journal opened for reading only; :meth:`steps` walks its timeline."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = _open_readonly(path)

    def close(self) -> None:
        self._conn.close()

    def span(self) -> tuple[float, float] | None:
        """The first and last time stamped in the journal; None when it holds nothing."""
        row = self._conn.execute(
            "SELECT min(t), max(t) FROM (SELECT received_at AS t FROM events"
            " UNION ALL SELECT at FROM audit)"
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return float(row[0]), float(row[1])

    def steps(self, since: float = float("-inf")) -> Iterator[Step]:
        """Every event and audit entry stamped at or after ``since``, in the desk's order."""
        cur = self._conn.execute(_TIMELINE, (since,))
        try:
            while rows := cur.fetchmany(PAGE):
                for t, part, rowid, a, b, at, kind, payload, source in rows:
                    if part == 0:
                        yield EventStep(t, rowid, a, b, at, kind, payload, source)
                    else:
                        yield AuditStep(t, rowid, a, b, _data(payload))
        finally:
            with contextlib.suppress(sqlite3.ProgrammingError):  # the recording was closed
                cur.close()


def _data(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _open_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise ReplayError(f"no journal at {path}")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ReplayError(f"{path}: cannot be opened: {exc}") from exc
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ReplayError(f"{path} is not a journal ({exc})") from exc
    if app_id != APPLICATION_ID:
        conn.close()
        raise ReplayError(f"{path} is not a tui-trader journal")
    if not FIRST_WITH_AUDIT <= version <= SCHEMA_VERSION:
        conn.close()
        raise ReplayError(
            f"{path} has journal schema {version}; replay reads {FIRST_WITH_AUDIT} to"
            f" {SCHEMA_VERSION} (open it once with this version's desk to migrate it)"
        )
    return conn
