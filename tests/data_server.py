"""A small scripted market-data websocket (API.md §11.4) on 127.0.0.1 for the client's tests:
welcome, auth by message, a subscription reply listing the whole subscription, data arrays
pushed by the test, and the error codes a test asks for."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

KEY, SECRET = "data-key", "data-secret"


@dataclass
class Script:
    """What the server does; a test changes it between connections."""

    upgrade_status: int | None = None  # refuse the upgrade with this HTTP status
    retry_after: str | None = None
    auth_error: tuple[int, str] | None = None  # e.g. (402, "auth failed")
    limit_first: int = 0  # the first N connections get 406 after auth
    refuse_feeds: set[str] = field(default_factory=set)  # 409 after auth on these paths
    mute_first: int = 0  # the first N connections go silent after subscribing (pongs go on)


class DataServer:
    def __init__(self, script: Script | None = None, key: str = KEY, secret: str = SECRET) -> None:
        self.script = script or Script()
        self.key, self.secret = key, secret
        self.attempts: list[tuple[float, str]] = []  # (monotonic, path) per upgrade asked
        self.sessions = 0  # subscribed sessions
        self.live: list[tuple[ServerConnection, str]] = []
        self.received: list[dict[str, Any]] = []
        self._server: Server | None = None
        self.subscribed = asyncio.Event()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, feed: str = "iex") -> str:
        return f"ws://127.0.0.1:{self.port}/v2/{feed}"

    def _process(self, conn: ServerConnection, request: Request) -> Response | None:
        self.attempts.append((time.monotonic(), request.path))
        status = self.script.upgrade_status
        if status is None:
            return None
        headers = Headers()
        if self.script.retry_after is not None:
            headers["Retry-After"] = self.script.retry_after
        body = b'{"message":"refused"}'
        return Response(status, HTTPStatus(status).phrase, headers, body)

    async def _handle(self, ws: ServerConnection) -> None:
        path = ws.request.path if ws.request is not None else ""
        feed = path.rpartition("/")[2]
        n = len(self.attempts)
        await ws.send(json.dumps([{"T": "success", "msg": "connected"}]))
        auth = json.loads(await ws.recv())
        self.received.append(auth)
        if auth.get("key") != self.key or auth.get("secret") != self.secret:
            await ws.send(json.dumps([{"T": "error", "code": 402, "msg": "auth failed"}]))
            return
        if self.script.auth_error is not None:
            code, msg = self.script.auth_error
            await ws.send(json.dumps([{"T": "error", "code": code, "msg": msg}]))
            return
        if n <= self.script.limit_first:
            await ws.send(
                json.dumps([{"T": "error", "code": 406, "msg": "connection limit exceeded"}])
            )
            return
        if feed in self.script.refuse_feeds:
            await ws.send(
                json.dumps([{"T": "error", "code": 409, "msg": "insufficient subscription"}])
            )
            return
        await ws.send(json.dumps([{"T": "success", "msg": "authenticated"}]))
        sub = json.loads(await ws.recv())
        self.received.append(sub)
        reply = {"T": "subscription"}
        for channel in ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses"):
            reply[channel] = sub.get(channel, [])
        await ws.send(json.dumps([reply]))
        self.sessions += 1
        mute = self.sessions <= self.script.mute_first
        if not mute:
            self.live.append((ws, feed))
        self.subscribed.set()
        try:
            await ws.wait_closed()
        finally:
            if (ws, feed) in self.live:
                self.live.remove((ws, feed))

    async def push(self, *messages: dict[str, Any]) -> int:
        """Send one array frame to every subscribed, non-mute connection; how many got it."""
        frame = json.dumps(list(messages))
        for ws, _ in list(self.live):
            await ws.send(frame)
        return len(self.live)

    async def cut(self) -> None:
        """Close every live connection (an abnormal drop as the client sees it)."""
        for ws, _ in list(self.live):
            await ws.close(1011, "cut")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[DataServer]:
        async with serve(
            self._handle, "127.0.0.1", 0, process_request=self._process, ping_interval=None
        ) as server:
            self._server = server
            yield self


def quote(
    symbol: str, bid: Any, ask: Any, t: str = "2026-11-24T15:00:01.123456789Z"
) -> dict[str, Any]:
    return {
        "T": "q",
        "S": symbol,
        "bx": "V",
        "bp": bid,
        "bs": 1,
        "ax": "V",
        "ap": ask,
        "as": 2,
        "c": ["R"],
        "z": "C",
        "t": t,
    }


def bar(symbol: str, t: str, close: Any, kind: str = "b") -> dict[str, Any]:
    return {
        "T": kind,
        "S": symbol,
        "o": close,
        "h": close,
        "l": close,
        "c": close,
        "v": 100,
        "t": t,
        "n": 3,
        "vw": close,
    }
