"""One connection to Alpaca's trading websocket (``trade_updates``, API.md §11.3).

The transport of the ``trades`` stream for Trading API accounts. Alpaca sends no welcome:
the client authenticates at once, asks for ``trade_updates`` and waits (bounded) for the
``listening`` acknowledgement. Paper sends binary frames, live text: both are read alike.
Each ``{"stream":"trade_updates","data":{...}}`` becomes the same JSON text an SSE trade
event is, with ``event_id`` and ``at`` filled in when the message has none (older messages
carry neither), so the supervisor journals it through the same path, keyed by the same
facts (:func:`~tui_trader.core.fastparse.fact_of`): a fill seen here and again over REST is
journaled once.

Like :func:`tui_trader.broker.sse.read_stream`, a connection always ends with a
:class:`~tui_trader.broker.sse.StreamClosed` saying why: a refused upgrade (429/503, with
Retry-After) is :class:`StreamRefused`; ``unauthorized`` is :class:`AuthRejected`; a peer
that stops answering pings is :class:`StreamStalled`; a close or a cut is
:class:`StreamBroken`. There is no replay: the caller reconciles over REST after each open.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from tui_trader.broker.sse import (
    AuthRejected,
    StreamBroken,
    StreamClosed,
    StreamEnded,
    StreamRefused,
    StreamStalled,
    StreamUnavailable,
)
from tui_trader.core.backoff import parse_retry_after
from tui_trader.core.types import format_decimal, to_decimal

log = logging.getLogger("tui_trader.stream")

STREAM_URL_ENV = "APCA_API_STREAM_URL"
TRADE_UPDATES = "trade_updates"
AuthForm = Literal["auth", "authenticate"]


@dataclass(frozen=True)
class SocketOptions:
    """Timings of one connection. Alpaca documents no server heartbeat (§11.3.4), so the
    client pings: a peer that does not answer within ``ping_timeout`` is dead, however
    open its TCP connection looks (alpaca-py #740)."""

    ping_interval: float = 10.0
    ping_timeout: float = 20.0
    open_timeout: float = 10.0  # the TCP connect and the upgrade
    ack_timeout: float = 10.0  # each of the authorization and listening replies
    auth_form: AuthForm = "auth"


def close_timeout(opts: SocketOptions) -> float:
    """How long a close waits for the peer's close frame before the TCP connection is
    dropped. After a keepalive ping timeout the ``websockets`` library closes 1011 and waits
    this long too, for a peer that has just proved it answers nothing: so no longer than the
    ping timeout (a silent socket is noticed after interval + timeout + this, not 5 s more)."""
    return min(opts.ping_timeout, opts.open_timeout, 5.0)


def stream_url(base_url: str, override: str | None = None) -> str:
    """The websocket URL: ``override`` (``APCA_API_STREAM_URL``) when given, else the base
    URL with ``https`` -> ``wss``, ``http`` -> ``ws`` and the path ``/stream``."""
    if override and override.strip():
        return override.strip()
    url = httpx.URL(base_url)
    scheme = {"https": "wss", "http": "ws"}.get(url.scheme, url.scheme)
    return str(url.copy_with(scheme=scheme, path="/stream", query=None, fragment=None))


# ------------------------------------------------------------------------- messages
class _Envelope(msgspec.Struct):
    """What the fast path reads of a frame: which stream, and the payload's text untouched."""

    stream: Any = None
    data: msgspec.Raw = msgspec.Raw(b"")


class _Stamps(msgspec.Struct):
    """The two fields a payload needs to be journaled as it came."""

    event_id: Any = None
    at: Any = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_STAMPS = msgspec.json.Decoder(_Stamps)
_ANY = msgspec.json.Decoder()
_ENCODE = msgspec.json.Encoder()


def _as_it_came(raw: str | bytes) -> str | None:
    """The journal text of a frame that is one trade update already carrying ``event_id``
    and ``at`` (Alpaca's current messages): its payload's own bytes, not re-encoded. None
    for anything else (the general path reads it). A frame read into dicts and written
    back out was a tenth of the loop's time at 5,000 events/s (bench/ui.py --profile)."""
    try:
        envelope = _ENVELOPE.decode(raw)
        if envelope.stream != TRADE_UPDATES or not envelope.data:
            return None
        stamps = _STAMPS.decode(envelope.data)
    except msgspec.DecodeError:  # not JSON, not one object, or a payload that is no object
        return None
    if isinstance(stamps.event_id, str) and stamps.event_id and isinstance(stamps.at, str):
        return bytes(envelope.data).decode() if stamps.at else None
    return None


def messages(raw: str | bytes) -> Iterator[dict[str, Any]]:
    """The JSON objects of one frame (text or binary; a list of them is accepted too).
    Anything else is not a message and is skipped (logged)."""
    try:
        decoded = _ANY.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        log.warning("websocket frame is not JSON", extra={"size": len(raw)})
        return
    for item in decoded if isinstance(decoded, list) else [decoded]:
        if isinstance(item, dict):
            yield item


def derived_id(data: dict[str, Any]) -> str:
    """A stable id for a trade update without ``event_id`` (older messages): from its
    ``execution_id`` when it has one, else ``event:order id:filled qty:timestamp``. The
    same update always gets the same id, and two updates of one order never share one."""
    kind = str(data.get("event") or "")
    order = data.get("order") if isinstance(data.get("order"), dict) else {}
    assert isinstance(order, dict)
    execution = data.get("execution_id")
    if isinstance(execution, str) and execution.strip():
        return f"ws:{kind}:{execution.strip()}"
    filled = order.get("filled_qty")
    try:
        amount = to_decimal(filled)
        filled = format_decimal(amount) if amount is not None else filled
    except ValueError:
        pass
    stamp = data.get("timestamp") or data.get("at") or order.get("updated_at") or ""
    return f"ws:{kind}:{order.get('id') or ''}:{filled or 0}:{stamp}"


def trade_update_text(data: Any) -> str | None:
    """The journal's text of one ``trade_updates`` payload: the payload itself, with
    ``event_id`` (else :func:`derived_id`) and ``at`` (else ``timestamp``) filled in, so
    it reads like an SSE trade event. None for a payload that is not an object
    (``data: null`` happens, Alpaca-API #110)."""
    if not isinstance(data, dict):
        return None
    out = dict(data)
    if not (isinstance(out.get("event_id"), str) and out["event_id"]):
        out["event_id"] = derived_id(data)
    if not (isinstance(out.get("at"), str) and out["at"]):
        order = data.get("order") if isinstance(data.get("order"), dict) else {}
        assert isinstance(order, dict)
        stamp = data.get("timestamp") or order.get("updated_at") or order.get("created_at")
        if isinstance(stamp, str) and stamp:
            out["at"] = stamp
    return _ENCODE.encode(out).decode()


class _Once:
    """Logs each distinct oddity once per process: a server that repeats it every second
    must not flood the log."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __call__(self, what: str, **extra: Any) -> None:
        if what not in self.seen and len(self.seen) < 256:
            self.seen.add(what)
            log.warning(what, extra=extra)


_once = _Once()


def frames_of(raw: str | bytes) -> list[str]:
    """The journal texts of the trade updates in one frame (control messages excluded)."""
    text = _as_it_came(raw)
    if text is not None:
        return [text]
    frames: list[str] = []
    for msg in messages(raw):
        stream = msg.get("stream")
        if stream == TRADE_UPDATES:
            text = trade_update_text(msg.get("data"))
            if text is None:
                _once("trade update without data ignored", data=repr(msg.get("data"))[:40])
                continue
            frames.append(text)
        elif msg.get("action") == "error":
            data = msg.get("data") if isinstance(msg.get("data"), dict) else {}
            assert isinstance(data, dict)
            raise StreamBroken(f"server error: {str(data.get('error_message', '?'))[:160]}")
        elif stream == "authorization" and _status(msg) == "unauthorized":
            raise AuthRejected("websocket: unauthorized", 401)
        else:
            _once("websocket message ignored", kind=str(stream or msg.get("action"))[:40])
    return frames


def _status(msg: dict[str, Any]) -> str | None:
    data = msg.get("data")
    return str(data.get("status")) if isinstance(data, dict) else None


# ----------------------------------------------------------------------- connection
def _refused(exc: InvalidStatus) -> StreamClosed:
    response = exc.response
    status = response.status_code
    body = response.body.decode("utf-8", "replace").strip()[:120] if response.body else ""
    reason = f"websocket upgrade refused: HTTP {status}" + (f": {body}" if body else "")
    if status in (401, 403):
        return AuthRejected(reason, status)
    if status in (400, 404, 405, 410):
        return StreamUnavailable(reason, status)
    if status == 429:
        reason += (
            " (Alpaca allows one trade_updates connection per account: another desk or client"
            " on these keys holds it, or a dropped one is not yet released)"
        )
    retry_after = parse_retry_after(response.headers.get("Retry-After"), time.time())
    return StreamRefused(reason, status, retry_after)


YIELD_EVERY = 64
"""Messages handled before the reader lets the loop run others: the websockets library hands
over buffered messages without yielding, so a backlog was read ~750 at a time (~67 ms a turn
under 5,000 events/s, bench/ui.py --profile), and a trader's key waited behind it."""


async def read_trade_socket(
    url: str,
    key_id: str,
    secret_key: str,
    handle: Callable[[list[str]], None],
    on_open: Callable[[], None] | None = None,
    pause: Callable[[], Awaitable[object] | None] | None = None,
    options: SocketOptions | None = None,
) -> None:
    """Read one websocket connection until it ends; always raises a :class:`StreamClosed`.

    ``on_open`` is called once ``listening`` has been acknowledged (from then on nothing
    is missed, so that is where a REST catch-up must start); ``handle`` gets each frame's
    trade updates as journal texts.
    """
    opts = options or SocketOptions()
    try:
        async with connect(
            url,
            open_timeout=opts.open_timeout,
            ping_interval=opts.ping_interval,
            ping_timeout=opts.ping_timeout,
            close_timeout=close_timeout(opts),
            max_size=16 * 1024 * 1024,
            # no permessage-deflate: a trade update is a few hundred bytes, and inflating
            # each of thousands a second (deflating, at the server) cost more CPU than the
            # bytes it saves (bench/ui.py: 7 us a message on the loop, more at the emulator)
            compression=None,
        ) as ws:
            if opts.auth_form == "auth":
                auth: dict[str, Any] = {"action": "auth", "key": key_id, "secret": secret_key}
            else:
                auth = {
                    "action": "authenticate",
                    "data": {"key_id": key_id, "secret_key": secret_key},
                }
            await ws.send(json.dumps(auth))
            await _await_reply(ws, "authorization", opts.ack_timeout, handle)
            listen = {"action": "listen", "data": {"streams": [TRADE_UPDATES]}}
            await ws.send(json.dumps(listen))
            ack = await _await_reply(ws, "listening", opts.ack_timeout, handle)
            streams = (
                ack.get("data", {}).get("streams") if isinstance(ack.get("data"), dict) else []
            )
            if not isinstance(streams, list) or TRADE_UPDATES not in streams:
                raise StreamUnavailable("websocket: trade_updates not in the listening ack", 404)
            if on_open is not None:
                on_open()
            read = 0
            async for raw in ws:
                frames = frames_of(raw)
                if frames:
                    handle(frames)
                    if pause is not None and (wait := pause()) is not None:
                        await wait
                read += 1
                if read % YIELD_EVERY == 0:  # messages already buffered never yield
                    await asyncio.sleep(0)
        raise StreamEnded("the server closed the websocket")
    except StreamClosed:
        raise
    except InvalidStatus as exc:
        raise _refused(exc) from None
    except ConnectionClosedOK as exc:
        raise StreamEnded(f"the server closed the websocket ({_close_text(exc)})") from None
    except ConnectionClosed as exc:
        if exc.rcvd is None and exc.sent is not None and exc.sent.code == 1011:
            # websockets closes 1011 "keepalive ping timeout" itself: a silent peer
            silence = opts.ping_interval + opts.ping_timeout
            raise StreamStalled(
                f"no pong within {opts.ping_timeout:g} s (websocket ping)",
                silence,
                opts.ping_timeout,
            ) from None
        raise StreamBroken(f"websocket closed: {_close_text(exc)}") from None
    except TimeoutError:
        raise StreamBroken("websocket: no answer to the opening handshake in time") from None
    except (OSError, InvalidHandshake, InvalidURI) as exc:
        raise StreamBroken(f"websocket: {type(exc).__name__}: {str(exc)[:160]}") from None


def _close_text(exc: ConnectionClosed) -> str:
    frame = exc.rcvd or exc.sent
    if frame is None:
        return "connection lost, no close frame"
    return f"code {frame.code}" + (f" {frame.reason[:80]}" if frame.reason else "")


async def _await_reply(
    ws: Any, stream: str, within: float, handle: Callable[[list[str]], None]
) -> dict[str, Any]:
    """The next ``stream`` reply (authorization or listening), within ``within`` seconds. A trade
    update that comes first is handed over (nothing is dropped); ``unauthorized`` raises
    :class:`AuthRejected`."""
    try:
        async with asyncio.timeout(within):
            while True:
                raw = await ws.recv()
                for msg in messages(raw):
                    if msg.get("stream") == stream:
                        if _status(msg) == "unauthorized":
                            raise AuthRejected("websocket: unauthorized", 401)
                        return msg
                    if msg.get("stream") == TRADE_UPDATES:
                        text = trade_update_text(msg.get("data"))
                        if text is not None:
                            handle([text])
                        continue
                    frames_of(json.dumps(msg))  # raises on error / unauthorized
    except TimeoutError:
        raise StreamBroken(f"websocket: no {stream} reply within {within:g} s") from None


__all__ = [
    "STREAM_URL_ENV",
    "SocketOptions",
    "close_timeout",
    "derived_id",
    "frames_of",
    "read_trade_socket",
    "stream_url",
    "trade_update_text",
]
