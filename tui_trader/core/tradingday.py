"""Which trading day the desk is in, from the broker's market clock (``/v2/clock``).

Day P&L and the daily loss breakers measure from the broker's previous-close equity
(``last_equity``). That figure changes once per session, so the desk must notice when a new
session has begun, even when it has been running for days: a desk started on Friday and left
over the weekend measures Monday from Friday's close, not from its launch.

The day rolls at the market's next open: while the market is open, the clock's ``next_open``
is tomorrow's open; while it is closed, the coming one. So the rule is one comparison: the
first clock reading at or after the ``next_open`` of the reading before it starts a new day.
Pre-market trading before that open still counts in the day that closed (the broker's
``last_equity`` moves only overnight).

Pure: readings and the monotonic time are arguments. :meth:`TradingDay.due` tells the caller
when to read the clock again: every ``every`` seconds, and as soon as the broker's time (the
last reading plus the time since, or a bar stamped by the broker) reaches the boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tui_trader.core.types import parse_timestamp

__all__ = ["MarketClock", "TradingDay"]


@dataclass(frozen=True)
class MarketClock:
    """One reading of the broker's clock (API: ``timestamp``, ``is_open``, ``next_open``,
    ``next_close``)."""

    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> MarketClock:
        """Raises ValueError when a field is missing or not a time."""
        times = {}
        for name in ("timestamp", "next_open", "next_close"):
            parsed = parse_timestamp(data.get(name))
            if parsed is None:
                raise ValueError(f"the clock has no {name}")
            times[name] = parsed
        return cls(
            times["timestamp"], bool(data.get("is_open")), times["next_open"], times["next_close"]
        )


class TradingDay:
    """The boundary at which the current trading day ends, learnt from clock readings."""

    def __init__(self, every: float = 60.0) -> None:
        self._every = every
        self._boundary: datetime | None = None
        self._read_at: float | None = None  # monotonic time of the last reading (or attempt)
        self._broker_at: datetime | None = None  # the broker's time at that reading
        self._failed = False

    @property
    def boundary(self) -> datetime | None:
        """When the current day ends (the next open); None before the first reading."""
        return self._boundary

    def due(self, mono: float, seen: datetime | None = None) -> bool:
        """Whether to read the clock now: never read, ``every`` seconds since the last
        reading, or the boundary reached by the broker's time (estimated from the last
        reading, or ``seen``: a time the broker stamped, such as the latest bar)."""
        if self._read_at is None or mono - self._read_at >= self._every:
            return True
        if self._boundary is None or self._failed:
            return False
        if seen is not None and seen >= self._boundary:
            return True
        if self._broker_at is None:
            return False
        return self._broker_at + timedelta(seconds=mono - self._read_at) >= self._boundary

    def observe(self, clock: MarketClock, mono: float) -> bool:
        """Take a reading; True when it is the first of a new trading day."""
        rolled = self._boundary is not None and clock.timestamp >= self._boundary
        if self._boundary is None or rolled or clock.next_open > self._boundary:
            self._boundary = clock.next_open
        self._read_at, self._broker_at = mono, clock.timestamp
        self._failed = False
        return rolled

    def failed(self, mono: float) -> None:
        """A reading could not be taken: try again after ``every`` seconds, not at once."""
        if self._broker_at is not None and self._read_at is not None:
            self._broker_at += timedelta(seconds=mono - self._read_at)
        self._read_at = mono
        self._failed = True
