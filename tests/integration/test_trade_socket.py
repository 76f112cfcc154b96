"""The emulator's trading websocket (``/stream``, ``trade_updates``) seen from real clients.

alpaca-py's own ``TradingStream`` proves the protocol; the ``websockets`` client checks the
details: both auth forms, frames, the listen ack, no replay, one connection per account with
its hold after a vanished connection, and every fault as a client observes it. Timings are
scaled down: hold 0.5 s (Alpaca's reap is ~90 s), client pings every 0.1 s with 0.3 s patience
(alpaca-py's are 10 s and 180 s).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import httpx
import msgpack
import pytest
from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream
from starlette.routing import WebSocketRoute
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from tests.integration.conftest import BASE_CONFIG, KEY, KEY_HEADERS, SECRET
from tests.waiting import until
from tui_trader.sim.emulator import EmulatorConfig
from tui_trader.sim.runner import RunningEmulator
from tui_trader.sim.trade_socket import TradeSocket

HOLD = 0.5
AUTH = {"action": "auth", "key": KEY, "secret": SECRET}
LISTEN = {"action": "listen", "data": {"streams": ["trade_updates"]}}


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return replace(BASE_CONFIG, ws_hold_seconds=HOLD)


def ws_url(sim: RunningEmulator, path: str = "/stream") -> str:
    return sim.url.replace("http://", "ws://", 1) + path


def trade_socket(sim: RunningEmulator) -> TradeSocket:
    """The emulator's trading-socket object, found through its route."""
    for route in sim._server.config.app.app.routes:
        if isinstance(route, WebSocketRoute) and route.path == "/stream":
            owner = route.endpoint.__self__  # type: ignore[attr-defined]
            assert isinstance(owner, TradeSocket)
            return owner
    raise AssertionError("no /stream route")


def slot(sim: RunningEmulator) -> str:
    return str(sim.call(trade_socket(sim).slot_state))


def socket(sim: RunningEmulator, **kwargs: Any) -> Any:
    """A ``websockets`` client on the emulator's /stream; no proxy, quick close."""
    kwargs.setdefault("close_timeout", 0.5)
    return connect(ws_url(sim), proxy=None, open_timeout=5, **kwargs)


async def recv(ws: ClientConnection, seconds: float = 5.0) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), seconds)
    decoded = json.loads(raw)
    assert isinstance(decoded, dict)
    return decoded


async def listening(ws: ClientConnection, auth: dict[str, Any] = AUTH) -> None:
    await ws.send(json.dumps(auth))
    assert (await recv(ws))["data"]["status"] == "authorized"
    await ws.send(json.dumps(LISTEN))
    assert await recv(ws) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}


async def buy(sim: RunningEmulator, qty: str = "1") -> str:
    async with httpx.AsyncClient(base_url=sim.url, headers=KEY_HEADERS, timeout=10) as c:
        r = await c.post(
            "/v2/orders",
            json={"symbol": "AAPL", "qty": qty, "side": "buy", "type": "market"}
            | {"time_in_force": "day"},
        )
        assert r.status_code == 200, r.text
        return str(r.json()["id"])


