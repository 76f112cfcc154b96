"""The trade stream over the trading websocket (API.md §11.3), against scripted servers on
127.0.0.1 that behave as §11.3 says Alpaca's does (no welcome, binary frames, 429 on the
upgrade with Retry-After, silence without pongs, close codes, a cut), with the emulator's
REST behind the catch-up that follows every connect (there is no replay).

Timings are scaled down: backoff 0.05-0.4 s (the harness's FAST), ping every 0.1 s with a
0.2 s timeout, the 429 floor 0.3 s."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from tests.integration.harness import Harness, admin, harnesses
from tests.waiting import until
from tui_trader.broker.status import State
from tui_trader.broker.trade_socket import SocketOptions
from tui_trader.sim.runner import RunningEmulator

FAST_SOCKET = SocketOptions(ping_interval=0.1, ping_timeout=0.2, open_timeout=1, ack_timeout=2)
Handler = Callable[[ServerConnection, "Script"], Awaitable[None]]


@dataclass
class Script:
    """A scripted trading websocket: what each connection does, and what it saw."""

    handler: Handler
    refuse: list[tuple[int, str | None]] = field(default_factory=list)  # per upgrade, in order
    upgrades: list[float] = field(default_factory=list)  # monotonic time of each upgrade
    auths: list[dict[str, Any]] = field(default_factory=list)
    extensions: list[str | None] = field(default_factory=list)  # what each upgrade offered
    server: Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/stream"

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.upgrades.append(time.monotonic())
        self.extensions.append(request.headers.get("Sec-WebSocket-Extensions"))
        if not self.refuse:
            return None
        status, retry_after = self.refuse.pop(0)
        headers = Headers()
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        body = b'{"code":42910000,"message":"too many connections"}'
        return Response(status, HTTPStatus(status).phrase, headers, body)

    async def serve(self, conn: ServerConnection) -> None:
        await self.handler(conn, self)


async def login(conn: ServerConnection, script: Script, ok: bool = True) -> bool:
    """Alpaca's side of auth and listen, every reply in a binary frame (as paper sends)."""
    auth = json.loads(await conn.recv())
    script.auths.append(auth)
    status = "authorized" if ok else "unauthorized"
    reply = {"stream": "authorization", "data": {"status": status, "action": "authenticate"}}
    await conn.send(json.dumps(reply).encode())
    if not ok:
        await conn.close(1000)  # (Alpaca keeps it open; either way the client must stop)
        return False
    listen = json.loads(await conn.recv())
    assert listen == {"action": "listen", "data": {"streams": ["trade_updates"]}}
    ack = {"stream": "listening", "data": {"streams": ["trade_updates"]}}
    await conn.send(json.dumps(ack).encode())
    return True


async def stay(conn: ServerConnection, script: Script) -> None:
    if await login(conn, script):
        await conn.wait_closed()


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[..., Awaitable[Script]]]:
    started: list[Script] = []

    async def start(handler: Handler = stay, **kw: Any) -> Script:
        script = Script(handler, **kw)
        script.server = await serve(
            script.serve, "127.0.0.1", 0, process_request=script.process_request
        )
        started.append(script)
        return script

    yield start
    for script in started:
        assert script.server is not None
        script.server.close()
        await script.server.wait_closed()


