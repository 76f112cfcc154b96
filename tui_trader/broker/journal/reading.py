"""Reading the journal: committed events in arrival order, the stream's resume cursor, and
each consumer's delivery mark.

Event reads show committed events only, even on the writer's own connection, so a consumer
can never deliver an event that a crash could still take back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from tui_trader.broker.journal.connection import JournalConnection

_SELECT_EVENTS: Final = "SELECT rowid, stream, id, fact, at, type, payload, source FROM events"


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


class EventReader(JournalConnection):
    """Committed events, cursors and delivery marks."""

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
