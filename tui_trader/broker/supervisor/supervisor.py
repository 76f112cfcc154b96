"""The :class:`Supervisor`: what callers use to listen, run and stop.

The jobs it runs are the classes it builds on (see the package docstring); this module
holds only the public surface and the lifecycle: start every stream loop, the poller and
the first reconciliation, and on stop (or an unwritable journal) wind them all down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tui_trader.broker.status import ConnectionStatus, State, Transition
from tui_trader.broker.supervisor.delivered import Delivered
from tui_trader.broker.supervisor.polling import Polling
from tui_trader.broker.writer import STAGE_ROWS, BatchWriter, Record

if TYPE_CHECKING:
    from tui_trader.core.models import Position, WireOrder


log = logging.getLogger("tui_trader.stream")


class Supervisor(Polling):
    """Keeps every event stream alive and every event exactly once (see the package
    docstring). Constructed by :meth:`Bookkeeping.__init__
    <tui_trader.broker.supervisor.bookkeeping.Bookkeeping.__init__>`."""

    # ------------------------------------------------------------------- public surface
    def on_events(self, listener: Callable[[list[Delivered]], None]) -> None:
        """Called on the loop with each committed batch of new events, in order."""
        self._event_listeners.append(listener)

    def hold(self, room: Callable[[int], Awaitable[object] | None]) -> None:
        """For a listener that applies events later than it hears of them (the desk, a
        slice per loop turn). The streams' readers call ``room(coming)`` after each chunk
        they hand over (``coming``: events read but not yet committed, which the listener
        will hear of next), as they check the journal writer, and wait on what it returns
        unless None: a burst then waits in the socket and at the broker rather than in the
        listener's memory. What it returns must end without more events arriving (the
        reader that would bring them is the one waiting). With a hold, the journal writer
        also stages at most :data:`STAGE_ROWS` before the reader waits for it (otherwise
        four times that), since each commit reaches the listener at once."""
        self._holds.append(room)
        if self._writer is not None:
            self._writer.max_staged = STAGE_ROWS

    def on_commit(self, hook: Callable[[list[Record]], None]) -> None:
        """Called with each batch of new events just before the commit that stores them:
        what the hook records in the journal (a delivery mark) becomes durable in the same
        transaction as the events, so no crash can separate the two."""
        self._before_commit.append(hook)

    def on_status(self, listener: Callable[[Transition, ConnectionStatus], None]) -> None:
        self._status_listeners.append(listener)

    def on_reconcile(self, listener: Callable[[list[Position], list[WireOrder]], None]) -> None:
        """Called with the broker's positions and open orders after each reconciliation
        (at start and after every reconnect), so a ledger can correct itself."""
        self._reconcile_listeners.append(listener)

    def queue(self) -> asyncio.Queue[Delivered]:
        """An unbounded queue of every delivered event from now on (events are journaled,
        so holding them in memory for a slow reader loses nothing)."""
        q: asyncio.Queue[Delivered] = asyncio.Queue()
        self._queues.append(q)
        return q

    def stop(self) -> None:
        """Stop everything; safe from any thread (a journal hook may ask for it)."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            loop.call_soon_threadsafe(self.stop)
            return
        self._stopping.set()
        for task in self._tasks:
            task.cancel()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> None:
        """Run every stream (and the poller) until :meth:`stop` or an authentication failure."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._writer = BatchWriter(self.journal, self._loop, self._written, self._writer_failed)
        self.journal.checkpoint_in_background()
        self._writer.before_commit = self._before_commit
        if self._holds:
            self._writer.max_staged = STAGE_ROWS
        self._tasks = [
            asyncio.create_task(self._run_stream(name), name=f"stream-{name}")
            for name in self._streams
        ]
        if self.options.poll and "trades" in self._streams:
            self._tasks.append(asyncio.create_task(self._poll_loop(), name="poller"))
        if self.options.reconcile:
            self._tasks.append(self._schedule_reconcile("reconcile-start"))
        try:
            await asyncio.gather(*self._tasks, return_exceptions=False)
        except asyncio.CancelledError:
            if not self._stopping.is_set():
                raise
        finally:
            others = [*self._reconciles, *self._catchups]
            for task in [*self._tasks, *others]:
                task.cancel()
            await asyncio.gather(*self._tasks, *others, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._writer.drain()
            await asyncio.to_thread(self._writer.close)
            for s in self._streams.values():
                if s.state is not State.AUTH_FAILED:
                    self._transition(s, State.STOPPED, "stopped")

    def _writer_failed(self, exc: BaseException) -> None:
        self.journal_error = f"journal write failed: {type(exc).__name__}: {exc}"
        log.error("stopping: the journal cannot be written", extra={"error": str(exc)[:200]})
        self.stop()
