"""The connection supervisor: keeps every event stream alive and every event exactly once.

Per stream, one loop: connect (resuming a little *before* the last journaled event, because
same-millisecond ULIDs can sort out of order, API.md §2.5), hand each chunk's events to the
journal (which drops duplicates by ``(stream, id)`` and by fact), commit, and only then
publish. A drop backs off (exponential, jittered, Retry-After honoured up to a ceiling); a
``dropped N messages`` comment reconnects at once from the last event before it, and a
second one within ``gap_window`` backs off like any drop; a silence longer than the stream's
bound (3 heartbeat periods of the host, learned from all its streams; see
:class:`~tui_trader.broker.sse.StreamWatch`) ends the connection, and that silence counts
toward the backoff; 401/403 twice in a row end in AUTH_FAILED instead of a retry loop. A
stream the server does not offer (404/410/400) is asked for again slowly (60 s doubling to
15 min). While the trade stream stays down past a threshold, or is not offered, REST
polling (:mod:`tui_trader.broker.poller`) delivers fills and order changes, keyed by the same
facts the stream will carry when it returns, so nothing arrives twice; a recent poll counts
as delivering (:meth:`Supervisor.trades_delivering`). Positions and open orders are
reconciled over REST at start and once per reconnect burst (a burst ends when a connection
has stayed up ``healthy_after``); :attr:`Supervisor.reconciling` says when one is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import operator
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from tui_trader.broker.poller import TradePoller
from tui_trader.broker.sse import (
    ROUTES,
    AuthRejected,
    CadenceMeter,
    Comment,
    Frame,
    StreamClosed,
    StreamGap,
    StreamRefused,
    StreamStalled,
    StreamUnavailable,
    StreamWatch,
    read_stream,
)
from tui_trader.broker.status import (
    ConnectionStatus,
    Reconciliation,
    State,
    StreamStatus,
    Transition,
    overall_state,
)
from tui_trader.broker.writer import BatchWriter, Record, Row
from tui_trader.core.backoff import BackoffPolicy, ReconnectStrategy
from tui_trader.core.events import Event, EventParseError, TradeEvent, parse_event
from tui_trader.core.fastparse import fact_of, trade_facts
from tui_trader.core.types import format_decimal, format_timestamp, parse_timestamp

if TYPE_CHECKING:
    from tui_trader.broker.journal import Journal
    from tui_trader.broker.rest import AlpacaREST
    from tui_trader.config import StreamSettings
    from tui_trader.core.models import Position, WireOrder

log = logging.getLogger("tui_trader.stream")
_new = tuple.__new__
_ROW = operator.itemgetter(1)  # (rowid, Row) -> Row
_STREAM_SOURCE = operator.itemgetter(0, 6)  # Row -> (stream, source)

AUTH_ATTEMPTS = 2
# a 401 can be a blip at a proxy; twice in a row (nothing else between) is a verdict
RECONCILE_TRIES = 3  # REST snapshots taken before giving up on a quiet moment
POLL_FRESH = 3  # polls count as delivering while the last one is this many intervals old


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


@dataclass
class SupervisorOptions:
    streams: tuple[str, ...] = ("trades", "accounts", "nta")
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    idle_timeout_ceiling: float = 60.0
    # before any heartbeat is known: silent for max(stall_events / rate, stall_floor) is dead
    stall_events: float = 100.0
    stall_floor: float = 20.0
    poll_after: float = 15.0  # seconds the trade stream must be down before polling starts
    poll_interval: float = 2.0
    overlap: float = 5.0  # seconds of resume overlap after a brief drop
    long_overlap: float = 120.0  # after a gap, an internal error or a long outage
    long_outage: float = 60.0
    since: datetime | None = None  # first start with an empty journal: replay from here
    gap_window: float = 30.0  # a gap this soon after the previous one backs off
    gap_floor: float = 1.0  # and waits at least this long
    reconcile_timeout: float = 30.0  # a reconciliation still unanswered by then has failed
    # a stream the server does not offer (404/410/400) is asked again slowly
    unoffered_backoff: BackoffPolicy = field(
        default_factory=lambda: BackoffPolicy(base=60.0, factor=2.0, cap=900.0)
    )
    reconcile: bool = True
    poll: bool = True

    @classmethod
    def from_settings(
        cls, s: StreamSettings, *, streams: tuple[str, ...], since: datetime | None = None
    ) -> SupervisorOptions:
        return cls(
            streams=streams,
            backoff=s.backoff(),
            idle_timeout_ceiling=s.idle_timeout_ceiling_seconds,
            stall_events=s.stall_events,
            stall_floor=s.stall_floor_seconds,
            poll_after=s.poll_after_seconds,
            poll_interval=s.poll_interval_seconds,
            reconcile_timeout=s.reconcile_timeout_seconds,
            unoffered_backoff=BackoffPolicy(
                base=s.not_offered_retry_base_seconds,
                factor=2.0,
                cap=s.not_offered_retry_cap_seconds,
                jitter=s.jitter,
                retry_after_ceiling=s.retry_after_ceiling_seconds,
            ),
            overlap=s.resume_overlap_seconds,
            gap_window=s.gap_repeat_window_seconds,
            gap_floor=s.gap_backoff_floor_seconds,
            since=since,
        )


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


class _StreamState:
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
        self.watch = watch  # its silence bound; the heartbeat cadence is the host's
        self.stalls: deque[tuple[float, float]] = deque(maxlen=32)  # (silence, bound) seen
        self.live_anchor: datetime | None = None

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
        )


class Supervisor:
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
            name: _StreamState(
                name,
                StreamWatch(
                    meter, stall_events=options.stall_events, stall_floor=options.stall_floor
                ),
                now,
            )
            for name in options.streams
        }
        self._event_listeners: list[Callable[[list[Delivered]], None]] = []
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
        self._poller = (
            TradePoller(rest, overlap=options.overlap, first_overlap=options.long_overlap)
            if options.poll and "trades" in self._streams
            else None
        )

    # ------------------------------------------------------------------- public surface
    def on_events(self, listener: Callable[[list[Delivered]], None]) -> None:
        """Called on the loop with each committed batch of new events, in order."""
        self._event_listeners.append(listener)

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

    def status(self) -> ConnectionStatus:
        now = time.monotonic()
        streams = tuple(s.snapshot(now) for s in self._streams.values())
        return ConnectionStatus(
            state=overall_state([s.state for s in streams]),
            streams=streams,
            reconciliation=self._reconciliation,
            reconciling=self.reconciling,
        )

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
            for task in [*self._tasks, *self._reconciles]:
                task.cancel()
            await asyncio.gather(*self._tasks, *self._reconciles, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._writer.drain()
            await asyncio.to_thread(self._writer.close)
            for s in self._streams.values():
                if s.state is not State.AUTH_FAILED:
                    self._transition(s, State.STOPPED, "stopped")

    # ----------------------------------------------------------------------- streaming
    async def _run_stream(self, name: str) -> None:
        s = self._streams[name]
        route = ROUTES[name]
        strategy = self._strategy(self.options.backoff)
        unoffered = self._strategy(self.options.unoffered_backoff)  # 404/410/400: slowly
        auth_failures = 0
        overlap = self.options.overlap
        reason = "starting"
        while not self._stopping.is_set():
            retry_after: float | None = None
            attempt: int | None = None  # None: the drop schedule's own count
            self._transition(s, State.CONNECTING, reason)
            params = await self._resume_params(s, route.version, overlap)

            def opened(s: _StreamState = s) -> None:
                strategy.connected()
                unoffered.reset()
                self._opened(s)

            try:
                await read_stream(
                    self.http,
                    route,
                    params,
                    self._auth,
                    s.watch,
                    functools.partial(self._on_frames, s),
                    opened,
                    self._backpressure,
                )
            except StreamGap as gap:
                if strategy.disconnected():
                    s.burst_reconciled = False  # it had been healthy: a new burst begins
                self._went_down(s)
                s.gaps += 1
                s.pending_gap = True
                overlap = self.options.long_overlap
                reason = gap.reason
                log.warning("gap", extra={"stream": name, "dropped": gap.dropped})
                auth_failures = 0
                if not self._repeated_gap(s):
                    continue  # the first gap in a while: re-read it from the cursor at once
                # a server that keeps dropping: back off like any drop, never below the floor
                delay = max(strategy.next_delay(), self.options.gap_floor)
            except AuthRejected as exc:
                auth_failures += 1
                self._went_down(s)
                if auth_failures >= AUTH_ATTEMPTS:
                    self.auth_failure = exc.reason
                    self._transition(s, State.AUTH_FAILED, exc.reason)
                    log.error("authentication failed", extra={"stream": name, "reason": exc.reason})
                    self._stopping.set()
                    for task in self._tasks:
                        if task is not asyncio.current_task():
                            task.cancel()
                    return
                delay = strategy.next_delay()
                reason = exc.reason
            except StreamUnavailable as exc:
                # a Trading-API host may never offer it, a proxy may 404 for a while: ask
                # again slowly for as long as we run, and poll REST for trades meanwhile
                self._went_down(s)
                auth_failures = 0
                delay = unoffered.next_delay()
                attempt = unoffered.attempt
                polling = name == "trades" and self.options.poll
                s.polling = s.polling or polling
                reason = f"not offered ({exc.reason}), retrying in {_span(delay)}"
                if polling:
                    reason += "; polling"
                log.warning(
                    "stream not offered",
                    extra={"stream": name, "reason": exc.reason, "delay": round(delay, 3)},
                )
            except StreamRefused as exc:
                self._went_down(s)
                auth_failures = 0  # "twice in a row" means with nothing else in between
                delay = strategy.next_delay(
                    retry_after=exc.retry_after, rate_limit_reset=exc.rate_limit_reset
                )
                retry_after = exc.retry_after
                reason = exc.reason
                cut = strategy.last_cut
                if cut is not None:
                    reason += f"; asked to wait {_span(cut)}, waiting {_span(delay)} (ceiling)"
                    log.warning(
                        "retry-after cut to the ceiling",
                        extra={"stream": name, "asked": cut, "delay": round(delay, 3)},
                    )
            except StreamClosed as exc:
                if strategy.disconnected():
                    s.burst_reconciled = False
                self._went_down(s)
                delay = strategy.next_delay()
                reason = exc.reason
                auth_failures = 0
                if isinstance(exc, StreamStalled):
                    # the silence already waited that long: it counts toward the backoff
                    s.stalls.append((exc.silence, exc.bound))
                    delay = max(0.0, delay - exc.silence)
                    log.warning(
                        "stalled",
                        extra={"stream": name, "silence": round(exc.silence, 3)},
                    )
            else:  # pragma: no cover - read_stream always raises
                continue
            overlap = (
                self.options.long_overlap
                if (s.pending_gap or s.internal_error or self._outage(s) > self.options.long_outage)
                else self.options.overlap
            )
            s.internal_error = False
            if delay <= 0:
                continue  # nothing to wait for (a stall already waited): connect at once
            at = datetime.now(UTC) + timedelta(seconds=delay)
            attempt = strategy.attempt if attempt is None else attempt
            self._transition(
                s,
                State.BACKOFF,
                reason,
                attempt=attempt,
                next_retry_at=at,
                delay=delay,
                retry_after=retry_after,
            )
            log.info(
                "reconnect scheduled",
                extra={
                    "stream": name,
                    "delay": round(delay, 3),
                    "attempt": attempt,
                    "reason": reason,
                },
            )
            await self._wait(delay)

    def _strategy(self, policy: BackoffPolicy) -> ReconnectStrategy:
        if self._random is not None:
            return ReconnectStrategy(policy, random=self._random)
        return ReconnectStrategy(policy)

    def _repeated_gap(self, s: _StreamState) -> bool:
        """Whether this gap came within ``gap_window`` of the previous one (and so backs off)."""
        now = time.monotonic()
        last, s.last_gap = s.last_gap, now
        return last is not None and now - last < self.options.gap_window

    async def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()

    def _outage(self, s: _StreamState) -> float:
        return 0.0 if s.down_since is None else time.monotonic() - s.down_since

    async def _resume_params(self, s: _StreamState, version: str, overlap: float) -> dict[str, str]:
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

    def _opened(self, s: _StreamState) -> None:
        if s.down_since is not None and s.opened_once:
            s.downtime += time.monotonic() - s.down_since
            s.reconnects += 1
        s.down_since = None
        s.down_since_wall = None
        if s.pending_gap:
            s.gaps_recovered += 1
            s.pending_gap = False
        first = not s.opened_once
        s.opened_once = True
        s.polling = False
        self._transition(s, State.STREAMING, "connected" if first else "reconnected")
        if self.options.reconcile and s.name == "trades" and not first and not s.burst_reconciled:
            # once per reconnect burst: a burst ends when a connection proves healthy
            # (lasts ``healthy_after``), so a flapping stream does not reconcile per connection
            s.burst_reconciled = True
            self._schedule_reconcile("reconcile")

    def _went_down(self, s: _StreamState) -> None:
        if s.down_since is None:
            s.down_since = time.monotonic()
            s.down_since_wall = datetime.now(UTC)

    def _on_frames(self, s: _StreamState, frames: list[Frame]) -> None:
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

    def _backpressure(self) -> Awaitable[None] | None:
        writer = self._writer
        return writer.room() if writer is not None and writer.congested else None

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

    def _writer_failed(self, exc: BaseException) -> None:
        self.journal_error = f"journal write failed: {type(exc).__name__}: {exc}"
        log.error("stopping: the journal cannot be written", extra={"error": str(exc)[:200]})
        self.stop()

    # -------------------------------------------------------------------------- status
    def _transition(
        self,
        s: _StreamState,
        state: State,
        reason: str,
        *,
        attempt: int = 0,
        next_retry_at: datetime | None = None,
        delay: float | None = None,
        retry_after: float | None = None,
    ) -> None:
        before = s.shown_state
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

    # ---------------------------------------------------------------------- reconciling
    @property
    def reconciling(self) -> bool:
        """A reconciliation is pending or running: from the start, and from a reconnect that
        asked for one, until it completes or fails. Bounded: one that has not finished within
        ``reconcile_timeout`` seconds (the REST client's own retries included) is abandoned
        as failed, so this never holds for longer than that. The STREAM breaker's input."""
        return bool(self._reconciles)

    def _schedule_reconcile(self, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(self._reconcile_bounded(), name=name)
        first = not self._reconciles
        self._reconciles.add(task)
        task.add_done_callback(self._reconcile_done)
        if first:
            self._announce("reconciling")
        return task

    async def _reconcile_bounded(self) -> None:
        try:
            async with asyncio.timeout(self.options.reconcile_timeout):
                await self._reconcile()
        except TimeoutError:
            limit = self.options.reconcile_timeout
            self._reconciliation = Reconciliation(
                datetime.now(UTC), {}, 0, error=f"no answer within {limit:g} s"
            )
            log.warning("reconciliation timed out", extra={"seconds": limit})

    def _reconcile_done(self, task: asyncio.Task[None]) -> None:
        self._reconciles.discard(task)
        if self._reconciles or self._stopping.is_set():
            return
        rec = self._reconciliation
        failed = rec is not None and rec.error is not None
        self._announce(f"reconcile failed: {rec.error}" if failed and rec else "reconciled")

    def _announce(self, reason: str) -> None:
        """A connection-wide change (reconciling, reconciled) told to the status listeners
        as a transition of the trade stream (or the first one), so they re-evaluate."""
        if not self._status_listeners or not self._streams:
            return
        s = self._streams.get("trades") or next(iter(self._streams.values()))
        transition = Transition(s.name, s.shown_state, reason, datetime.now(UTC))
        status = self.status()
        for listener in self._status_listeners:
            listener(transition, status)

    async def _reconcile(self) -> None:
        """Positions and open orders from REST, told to the listeners (the ledger adopts them).

        A snapshot is only good if no trade event arrived while it was being taken: a fill
        applied to the ledger during the request would otherwise be undone by a position
        list read before it ("broker is flat"). Such a snapshot is taken again (a few times),
        after the journal writer has applied everything already received.
        """
        async with self._reconcile_lock:
            at = datetime.now(UTC)
            trades = self._streams.get("trades")
            try:
                for _ in range(RECONCILE_TRIES):
                    seen = trades.received if trades is not None else 0
                    positions = await self.rest.list_positions()
                    orders = await self.rest.list_orders(status="open")
                    if self._writer is not None:
                        await self._writer.drain()
                    if trades is None or trades.received == seen:
                        break
                else:
                    self._reconciliation = Reconciliation(
                        at, {}, 0, error="trade events kept arriving; the stream is the record"
                    )
                    log.info("reconciliation skipped: trade events arrived during every try")
                    return
            except Exception as exc:  # shown, not fatal: the next reconnect tries again
                self._reconciliation = Reconciliation(at, {}, 0, error=_short(exc))
                log.warning("reconciliation failed", extra={"error": _short(exc)})
                return
            for reconcile_listener in self._reconcile_listeners:
                reconcile_listener(positions, orders)
            book = {p.symbol: format_decimal(p.signed_qty) for p in positions}
            self._reconciliation = Reconciliation(at, book, len(orders))
            log.info("reconciled", extra={"positions": len(book), "open_orders": len(orders)})

    # -------------------------------------------------------------------------- polling
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
                log.warning("poll failed", extra={"error": _short(exc)})
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

    def _poll_anchor(self, s: _StreamState) -> datetime | None:
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


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _span(seconds: float) -> str:
    """A wait as a person reads it: ``45 s``, ``10 min``, ``3.2 h``, ``1157 days``."""
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86_400:.0f} days"


__all__ = ["Delivered", "Supervisor", "SupervisorOptions", "fact_for"]