async def arm(sim: RunningEmulator, *specs: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as c:
        r = await c.post("/_emulator/faults", json=list(specs))
        assert r.status_code == 200, r.text


def status_of(sim: RunningEmulator, order_id: str) -> str:
    ex = sim.emulator.exchange
    return str(sim.call(lambda: ex.find_order(ex.default_account, order_id).status))


def fired(sim: RunningEmulator, kind: str) -> int:
    return int(sim.call(lambda: sim.emulator.faults.injected.get(kind, 0)))


async def updates_until_fill(ws: ClientConnection, order_id: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    for _ in range(20):
        msg = await recv(ws)
        assert msg["stream"] == "trade_updates"
        got.append(msg["data"])
        if msg["data"]["order"]["id"] == order_id and msg["data"]["event"] == "fill":
            return got
    raise AssertionError(f"no fill for {order_id} in {[d['event'] for d in got]}")


# ----------------------------------------------------------------------- alpaca-py's own client
async def test_alpaca_py_trading_stream_receives_the_trade_updates(sim: RunningEmulator) -> None:
    stream = TradingStream(KEY, SECRET, paper=True, url_override=ws_url(sim))
    got: list[TradeUpdate] = []

    async def handler(update: TradeUpdate) -> None:
        got.append(update)

    stream.subscribe_trade_updates(handler)
    task = asyncio.create_task(stream._run_forever())
    try:
        await until(lambda: sim.emulator.connections().get("trade_updates"), 5, "connected")
        await until(lambda: stream._running, 5, "authorized and listening")
        order_id = await buy(sim, "3")
        await until(
            lambda: any(u.event == "fill" and str(u.order.id) == order_id for u in got), 10, "fill"
        )
        mine = [u for u in got if str(u.order.id) == order_id]
        assert [u.event for u in mine][-2:] == ["new", "fill"]
        fill = mine[-1]
        assert fill.qty == 3 and fill.position_qty == 3 and fill.price and fill.price > 0
        assert fill.execution_id is not None and fill.order.status == "filled"
    finally:
        await stream.stop_ws()
        # its reader wakes every 5 s to look at the stop flag: an event wakes it sooner
        async with httpx.AsyncClient(base_url=sim.url, timeout=10) as c:
            await c.post("/_emulator/events", json={"stream": "trades", "type": "restated"})
        try:
            await asyncio.wait_for(task, 10)
        finally:
            task.cancel()
    assert slot(sim) == "free"  # it closed with a handshake: nothing held


# ------------------------------------------------------------------------ the websockets client
@pytest.mark.parametrize(
    "auth",
    [
        AUTH,
        {"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}},
    ],
    ids=["auth", "authenticate"],
)
async def test_both_auth_forms_binary_frames_and_the_listen_ack(
    sim: RunningEmulator, auth: dict[str, Any]
) -> None:
    async with socket(sim) as ws:
        await ws.send(json.dumps(auth))
        raw = await asyncio.wait_for(ws.recv(), 5)
        assert isinstance(raw, bytes)  # paper sends binary frames
        assert json.loads(raw) == {
            "stream": "authorization",
            "data": {"status": "authorized", "action": "authenticate"},
        }
        await ws.send(
            json.dumps({"action": "listen", "data": {"streams": ["trade_updates", "nope"]}})
        )
        assert await recv(ws) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}
        order_id = await buy(sim)
        updates = await updates_until_fill(ws, order_id)
        fill = updates[-1]
        assert {"event", "order", "timestamp", "price", "qty", "position_qty"} <= set(fill)
        assert {"execution_id", "event_id", "at"} <= set(fill)
        assert "account_id" not in fill and fill["order"]["status"] == "filled"


async def test_bad_keys_are_unauthorized_and_listen_needs_auth(sim: RunningEmulator) -> None:
    async with socket(sim) as ws:
        await ws.send(json.dumps(LISTEN))
        assert await recv(ws) == {
            "stream": "authorization",
            "data": {"status": "unauthorized", "action": "listen"},
        }
        await ws.send(json.dumps({"action": "auth", "key": KEY, "secret": "wrong"}))
        assert await recv(ws) == {
            "stream": "authorization",
            "data": {"status": "unauthorized", "action": "authenticate"},
        }
        await ws.send(json.dumps({"action": "authenticate", "data": {"key_id": KEY}}))
        assert (await recv(ws))["data"]["status"] == "unauthorized"
        await ws.send(json.dumps(LISTEN))
        assert (await recv(ws))["data"] == {"status": "unauthorized", "action": "listen"}


async def test_text_frames_and_no_event_ids_behind_switches(sim_with: Any) -> None:
    sim = sim_with(ws_binary_frames=False, ws_event_ids=False, ws_hold_seconds=HOLD)
    async with socket(sim) as ws:
        await ws.send(json.dumps(AUTH))
        assert isinstance(await asyncio.wait_for(ws.recv(), 5), str)  # text, as live sends
        await ws.send(json.dumps(LISTEN))
        await recv(ws)
        order_id = await buy(sim)
        for update in await updates_until_fill(ws, order_id):
            assert "event_id" not in update and "at" not in update  # the older samples
            assert update["timestamp"]


async def test_msgpack_when_the_upgrade_asks_for_it(sim: RunningEmulator) -> None:
    async with socket(sim, additional_headers={"Content-Type": "application/msgpack"}) as ws:
        await ws.send(msgpack.packb(AUTH))
        reply = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 5))
        assert reply["data"]["status"] == "authorized"


