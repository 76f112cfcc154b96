"""The trade stream over the trading websocket, and the REST catch-up after each connect.

The websocket has no replay (API.md §11.3.4): whatever happened while it was down (or
before it first listened) is only on REST. So after every connect, the first included, a
:class:`~tui_trader.broker.poller.TradePoller` of its own reads the orders (``status=all``,
``after`` its cursor, paged past 500) and the FILL activities (paged) from a little before
the last event the stream delivered, once; what it finds goes to the journal as REST events
(source ``poll``), keyed by the same facts as the socket's, so a fill is journaled once
whichever way it came. Its cursors only move forward: each catch-up reads what happened
since the previous one, with the overlap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from tui_trader.broker.poller import TradePoller
from tui_trader.broker.supervisor.bookkeeping import (
    KEY_HEADER,
    SECRET_HEADER,
    StreamState,
    short,
)
from tui_trader.broker.supervisor.handover import Handover
from tui_trader.broker.supervisor.resume import Resume
from tui_trader.broker.trade_socket import read_trade_socket, stream_url
from tui_trader.broker.writer import Row

log = logging.getLogger("tui_trader.stream")


class CatchUp(Handover, Resume):
    """Reads the trade stream from the websocket; fills its gaps over REST after each open."""

    def _uses_socket(self, name: str) -> bool:
        """The trade stream over the websocket: asked for, and Trading API keys to log in
        with (the Broker API's Basic auth has no websocket; see Bookkeeping)."""
        return self._streams[name].transport == "websocket"

    async def _read_socket(self, s: StreamState, opened: Callable[[], None]) -> None:
        """One websocket connection (always ends in a StreamClosed); a catch-up follows
        every open. Before the first connect, with nothing journaled, the server's clock is
        read as where the stream started (:meth:`Resume._resume_params`), so the catch-up of
        a connection that drops before its first event still has a place to start from."""
        await self._resume_params(s, "v2", self.options.overlap)
        url = stream_url(str(self.http.base_url), self.options.stream_url)

        def on_open() -> None:
            opened()
            self._schedule_catch_up(s)

        await read_trade_socket(
            url,
            self._auth[KEY_HEADER],
            self._auth[SECRET_HEADER],
            self._socket_frames(s),
            on_open,
            self._backpressure,
            self.options.socket,
        )

    def _socket_frames(self, s: StreamState) -> Callable[[list[str]], None]:
        def handle(frames: list[str]) -> None:
            self._on_frames(s, list(frames))

        return handle

    # ---------------------------------------------------------------------- catch-up
    def _schedule_catch_up(self, s: StreamState) -> None:
        """A catch-up after this open; one already waiting covers it (it starts later)."""
        if self._catch_up_waiting:
            return
        self._catch_up_waiting = True
        task = asyncio.get_running_loop().create_task(self._catch_up(s), name="catch-up")
        self._catchups.add(task)
        task.add_done_callback(self._catchups.discard)

    async def _catch_up(self, s: StreamState) -> None:
        async with self._catch_up_lock:  # one at a time: they share the poller's cursors
            self._catch_up_waiting = False
            tries = max(1, self.options.catch_up_tries)
            for attempt in range(1, tries + 1):
                try:
                    async with asyncio.timeout(self.options.reconcile_timeout):
                        found = await self._catch_up_once(s)
                    s.catch_ups += 1
                    log.info("caught up over REST", extra={"stream": s.name, "events": found})
                    return
                except Exception as exc:  # shown; retried, then left to the next connect
                    reason = "no answer in time" if isinstance(exc, TimeoutError) else short(exc)
                    log.warning(
                        "REST catch-up failed",
                        extra={"stream": s.name, "attempt": attempt, "error": reason},
                    )
                    if attempt < tries:
                        await self._sleep(self.options.poll_interval * attempt)
            s.catch_up_failures += 1

    async def _catch_up_once(self, s: StreamState) -> int:
        poller = self._catch_up_poller
        if poller is None:
            poller = self._catch_up_poller = TradePoller(
                self.rest, overlap=self.options.overlap, first_overlap=self.options.long_overlap
            )
        anchor = self._poll_anchor(s) or datetime.now(UTC)
        poller.begin(anchor)
        items = await poller.poll()
        if items and self._writer is not None:
            s.received += len(items)
            self._writer.submit(
                [
                    Row("trades", key, at, kind, payload, fact, source="poll")
                    for at, key, kind, payload, fact in items
                ]
            )
            await self._writer.drain()
        return len(items)
