"""What the supervisor hands its listeners: one committed event, parsed only on demand."""

from __future__ import annotations

import contextlib

from tui_trader.core.events import Event, EventParseError, parse_event


class Delivered:
    """One new event, journaled (committed) before anyone sees it. Treat as read-only.

    ``event`` (the full tolerant model) is parsed on first access: ingest only validates
    (:mod:`tui_trader.core.fastparse`), and most consumers of a fast stream never need it.
    """

    __slots__ = ("_event", "at", "id", "payload", "rowid", "source", "stream", "symbol", "type")

    def __init__(
        self,
        rowid: int,
        stream: str,
        id: str,
        type: str,
        at: str | None,
        payload: str,
        source: str,
        event: Event | None = None,
        symbol: str | None = None,
    ) -> None:
        self.rowid = rowid
        self.stream = stream
        self.id = id
        self.type = type
        self.at = at
        self.payload = payload  # the raw JSON text (byte-identical), or synthesised by a poll
        self.source = source  # "stream" or "poll"
        self.symbol = symbol
        self._event = event

    @property
    def event(self) -> Event | None:
        if self._event is None:
            with contextlib.suppress(EventParseError):
                self._event = parse_event(self.stream, self.payload)
        return self._event

    def __repr__(self) -> str:
        return f"Delivered({self.rowid}, {self.stream}, {self.id}, {self.type}, {self.source})"