async def test_no_replay_and_an_empty_listen_stops_updates(sim: RunningEmulator) -> None:
    async with socket(sim) as first:
        await listening(first)
        before = await buy(sim)
        await updates_until_fill(first, before)  # it happened, before the next socket
    async with socket(sim) as ws:
        await listening(ws)
        after = await buy(sim)
        updates = await updates_until_fill(ws, after)
        assert {u["order"]["id"] for u in updates} == {after}  # nothing from before
        await ws.send(json.dumps({"action": "listen", "data": {"streams": []}}))
        assert await recv(ws) == {"stream": "listening", "data": {"streams": []}}
        unheard = await buy(sim)
        await until(lambda: status_of(sim, unheard) == "filled", 5, "filled, unheard")
        await ws.send(json.dumps(LISTEN))
        await recv(ws)
        again = await buy(sim)
        updates = await updates_until_fill(ws, again)
        assert {u["order"]["id"] for u in updates} == {again}  # nothing while not listening


# ---------------------------------------------------------------- one connection per account
async def test_a_second_connection_gets_429_and_a_clean_close_frees_at_once(
    sim: RunningEmulator,
) -> None:
    async with socket(sim) as ws:
        await listening(ws)
        with pytest.raises(InvalidStatus) as refused:
            async with socket(sim):
                pass
        assert refused.value.response.status_code == 429
        assert json.loads(refused.value.response.body or b"{}")["code"] == 42910000
        assert slot(sim) == "open"
    async with socket(sim) as again:  # closed with a handshake: no hold
        await listening(again)


async def test_a_vanished_connection_holds_the_slot_then_frees_it(sim: RunningEmulator) -> None:
    ws = await socket(sim)
    await listening(ws)
    ws.transport.abort()  # the client's network dies: no close frame
    await until(lambda: slot(sim) != "open", 5, "the server saw it go")
    assert slot(sim) == "held"
    with pytest.raises(InvalidStatus) as refused:
        async with socket(sim):
            pass
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers["Retry-After"] == "1"  # the hold's rest, rounded up
    await until(lambda: slot(sim) == "free", HOLD + 2, "the hold ends")
    async with socket(sim) as again:
        await listening(again)


# ------------------------------------------------------------------------------------ faults
async def test_close_with_a_code(sim: RunningEmulator) -> None:
    async with socket(sim) as ws:
        await listening(ws)
        await arm(sim, {"kind": "trade_socket", "action": "close", "code": 4001, "reason": "bye"})
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "bye")
    await until(lambda: slot(sim) == "free", 2, "a clean close holds nothing")


async def test_close_after_some_events(sim: RunningEmulator) -> None:
    async with socket(sim) as ws:
        await listening(ws)
        await arm(sim, {"kind": "trade_socket", "action": "close", "after_events": 2})
        await until(lambda: not sim.call(sim.emulator.faults.pending), 2, "taken by the socket")
        await buy(sim)
        got = []
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(10):
                got.append(await recv(ws))
        assert len(got) == 2 and closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011


async def test_error_message_then_close(sim: RunningEmulator) -> None:
    async with socket(sim) as ws:
        await listening(ws)
        await arm(sim, {"kind": "trade_socket", "action": "error"})
        assert await recv(ws) == {
            "action": "error",
            "data": {"error_message": "internal server error"},
        }
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011


