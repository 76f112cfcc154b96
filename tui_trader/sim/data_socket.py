"""Alpaca's market-data websocket v2 (API.md §11.4) at ``/v2/{iex,sip,delayed_sip,test}``.

The protocol, as a client sees it:

* ``[{"T":"success","msg":"connected"}]`` on connect; then auth by the upgrade's headers
  (``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` or Basic) or by ``{"action":"auth",...}``
  within ``data_auth_timeout`` seconds, answered ``[{"T":"success","msg":"authenticated"}]``;
* ``subscribe``/``unsubscribe`` of trades, quotes, bars, updatedBars, dailyBars, statuses
  (and lulds, never fed), ``*`` for every symbol; the reply lists the whole subscription, with
  corrections and cancelErrors following trades;
* errors as ``[{"T":"error","code":N,"msg":"..."}]`` with §11.4.4's codes. 402, 404, 406, 407
  and 409 end the connection (close code 1008) [inf: Alpaca's close code is undocumented];
  the others leave it open;
* one authenticated connection per endpoint per key (a second gets 406); real-time SIP needs
  the paid plan (409 at auth on ``plan="free"``);
* JSON text frames by default, msgpack binary frames when the upgrade says
  ``Content-Type: application/msgpack`` (alpaca-py does; its ``t`` is a Timestamp there).
  Either encoding is accepted from the client.

Faults (:mod:`tui_trader.sim.faults`): ``connect`` specs with ``scope: data_socket`` refuse
the upgrade (429, 503... with Retry-After); ``data_socket`` specs close, cut, silence or send
an in-protocol error on an authenticated connection; ``/_emulator/disconnect`` cuts it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from tui_trader.sim import socket_faults
from tui_trader.sim.data_feed import DataHub, Listener, Message
from tui_trader.sim.faults import DataSocketFault
from tui_trader.sim.feeds import STREAM_FEEDS, stream_allowed
from tui_trader.sim.gate import ABORT_KEY, PROTOCOL_KEY

if TYPE_CHECKING:
    from tui_trader.sim.emulator import Emulator

ERRORS = {
    400: "invalid syntax",
    401: "not authenticated",
    402: "auth failed",
    403: "already authenticated",
    404: "auth timeout",
    405: "symbol limit exceeded",
    406: "connection limit exceeded",
    407: "slow client",
    409: "insufficient subscription",
    410: "invalid subscribe action for this feed",
    500: "internal error",
}
FATAL = frozenset({402, 404, 406, 407, 409})
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")
FOLLOW_TRADES = ("corrections", "cancelErrors")
FOREIGN = frozenset({"orderbooks", "news", "imbalances"})  # other feeds' channels: 410
FREE_SYMBOL_LIMIT = 30  # trade and quote symbols on the free plan (API.md §11.4.4)
CONTROL = frozenset({"success", "error", "subscription"})
FRAME_MESSAGES = 1000  # data messages per frame at most (Alpaca's batching is undocumented)
FAULT_POLL = 0.1  # seconds an idle writer waits before looking for a newly armed fault
_SYMBOL = re.compile(r"^(\*|[A-Z][A-Z0-9./-]{0,20})$")
_json = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()


def error(code: int) -> Message:
    return {"T": "error", "code": code, "msg": ERRORS[code]}


def header_credentials(headers: Any) -> tuple[str | None, str | None] | None:
    """(key, secret) from the upgrade's headers, or None when it carries none."""
    auth = headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            key, _, secret = (
                base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        return key or None, secret or None
    key_id, secret_key = headers.get("apca-api-key-id"), headers.get("apca-api-secret-key")
    if key_id is None and secret_key is None:
        return None
    return key_id, secret_key


class DataSocket:
    """The endpoints, the shared hub and the one-connection-per-endpoint-per-key slots."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.hub = DataHub(emulator)
        self.slots: dict[tuple[str, str], Session] = {}

    def routes(self) -> list[BaseRoute]:
        return [WebSocketRoute(f"/v2/{feed}", self._endpoint(feed)) for feed in STREAM_FEEDS]

    def _endpoint(self, feed: str) -> Callable[[WebSocket], Coroutine[Any, Any, None]]:
        async def endpoint(websocket: WebSocket) -> None:
            emu = self.emu
            emu.count(f"data_ws_connect_{feed}")  # every attempt, refused ones too
            fault = emu.faults.take_connect("data_socket", None)
            if fault is not None:
                emu.count(f"data_ws_refused_{fault.status}")
                await socket_faults.refuse_upgrade(
                    websocket, fault.status, socket_faults.retry_after(fault)
                )
                return
            await Session(self, websocket, feed).run()

        return endpoint


class Session:
    """One client connection: handshake, auth, subscriptions; data goes out in array frames."""

    def __init__(self, owner: DataSocket, websocket: WebSocket, feed: str) -> None:
        self.owner = owner
        self.emu = owner.emu
        self.ws = websocket
        self.feed = feed
        self.binary = "msgpack" in websocket.headers.get("content-type", "").lower()
        self.listener = Listener(feed)
        self.key: str | None = None
        self.fatal = False
        self.protocol: Any = websocket.scope.get(PROTOCOL_KEY)
        self.fault: DataSocketFault | None = None  # taken, waiting for its message count
        self.sent = 0  # data messages sent since the fault was taken
        self.silenced = False
        self.reader: asyncio.Task[bool] | None = None

    # ----------------------------------------------------------------------- lifecycle
    async def run(self) -> None:
        await self.ws.accept()
        self.listener.control({"T": "success", "msg": "connected"})
        given = header_credentials(self.ws.headers)
        if given is not None:
            self._auth(*given)
        abort = self.ws.scope.get(ABORT_KEY)  # POST /_emulator/disconnect cuts it too
        if abort is not None:
            self.emu.track(id(self), abort)
        writer = asyncio.create_task(self._write())
        reader = self.reader = asyncio.create_task(self._read())
        closing = self.emu.closing
        watch = asyncio.create_task(closing.wait() if closing else asyncio.Event().wait())
        try:
            await asyncio.wait({writer, reader, watch}, return_when=asyncio.FIRST_COMPLETED)
            if self.silenced and not watch.done():  # the silent fault stopped the reader
                await asyncio.wait({writer, watch}, return_when=asyncio.FIRST_COMPLETED)
            elif reader.done() and not reader.cancelled() and reader.result() and not watch.done():
                # a fatal error: let the writer send it and close, boundedly
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(writer), 5)
            elif watch.done():
                with contextlib.suppress(Exception):
                    await self.ws.close(1001)
        finally:
            for task in (writer, reader, watch):
                task.cancel()
            await asyncio.gather(writer, reader, watch, return_exceptions=True)
            self.owner.hub.unregister(self.listener)
            self.emu.track(id(self), None)
            if self.key is not None and self.owner.slots.get((self.feed, self.key)) is self:
                del self.owner.slots[(self.feed, self.key)]

    async def _write(self) -> None:
        """Send the outbox in order: each control reply alone, runs of data as one array;
        fire a taken fault once its count of data messages has gone out."""
        ln = self.listener
        while True:
            if self.fault is None and self.key is not None:
                self.fault, self.sent = self.emu.faults.take_data_socket(self.feed), 0
            if self.fault is not None and self.sent >= self.fault.after_messages:
                if await self._fire(self.fault):
                    return
                continue
            if not ln.wake.is_set():  # under load it is: no timer per frame
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ln.wake.wait(), FAULT_POLL)
                if not ln.wake.is_set():
                    continue
            ln.wake.clear()
            items, ln.outbox = ln.outbox, []
            run: list[Message] = []
            for m in items:
                if m["T"] in CONTROL:
                    await self._flush(run)
                    await self._send([m])
                    continue
                fault = self.fault
                if fault is not None and self.sent + len(run) >= fault.after_messages:
                    await self._flush(run)
                    if await self._fire(fault):
                        return
                run.append(m)
            await self._flush(run)
            if ln.overflow and not self.fatal:
                self.fatal = True
                await self._send([error(407)])
            if self.fatal:
                await self.ws.close(1008)
                return

    async def _flush(self, run: list[Message]) -> None:
        """Send a run of data in frames of at most ``FRAME_MESSAGES``: one frame of a slow
        reader's whole backlog grew to ~15 MB (120k quotes), past alpaca-py's 1 MiB frame
        limit, and froze any reader for seconds while it parsed it."""
        for i in range(0, len(run), FRAME_MESSAGES):
            chunk = run[i : i + FRAME_MESSAGES]
            await self._send(chunk)
            self.sent += len(chunk)
        run.clear()

    async def _fire(self, fault: DataSocketFault) -> bool:
        """Do what ``fault`` says; True when the connection is over."""
        self.fault = None
        self.emu.faults.fired(f"data_socket_{fault.action}")
        if fault.action == "close":
            await self.ws.close(fault.code, fault.reason)
        elif fault.action == "cut":
            socket_faults.cut(self.protocol)
        elif fault.action == "silent":
            self.silenced = True
            self.owner.hub.unregister(self.listener)  # nothing piles up meanwhile
            if self.reader is not None:
                self.reader.cancel()
            await socket_faults.go_silent(self.protocol, fault.seconds, self.emu.closing)
            socket_faults.cut(self.protocol)
        else:
            await self._send([error(fault.error)])
            if fault.error not in FATAL:
                return False
            self.fatal = True
            await self.ws.close(1008)
        return True

    async def _send(self, messages: list[Message]) -> None:
        if self.binary:
            await self.ws.send_bytes(_msgpack.encode(messages))
        else:
            await self.ws.send_text(_json.encode(messages).decode())

    async def _read(self) -> bool:
        """Handle the client's messages; True when a fatal error ends the connection."""
        deadline = time.monotonic() + self.emu.config.data_auth_timeout
        while not self.fatal:
            if self.key is None:
                left = deadline - time.monotonic()
                try:
                    frame = await asyncio.wait_for(self.ws.receive(), max(left, 0.0))
                except TimeoutError:
                    self._fail(404)
                    return True
            else:
                frame = await self.ws.receive()
            if frame["type"] == "websocket.disconnect":
                return False
            self._handle(frame)
        return True

    # ------------------------------------------------------------------------ protocol
    def _fail(self, code: int) -> None:
        self.listener.control(error(code))
        if code in FATAL:
            self.fatal = True

    def _handle(self, frame: Mapping[str, Any]) -> None:
        try:
            if frame.get("bytes") is not None:
                msg = msgspec.msgpack.decode(frame["bytes"])
            else:
                msg = msgspec.json.decode(frame.get("text") or "")
        except (msgspec.DecodeError, ValueError):
            self._fail(400)
            return
        action = msg.get("action") if isinstance(msg, dict) else None
        if action == "auth":
            key, secret = msg.get("key"), msg.get("secret")
            if not isinstance(key, str) or not isinstance(secret, str):
                self._fail(400)
                return
            self._auth(key, secret)
        elif action in ("subscribe", "unsubscribe"):
            if self.key is None:
                self._fail(401)
            else:
                self._subscribe(msg, add=action == "subscribe")
        else:
            self._fail(400)

    def _auth(self, key: str | None, secret: str | None) -> None:
        if self.key is not None:
            self._fail(403)
        elif not self.emu.check_credentials(key, secret):
            self.emu.count("data_ws_auth_rejected")
            self._fail(402)
        elif not stream_allowed(self.feed, self.emu.config.plan):
            self._fail(409)
        elif key is None or (self.feed, key) in self.owner.slots:
            self._fail(406)
        elif not self._auth_fault():
            self.owner.slots[(self.feed, key)] = self
            self.key = key
            self.listener.control({"T": "success", "msg": "authenticated"})
            self.owner.hub.register(self.listener)

    def _auth_fault(self) -> bool:
        """An armed error fault answers the auth itself (a 406 as Alpaca says it to a second
        connection); any other fault is taken now and fires once authenticated."""
        fault = self.emu.faults.take_data_socket(self.feed)
        if fault is not None and fault.action == "error":
            self.emu.faults.fired("data_socket_error")
            self._fail(fault.error)
            return True
        self.fault, self.sent = fault, 0
        return False

    def _subscribe(self, msg: dict[str, Any], add: bool) -> None:
        changes: dict[str, set[str]] = {}
        for name, value in msg.items():
            if name == "action" or name in FOLLOW_TRADES:
                continue
            if name in FOREIGN:
                self._fail(410)
                return
            valid = isinstance(value, list) and all(
                isinstance(s, str) and _SYMBOL.match(s) for s in value
            )
            if name not in CHANNELS or not valid:
                self._fail(400)
                return
            changes[name] = set(value)
        current = self.listener.channels
        updated = {
            ch: (current.get(ch, set()) | changes.get(ch, set()))
            if add
            else (current.get(ch, set()) - changes.get(ch, set()))
            for ch in CHANNELS
        }
        if self.emu.config.plan == "free":
            streamed = (updated["trades"] | updated["quotes"]) - {"*"}
            if len(streamed) > FREE_SYMBOL_LIMIT:
                self._fail(405)
                return
        self.listener.channels = updated
        reply: Message = {"T": "subscription"}
        for ch in CHANNELS:
            reply[ch] = sorted(updated[ch])
        for ch in FOLLOW_TRADES:
            reply[ch] = sorted(updated["trades"])
        self.listener.control(reply)
