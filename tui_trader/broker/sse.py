"""One SSE connection to one Alpaca event stream, read line by line with comments kept.

httpx-sse's public iterators drop every ``:`` line, but the comments carry meaning here
(API.md §2.3): ``:heartbeat`` proves the server alive, ``dropped N messages`` means a gap to
re-read from the cursor, ``internal server error`` precedes a close. So the raw body is fed
through httpx-sse's own line and event decoders with comments intercepted first.

A connection ends with exactly one :class:`StreamClosed` subclass saying why, so the supervisor
can choose between backing off, resuming at once and giving up. Frames are handed over in
batches (one per network chunk) to a synchronous handler: journaling and publishing are
synchronous, and a per-event ``await`` would cost more than the work itself.
"""

from __future__ import annotations

import asyncio
import codecs
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import httpcore
import httpx
from httpx_sse._decoders import SSEDecoder, SSELineDecoder  # the decoders, not the iterators

from tui_trader.core.backoff import parse_retry_after
from tui_trader.core.models import ApiError

StreamName = Literal["trades", "accounts", "nta"]

READ_BYTES = 256 * 1024
"""Most an HTTP/1.1 connection reads at once: what asyncio's own transport reads per call.

httpcore asks for 64 KiB at a time, so a fast stream paid its per-read overhead (h11, anyio,
httpx, and a pass of the loop here) every ~50 events; 256 KiB measured ~7% less CPU on
``bench/ingest.py``. httpx has no setting for it, so httpcore's class attribute is raised
here (asserted by a test, so that an httpcore that renames it fails loudly)."""
if getattr(httpcore.AsyncHTTP11Connection, "READ_NUM_BYTES", READ_BYTES) < READ_BYTES:
    httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = READ_BYTES


@dataclass(frozen=True)
class StreamRoute:
    name: StreamName
    path: str
    version: Literal["v1", "v2"]


ROUTES: dict[str, StreamRoute] = {
    "trades": StreamRoute("trades", "/v2/events/trades", "v2"),
    "accounts": StreamRoute("accounts", "/v1/events/accounts/status", "v1"),
    "nta": StreamRoute("nta", "/v1/events/nta", "v1"),
}

_DROPPED = re.compile(r"dropped\s+(\d+)\s+messages?", re.IGNORECASE)


# ------------------------------------------------------------------------------ frames
@dataclass(slots=True)
class Comment:
    text: str

    @property
    def dropped(self) -> int | None:
        """N from ``you are reading too slowly, dropped N messages``, else None."""
        match = _DROPPED.search(self.text)
        return int(match.group(1)) if match else None

    @property
    def internal_error(self) -> bool:
        return "internal server error" in self.text.lower()

    @property
    def heartbeat(self) -> bool:
        return self.text.strip().lower() == "heartbeat"


Frame = str | Comment
"""An event's data (the text after ``data:``, joined if a server ever splits it) or a
comment. Data is a plain ``str``: at 50,000 events a second a wrapper object per event
is a cost of its own."""


# --------------------------------------------------------------------- how it ended
class StreamClosed(Exception):
    """Why a connection ended. ``retryable`` False means: do not reconnect in a loop."""

    retryable = True

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StreamEnded(StreamClosed):
    """The body ended normally (no ``until`` was asked for, so it is a disconnect)."""


class StreamStalled(StreamClosed):
    """No byte at all, heartbeats included, for longer than the stream's silence bound."""

    def __init__(self, reason: str, silence: float, bound: float) -> None:
        super().__init__(reason)
        self.silence = silence
        self.bound = bound


class StreamBroken(StreamClosed):
    """The connection failed: refused, reset, cut mid-body, or timed out connecting."""


class StreamGap(StreamClosed):
    """The server said it dropped messages: reconnect from the cursor at once."""

    def __init__(self, reason: str, dropped: int) -> None:
        super().__init__(reason)
        self.dropped = dropped