async def test_tcp_cut_sends_no_close_frame_and_holds(sim: RunningEmulator) -> None:
    async with socket(sim) as ws:
        await listening(ws)
        await arm(sim, {"kind": "trade_socket", "action": "cut"})
        with pytest.raises(ConnectionClosedError) as cut:
            await recv(ws)
        assert cut.value.rcvd is None and cut.value.sent is None  # no close frame either way
    assert slot(sim) == "held"


async def test_disconnect_all_cuts_the_socket_too(sim: RunningEmulator) -> None:
    async with socket(sim) as ws:
        await listening(ws)
        async with httpx.AsyncClient(base_url=sim.url) as c:
            assert (await c.post("/_emulator/disconnect")).json() == {"cut": 1}
        with pytest.raises(ConnectionClosedError) as cut:
            await recv(ws)
        assert cut.value.rcvd is None


async def test_a_silent_socket_answers_no_ping(sim: RunningEmulator) -> None:
    async with socket(sim, ping_interval=0.1, ping_timeout=0.3) as ws:
        await listening(ws)
        await until(lambda: ws.latency > 0, 2, "pongs come while it is healthy")
        await arm(sim, {"kind": "trade_socket", "action": "silent", "seconds": 5})
        await until(lambda: fired(sim, "trade_socket_silent"), 2, "silence")
        await buy(sim)  # an update happens: the silent socket does not carry it
        with pytest.raises(ConnectionClosedError) as dead:
            await recv(ws, 5)
        assert dead.value.rcvd is None  # nothing came back, not even a close frame
        assert dead.value.sent is not None and dead.value.sent.code == 1011  # ping timeout
    assert slot(sim) == "open"  # the server still holds it, as Alpaca holds half-dead sockets
    with pytest.raises(InvalidStatus) as refused:
        async with socket(sim):
            pass
    assert refused.value.response.status_code == 429


@pytest.mark.parametrize(("status", "retry"), [(429, "3"), (503, "7")])
async def test_upgrade_refusals_with_retry_after(
    sim: RunningEmulator, status: int, retry: str
) -> None:
    spec = {"kind": "connect", "scope": "trade_socket", "status": status}
    await arm(sim, spec | {"retry_after": float(retry)})
    with pytest.raises(InvalidStatus) as refused:
        async with socket(sim):
            pass
    response = refused.value.response
    assert response.status_code == status and response.headers["Retry-After"] == retry
    async with socket(sim) as ws:  # one refusal armed, one spent
        await listening(ws)


async def test_reserved_close_codes_are_refused_by_the_admin_route(sim: RunningEmulator) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as c:
        r = await c.post(
            "/_emulator/faults", json={"kind": "trade_socket", "action": "close", "code": 1006}
        )
        assert r.status_code == 422


async def test_a_reader_behind_the_retention_is_told_and_closed_not_skipped(sim_with: Any) -> None:
    """The embedded emulator keeps a window of events (its retention): a websocket reader the
    window has passed used to go on from the oldest kept, its missed updates lost without a
    word. Now it gets the in-stream error and a close, as Alpaca ends a connection, and a
    client reconnects and reconciles."""
    sim = sim_with(retention=3, ws_hold_seconds=HOLD)
    ex = sim.emulator.exchange
    log = ex.logs["trades"]
    account = ex.default_account.id

    def burst() -> None:  # ten updates at once, before the socket's sender runs again
        at = ex.now()
        for n in range(10):
            log.append(ex.ulids.new(at), at, {"account_id": account, "event": "new", "n": n})

    async with socket(sim) as ws:
        await listening(ws)
        sim.call(burst)
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(20):
                msg = await recv(ws)
                assert msg.get("stream") != "trade_updates", "an update past the gap"
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        assert "too slowly" in closed.value.rcvd.reason
