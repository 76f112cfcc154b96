"""The supervisor's state, and the status it publishes from it.

:class:`StreamState` is the mutable bookkeeping of one stream (counters, down time, gaps,
heartbeat watch), turned into a frozen :class:`~tui_trader.broker.status.StreamStatus` on
demand. :class:`Bookkeeping` owns the state every job of the supervisor reads and writes
(it is where a :class:`~tui_trader.broker.supervisor.Supervisor` is constructed), and
tells status listeners of each transition. The other jobs build on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from tui_trader.broker.poller import TradePoller
from tui_trader.broker.sse import ROUTES, CadenceMeter, StreamWatch
from tui_trader.broker.status import (
    ConnectionStatus,
    Reconciliation,
    State,
    StreamStatus,
    Transition,
    overall_state,
)
from tui_trader.broker.supervisor.delivered import Delivered
from tui_trader.broker.supervisor.options import SupervisorOptions
from tui_trader.broker.writer import BatchWriter, Record

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal
    from tui_trader.broker.rest import AlpacaREST
    from tui_trader.core.models import Position, WireOrder


log = logging.getLogger("tui_trader.stream")

KEY_HEADER, SECRET_HEADER = "APCA-API-KEY-ID", "APCA-API-SECRET-KEY"


class StreamState:
    """Mutable bookkeeping of one stream, turned into a frozen StreamStatus on demand."""

    def __init__(self, name: str, watch: StreamWatch, now: datetime) -> None:
        self.name = name
        self.state = State.CONNECTING
        self.reason = "starting"
        self.since = now
        self.attempt = 0
        self.next_retry_at: datetime | None = None
        self.last_event_id: str | None = None
        self.last_event_at: str | None = None
        self.last_event_mono: float | None = None
        self.events = 0
        self.rate: deque[tuple[float, int]] = deque(maxlen=64)
        self.reconnects = 0
        self.opened_once = False
        self.down_since: float | None = time.monotonic()
        self.down_since_wall: datetime | None = now
        self.downtime = 0.0
        self.duplicates = 0
        self.gaps = 0
        self.gaps_recovered = 0
        self.pending_gap = False
        self.last_gap: float | None = None  # monotonic time of the latest gap notice
        self.burst_reconciled = False  # a reconnect of this burst already reconciled
        self.quarantined = 0
        self.polled = 0
        self.received = 0  # rows handed to the journal writer, before de-duplication
        self.polling = False
        self.internal_error = False
        self.epoch = 0  # changes with every change of state: one unbroken connection, one value
        self.watch = watch  # its silence bound; the heartbeat cadence is the host's
        self.stalls: deque[tuple[float, float]] = deque(maxlen=32)  # (silence, bound) seen
        self.live_anchor: datetime | None = None
        self.transport = "sse"  # or "websocket": how this stream travels
        self.catch_ups = 0  # REST catch-ups done after websocket connects
        self.catch_up_failures = 0  # and those that gave up (the next connect tries again)

    @property
    def shown_state(self) -> State:
        if self.polling and self.state in (State.BACKOFF, State.CONNECTING):
            return State.POLLING
        return self.state

    def events_per_sec(self, now: float) -> float:
        recent = [(t, n) for t, n in self.rate if now - t <= 10.0]
        if not recent:
            return 0.0
        span = max(now - recent[0][0], 1.0)
        return sum(n for _, n in recent) / span

    def snapshot(self, now_mono: float) -> StreamStatus:
        downtime = self.downtime
        if self.down_since is not None and self.opened_once:
            downtime += now_mono - self.down_since
        return StreamStatus(
            name=self.name,
            state=self.shown_state,
            reason=self.reason,
            since=self.since,
            attempt=self.attempt,
            next_retry_at=self.next_retry_at,
            last_event_id=self.last_event_id,
            last_event_at=self.last_event_at,
            last_event_age=None
            if self.last_event_mono is None
            else round(now_mono - self.last_event_mono, 3),
            events=self.events,
            events_per_sec=self.events_per_sec(now_mono),
            reconnects=self.reconnects,
            downtime=downtime,
            duplicates=self.duplicates,
            gaps=self.gaps,
            gaps_recovered=self.gaps_recovered,
            quarantined=self.quarantined,
            polled=self.polled,
            idle_timeout=self.watch.timeout(now_mono),
            heartbeat_cadence=self.watch.cadence,
            heartbeat_age=None
            if self.watch.last_beat is None
            else round(max(0.0, now_mono - self.watch.last_beat), 3),
            transport=self.transport,
            catch_ups=self.catch_ups,
        )


class Bookkeeping:
    """The shared state of every stream and job, its status snapshot and its transitions."""

    def __init__(
        self,
        rest: AlpacaREST,
        journal: Journal,
        http: httpx.AsyncClient,
        auth_headers: dict[str, str],
        options: SupervisorOptions | None = None,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
        random: Callable[[], float] | None = None,
    ) -> None:
        self.rest = rest
        self.journal = journal
        self.http = http
        self._auth = auth_headers
        self.options = options = options or SupervisorOptions()
        self._sleep = sleep
        self._random = random
        now = datetime.now(UTC)
        unknown = [s for s in options.streams if s not in ROUTES]
        if unknown:
            raise ValueError(f"unknown stream(s): {', '.join(unknown)}")
        # one heartbeat cadence per server, learned from all its streams (the busy trade
        # stream may never show one), keyed by base URL
        self._meters: dict[str, CadenceMeter] = {}
        meter = self._meters.setdefault(
            str(http.base_url), CadenceMeter(options.idle_timeout_ceiling)
        )
        self._streams = {
            name: StreamState(
                name,
                StreamWatch(
                    meter, stall_events=options.stall_events, stall_floor=options.stall_floor
                ),
                now,
            )
            for name in options.streams
        }
        trades = self._streams.get("trades")
        if trades is not None and options.transport == "websocket":
            if KEY_HEADER in auth_headers and SECRET_HEADER in auth_headers:
                trades.transport = "websocket"
            else:  # the Broker API's Basic auth: it has no trading websocket
                log.warning("no trading websocket without Trading API keys: SSE it is")
        self._event_listeners: list[Callable[[list[Delivered]], None]] = []
        self._holds: list[Callable[[int], Awaitable[object] | None]] = []  # Supervisor.hold
        self._before_commit: list[Callable[[list[Record]], None]] = []
        self._writer: BatchWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.journal_error: str | None = None
        self._status_listeners: list[Callable[[Transition, ConnectionStatus], None]] = []
        self._reconcile_listeners: list[Callable[[list[Position], list[WireOrder]], None]] = []
        self._queues: list[asyncio.Queue[Delivered]] = []
        self._stopping = asyncio.Event()
        self._reconciliation: Reconciliation | None = None
        self._reconcile_lock = asyncio.Lock()
        self._reconciles: set[asyncio.Task[None]] = set()  # pending or running
        self._poll_after_wall: datetime | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.auth_failure: str | None = None
        self._catchups: set[asyncio.Task[None]] = set()
        self._catch_up_lock = asyncio.Lock()
        self._catch_up_waiting = False
        # the websocket's updates held back while a catch-up runs (released after it)
        self._held: list[str] = []
        self._holding = False
        self._catch_up_poller: TradePoller | None = None
        self._poller = (
            TradePoller(rest, overlap=options.overlap, first_overlap=options.long_overlap)
            if options.poll and "trades" in self._streams
            else None
        )

    def status(self) -> ConnectionStatus:
        now = time.monotonic()
        streams = tuple(s.snapshot(now) for s in self._streams.values())
        return ConnectionStatus(
            state=overall_state([s.state for s in streams]),
            streams=streams,
            reconciliation=self._reconciliation,
            reconciling=self.reconciling,
        )

    def _outage(self, s: StreamState) -> float:
        return 0.0 if s.down_since is None else time.monotonic() - s.down_since

    def _went_down(self, s: StreamState) -> None:
        if s.down_since is None:
            s.down_since = time.monotonic()
            s.down_since_wall = datetime.now(UTC)

    # -------------------------------------------------------------------------- status
    def _transition(
        self,
        s: StreamState,
        state: State,
        reason: str,
        *,
        attempt: int = 0,
        next_retry_at: datetime | None = None,
        delay: float | None = None,
        retry_after: float | None = None,
    ) -> None:
        before = s.shown_state
        if state is not s.state:
            s.epoch += 1
        s.state, s.reason = state, reason
        s.attempt, s.next_retry_at = attempt, next_retry_at
        if s.shown_state is before and state is not State.BACKOFF:
            return
        s.since = datetime.now(UTC)
        transition = Transition(
            s.name, s.shown_state, reason, s.since, attempt, next_retry_at, delay, retry_after
        )
        log.info(
            "transition",
            extra={
                "stream": s.name,
                "state": str(s.shown_state),
                "reason": reason,
                "attempt": attempt,
            },
        )
        if self._status_listeners:
            status = self.status()
            for listener in self._status_listeners:
                listener(transition, status)

    @property
    def reconciling(self) -> bool:
        """A reconciliation is pending or running: from the start, and from a reconnect that
        asked for one, until it completes or fails. Bounded: one that has not finished within
        ``reconcile_timeout`` seconds (the REST client's own retries included) is abandoned
        as failed, so this never holds for longer than that. The STREAM breaker's input."""
        return bool(self._reconciles)


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
