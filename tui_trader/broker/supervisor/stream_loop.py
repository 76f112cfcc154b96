"""The per-stream loop: connect, read, and on each kind of drop decide how long to wait.

A gap reconnects at once from the cursor (a second one within ``gap_window`` backs off);
a drop, a refusal or a stall backs off (a stall's silence counting toward it); a stream
the server does not offer is asked for again slowly; two authentication refusals in a row
stop everything in AUTH_FAILED. A reconnect that proves healthy ends a burst; the first
reconnect of a burst asks for a reconciliation.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from datetime import UTC, datetime, timedelta

from tui_trader.broker.sse import (
    ROUTES,
    AuthRejected,
    StreamClosed,
    StreamGap,
    StreamRefused,
    StreamStalled,
    StreamUnavailable,
    read_stream,
)
from tui_trader.broker.status import State
from tui_trader.broker.supervisor.bookkeeping import StreamState
from tui_trader.broker.supervisor.catch_up import CatchUp
from tui_trader.broker.supervisor.reconciler import Reconciler
from tui_trader.core.backoff import BackoffPolicy, ReconnectStrategy

log = logging.getLogger("tui_trader.stream")

AUTH_ATTEMPTS = 2
# a 401 can be a blip at a proxy; twice in a row (nothing else between) is a verdict


class StreamLoop(CatchUp, Reconciler):
    """One connect/read/backoff loop per stream, with its gap, refusal and auth rules."""

    async def _run_stream(self, name: str) -> None:
        s = self._streams[name]
        route = ROUTES[name]
        strategy = self._strategy(self.options.backoff)
        unoffered = self._strategy(self.options.unoffered_backoff)  # 404/410/400: slowly
        auth_failures = 0
        overlap = self.options.overlap
        reason = "starting"
        socket = self._uses_socket(name)  # the trading websocket: no cursor, no replay
        while not self._stopping.is_set():
            retry_after: float | None = None
            attempt: int | None = None  # None: the drop schedule's own count
            self._transition(s, State.CONNECTING, reason)

            def opened(s: StreamState = s) -> None:
                strategy.connected()
                unoffered.reset()
                self._opened(s)

            try:
                if socket:
                    await self._read_socket(s, opened)
                else:
                    await read_stream(
                        self.http,
                        route,
                        await self._resume_params(s, route.version, overlap),
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
                if socket and exc.status == 429:
                    # Alpaca allows one trading websocket per account and holds a vanished
                    # one for a while (API.md §11.3.4): asking again soon only earns a 429
                    delay = max(delay, self.options.refused_floor)
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

    def _repeated_gap(self, s: StreamState) -> bool:
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

    def _opened(self, s: StreamState) -> None:
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


def _span(seconds: float) -> str:
    """A wait as a person reads it: ``45 s``, ``10 min``, ``3.2 h``, ``1157 days``."""
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.3g} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.3g} h"
    return f"{seconds / 86_400:.0f} days"
