"""The event stream for scripts: every broker event once, as typed models, in a few lines.

::

    async with await EventStream.open() as stream:       # the embedded emulator by default
        async for fill in stream.subscribe(symbols=["AAPL"], types=["fill"]).take(3):
            print(fill.order.symbol, fill.qty, fill.price)

Underneath is the same engine as the TUI and ``tui-trader headless``: the supervisor keeps the
SSE streams alive, resumes after drops, polls REST during outages, and journals every event
before anyone sees it, so a subscriber gets each event exactly once even across reconnects.
A subscription starts at the moment :meth:`EventStream.subscribe` is called (nothing earlier
unless ``replay=True``), and its queue lives until the flow ends or is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final

from tui_trader.broker.flow import Flow
from tui_trader.broker.sse import ROUTES
from tui_trader.broker.status import ConnectionStatus, State
from tui_trader.config import Settings, load_settings
from tui_trader.core.events import Event, EventParseError, NtaEvent, TradeEvent, parse_event

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal
    from tui_trader.broker.rest import AlpacaREST
    from tui_trader.broker.supervisor import Delivered, Supervisor
    from tui_trader.desk.target import Target

__all__ = ["ALL_STREAMS", "EventStream", "EventStreamError", "Subscription", "symbol_of"]

log = logging.getLogger("tui_trader.stream")

ALL_STREAMS: Final = ("trades", "accounts", "nta")
# a stream that streams, is covered by REST polling, or is not offered at all is settled
_SETTLED: Final = frozenset({State.STREAMING, State.POLLING, State.STOPPED})
_STOP_WAIT_S: Final = 10.0


class EventStreamError(RuntimeError):
    """The stream could not start (credentials rejected, not connected in time) or the
    engine stopped on its own while subscribers were reading."""


@dataclass(frozen=True, slots=True)
class _Closed:
    """The end marker in a subscriber's queue, after every event delivered before it."""

    error: EventStreamError | None = None


