"""Storing events: each once, by ``(stream, id)`` and by fact, in the open batch.

The ingest hot path: a fast replay spends most of its journal time in
:meth:`EventStore.add_many`, which inserts a few hundred rows per statement and compares
facts in memory first (:mod:`tui_trader.broker.facts`). Lines that cannot be parsed are
quarantined in the same batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from tui_trader.broker.facts import FILL_HIGH, FILL_LOW, FactMemory, at_window, is_fill
from tui_trader.broker.journal.connection import JournalConnection

if TYPE_CHECKING:
    from tui_trader.core.events import Event

SOURCES: Final = frozenset({"stream", "poll"})

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


_FILLS_NEAR: Final = (
    "SELECT fact FROM events INDEXED BY events_fill_at"
    f" WHERE fact >= '{FILL_LOW}' AND fact < '{FILL_HIGH}'"
)
_PARAMS_PER_QUERY: Final = 500


class EventStore(JournalConnection):
    """Adds events to the open batch, dropping duplicates; quarantines unreadable lines."""

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
