"""The market-data websocket's faults as a client sees them, with the ``websockets`` library:
a close with a code, a TCP cut, a silent socket (no data, no pong), 429/503 on the upgrade,
and Alpaca's in-protocol 406/407 errors. Emulator at 60x (a quote every tick, a bar a second);
client pings every 0.1 s with a 0.3 s timeout where liveness is under test."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from tests.integration.conftest import BASE_CONFIG
from tests.integration.test_data_socket import collect, has, login, recv, send, ws_url
from tests.waiting import until
from tui_trader.sim.data_socket import DataSocket
from tui_trader.sim.runner import RunningEmulator, start_in_thread


@pytest.fixture
def sim() -> Iterator[RunningEmulator]:
    running = start_in_thread(replace(BASE_CONFIG, speed=60.0, tick_seconds=0.02, plan="free"))
    try:
        yield running
    finally:
        running.stop()


def open_ws(sim: RunningEmulator, feed: str = "iex", **kw: Any) -> Any:
    kw.setdefault("close_timeout", 0.5)
    return connect(ws_url(sim, feed), proxy=None, open_timeout=5, **kw)


async def quoting(ws: ClientConnection) -> None:
    """Authenticated and subscribed to AAPL's quotes, the first one received."""
    assert (await login(ws))[0]["msg"] == "authenticated"
    await send(ws, {"action": "subscribe", "quotes": ["AAPL"]})
    await collect(ws, has("q"))


async def arm(sim: RunningEmulator, *specs: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as c:
        r = await c.post("/_emulator/faults", json=list(specs))
        assert r.status_code == 200, r.text


def fired(sim: RunningEmulator, kind: str) -> int:
    return int(sim.call(lambda: sim.emulator.faults.injected.get(kind, 0)))


def stat(sim: RunningEmulator, name: str) -> int:
    return int(sim.call(lambda: sim.emulator.stats.get(name, 0)))


async def test_close_with_a_code_after_some_messages(sim: RunningEmulator) -> None:
    async with open_ws(sim) as ws:
        await quoting(ws)
        await arm(
            sim,
            {"kind": "data_socket", "action": "close", "code": 4002}
            | {"reason": "bye", "after_messages": 3},
        )
        got: list[dict[str, Any]] = []
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(50):
                got += await recv(ws)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4002, "bye")
    assert fired(sim, "data_socket_close") == 1
    async with open_ws(sim) as again:  # a clean close frees the endpoint at once
        await quoting(again)


async def test_tcp_cut_sends_no_close_frame(sim: RunningEmulator) -> None:
    async with open_ws(sim) as ws:
        await quoting(ws)
        await arm(sim, {"kind": "data_socket", "action": "cut"})
        with pytest.raises(ConnectionClosedError) as cut:
            for _ in range(100):
                await recv(ws)
        assert cut.value.rcvd is None and cut.value.sent is None


async def test_admin_disconnect_cuts_it(sim: RunningEmulator) -> None:
    async with open_ws(sim) as ws:
        await quoting(ws)
        async with httpx.AsyncClient(base_url=sim.url) as c:
            assert (await c.post("/_emulator/disconnect")).json()["cut"] >= 1
        with pytest.raises(ConnectionClosedError):
            for _ in range(100):
                await recv(ws)


