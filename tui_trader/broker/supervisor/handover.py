"""The hand-over: validated events to the journal writer, committed batches to listeners.

Ingest's hot path: :meth:`Handover._on_frames` validates each chunk a stream reads and
stages it for the journal writer; :meth:`Handover._written` runs on the loop after each
commit, counts the batch per stream and only then announces it. Nothing is published
before it is durable, and each event is published once (the journal drops duplicates).
"""

from __future__ import annotations

import logging
import operator
import time
from collections import Counter
from collections.abc import Awaitable

from tui_trader.broker.sse import Comment, Frame
from tui_trader.broker.supervisor.bookkeeping import Bookkeeping, StreamState
from tui_trader.broker.supervisor.delivered import Delivered
from tui_trader.broker.writer import Row
from tui_trader.core.events import Event, EventParseError, TradeEvent, parse_event
from tui_trader.core.fastparse import fact_of, trade_facts

log = logging.getLogger("tui_trader.stream")
_new = tuple.__new__
_ROW = operator.itemgetter(1)  # (rowid, Row) -> Row
_STREAM_SOURCE = operator.itemgetter(0, 6)  # Row -> (stream, source)


def fact_for(event: Event) -> str | None:
    """The second de-duplication key (API.md §2.4): what a REST poll can also observe."""
    if not isinstance(event, TradeEvent) or event.order is None:
        return None
    return fact_of(event.event, str(event.order.id), event.order.filled_qty)


def _delivered(row: Row, rowid: int) -> Delivered:
    return Delivered(
        rowid, row.stream, row.key, row.kind, row.at, row.payload, row.source, None, row.symbol
    )


def _symbol_of(event: Event) -> str | None:
    if isinstance(event, TradeEvent):
        return event.order.symbol if event.order is not None else None
    return getattr(event, "symbol", None)


class Handover(Bookkeeping):
    """Frames in, journal rows out; committed rows in, :class:`Delivered` batches out."""

    def _on_frames(self, s: StreamState, frames: list[Frame]) -> None:
        """Validate a chunk's events and stage them for the journal."""
        rows: list[Row] = []
        name = s.name
        fast = name == "trades"
        for frame in frames:
            if type(frame) is not str:
                assert isinstance(frame, Comment)
                if frame.internal_error:
                    s.internal_error = True
                if frame.dropped is not None:
                    break  # after a gap notice nothing is staged (read_stream stops there too)
                continue
            text = frame
            facts = trade_facts(text) if fast else None
            if facts is not None:
                key, kind, at, fact, symbol = facts
                # tuple.__new__: Row's own __new__ is Python code, a cost at this rate
                rows.append(_new(Row, (name, key, at, kind, text, fact, "stream", symbol, None)))
                continue
            try:
                event = parse_event(s.name, text)
            except EventParseError as exc:
                rows.append(Row(s.name, "", None, "", text, quarantine=exc.reason))
                s.quarantined += 1
                log.warning("quarantined", extra={"stream": s.name, "reason": exc.reason})
                continue
            rows.append(
                Row(
                    s.name,
                    event.key,
                    event.at_raw,
                    event.kind,
                    text,
                    fact_for(event),
                    symbol=_symbol_of(event),
                )
            )
        if rows:
            assert self._writer is not None
            s.received += len(rows)
            self._writer.submit(rows)

    def _backpressure(self) -> Awaitable[object] | None:
        """What a reader waits on before its next read: the journal writer while too much
        is staged, then any listener's hold (:meth:`Supervisor.hold`) while it is behind."""
        writer = self._writer
        if writer is None:
            return None
        if writer.congested:
            return writer.room()
        coming = writer.unwritten
        for room in self._holds:
            if (wait := room(coming)) is not None:
                return wait
        return None

    def _written(self, new: list[tuple[int, Row]], duplicates: dict[str, int]) -> None:
        """After a batch's commit: count it, then announce it."""
        now = time.monotonic()
        for name, count in duplicates.items():
            if name in self._streams:
                self._streams[name].duplicates += count
        per_stream: dict[str, int] = {}
        # counted at C speed: this runs on the loop for every batch of a fast stream
        for (name, source), count in Counter(map(_STREAM_SOURCE, map(_ROW, new))).items():
            per_stream[name] = per_stream.get(name, 0) + count
            if source == "poll":
                self._streams[name].polled += count
        for name, count in per_stream.items():
            s = self._streams[name]
            s.events += count
            s.last_event_mono = now
            s.rate.append((now, count))
            last = next(r for _, r in reversed(new) if r.stream == name)
            if last.source == "stream":
                s.last_event_id, s.last_event_at = last.key, last.at
        if new and (self._event_listeners or self._queues):
            items = [_delivered(row, rowid) for rowid, row in new]
            for listener in self._event_listeners:
                listener(items)
            for q in self._queues:
                for item in items:
                    q.put_nowait(item)