class StreamRefused(StreamClosed):
    """A non-200 answer worth retrying (429, 5xx): wait at least what the server asks."""

    def __init__(
        self,
        reason: str,
        status: int,
        retry_after: float | None = None,
        rate_limit_reset: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after
        self.rate_limit_reset = rate_limit_reset


class AuthRejected(StreamClosed):
    """401/403: the credentials are refused; retrying cannot help until they change."""

    retryable = False

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


class StreamUnavailable(StreamClosed):
    """404/410/400: this server does not offer the stream (or the request is wrong)."""

    retryable = False

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


# --------------------------------------------------------------------- idle detection
BUFFERED_READ = 0.002  # seconds: a read answered sooner was waiting in the buffer for us


class CadenceMeter:
    """The heartbeat cadence of one server (undocumented, differs between servers), learned
    from every stream it serves: a busy trade stream may never show two heartbeats in a row,
    but the quiet account and NTA streams of the same host do, and it is one server.

    ``idle_timeout`` is ``multiple`` periods (3), within ``[floor, ceiling]``; the ceiling
    until a period has been measured. Listeners hear of every new measurement, so that a
    connection already silent is judged by the new bound at once.
    """

    def __init__(self, ceiling: float, multiple: float = 3.0, floor: float = 0.05) -> None:
        self.ceiling = ceiling
        self.multiple = multiple
        self.floor = floor
        self._intervals: list[float] = []
        self._listeners: list[Callable[[], None]] = []

    def observe(self, interval: float) -> None:
        """One period: two heartbeats on one connection with nothing between them."""
        self._intervals.append(interval)
        del self._intervals[:-8]
        for listener in list(self._listeners):
            listener()

    def listen(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` after each measurement; returns the way to stop."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @property
    def cadence(self) -> float | None:
        return max(self._intervals) if self._intervals else None

    @property
    def idle_timeout(self) -> float:
        cadence = self.cadence
        if cadence is None:
            return self.ceiling
        return min(self.ceiling, max(self.floor, self.multiple * cadence))


class StreamWatch:
    """How long one stream may stay silent before it is presumed dead.

    Once the host's heartbeat cadence is known (from any of its streams), the bound is the
    host's ``idle_timeout``: 3 periods. That holds for a busy stream too, and cannot fire on
    a quiet period of a live server: a server that beats only idle connections beats this one
    one period after its last write, busy or not, and one that beats on a timer sooner still.
    So 3 periods without a byte mean the connection is dead, whatever came before.

    Until a cadence is known, a stream that was delivering events is judged by its recent rate
    ``r`` (events per second over the last ``window`` seconds of this connection): silent
    for ``max(stall_events / r, stall_floor)`` seconds (60 s at most) is presumed dead. A burst
    that simply ends can trip this once, before any heartbeat is known; the reconnect that
    follows starts with no rate (so the ceiling) and learns the cadence from its own quiet.
    """

    def __init__(
        self,
        meter: CadenceMeter,
        *,
        stall_events: float = 100.0,
        stall_floor: float = 20.0,
        window: float = 10.0,
    ) -> None:
        self.meter = meter
        self.stall_events = stall_events
        self.stall_floor = stall_floor
        self.window = window
        self.last_beat: float | None = None  # loop time of the latest heartbeat, for its age
        self._last: float | None = None  # this connection's previous heartbeat, if nothing since
        self._since = 0.0  # when this connection opened
        self._buckets: deque[list[int]] = deque()  # [second, events] of this connection
        self._total = 0

    @property
    def ceiling(self) -> float:
        return self.meter.ceiling

    @property
    def cadence(self) -> float | None:
        return self.meter.cadence

    def reset_connection(self, now: float) -> None:
        self._last = None
        self._since = now
        self._buckets.clear()
        self._total = 0

    def heartbeat(self, now: float) -> None:
        self.last_beat = now
        if self._last is not None:
            self.meter.observe(now - self._last)
        self._last = now

    def activity(self) -> None:
        """Events between heartbeats: the gap before the next beat is not a period."""
        self._last = None

    def events(self, now: float, count: int) -> None:
        second = int(now)
        buckets = self._buckets
        if buckets and buckets[-1][0] == second:
            buckets[-1][1] += count
        else:
            buckets.append([second, count])
        self._total += count
        self._expire(second)

    def _expire(self, second: int) -> None:
        buckets = self._buckets
        while buckets and buckets[0][0] < second - self.window:
            self._total -= buckets.popleft()[1]

    def rate(self, now: float) -> float:
        """Events per second on this connection, over the last ``window`` seconds."""
        self._expire(int(now))
        if not self._total:
            return 0.0
        return self._total / max(1.0, min(self.window, now - self._since))

    def timeout(self, now: float) -> float:
        """The longest silence allowed from ``now`` on (see the class's rule)."""
        if self.meter.cadence is not None:
            return self.meter.idle_timeout
        rate = self.rate(now)
        if rate <= 0:
            return self.meter.ceiling
        return min(self.meter.ceiling, max(self.stall_events / rate, self.stall_floor))


# ------------------------------------------------------------------------- connection
def _headers_retry(response: httpx.Response) -> tuple[float | None, float | None]:
    """(Retry-After seconds, X-RateLimit-Reset epoch) that bind the next attempt.

    Every Alpaca response carries ``X-RateLimit-Reset``; it only binds when the limit is the
    reason for the refusal (a 429 with nothing remaining). A 503 with a reset a minute away
    must not hold the stream down for that minute.
    """
    now = time.time()
    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    reset: float | None = None
    remaining = response.headers.get("x-ratelimit-remaining")
    if response.status_code == 429 and remaining is not None and remaining.strip() == "0":
        try:
            reset = float(response.headers.get("x-ratelimit-reset", ""))
        except ValueError:
            reset = None
    return retry_after, reset


def _refusal(response: httpx.Response, body: bytes) -> StreamClosed:
    status = response.status_code
    error = ApiError.from_body(status, body)
    reason = f"HTTP {status}: {error.message}" if error.message else f"HTTP {status}"
    if status in (401, 403):
        return AuthRejected(reason, status)
    if status in (400, 404, 405, 410):
        return StreamUnavailable(reason, status)
    retry_after, reset = _headers_retry(response)
    return StreamRefused(reason, status, retry_after, reset)


async def read_stream(
    client: httpx.AsyncClient,
    route: StreamRoute,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    watch: StreamWatch,
    handle: Callable[[list[Frame]], None],
    on_open: Callable[[], None] | None = None,
    pause: Callable[[], Awaitable[object] | None] | None = None,
) -> None:
    """Read one connection until it ends; always raises a :class:`StreamClosed`.

    ``handle`` gets each network chunk's frames in order. A ``dropped N messages`` comment
    is handed over like any other frame and then ends the connection with
    :class:`StreamGap`; whatever follows it, even in the same network read, is discarded
    unseen, so the caller's cursor stays at the last event before the hole and a resume from
    it re-reads the gap. Silence longer than ``watch``'s bound ends it with
    :class:`StreamStalled`; the time this reader itself waits on ``pause`` is not silence.
    """
    # the silence bound below does the real work; httpx's read timeout is only a backstop
    timeout = httpx.Timeout(connect=10.0, read=watch.ceiling + 5.0, write=10.0, pool=10.0)
    loop = asyncio.get_running_loop()
    watch.reset_connection(loop.time())
    try:
        async with client.stream(
            "GET", route.path, params=dict(params), headers=dict(headers), timeout=timeout
        ) as response:
            if response.status_code != 200:
                body = await response.aread()
                raise _refusal(response, body)
            if on_open is not None:
                on_open()
            text = codecs.getincrementaldecoder("utf-8")(errors="replace")
            lines = SSELineDecoder()
            events = SSEDecoder()
            idle_decoder = True  # httpx-sse's decoder holds no half-read event
            last = loop.time()  # the latest byte (or the end of a pause)
            paused = False
            try:
                async with asyncio.timeout_at(last + watch.timeout(last)) as idle:

                    def tighten() -> None:  # the host's cadence changed: judge by it now
                        if not paused and not idle.expired():  # (expired: it is ending)
                            idle.reschedule(last + watch.timeout(loop.time()))

                    unlisten = watch.meter.listen(tighten)
                    asked = loop.time()  # when the reader began waiting for the next read
                    try:
                        async for chunk in response.aiter_bytes():
                            # a read that was waiting for us (the reader was late, busy or
                            # starved) times our lateness, not the server: a heartbeat in it
                            # neither ends nor starts a period
                            buffered = loop.time() - asked < BUFFERED_READ
                            frames: list[Frame] = []
                            comments = 0
                            beats = 0  # heartbeats in this read
                            gap: int | None = None
                            active = False  # events since the last heartbeat (watch.activity)
                            got = lines.decode(text.decode(chunk))
                            end = len(got)
                            i = 0
                            while i < end:
                                line = got[i]
                                i += 1
                                if (
                                    idle_decoder
                                    and line.startswith("data: ")
                                    and i < end
                                    and not got[i]
                                ):
                                    # Alpaca's shape, one data line and a blank: the event as is
                                    frames.append(line[6:])
                                    active = True
                                    i += 1
                                    continue
                                if line.startswith(":"):
                                    comment = Comment(line[1:].strip())
                                    comments += 1
                                    if comment.heartbeat:
                                        if active or beats or buffered:
                                            # events between, or queued behind another
                                            # heartbeat in this read (the reader was late):
                                            # the gap is not the server's period
                                            watch.activity()
                                            active = False
                                        watch.heartbeat(loop.time())
                                        if buffered:
                                            watch.activity()
                                        beats += 1
                                    frames.append(comment)
                                    gap = comment.dropped
                                    if gap is not None:
                                        # events after the notice follow a hole: none of them
                                        # may be journaled or move the cursor; they are read
                                        # again from the last event before it (review #1)
                                        break
                                    continue
                                sse = events.decode(line)  # anything else: the full SSE rules
                                idle_decoder = sse is not None or not line
                                if sse is not None and sse.data:
                                    frames.append(sse.data)
                                    active = True
                            if active:
                                watch.activity()
                            if len(frames) > comments:
                                watch.events(loop.time(), len(frames) - comments)
                            if frames:
                                handle(frames)
                                if pause is not None and (wait := pause()) is not None:
                                    # the consumer is behind: stop reading a moment (our own
                                    # wait, not the server's silence)
                                    paused = True
                                    idle.reschedule(None)
                                    await wait
                                    paused = False
                            if gap is not None:
                                raise StreamGap(f"server dropped {gap} messages", gap)
                            last = loop.time()
                            idle.reschedule(last + watch.timeout(last))
                            asked = last
                    finally:
                        unlisten()
            except TimeoutError:
                silence = loop.time() - last
                bound = watch.timeout(last)
                raise StreamStalled(
                    f"no bytes for {silence:.3g} s (silence bound {bound:.3g} s)", silence, bound
                ) from None
            raise StreamEnded("the server ended the stream")
    except StreamClosed:
        raise
    except httpx.HTTPError as exc:
        raise StreamBroken(f"{type(exc).__name__}: {_short(exc)}") from exc


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]
