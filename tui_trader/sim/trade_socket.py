"""The trading websocket (``/stream``, stream ``trade_updates``) as Alpaca's paper host serves it.

Protocol (API.md §11.3): no welcome message; ``auth`` or ``authenticate`` answered with an
``authorization`` message; ``listen`` acknowledged with the streams that exist; then
``{"stream":"trade_updates","data":{...}}`` for every order event of the account, from the
same event log the SSE streams serve, but live only: a connection never gets what happened
before it listened (there is no replay; a client reconciles over REST). Frames are binary by
default, as paper sends them; JSON unless the upgrade asked for ``application/msgpack``.

One connection per account: a second upgrade while one is open gets HTTP 429, and so does one
while the slot is still held after a connection vanished without a close handshake (for
``ws_hold_seconds``, as Alpaca reaps half-dead sockets). Faults (``trade_socket`` specs, and
``connect`` specs with ``scope: trade_socket``) come from :mod:`tui_trader.sim.faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import msgpack  # type: ignore[import-untyped]
from starlette.routing import WebSocketRoute
from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from tui_trader.sim import socket_faults
from tui_trader.sim.emulator import Emulator
from tui_trader.sim.faults import TradeSocketFault
from tui_trader.sim.gate import PROTOCOL_KEY
from tui_trader.sim.socket_faults import refuse_upgrade, retry_after

log = logging.getLogger("tui_trader.sim")

STREAM = "trade_updates"
FAULT_POLL = 0.1  # seconds an idle listener waits before looking for a newly armed fault
_GONE = (WebSocketDisconnect, WebSocketDisconnected, OSError)  # the peer is gone: end quietly


@dataclass
class _Slot:
    """One account's single connection: who holds it, and until when a vanished one does."""

    holder: int | None = None
    held_until: float = 0.0  # time.monotonic()


class TradeSocket:
    """The ``/stream`` routes and the per-account slots of one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self._slots: dict[str, _Slot] = {}
        self._next_id = 0

    def routes(self) -> list[WebSocketRoute]:
        return [WebSocketRoute("/stream", self.serve), WebSocketRoute("/stream/", self.serve)]

    def slot_state(self, account_id: str | None = None) -> str:
        """``open``, ``held`` or ``free``: the state of an account's slot (tests poll it)."""
        slot = self._slots.get(account_id or self.emu.exchange.default_account.id)
        if slot is None:
            return "free"
        if slot.holder is not None:
            return "open"
        return "held" if slot.held_until > time.monotonic() else "free"

    async def serve(self, ws: WebSocket) -> None:
        emu = self.emu
        emu.count("connect_trade_socket")
        fault = emu.faults.take_connect("trade_socket", None)
        if fault is not None:
            await refuse_upgrade(ws, fault.status, retry_after(fault))
            return
        account = emu.exchange.default_account.id  # a Trading key is one account
        slot = self._slots.setdefault(account, _Slot())
        now = time.monotonic()
        if slot.holder is not None or slot.held_until > now:
            emu.count("trade_socket_refused")
            retry = None if slot.holder is not None else str(math.ceil(slot.held_until - now))
            await refuse_upgrade(ws, 429, retry)
            return
        self._next_id += 1
        slot.holder = self._next_id
        emu.open_connection(STREAM)
        session = _Session(emu, ws, account)
        emu.track(id(session), session.cut)
        try:
            await ws.accept()
            await session.run()
        except _GONE:
            pass
        finally:
            emu.track(id(session), None)
            emu.close_connection(STREAM)
            slot.holder = None
            if not session.clean:
                slot.held_until = time.monotonic() + emu.config.ws_hold_seconds


