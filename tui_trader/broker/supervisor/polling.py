"""The glue to :class:`~tui_trader.broker.poller.TradePoller`: REST standing in for trades.

While the trade stream has been down past ``poll_after`` (or is not offered), the poller's
synthetic trade events go to the journal writer like the stream's own, keyed by the same
facts, so nothing arrives twice when the stream returns.
"""

from __future__ import annotations

import logging
import time

from tui_trader.broker.status import State
from tui_trader.broker.supervisor.bookkeeping import short
from tui_trader.broker.supervisor.stream_loop import StreamLoop
from tui_trader.broker.writer import Row

log = logging.getLogger("tui_trader.stream")

POLL_FRESH = 3  # polls count as delivering while the last one is this many intervals old


class Polling(StreamLoop):
    """The poll loop, and whether trade events are being delivered (streamed or polled)."""

    def trades_delivering(self) -> bool:
        """Whether trade events are being delivered: the trade stream is STREAMING, or the
        REST poller (standing in while the stream is down or not offered) completed a poll
        within ``POLL_FRESH`` poll intervals. True when no trade stream is run at all. What
        the STREAM breaker should read as "the stream is up"."""
        s = self._streams.get("trades")
        if s is None or s.state is State.STREAMING:
            return True
        last = self._poller.last_ok if self._poller is not None else None
        return (
            s.polling
            and last is not None
            and time.monotonic() - last <= POLL_FRESH * self.options.poll_interval
        )

    def trades_settled(self) -> int | None:
        """A token that stays the same for as long as every trade event the broker makes is
        sure to reach the journal in order, live: the trade stream is STREAMING, on one
        connection, its REST catch-up delivered (0 when no trade stream runs). None
        otherwise: fills made now are still to come (a stream's replay, a catch-up, a
        poll), and a position read now already holds them.

        Whoever adopts the broker's positions compares this before and after reading them:
        adopted while it was None, the fills still to come would be booked a second time
        on top (the desk's day roll and a reconcile's late retry both did)."""
        s = self._streams.get("trades")
        if s is None:
            return 0
        if s.state is not State.STREAMING or self._holding or self._catchups:
            return None
        return s.epoch

    async def _poll_loop(self) -> None:
        s = self._streams["trades"]
        poller = self._poller
        assert poller is not None
        episode = False  # a polling episode is under way (its cursors are set)
        while not self._stopping.is_set():
            await self._wait(self.options.poll_interval)
            if self._stopping.is_set() or s.state is State.AUTH_FAILED:
                return
            down_for = self._outage(s) if s.opened_once or s.polling else 0.0
            if s.state is State.STREAMING or (down_for < self.options.poll_after and not s.polling):
                episode = False
                continue
            if not s.polling:
                s.polling = True
                episode = False
                self._transition(s, s.state, f"stream down {down_for:.0f} s: polling REST")
            if not episode:
                anchor = self._poll_anchor(s)
                if anchor is None:
                    continue  # nothing known about where the stream stood: it would only guess
                poller.begin(anchor)
                episode = True
            try:
                items = await poller.poll()
            except Exception as exc:  # keep polling; the stream loop handles auth verdicts
                log.warning("poll failed", extra={"error": short(exc)})
                continue
            if items and self._writer is not None:
                s.received += len(items)
                self._writer.submit(
                    [
                        Row("trades", key, at, kind, payload, fact, source="poll")
                        for at, key, kind, payload, fact in items
                    ]
                )
                await self._writer.drain()