async def test_a_silent_socket_sends_nothing_and_answers_no_ping(sim: RunningEmulator) -> None:
    async with open_ws(sim, ping_interval=0.1, ping_timeout=0.3) as ws:
        await quoting(ws)
        await until(lambda: ws.latency > 0, 2, "pongs come while it is healthy")
        await arm(sim, {"kind": "data_socket", "action": "silent", "seconds": 3})
        await until(lambda: fired(sim, "data_socket_silent"), 2, "silence")
        started = time.monotonic()
        with pytest.raises(ConnectionClosedError) as dead:
            for _ in range(100):  # what was in flight before the fault may still arrive
                await recv(ws, 5)
        assert dead.value.rcvd is None  # nothing came back, not even a close frame
        assert dead.value.sent is not None and dead.value.sent.code == 1011  # ping timeout
        assert time.monotonic() - started < 2  # noticed by the ping, not the server's cut
    # the server still holds the half-dead connection: the endpoint's slot is taken
    async with open_ws(sim) as second:
        assert await login(second) == [
            {"T": "error", "code": 406, "msg": "connection limit exceeded"}
        ]
    # ...until the silence ends in a cut, which frees it
    await until(lambda: not sim.call(lambda: bool(_slots(sim))), 6, "slot freed")
    async with open_ws(sim) as third:
        await quoting(third)


def _slots(sim: RunningEmulator) -> dict[Any, Any]:
    """The market-data socket's taken slots, found through a route's endpoint closure."""
    for route in sim._server.config.app.app.routes:
        for cell in getattr(route.endpoint, "__closure__", None) or ():
            if isinstance(cell.cell_contents, DataSocket):
                return cell.cell_contents.slots
    raise AssertionError("no market-data socket in the app")


@pytest.mark.parametrize(("status", "retry"), [(429, "3"), (503, "7")])
async def test_upgrade_refusals_with_retry_after(
    sim: RunningEmulator, status: int, retry: str
) -> None:
    spec = {"kind": "connect", "scope": "data_socket", "status": status}
    await arm(sim, spec | {"retry_after": float(retry)})
    with pytest.raises(InvalidStatus) as refused:
        async with open_ws(sim):
            pass
    response = refused.value.response
    assert response.status_code == status and response.headers["Retry-After"] == retry
    assert json.loads(response.body)["message"]
    async with open_ws(sim) as ws:  # one refusal armed, one spent
        await quoting(ws)
    assert stat(sim, "data_ws_connect_iex") == 2  # both attempts counted
    assert stat(sim, f"data_ws_refused_{status}") == 1


async def test_trading_socket_refusals_leave_the_data_socket_alone(sim: RunningEmulator) -> None:
    await arm(sim, {"kind": "connect", "scope": "trade_socket", "status": 503})
    async with open_ws(sim) as ws:
        await quoting(ws)


async def test_slow_client_407_then_the_connection_ends(sim: RunningEmulator) -> None:
    async with open_ws(sim) as ws:
        await quoting(ws)
        await arm(sim, {"kind": "data_socket", "action": "error", "error": 407})
        got: list[dict[str, Any]] = []
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(100):
                got += await recv(ws)
        assert got[-1] == {"T": "error", "code": 407, "msg": "slow client"}
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_connection_limit_406_answers_the_next_auth(sim: RunningEmulator) -> None:
    await arm(sim, {"kind": "data_socket", "action": "error", "error": 406})
    async with open_ws(sim) as ws:
        assert await login(ws) == [{"T": "error", "code": 406, "msg": "connection limit exceeded"}]
        with pytest.raises(ConnectionClosed):
            await recv(ws)
    async with open_ws(sim) as ws:  # spent, and the refused one held no slot
        await quoting(ws)


async def test_a_500_error_leaves_it_streaming(sim: RunningEmulator) -> None:
    async with open_ws(sim) as ws:
        await quoting(ws)
        await arm(sim, {"kind": "data_socket", "action": "error", "error": 500})
        got = await collect(ws, lambda g: any(m.get("code") == 500 for m in g))
        assert {"T": "error", "code": 500, "msg": "internal error"} in got
        await collect(ws, has("q"))  # still quoting


async def test_a_fault_for_another_feed_waits_for_it(sim: RunningEmulator) -> None:
    await arm(sim, {"kind": "data_socket", "action": "cut", "feed": "test"})
    async with open_ws(sim, "iex") as ws:
        await quoting(ws)
        await collect(ws, has("q", 5))
    assert fired(sim, "data_socket_cut") == 0