class _Session:
    """One accepted connection: a reader for the client's requests, a follower of the log."""

    def __init__(self, emulator: Emulator, ws: WebSocket, account_id: str) -> None:
        self.emu = emulator
        self.ws = ws
        self.account_id = account_id
        self.protocol: Any = ws.scope.get(PROTOCOL_KEY)
        headers = ws.headers
        self.msgpack = headers.get("content-type", "").lower().startswith("application/msgpack")
        self.authorized = False
        self.clean = False  # a close handshake (either side) frees the slot at once
        self.silenced = False  # the silent fault stopped the reader: that does not end it
        self.ended = asyncio.Event()
        self.reader: asyncio.Task[None] | None = None
        self.follower: asyncio.Task[None] | None = None

    async def run(self) -> None:
        self.reader = asyncio.create_task(self._read(), name="trade-socket-reader")
        try:
            await self.ended.wait()
        finally:
            for task in (self.reader, self.follower):
                if task is not None and task is not asyncio.current_task():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, *_GONE):
                        await task

    # ----------------------------------------------------------------------------- wire
    async def send(self, message: dict[str, Any]) -> None:
        if self.msgpack:
            await self.ws.send_bytes(msgpack.packb(message))
            return
        text = json.dumps(message, separators=(",", ":"))
        if self.emu.config.ws_binary_frames:
            await self.ws.send_bytes(text.encode())
        else:
            await self.ws.send_text(text)

    def _decode(self, message: Message) -> Any:
        data = message.get("bytes")
        if data is not None and self.msgpack:
            return msgpack.unpackb(data)
        return json.loads(data if data is not None else message.get("text") or "")

    # --------------------------------------------------------------------------- reader
    async def _read(self) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    self.clean = self.clean or self._close_frame_seen(message)
                    return
                try:
                    request = self._decode(message)
                except ValueError:  # bad JSON, bad UTF-8, bad msgpack
                    request = None
                await self._handle(request)
        except _GONE:
            pass
        except Exception:
            log.exception("trade_updates socket failed")
            await self._fail("internal server error")
        finally:
            if not self.silenced:
                self.ended.set()

    def _close_frame_seen(self, message: Message) -> bool:
        """Did the client send a close frame, or did the connection just vanish?"""
        conn = getattr(self.protocol, "conn", None)
        if conn is not None and hasattr(conn, "close_rcvd"):
            return conn.close_rcvd is not None
        return message.get("code") not in (1005, 1006)

    async def _handle(self, request: Any) -> None:
        action = request.get("action") if isinstance(request, dict) else None
        if action in ("auth", "authenticate"):
            await self._auth(request)
        elif action == "listen":
            await self._listen(request)
        else:  # [inf] Alpaca does not document its answer to a request it cannot read
            await self.send({"action": "error", "data": {"error_message": "invalid request"}})

    async def _auth(self, request: dict[str, Any]) -> None:
        if request["action"] == "auth":
            key, secret = request.get("key"), request.get("secret")
        else:
            data = request.get("data")
            data = data if isinstance(data, dict) else {}
            key, secret = data.get("key_id"), data.get("secret_key")
        forced = self.emu.faults.take_auth()  # a reject_auth fault refuses these keys too
        ok = (
            forced is None
            and isinstance(key, str)
            and isinstance(secret, str)
            and self.emu.check_credentials(key, secret)
        )
        if not ok:
            self.emu.count("auth_rejected")
            self._stop_following()
        self.authorized = ok
        status = "authorized" if ok else "unauthorized"
        await self.send(
            {"stream": "authorization", "data": {"status": status, "action": "authenticate"}}
        )

    async def _listen(self, request: dict[str, Any]) -> None:
        if not self.authorized:
            await self.send(
                {"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}}
            )
            return
        data = request.get("data")
        asked = data.get("streams") if isinstance(data, dict) else None
        streams = [STREAM] if isinstance(asked, list) and STREAM in asked else []
        start = self.emu.exchange.logs["trades"].end  # no replay: only what comes next
        if not streams:
            self._stop_following()
        await self.send({"stream": "listening", "data": {"streams": streams}})
        if streams and self.follower is None:
            self.follower = asyncio.create_task(self._follow(start), name="trade-socket-follower")

    def _stop_following(self) -> None:
        if self.follower is not None:
            self.follower.cancel()
            self.follower = None

    # ------------------------------------------------------------------------- follower
    async def _follow(self, index: int) -> None:
        emu = self.emu
        faults = emu.faults
        stream_log = emu.exchange.logs["trades"]
        fault: TradeSocketFault | None = None
        sent = 0
        try:
            while not emu.is_closing:
                if fault is None:
                    fault = faults.take_trade_socket()
                    sent = 0
                if fault is not None and sent >= fault.after_events:
                    faults.fired(f"trade_socket_{fault.action}")
                    await self._fire(fault)
                    return
                event = stream_log.get(index)
                if event is None:
                    if index < stream_log.first_index():
                        # the retention window passed this reader: never skip in silence;
                        # the error and close Alpaca ends a connection with, so the client
                        # reconnects and reconciles what it missed
                        lost = stream_log.first_index() - index
                        emu.count("trade_socket_behind_retention")
                        await self._fail(f"reading too slowly: {lost} trade updates dropped")
                        self.ended.set()
                        return
                    await stream_log.wait_beyond(index, FAULT_POLL)
                    continue
                index += 1
                payload: dict[str, Any] = json.loads(event.line)
                if payload.pop("account_id", None) != self.account_id:
                    continue
                if not emu.config.ws_event_ids:
                    payload.pop("event_id", None)
                    payload.pop("at", None)
                await self.send({"stream": STREAM, "data": payload})
                sent += 1
                if fault is None:
                    fault = faults.chaos_trade_socket() if faults.chaos else None
                    sent = 0
        except _GONE:
            self.ended.set()
        except Exception:
            log.exception("trade_updates socket failed")
            await self._fail("internal server error")
            self.ended.set()

    async def _fire(self, fault: TradeSocketFault) -> None:
        action = fault.action
        if action == "close":
            self.clean = True
            with contextlib.suppress(*_GONE):
                await self.ws.close(fault.code, fault.reason)
        elif action == "error":
            await self._fail(fault.message)
        elif action == "cut":
            self.cut()
        elif action == "silent":
            await self._silence(fault.seconds)
        self.ended.set()

    async def _fail(self, message: str) -> None:
        """The in-stream error Alpaca sends before it closes (API.md §11.3.3)."""
        self.clean = True
        with contextlib.suppress(*_GONE):
            await self.send({"action": "error", "data": {"error_message": message}})
            await self.ws.close(1011, message[:123])

    def cut(self) -> None:
        """Abort the TCP connection: no close frame, as a network failure ends it."""
        socket_faults.cut(self.protocol)
        self.ended.set()

    async def _silence(self, seconds: float) -> None:
        """Keep the TCP connection open, send nothing, read nothing (so no pong), then cut;
        the reader task stops first, as the protocol resumes reading whenever the
        application asks for a message."""
        self.silenced = True
        if self.reader is not None:
            self.reader.cancel()
        await socket_faults.go_silent(self.protocol, seconds, self.emu.closing)
        self.cut()
