"""Alpaca's market-data websocket v2 for stocks (API.md §11.4): one connection per feed,
authenticated by message, subscribed to quotes, trades, minute bars and their corrections
for the watched symbols, kept alive and reconnected without ever storming.

What it does on each kind of trouble (§11.4.4, §11.5.4):

* ``401``/``402``/``410``/``411`` (and ``409`` on ``iex``) are final: the trader is told
  why, the stream stops, and the desk keeps polling REST.
* ``409 insufficient subscription`` on ``sip``/``delayed_sip`` switches to ``iex`` once,
  with a notice, and connects again at once.
* ``406 connection limit exceeded``: another socket holds the endpoint, maybe our own
  half-dead one, which Alpaca reaps after 90 s; every retry waits at least
  ``limit_wait`` (90 s) so a reconnect never storms (alpaca-py retried with ``sleep(0)``).
* An upgrade refused with a 4xx other than 429 (no websocket at that URL, as on an emulator
  without one): the stream is "not offered"; said once, asked again rarely.
* Anything else (a drop, 429/5xx on the upgrade, a ping unanswered, silence while the market
  is open): close the socket, back off with jitter (:mod:`tui_trader.core.backoff`,
  ``Retry-After`` honoured), connect again. The silence bound catches the connected-but-mute
  socket of alpaca-py #740, which ping/pong alone does not.

Frames are JSON (no msgpack on our side). Drive it from a script or a benchmark::

    stream = MarketDataStream(stream_url(data_url, "iex"), key, secret, ["AAPL"],
                              callbacks=DataCallbacks(on_frame=lambda f: ...))
    task = asyncio.create_task(stream.run()); ...; stream.stop(); await task
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from tui_trader.broker.data_messages import DataFrame, ProtocolError, parse_frame
from tui_trader.broker.data_status import DataState, DataStreamStatus
from tui_trader.core.backoff import BackoffPolicy, ReconnectStrategy, parse_retry_after
from tui_trader.core.models import Bar, Quote, Trade

if TYPE_CHECKING:
    from tui_trader.config import Settings

__all__ = ["DataCallbacks", "DataStreamOptions", "MarketDataStream", "stream_url"]

log = logging.getLogger("tui_trader.broker.data")

FEEDS = ("iex", "sip", "delayed_sip", "test", "boats", "overnight")
FALLBACK_FEED = "iex"
CHANNELS = ("quotes", "trades", "bars", "updatedBars")  # what the desk subscribes per symbol
FINAL_CODES = {401, 402, 409, 410, 411}
_HOSTS = {
    "data.alpaca.markets": "stream.data.alpaca.markets",
    "data.sandbox.alpaca.markets": "stream.data.sandbox.alpaca.markets",
}


def stream_url(data_url: str, feed: str, override: str | None = None) -> str:
    """The websocket URL for ``feed``: ``override`` (``APCA_API_DATA_STREAM_URL``) when
    given, else derived from the REST data URL (``data.alpaca.markets`` ->
    ``stream.data.alpaca.markets``, any other host kept with its port), ``/v2/{feed}``.

    An override that ends in ``/v2`` (or has no path) gets ``/{feed}`` (``/v2/{feed}``)
    appended; a full one is used as it is."""
    if override:
        parts = urlsplit(override.strip().removesuffix("/"))
        path = parts.path
        if not path:
            path = f"/v2/{feed}"
        elif path.endswith("/v2"):
            path = f"{path}/{feed}"
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
    parts = urlsplit(data_url.strip().removesuffix("/"))
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme.lower(), parts.scheme)
    host = (parts.hostname or "").lower()
    netloc = _HOSTS.get(host, parts.netloc)
    prefix = parts.path.removesuffix("/v2")
    return urlunsplit((scheme, netloc, f"{prefix}/v2/{feed}", "", ""))


def with_feed(url: str, feed: str) -> str:
    """The same URL on another feed (its last path segment, when that names a feed)."""
    parts = urlsplit(url)
    head, _, last = parts.path.rpartition("/")
    if last not in FEEDS:
        return url
    return urlunsplit((parts.scheme, parts.netloc, f"{head}/{feed}", parts.query, ""))


@dataclass(frozen=True)
class DataStreamOptions:
    """Timings; tests scale them down."""

    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    not_offered: BackoffPolicy = field(
        default_factory=lambda: BackoffPolicy(base=60.0, cap=900.0, healthy_after=0.0)
    )
    silence: float = 75.0  # no frame for this long while the market is open: reconnect
    ping_interval: float = 10.0
    ping_timeout: float = 20.0
    limit_wait: float = 90.0  # the least wait after a 406
    handshake_timeout: float = 10.0  # each of: upgrade, welcome, auth reply, subscription

    @classmethod
    def from_settings(cls, settings: Settings) -> DataStreamOptions:
        d, s = settings.data, settings.stream
        return cls(
            backoff=s.backoff(),
            not_offered=BackoffPolicy(
                base=s.not_offered_retry_base_seconds,
                cap=s.not_offered_retry_cap_seconds,
                healthy_after=0.0,
            ),
            silence=d.silence_seconds,
            ping_interval=d.ping_interval_seconds,
            ping_timeout=d.ping_timeout_seconds,
            limit_wait=d.connection_limit_wait_seconds,
        )


def _nothing(*_: Any) -> None:
    return None


@dataclass
class DataCallbacks:
    """What the stream tells its owner; each is called on the event loop, must not block,
    and may raise without stopping the stream (the error is logged)."""

    on_quote: Callable[[str, Quote], None] = _nothing
    on_trade: Callable[[str, Trade], None] = _nothing
    on_bar: Callable[[str, Bar, bool], None] = _nothing  # bool: a correction (``u``)
    on_frame: Callable[[DataFrame], None] | None = None  # the whole frame first (benchmarks)
    on_connected: Callable[[], None] = _nothing  # subscribed, after every (re)connect
    on_disconnected: Callable[[str], None] = _nothing  # why
    on_notice: Callable[[str], None] = _nothing  # something the trader should read


class _Final(Exception):
    """Stop: retrying cannot help."""


class _FeedRefused(Exception):
    """409 on a feed other than iex."""


class _Limit(Exception):
    """406 connection limit exceeded."""


class _Dropped(Exception):
    """Any other reason to reconnect (with backoff)."""


class _Mute(_Dropped):
    """The server went quiet (no pong, no data): presumed dead, the TCP connection is cut
    rather than closed, since a mute peer never completes a close handshake."""


class _Refused(Exception):
    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status} on the upgrade")
        self.status = status
        self.retry_after = retry_after


class MarketDataStream:
    """One market-data websocket; :meth:`run` until :meth:`stop` or a final refusal."""

    def __init__(
        self,
        url: str,
        key_id: str,
        secret_key: str,
        symbols: Sequence[str],
        *,
        feed: str | None = None,
        options: DataStreamOptions | None = None,
        callbacks: DataCallbacks | None = None,
        market_open: Callable[[], bool] = lambda: True,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.url = url
        self.feed = feed or urlsplit(url).path.rpartition("/")[2] or FALLBACK_FEED
        self._key, self._secret = key_id, secret_key
        self.symbols = list(dict.fromkeys(symbols))
        self.options = options or DataStreamOptions()
        self.callbacks = callbacks or DataCallbacks()
        self._market_open = market_open
        self._rng = rng
        self._stop = asyncio.Event()
        self._state = DataState.STOPPED
        self._reason = ""
        self._last_at: float | None = None
        self._messages = 0
        self._connects = 0
        self._attempts = 0  # connection attempts made, ever
        self._strategy = ReconnectStrategy(self.options.backoff, random=rng)
        self._retry_at: float | None = None
        self._told: set[str] = set()  # notices said once per kind of trouble
        self._mute: str | None = None  # why the keepalive cut the connection
        self._ws: ClientConnection | None = None  # the connection while it is streaming
        self._subscribed: set[str] = set()  # what the server was last asked to send

    def __repr__(self) -> str:  # never the keys
        return f"MarketDataStream(url={self.url!r}, symbols={len(self.symbols)})"

    # ------------------------------------------------------------------------- public
    @property
    def attempts(self) -> int:
        return self._attempts

    def status(self) -> DataStreamStatus:
        now = time.monotonic()
        return DataStreamStatus(
            state=self._state,
            feed=self.feed,
            reason=self._reason,
            url=self.url,
            last_message_age=None if self._last_at is None else now - self._last_at,
            messages=self._messages,
            connects=self._connects,
            attempt=self._strategy.attempt,
            retry_in=None if self._retry_at is None else max(0.0, self._retry_at - now),
        )

    def stop(self) -> None:
        self._stop.set()

    async def subscribe(self, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """Watch more (``add``) or fewer (``remove``) symbols: on a streaming connection at
        once (``subscribe``/``unsubscribe`` messages), else from the next handshake."""
        gone = set(remove)
        self.symbols = [s for s in dict.fromkeys([*self.symbols, *add]) if s not in gone]
        await self._sync_subscription()

    async def _sync_subscription(self) -> None:
        """Tell a streaming connection the difference between what it sends and what is
        wanted. Only once authenticated: a subscribe before that is answered 401, which is
        final. Idempotent, so a change racing the handshake is simply sent again."""
        ws = self._ws
        if ws is None or self._state is not DataState.STREAMING:
            return
        wanted, was = set(self.symbols), self._subscribed
        self._subscribed = wanted
        with contextlib.suppress(ConnectionClosed):  # the next handshake subscribes them
            for action, names in (("subscribe", wanted - was), ("unsubscribe", was - wanted)):
                if names:
                    channels = {c: sorted(names) for c in CHANNELS}
                    await ws.send(json.dumps({"action": action, **channels}))

    async def run(self) -> None:
        """Connect, stream, reconnect; returns on :meth:`stop` or a final refusal."""
        offered = ReconnectStrategy(self.options.not_offered, random=self._rng)
        try:
            while not self._stop.is_set():
                self._state = DataState.CONNECTING
                session = asyncio.create_task(self._session(), name="market-data")
                stopper = asyncio.create_task(self._stop.wait())
                try:
                    await asyncio.wait({session, stopper}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stopper.cancel()
                    if not session.done():
                        session.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.gather(session, return_exceptions=True)
                if self._stop.is_set():
                    return
                delay = self._after(session.exception(), offered)
                if delay is None:
                    return
                await self._wait(delay)
        finally:
            if self._state is not DataState.FAILED:
                self._state = DataState.STOPPED
            self._retry_at = None

    # ------------------------------------------------------------------------ reconnecting
    def _after(self, exc: BaseException | None, offered: ReconnectStrategy) -> float | None:
        """What a session's end means: the wait before the next attempt, None to stop."""
        if self._state is DataState.STREAMING:
            self._strategy.disconnected()  # resets the schedule if it was healthy
        retry_after: float | None = None
        if isinstance(exc, _Final):
            self._state, self._reason = DataState.FAILED, str(exc)
            self._tell("final", f"market data stream refused: {exc}; prices over REST")
            return None
        if isinstance(exc, _FeedRefused):
            old, self.feed = self.feed, FALLBACK_FEED
            self.url = with_feed(self.url, FALLBACK_FEED)
            self._reason = f"{old} refused (409 insufficient subscription)"
            self._tell("feed", f"market data: {self._reason}; streaming {FALLBACK_FEED} instead")
            return 0.0
        if isinstance(exc, _Refused) and exc.status != 429 and exc.status < 500:
            self._state, self._reason = DataState.NOT_OFFERED, str(exc)
            self._tell(
                "offered",
                f"market data stream not offered at {self.url} ({exc}); prices and bars "
                "over REST polling",
            )
            return offered.next_delay()
        if isinstance(exc, _Limit):
            retry_after = self.options.limit_wait
            self._reason = "406 connection limit exceeded"
            self._tell(
                "limit",
                "market data: 406 connection limit exceeded (another connection holds the "
                f"{self.feed} stream); retrying no sooner than {retry_after:g} s, REST meanwhile",
            )
        elif isinstance(exc, _Refused):
            retry_after = exc.retry_after
            self._reason = str(exc)
        elif exc is None:
            self._reason = "closed by the server"
        else:
            self._reason = _describe(exc)
        self._state = DataState.BACKOFF
        self.callbacks.on_disconnected(self._reason)
        log.warning("market data stream: %s", self._reason)
        return self._strategy.next_delay(retry_after=retry_after)

    async def _wait(self, delay: float) -> None:
        self._retry_at = time.monotonic() + delay
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
        finally:
            self._retry_at = None

    def _tell(self, kind: str, text: str) -> None:
        """Say it once per kind (a retry loop must not flood the notices)."""
        if kind in self._told:
            return
        self._told.add(kind)
        log.warning("%s", text)
        self._safely(self.callbacks.on_notice, text)

    # ---------------------------------------------------------------------------- session
    async def _session(self) -> None:
        self._attempts += 1
        opts = self.options
        try:
            ws = await connect(
                self.url,
                open_timeout=opts.handshake_timeout,
                ping_interval=None,  # our own keepalive: see _keepalive
                close_timeout=2.0,
                max_size=2**24,
                max_queue=1024,
            )
        except InvalidStatus as exc:
            headers = exc.response.headers
            wait = parse_retry_after(headers.get("Retry-After"), time.time())
            raise _Refused(exc.response.status_code, wait) from None
        self._mute = None
        pinger = asyncio.create_task(self._keepalive(ws), name="market-data-ping")
        try:
            await self._handshake(ws)
            self._state, self._reason = DataState.STREAMING, ""
            self._strategy.connected()
            self._connects += 1
            self._told.discard("limit")  # a later 406 is news again
            self._ws = ws
            await self._sync_subscription()  # a change made during the handshake
            self._safely(self.callbacks.on_connected)
            await self._read(ws)
        except _Mute:
            ws.transport.abort()
            raise
        except ConnectionClosed:
            if self._mute is not None:
                raise _Mute(self._mute) from None
            raise
        finally:
            self._ws = None
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger
            await ws.close()

    async def _keepalive(self, ws: ClientConnection) -> None:
        """A ping every ``ping_interval``; no pong within ``ping_timeout`` and the socket is
        dead though its TCP connection is open (alpaca-py #740): cut it at once. (The
        library's own keepalive would then wait ``close_timeout`` more for a close handshake
        the mute server never answers, the symbols' data going stale meanwhile.)"""
        opts = self.options
        while True:
            await asyncio.sleep(opts.ping_interval)
            try:
                pong = await ws.ping()
            except ConnectionClosed:
                return
            done, _ = await asyncio.wait({asyncio.ensure_future(pong)}, timeout=opts.ping_timeout)
            if not done:
                self._mute = f"no pong within {opts.ping_timeout:g} s"
                ws.transport.abort()
                return

    async def _handshake(self, ws: ClientConnection) -> None:
        await self._expect(ws, "success", "connected")
        await ws.send(json.dumps({"action": "auth", "key": self._key, "secret": self._secret}))
        await self._expect(ws, "success", "authenticated")
        symbols = list(self.symbols)
        channels = {c: symbols for c in CHANNELS}
        await ws.send(json.dumps({"action": "subscribe", **channels}))
        self._subscribed = set(symbols)
        await self._expect(ws, "subscription", None)

    async def _expect(self, ws: ClientConnection, kind: str, msg: str | None) -> None:
        """Read until the control message ``kind`` (with ``msg``); data frames on the way
        are delivered, an error is raised as what its code means."""
        while True:
            async with asyncio.timeout(self.options.handshake_timeout):
                raw = await ws.recv()
            frame = self._frame(raw)
            for item in frame.control:
                if item.get("T") == kind and (msg is None or item.get("msg") == msg):
                    return

    async def _read(self, ws: ClientConnection) -> None:
        silence = self.options.silence
        # stop() is checked after every frame, and the silence bound is asyncio.timeout, not
        # wait_for: on Python 3.11 ``wait_for`` returns a frame that is already queued and
        # drops the cancel, so under a flood a cancelled session read on for good (headless
        # still running after SIGINT)
        while not self._stop.is_set():
            try:
                async with asyncio.timeout(silence):
                    raw = await ws.recv()
            except TimeoutError:
                if self._market_open():
                    raise _Mute(f"no data for {silence:g} s while the market is open") from None
                continue
            self._frame(raw)

    def _frame(self, raw: str | bytes) -> DataFrame:
        self._last_at = time.monotonic()
        try:
            frame = parse_frame(raw)
        except ProtocolError as exc:
            raise _Dropped(f"protocol error: {exc}") from None
        for item in frame.control:
            if item.get("T") == "error":
                self._error(item)
        if frame.data:
            self._deliver(frame)
        return frame

    def _error(self, item: dict[str, Any]) -> None:
        code, text = item.get("code"), str(item.get("msg", ""))[:120]
        what = f"{code} {text}".strip()
        if code == 406:
            raise _Limit(what)
        if code == 409 and self.feed != FALLBACK_FEED:
            raise _FeedRefused(what)
        if code in FINAL_CODES:
            raise _Final(what)
        raise _Dropped(f"error {what}")

    def _deliver(self, frame: DataFrame) -> None:
        self._messages += frame.data
        cb = self.callbacks
        if cb.on_frame is not None:
            self._safely(cb.on_frame, frame)
        for symbol, quote in frame.quotes:
            self._safely(cb.on_quote, symbol, quote)
        for symbol, trade in frame.trades:
            self._safely(cb.on_trade, symbol, trade)
        for symbol, bar, corrected in frame.bars:
            self._safely(cb.on_bar, symbol, bar, corrected)

    @staticmethod
    def _safely(call: Callable[..., None], *args: Any) -> None:
        # a bug in a handler must not stop the stream (alpaca-py went mute after one)
        try:
            call(*args)
        except Exception:
            log.exception("market data handler failed")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, _Dropped):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, WebSocketException | OSError):
        text = " ".join(str(exc).split())[:160]
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"{type(exc).__name__}: {str(exc)[:160]}"
