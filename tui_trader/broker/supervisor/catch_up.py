"""The trade stream over the trading websocket, and the REST catch-up after each connect.

The websocket has no replay (API.md §11.3.4): whatever happened while it was down (or
before it first listened) is only on REST. So after every connect, the first included, a
:class:`~tui_trader.broker.poller.TradePoller` of its own reads the orders (``status=all``,
``after`` its cursor, paged past 500) and the FILL activities (paged) from a little before
the last event the stream delivered (from where it started live when nothing is journaled
yet), once; what it finds goes to the journal as REST events
(source ``poll``), keyed by the same facts as the socket's, so a fill is journaled once
whichever way it came. Its cursors only move forward: each catch-up reads what happened
since the previous one, with the overlap.
"""

from __future__ import annotations

import asyncio
import json
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
from tui_trader.core.types import parse_timestamp

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
        self._holding = True  # until this connection's catch-up has delivered

        def on_open() -> None:
            # the catch-up first: the reconcile that opened() may ask for waits for it
            self._schedule_catch_up(s)
            opened()

        try:
            await read_trade_socket(
                url,
                self._auth[KEY_HEADER],
                self._auth[SECRET_HEADER],
                self._socket_frames(s),
                on_open,
                self._backpressure,
                self.options.socket,
            )
        finally:
            if not self._catchups:  # it never listened: no catch-up will release them
                self._release(s)

    def _socket_frames(self, s: StreamState) -> Callable[[list[str]], None]:
        """Updates go to the journal, except from a connect until its catch-up has read
        REST: they wait, and are merged with what it found in event-time order
        (:func:`_merged`), so each order's events reach the journal in order."""

        def handle(frames: list[str]) -> None:
            if self._holding:
                self._held.extend(frames)
            else:
                self._on_frames(s, list(frames))

        return handle

    def _release(self, s: StreamState) -> None:
        """The held updates to the journal as they are: the catch-up failed, or the
        connection never listened."""
        self._holding = False
        held, self._held = self._held, []
        if held:
            self._on_frames(s, list(held))

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
        try:
            await self._catch_up_locked(s)
        finally:
            if not self._catch_up_waiting:  # a later one waiting releases after its own
                self._release(s)

    async def _catch_up_locked(self, s: StreamState) -> None:
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
        if self.journal.cursor(s.name) is None and poller.fills_after is None:
            # nothing journaled: the stream started live at ``anchor`` (the server's clock,
            # or ``since``), as the SSE stream does. What happened before is in the account
            # the desk read at start; read again, it would be booked twice.
            poller.fills_after = poller.orders_after = anchor
        poller.begin(anchor)
        items = await poller.poll()
        held: list[str] = []
        if not self._catch_up_waiting:  # else the next catch-up merges them with its own
            held, self._held, self._holding = self._held, [], False
        rows = [
            Row("trades", key, at, kind, payload, fact, source="poll")
            for at, key, kind, payload, fact in items
        ]
        if (rows or held) and self._writer is not None:
            s.received += len(rows)
            for frames, polled in _merged(held, rows):
                if frames:
                    self._on_frames(s, list(frames))
                else:
                    self._writer.submit(polled)
            await self._writer.drain()
        return len(items)


def _when(text: str | None) -> datetime:
    try:
        return (parse_timestamp(text) if text else None) or _EPOCH
    except ValueError:
        return _EPOCH


def _frame_at(frame: str) -> datetime:
    try:
        at = json.loads(frame).get("at")
    except (ValueError, AttributeError):
        return _EPOCH
    return _when(at if isinstance(at, str) else None)


def _merged(held: list[str], rows: list[Row]) -> list[tuple[list[str], list[Row]]]:
    """The socket's held updates and the catch-up's rows in event-time order, as runs of one
    kind (each run: socket frames, or REST rows). The catch-up read REST after the socket
    listened, so either may hold the older event of an order: a partial fill recovered from
    the outage goes before the final fill the socket said after it, and a ``new`` the socket
    said goes before the ``canceled`` the catch-up found. On a tie the socket's goes first
    (its own order is the true one)."""
    tagged: list[tuple[datetime, int, int]] = [(_frame_at(f), 0, i) for i, f in enumerate(held)]
    tagged += [(_when(r.at), 1, i) for i, r in enumerate(rows)]
    tagged.sort()
    runs: list[tuple[list[str], list[Row]]] = []
    last = -1
    for _, source, i in tagged:
        if source != last:
            runs.append(([], []))
            last = source
        if source == 0:
            runs[-1][0].append(held[i])
        else:
            runs[-1][1].append(rows[i])
    return runs


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