def _names(values: Iterable[str] | str | None, *, upper: bool = False) -> frozenset[str] | None:
    """A filter set; a lone string is one name (not its letters)."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    return frozenset(v.strip().upper() if upper else v.strip() for v in items)


def symbol_of(event: Event) -> str | None:
    """The symbol an event is about: a trade's order symbol, an NTA's symbol, else None."""
    if isinstance(event, TradeEvent):
        return event.order.symbol if event.order is not None and event.order.symbol else None
    if isinstance(event, NtaEvent):
        return event.symbol or None
    return None


@dataclass(eq=False)
class _Subscriber:
    symbols: frozenset[str] | None
    types: frozenset[str] | None
    streams: frozenset[str] | None
    queue: asyncio.Queue[tuple[int, Event] | _Closed]

    def wants(self, stream: str, event: Event) -> bool:
        if self.streams is not None and stream not in self.streams:
            return False
        if self.types is not None and event.kind not in self.types:
            return False
        if self.symbols is not None:
            symbol = symbol_of(event)
            return symbol is not None and symbol.upper() in self.symbols
        return True


class Subscription:
    """One subscriber's events, in delivery order; an async iterator that can be closed.

    Not an async generator on purpose: a read may be cancelled (``wait_for``) without
    losing anything, and closing it unregisters the queue even if it was never read.
    """

    def __init__(
        self, owner: EventStream, sub: _Subscriber, backlog: list[tuple[int, Event]]
    ) -> None:
        self._owner = owner
        self._sub = sub
        self._backlog = deque(backlog)
        self._last = backlog[-1][0] if backlog else 0
        self._done = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if self._backlog:
            return self._backlog.popleft()[1]
        while not self._done:
            item = await self._sub.queue.get()
            if isinstance(item, _Closed):
                self._finish()
                if item.error is not None:
                    raise item.error
                break
            rowid, event = item
            if rowid > self._last:  # a replayed backlog may overlap the first live events
                self._last = rowid
                return event
        raise StopAsyncIteration

    def _finish(self) -> None:
        self._done = True
        self._backlog.clear()
        self._owner._unsubscribe(self._sub)

    async def aclose(self) -> None:
        """Stop receiving (idempotent); events still queued are dropped."""
        self._finish()


class EventStream:
    """A running event engine plus its subscribers. Build it with :meth:`open`."""

    def __init__(
        self,
        settings: Settings,
        target: Target,
        journal: Journal,
        supervisor: Supervisor,
        rest: AlpacaREST,
        resources: AsyncExitStack,
    ) -> None:
        self.settings = settings
        self._target = target
        self._journal = journal
        self._supervisor = supervisor
        self._rest = rest
        self._resources = resources
        self._subs: list[_Subscriber] = []
        self._first_rowid = journal.last_rowid()  # what this stream delivers starts above it
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._closing = False
        self._closed = False
        supervisor.on_events(self._dispatch)
        supervisor.on_status(lambda _t, _s: self._changed.set())

    # ---------------------------------------------------------------------- opening
    @classmethod
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        streams: Iterable[str] | str = ALL_STREAMS,
        journal: Path | None = None,
        since: datetime | None = None,
        ready_timeout: float | None = 30.0,
    ) -> EventStream:
        """Start the engine and return once every stream is connected (or settled).

        ``settings`` defaults to :func:`load_settings` (config file and environment): the
        embedded emulator unless Alpaca keys are set. ``journal`` defaults to a temporary
        file for the emulator (a fresh emulator has a fresh history) and to the account's
        journal in the data directory otherwise. ``since`` replays from that time when the
        journal is empty; read those events with ``subscribe(replay=True)``.

        Waiting for the connections matters: on a first start the streams are live only,
        so an order placed before they connect would have its events missed.
        ``ready_timeout=None`` returns at once instead. Raises :class:`ConfigError` for bad
        settings, :class:`EventStreamError` when credentials are rejected or the streams
        do not connect in time.
        """
        from tui_trader.broker.journal import Journal
        from tui_trader.broker.supervisor import Supervisor, SupervisorOptions

        names = tuple(dict.fromkeys([streams] if isinstance(streams, str) else streams))
        unknown = [s for s in names if s not in ROUTES]
        if unknown or not names:
            raise ValueError(
                f"unknown stream(s): {', '.join(unknown)}" if unknown else "no streams given"
            )
        if settings is None:
            settings = load_settings()
        resources = AsyncExitStack()
        try:
            target = await _resolve(settings)
            resources.push_async_callback(asyncio.to_thread, target.close)
            path, scratch = target.journal_file(settings.data_dir, journal)
            if scratch is not None:
                resources.callback(scratch.cleanup)
            try:
                store = Journal.open(path)
            except Exception as exc:
                raise EventStreamError(f"cannot open the journal {path}: {exc}") from exc
            resources.callback(store.close)
            names = _streams_of_account(target, names, defaulted=streams is ALL_STREAMS)
            options = SupervisorOptions.from_settings(
                settings.stream,
                streams=names,
                since=since,
                api=target.api.value,
                stream_url=target.stream_url(),
            )
            rest = target.rest()
            resources.push_async_callback(rest.aclose)
            http = target.http()
            resources.push_async_callback(http.aclose)
            supervisor = Supervisor(rest, store, http, target.auth_headers(), options)
            self = cls(settings, target, store, supervisor, rest, resources.pop_all())
        except BaseException:
            await resources.aclose()
            raise
        log.info("event stream open", extra={"target": target.label, "journal": str(path)})
        try:
            self._task = asyncio.create_task(supervisor.run(), name="event-stream-supervisor")
            self._task.add_done_callback(self._ended)
            if ready_timeout is not None:
                await self._until_ready(ready_timeout)
        except BaseException:
            await self.aclose()
            raise
        return self

    async def _until_ready(self, seconds: float) -> None:
        assert self._task is not None
        deadline = time.monotonic() + seconds
        while True:
            self._check_running()
            status = self._supervisor.status()
            if all(s.state in _SETTLED for s in status.streams):
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise EventStreamError(
                    f"{self.label}: streams not connected within {seconds:g} s ("
                    + "; ".join(f"{s.name}: {s.state} {s.reason}" for s in status.streams)
                    + ")"
                )
            self._changed.clear()
            changed = asyncio.create_task(self._changed.wait())
            try:
                await asyncio.wait(
                    {changed, self._task}, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                changed.cancel()

    def _check_running(self) -> None:
        """Raise if the engine has stopped: rejected credentials or a crash."""
        if self._supervisor.auth_failure is not None:
            raise EventStreamError(
                f"credentials rejected by {self.label}: {self._supervisor.auth_failure}"
            )
        if self._task is not None and self._task.done():
            exc = None if self._task.cancelled() else self._task.exception()
            raise EventStreamError(f"{self.label}: the event engine stopped") from exc

    # --------------------------------------------------------------------- the flow
    def _dispatch(self, items: list[Delivered]) -> None:
        """Fan one committed batch out to every subscriber that wants each event."""
        if not self._subs:
            return
        for d in items:
            event = d.event if d.event is not None else _parse(d.stream, d.payload)
            if event is None:
                continue
            for sub in self._subs:
                if sub.wants(d.stream, event):
                    sub.queue.put_nowait((d.rowid, event))

    def subscribe(
        self,
        symbols: Iterable[str] | str | None = None,
        types: Iterable[str] | str | None = None,
        streams: Iterable[str] | str | None = None,
        *,
        replay: bool = False,
    ) -> Flow[Event]:
        """Every new event from now on, optionally only some symbols, types and streams.

        ``symbols`` matches a trade's ``order.symbol`` and an NTA's ``symbol`` (account
        events have none, so they are left out when symbols are given); ``types`` matches
        ``event.kind`` (``fill``, ``new``, ``account_status``, ``DIV``...). Each
        subscriber gets every matching event, in journal order. With ``replay``, first
        whatever this stream has delivered since it opened (e.g. a ``since`` replay).
        """
        if self._closed or self._closing:
            raise EventStreamError("the event stream is closed")
        wanted = _names(streams)
        opened = self._supervisor.options.streams
        if wanted is not None and not wanted <= set(opened):
            missing = ", ".join(sorted(wanted - set(opened)))
            raise ValueError(f"stream(s) not opened: {missing} (open with streams=...)")
        sub = _Subscriber(_names(symbols, upper=True), _names(types), wanted, asyncio.Queue())
        backlog: list[tuple[int, Event]] = []
        if replay:
            for row in self._journal.events_after(self._first_rowid):
                event = _parse(row.stream, row.payload)
                if event is not None and sub.wants(row.stream, event):
                    backlog.append((row.rowid, event))
        self._subs.append(sub)  # same tick as the backlog read: nothing falls in between
        subscription = Subscription(self, sub, backlog)
        # a flow dropped without being closed must not keep collecting events forever
        weakref.finalize(subscription, self._unsubscribe, sub)
        return Flow(subscription)

    def _unsubscribe(self, sub: _Subscriber) -> None:
        with contextlib.suppress(ValueError):
            self._subs.remove(sub)

    def _end_subscribers(self, error: EventStreamError | None) -> None:
        subs, self._subs = self._subs, []
        for sub in subs:
            sub.queue.put_nowait(_Closed(error))

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The engine stopped: unless we stopped it, tell every subscriber why."""
        exc = None if task.cancelled() else task.exception()
        if self._closing:
            return
        if self._supervisor.auth_failure is not None:
            error = EventStreamError(
                f"credentials rejected by {self.label}: {self._supervisor.auth_failure}"
            )
        else:
            error = EventStreamError(f"{self.label}: the event engine stopped")
            error.__cause__ = exc
        log.error("event stream ended", extra={"reason": str(error)})
        self._end_subscribers(error)

    # ---------------------------------------------------------------------- surface
    def status(self) -> ConnectionStatus:
        """The supervisor's connection status (states, counters, reconciliation)."""
        return self._supervisor.status()

    @property
    def rest(self) -> AlpacaREST:
        """The REST client of the same account, e.g. to place orders from a script."""
        return self._rest

    @property
    def label(self) -> str:
        """``embedded emulator`` or the base URL."""
        return self._target.label

    @property
    def embedded(self) -> bool:
        """True when connected to an emulator started by :meth:`open` (no real orders)."""
        return self._target.embedded is not None

    @property
    def journal_path(self) -> Path:
        return self._journal.path

    async def aclose(self) -> None:
        """Stop the engine, end every subscription, close clients and the journal, stop
        an embedded emulator and remove a temporary journal. Idempotent."""
        if self._closed:
            return
        self._closing = True
        try:
            task = self._task
            self._supervisor.stop()
            if task is not None and not task.done():
                await asyncio.wait({task}, timeout=_STOP_WAIT_S)
                if not task.done():  # pragma: no cover - stop() cancels every loop
                    task.cancel()
                    await asyncio.wait({task}, timeout=_STOP_WAIT_S)
            self._end_subscribers(None)
        finally:
            self._closed = True
            await self._resources.aclose()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _parse(stream: str, payload: str) -> Event | None:
    try:
        return parse_event(stream, payload)
    except EventParseError:
        return None


async def _resolve(settings: Settings) -> Target:
    """Resolve in a thread (starting an emulator blocks); if we are cancelled meanwhile,
    the thread still finishes, so stop whatever it started instead of leaking it."""
    from tui_trader.desk.target import resolve

    job = asyncio.ensure_future(asyncio.to_thread(resolve, settings))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:

        def late(done: asyncio.Future[Target]) -> None:
            if not done.cancelled() and done.exception() is None:
                threading.Thread(target=done.result().close, daemon=True).start()

        job.add_done_callback(late)
        raise


def _streams_of_account(
    target: Target, names: tuple[str, ...], *, defaulted: bool
) -> tuple[str, ...]:
    """The streams this account has: a Trading API account has only ``trades`` (over the
    trading websocket unless ``stream.transport = "sse"``); asking it for a Broker-only
    stream by name is an error, not a silent drop."""
    kept = target.streams_for(names)
    missing = [n for n in names if n not in kept]
    if missing and not defaulted:
        raise EventStreamError(
            f"{', '.join(missing)}: Broker API stream(s); a Trading API account has only trades"
        )
    return kept
