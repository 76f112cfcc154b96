"""Where a connection (or the poller standing in for the trade stream) picks up.

From the journal's cursor: by event id when ids are ULIDs, else by time with an overlap;
with nothing journaled, from ``since`` or from the server's clock read when a stream first
connected live, so a drop before the first event is still recoverable.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from tui_trader.broker.supervisor.bookkeeping import Bookkeeping, StreamState
from tui_trader.core.types import format_timestamp, parse_timestamp


class Resume(Bookkeeping):
    """Resume parameters of each stream's next connection, and the poller's anchor."""

    async def _resume_params(self, s: StreamState, version: str, overlap: float) -> dict[str, str]:
        """Where the next connection starts.

        By id when possible: from the last event of an *earlier millisecond* than the last one
        received, so every same-millisecond event (whose random ULID tail may sort below the
        last one, API.md §2.5) is re-read, and little else. API.md suggests a time overlap of
        seconds to minutes; on a fast stream that replays rate x overlap events per reconnect,
        and under frequent faults a connection may never outlive its own replay. Time is the
        fallback when ids are not ULIDs or every stored event shares one millisecond.
        """
        cursor = self.journal.cursor(s.name)
        if cursor is not None:
            key, at = cursor
            if _is_ulid(key):
                safe = self.journal.last_id_below(s.name, key[:10])
                if safe is not None:
                    return {"since_id": safe} if version == "v2" else {"since_ulid": safe}
            when = _parse_at(at)
            if when is not None:
                return {"since": format_timestamp(when - timedelta(seconds=overlap))}
            return {"since_id": key} if version == "v2" else {"since_ulid": key}
        if self.options.since is not None:
            return {"since": format_timestamp(self.options.since)}
        if s.live_anchor is not None:  # dropped before the first event: replay the gap
            return {"since": format_timestamp(s.live_anchor - timedelta(seconds=overlap))}
        # live only: remember the server's clock so a drop before any event is recoverable
        with contextlib.suppress(Exception):
            clock = await self.rest.get_clock()
            s.live_anchor = _parse_at(str(clock.get("timestamp", "")))
        return {}

    def _poll_anchor(self, s: StreamState) -> datetime | None:
        """Where the trade stream stood: its last journaled event, else where it started."""
        cursor = self.journal.cursor("trades")
        anchor = _parse_at(cursor[1]) if cursor is not None else None
        return anchor or s.live_anchor or self.options.since


def _is_ulid(text: str) -> bool:
    return len(text) == 26 and text.isalnum()


def _parse_at(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        return None