@pytest.fixture
async def harness_for(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    async with harnesses(tmp_path) as make:
        yield make


async def on_socket(
    make: Callable[..., Any], sim: RunningEmulator, script: Script, **options: Any
) -> Harness:
    options.setdefault("poll", False)
    options.setdefault("reconcile", False)
    h: Harness = await make(
        sim,
        streams=("trades",),
        transport="websocket",
        stream_url=script.url,
        socket=FAST_SOCKET,
        refused_floor=0.3,
        **options,
    )
    return h


def trades(h: Harness) -> Any:
    return next(s for s in h.supervisor.status().streams if s.name == "trades")


async def test_it_logs_in_listens_and_journals_binary_updates_with_their_own_ids(
    sim: RunningEmulator, harness_for: Any, scripted: Any
) -> None:
    order = {"id": "o-1", "symbol": "AAPL", "side": "buy", "qty": "1", "filled_qty": "0"}
    update = {
        "event": "new",
        "order": {**order, "status": "new"},
        "timestamp": "2026-11-24T15:00:00Z",
    }

    async def one_update(conn: ServerConnection, script: Script) -> None:
        assert await login(conn, script)
        await conn.send(json.dumps({"stream": "trade_updates", "data": None}).encode())
        await conn.send(json.dumps({"stream": "trade_updates", "data": update}).encode())
        await conn.wait_closed()

    script = await scripted(one_update)
    h = await on_socket(harness_for, sim, script)
    await h.until(lambda: "ws:new:o-1:0:2026-11-24T15:00:00Z" in h.ids("trades"))
    assert script.auths == [{"action": "auth", "key": "test-key", "secret": "test-secret"}]
    # no permessage-deflate offered: trade updates are small, and at thousands a second
    # compressing and inflating each one cost CPU at both ends (bench/ui.py)
    assert script.extensions == [None]
    assert trades(h).transport == "websocket"
    assert trades(h).state is State.STREAMING
    await until(lambda: trades(h).catch_ups >= 1, 10, "the REST catch-up after the connect")


async def test_two_refusals_in_a_row_end_in_auth_failed(
    sim: RunningEmulator, harness_for: Any, scripted: Any
) -> None:
    async def refuse(conn: ServerConnection, script: Script) -> None:
        await login(conn, script, ok=False)

    script = await scripted(refuse)
    h = await on_socket(harness_for, sim, script)
    assert h.task is not None
    await asyncio.wait_for(h.task, 10)
    assert h.supervisor.auth_failure is not None
    assert trades(h).state is State.AUTH_FAILED
    assert len(script.upgrades) == 2


async def test_a_429_on_the_upgrade_honours_retry_after_and_never_storms(
    sim: RunningEmulator, harness_for: Any, scripted: Any
) -> None:
    script = await scripted(refuse=[(429, "1"), (429, None), (503, "0.5")])
    h = await on_socket(harness_for, sim, script)
    await h.until(lambda: trades(h).state is State.STREAMING, 15)
    gaps = [b - a for a, b in zip(script.upgrades, script.upgrades[1:], strict=False)]
    assert len(script.upgrades) == 4  # three refusals, then the connection: no storm
    assert gaps[0] >= 1.0  # Retry-After: 1
    assert gaps[1] >= 0.3  # a 429 without one still waits the floor
    assert gaps[2] >= 0.5  # a 503's Retry-After
    refused = [t for t in h.transitions if t.state is State.BACKOFF]
    assert refused[0].retry_after == 1.0 and "429" in refused[0].reason
    # the trader reads why: Alpaca's one connection per account, not a bare status code
    assert "one trade_updates connection per account" in refused[0].reason


async def test_a_silent_socket_is_found_by_its_ping_timeout_and_replaced(
    sim: RunningEmulator, harness_for: Any, scripted: Any
) -> None:
    async def silent_first(conn: ServerConnection, script: Script) -> None:
        assert await login(conn, script)
        if len(script.upgrades) == 1:
            conn.transport.pause_reading()  # reads nothing more: no pong, TCP still open
            await until(lambda: len(script.upgrades) >= 2, 15, "the client's next attempt")
            conn.transport.abort()
            return
        await conn.wait_closed()

    script = await scripted(silent_first)
    h = await on_socket(harness_for, sim, script)
    await h.until(lambda: len(script.upgrades) >= 2 and trades(h).state is State.STREAMING, 15)
    assert any("no pong" in t.reason for t in h.transitions)
    assert trades(h).reconnects == 1


@pytest.mark.parametrize("how", ["cut", "close 1011", "close 1001", "error"])
async def test_a_cut_a_close_or_an_error_reconnects(
    how: str, sim: RunningEmulator, harness_for: Any, scripted: Any
) -> None:
    async def end_first(conn: ServerConnection, script: Script) -> None:
        assert await login(conn, script)
        if len(script.upgrades) == 1:
            if how == "cut":
                conn.transport.abort()
                return
            if how == "error":
                error = {"action": "error", "data": {"error_message": "internal server error"}}
                await conn.send(json.dumps(error))
                await conn.close(1011)
                return
            await conn.close(int(how.split()[1]))
            return
        await conn.wait_closed()

    script = await scripted(end_first)
    h = await on_socket(harness_for, sim, script)
    await h.until(lambda: len(script.upgrades) >= 2 and trades(h).state is State.STREAMING, 15)
    assert trades(h).reconnects == 1
    down = [t.reason for t in h.transitions if t.state is State.BACKOFF]
    word = {"cut": "websocket", "close 1011": "1011", "close 1001": "closed", "error": "error"}
    assert down and word[how] in down[0], down


def _market(sim: RunningEmulator, symbol: str, qty: int) -> str:
    ex = sim.emulator.exchange
    body = {
        "symbol": symbol,
        "qty": str(qty),
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
    }
    order_id: str = sim.call(lambda: ex.submit(ex.default_account, body).id)
    return order_id


async def test_a_fill_while_the_socket_is_down_is_booked_once_after_the_reconnect(
    sim: RunningEmulator, harness_for: Any, scripted: Any
) -> None:
    """The socket is down while an order fills on the emulator: it never says so, and
    nothing replays it. The catch-up after the reconnect books it, once; a fill the socket
    did deliver (no event_id, as older messages) is not booked again by the catch-up."""
    up = asyncio.Event()
    allow_second = asyncio.Event()
    to_send: list[dict[str, Any]] = []

    async def flaky(conn: ServerConnection, script: Script) -> None:
        if len(script.upgrades) == 2:
            await allow_second.wait()
        assert await login(conn, script)
        if len(script.upgrades) == 1:
            up.set()
            await asyncio.sleep(0.3)
            conn.transport.abort()  # the socket goes down
            return
        for data in to_send:
            await conn.send(json.dumps({"stream": "trade_updates", "data": data}).encode())
        await conn.wait_closed()

    script = await scripted(flaky)
    h = await on_socket(harness_for, sim, script)
    await until(up.is_set, 10, "first connection")
    await until(lambda: trades(h).state is not State.STREAMING, 10, "the drop")
    missed = _market(sim, "AAPL", 3)  # fills while nothing listens
    seen = _market(sim, "MSFT", 2)  # the socket will say this one
    await admin(sim, "/_emulator/clock/advance", {"seconds": 1})
    async with __import__("httpx").AsyncClient(base_url=sim.url, headers=dict(_headers())) as c:
        r = await c.get(f"/v2/orders/{seen}")
        order = r.json()
    assert order["status"] == "filled"
    to_send.append(
        {
            "event": "fill",
            "order": order,
            "price": order["filled_avg_price"],
            "qty": order["filled_qty"],
            "position_qty": order["filled_qty"],
            "timestamp": order["filled_at"],
        }
    )
    allow_second.set()

    def fills(order_id: str) -> list[Any]:
        return [
            d
            for d in h.delivered
            if d.type in ("fill", "partial_fill")
            and d.event is not None
            and str(d.event.order.id) == order_id  # type: ignore[union-attr]
        ]

    await h.until(lambda: fills(missed) and fills(seen) and trades(h).catch_ups >= 2, 15)
    # the catch-up and the socket both had the MSFT fill; allow a moment for any second copy
    await asyncio.sleep(0.3)
    assert [d.source for d in fills(missed)] == ["poll"]  # recovered over REST, once
    assert len(fills(seen)) == 1
    assert Decimal(fills(missed)[0].event.order.filled_qty) == 3  # type: ignore[union-attr]
    stored = [e for e in h.journal.events_after(0) if e.type == "fill"]
    assert sorted(e.fact or "" for e in stored) == sorted({e.fact or "" for e in stored})


def _headers() -> dict[str, str]:
    from tests.integration.conftest import KEY_HEADERS

    return KEY_HEADERS
