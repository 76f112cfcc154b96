"""The SSE event streams: cursor rules, replay then live tail, heartbeats and stream faults.

Wire framing (API.md §2.3): each event is one ``data: <compact json>`` line and a blank line;
comments start with ``:``; no ``event:``/``id:``/``retry:`` fields. Cursor rules (§2.2, §9):
``since_id`` is exclusive, ``until_id`` inclusive, a ``since``/``until`` time is compared with
the event's ``at``; without a starting point the stream is live only; when an end point is
reached the body ends normally. A bad combination is a 400 with code 40010000.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tui_trader.sim import errors
from tui_trader.sim.emulator import Emulator
from tui_trader.sim.eventlog import EventLog, StoredEvent
from tui_trader.sim.exchange import parse_query_time
from tui_trader.sim.faults import StreamFault
from tui_trader.sim.gate import ABORT_KEY

HEARTBEAT = b":heartbeat\n\n"
BATCH = 64  # events joined into one write while replaying a backlog
DEFAULT_MALFORMED = 'data: {"event":"fill","order":{"id":"truncated'


@dataclass
class Cursor:
    """Where a connection starts and ends, resolved from its query string."""

    start: int
    live_from: int
    after_key: Callable[[StoredEvent], bool] | None = None  # replayed events must pass this
    beyond_end: Callable[[StoredEvent], bool] | None = None  # True: past the end point
    until_time: datetime | None = None
    since_time: datetime | None = None  # a time start filters live events too
    inclusive_end: Callable[[StoredEvent], bool] | None = None  # True: last one to send


def _legacy_int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f"invalid {name}: must be an integer on v1 streams") from None


def resolve_cursor(log: EventLog, params: dict[str, str], version: str) -> Cursor:
    """Apply the documented rules; raise a 400 ApiFailure for a bad combination."""
    p = {k: v for k, v in params.items() if v != ""}
    since, until = p.get("since"), p.get("until")
    since_id, until_id = p.get("since_id"), p.get("until_id")
    since_ulid, until_ulid = p.get("since_ulid"), p.get("until_ulid")
    if until is not None and since is None:
        raise errors.bad_request("until requires since")
    if until_id is not None and since_id is None:
        raise errors.bad_request("until_id requires since_id")
    if until_ulid is not None and since_ulid is None:
        raise errors.bad_request("until_ulid requires since_ulid")
    if version == "v2":
        if since is not None and since_id is not None:
            raise errors.bad_request("since and since_id cannot be used together")
        if since_ulid is not None or until_ulid is not None:
            raise errors.bad_request("since_ulid and until_ulid are v1 parameters; use since_id")
    else:
        starts = [x for x in (since, since_id, since_ulid) if x is not None]
        if len(starts) > 1:
            raise errors.bad_request("only one of since, since_id and since_ulid may be given")
    live_from = log.end
    since_t = parse_query_time(since, "since")
    until_t = parse_query_time(until, "until")
    cursor = Cursor(start=live_from, live_from=live_from, until_time=until_t, since_time=since_t)

    ulid_start = since_id if version == "v2" else since_ulid
    ulid_end = until_id if version == "v2" else until_ulid
    if ulid_start is not None:
        cursor.start = log.index_after_ulid(ulid_start)
        cursor.after_key = lambda e, k=ulid_start: e.ulid > k
    elif version != "v2" and since_id is not None:
        legacy = _legacy_int(since_id, "since_id")
        cursor.start = log.index_after_legacy(legacy)
        cursor.after_key = lambda e, k=legacy: e.legacy_id > k
    elif since_t is not None:
        cursor.start = log.index_at_or_after(since_t)
    if ulid_end is not None:
        cursor.beyond_end = lambda e, k=ulid_end: e.ulid > k
        cursor.inclusive_end = lambda e, k=ulid_end: e.ulid == k
    elif version != "v2" and until_id is not None:
        legacy_end = _legacy_int(until_id, "until_id")
        cursor.beyond_end = lambda e, k=legacy_end: e.legacy_id > k
        cursor.inclusive_end = lambda e, k=legacy_end: e.legacy_id == k
    cursor.start = max(cursor.start, log.first_index())  # older than retention: oldest kept
    return cursor


def _notice(dropped: int) -> bytes:
    return f": you are reading too slowly, dropped {dropped} messages\n\n".encode()


class EventStreamer:
    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator

    def routes(self) -> list[Route]:
        return [
            Route("/v2/events/trades", self._handler("trades", "v2"), methods=["GET"]),
            Route("/v2beta1/events/trades", self._handler("trades", "v2"), methods=["GET"]),
            Route("/v1/events/trades", self._handler("trades", "v1"), methods=["GET"]),
            Route("/v1/events/accounts/status", self._handler("accounts", "v1"), methods=["GET"]),
            Route("/v1/events/nta", self._handler("nta", "v1"), methods=["GET"]),
        ]

    def _handler(self, stream: str, version: str) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            return await self.open(request, stream, version)

        return handle

    async def open(self, request: Request, stream: str, version: str) -> Response:
        if not self._offered(request, stream, version):  # as the real Trading host answers
            raise errors.ApiFailure(404, errors.NOT_FOUND, "endpoint not found")
        refused = self.emu.faults.take_not_offered(stream)
        if refused is not None:  # as a host without the route answers: 404 like any unknown
            message = {404: "endpoint not found", 410: "this endpoint has been removed"}
            raise errors.ApiFailure(
                refused, refused * 100_000 + 10_000, message.get(refused, "bad request")
            )
        if stream == "trades" and version == "v1" and not self.emu.config.legacy_v1_trades:
            raise errors.ApiFailure(
                410, 41010000, "this endpoint has been removed; use /v2/events/trades"
            )
        log = self.emu.exchange.logs[stream]
        params = dict(request.query_params)
        cursor = resolve_cursor(log, params, version)
        if stream == "nta" and params.get("group_id"):
            from tui_trader.sim.ids import normalise_uuid

            if normalise_uuid(params["group_id"]) is None:
                raise errors.bad_request("invalid group_id")
        if not self.emu.open_connection(stream):
            raise errors.ApiFailure(
                429, errors.RATE_LIMITED, "too many connections", headers={"Retry-After": "1"}
            )
        legacy_trades = stream == "trades" and version == "v1"
        abort: Callable[[], None] = request.scope[ABORT_KEY]
        body = self._body(stream, log, cursor, legacy_trades, abort)
        return StreamingResponse(
            body,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def _offered(self, request: Request, stream: str, version: str) -> bool:
        """Whether this path exists for the request's keys: Broker (Basic) keys get every
        stream; Trading keys (key headers) get ``/v2/events/trades`` only as the courtesy
        ``trading_sse`` and the Broker-only paths only with ``broker_streams_for_trading_keys``.
        """
        if request.headers.get("authorization", "")[:6].lower() == "basic ":
            return True
        cfg = self.emu.config
        if stream == "trades" and version == "v2" and request.url.path.startswith("/v2/"):
            return cfg.trading_sse
        return cfg.broker_streams_for_trading_keys

    async def _body(
        self,
        stream: str,
        log: EventLog,
        cursor: Cursor,
        legacy_trades: bool,
        abort: Callable[[], None],
    ) -> AsyncIterator[bytes]:
        emu = self.emu
        faults = emu.faults
        fault: StreamFault | None = faults.take_stream(stream)
        index = cursor.start
        sent = 0
        skip = 0
        hold = 0  # gap_burst: events still to join the write that carries the notice
        emu.track(id(abort), abort)
        chunk: list[bytes] = []
        last_write = last_beat = time.monotonic()
        fixed = emu.config.heartbeat_mode == "fixed"
        try:
            while not emu.is_closing:
                # ---- faults fire once the connection has sent enough events
                if fault is not None and sent >= fault.after_events and fault.kind == "gap_burst":
                    # no flush first: what is pending, the notice and what follows go as one
                    current, fault = fault, None
                    faults.fired(current.kind)
                    chunk.append(_notice(current.dropped))
                    skip, hold = current.dropped, current.burst
                    continue
                if fault is not None and sent >= fault.after_events:
                    if chunk:
                        yield b"".join(chunk)
                        chunk = []
                    current, fault = fault, None
                    faults.fired(current.kind)
                    outcome = await self._fire(current, abort)
                    if outcome == "end":
                        return
                    if isinstance(outcome, bytes):
                        yield outcome
                    if current.kind == "internal_error":
                        return
                    if current.kind == "slow_reader":
                        skip = current.dropped
                    elif current.kind == "stall_heartbeats":
                        async for beat in self._heartbeats(current.seconds):
                            yield beat
                    last_write = time.monotonic()
                    continue
                event = log.get(index)
                if event is None:
                    if index < log.first_index():
                        lost, index = log.first_index() - index, log.first_index()
                        yield _notice(lost)
                        continue
                    if chunk:
                        yield b"".join(chunk)
                        chunk = []
                        last_write = time.monotonic()
                    hold = 0  # caught up: the burst is whatever there was
                    if cursor.until_time is not None and emu.exchange.now() > cursor.until_time:
                        return
                    cadence = emu.config.heartbeat_seconds
                    since = last_beat if fixed else last_write  # idle: since any write
                    wait = max(0.0, cadence - (time.monotonic() - since))
                    arrived = await log.wait_beyond(index, wait)
                    due = time.monotonic() - since >= cadence * 0.999
                    if not arrived and not emu.is_closing and due:
                        yield HEARTBEAT
                        last_write = last_beat = time.monotonic()
                    continue
                index += 1
                if (
                    index - 1 < cursor.live_from
                    and cursor.after_key
                    and not cursor.after_key(event)
                ):
                    continue
                if cursor.beyond_end is not None and cursor.beyond_end(event):
                    break
                if cursor.until_time is not None and event.at > cursor.until_time:
                    break
                if cursor.since_time is not None and event.at < cursor.since_time:
                    continue
                if skip > 0:
                    skip -= 1  # "dropped N messages": never sent on this connection
                    if cursor.inclusive_end is not None and cursor.inclusive_end(event):
                        break  # the end point was among them: the replay is over
                    continue
                chunk.append(b"data: " + self._render(event, legacy_trades) + b"\n\n")
                sent += 1
                if fixed and time.monotonic() - last_beat >= emu.config.heartbeat_seconds:
                    chunk.append(HEARTBEAT)  # on time, whatever the traffic
                    last_beat = time.monotonic()
                if cursor.inclusive_end is not None and cursor.inclusive_end(event):
                    break
                chaos = faults.chaos_event() if faults.chaos else None
                if chaos is not None and fault is None:
                    fault = chaos.model_copy(update={"after_events": sent})
                if hold > 0:
                    hold -= 1
                    if hold > 0 and index < log.end:
                        continue  # the burst is not complete: keep it in this one write
                    hold = 0
                elif len(chunk) < BATCH and index < log.end:
                    continue
                if chunk:
                    yield b"".join(chunk)
                    chunk = []
                    last_write = time.monotonic()
            if chunk:
                yield b"".join(chunk)
        finally:
            emu.track(id(abort), None)
            emu.close_connection(stream)

    async def _fire(self, fault: StreamFault, abort: Callable[[], None]) -> str | bytes | None:
        kind = fault.kind
        if kind == "drop":
            abort()
            await asyncio.sleep(0)
            return "end"
        if kind == "eof":
            return "end"
        if kind == "stall":
            await self._sleep(fault.seconds)
            return None
        if kind == "slow_reader":
            return _notice(fault.dropped)
        if kind == "internal_error":
            return b": internal server error\n\n"  # and the body ends right after
        if kind == "malformed":
            line = fault.line if fault.line is not None else DEFAULT_MALFORMED
            if not line.startswith(("data:", ":")):
                line = "data: " + line
            return line.encode() + b"\n\n"
        return None

    async def _sleep(self, seconds: float) -> None:
        closing = self.emu.closing
        if closing is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closing.wait(), seconds)

    async def _heartbeats(self, seconds: float) -> AsyncIterator[bytes]:
        end = time.monotonic() + seconds
        beat = max(0.01, self.emu.config.heartbeat_seconds)
        while not self.emu.is_closing:
            left = end - time.monotonic()
            if left <= 0:
                return
            await self._sleep(min(beat, left))
            yield HEARTBEAT

    @staticmethod
    def _render(event: StoredEvent, legacy_trades: bool) -> bytes:
        if not legacy_trades:
            return event.line.encode()
        payload: dict[str, Any] = json.loads(event.line)
        payload["event_ulid"] = payload.get("event_id")
        payload["event_id"] = event.legacy_id
        return json.dumps(payload, separators=(",", ":")).encode()
