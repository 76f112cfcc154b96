"""The emulator's market-data websocket v2 (API.md §11.4) over real sockets on 127.0.0.1.

alpaca-py's own ``StockDataStream`` proves the msgpack path; the ``websockets`` client checks
the JSON protocol message by message. Timings are scaled: the emulator runs at 60x (a minute
bar every wall second), the auth window is cut to 0.3 s.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from typing import Any

import httpx
import pytest
from alpaca.data.live import StockDataStream
from alpaca.data.models import Bar, Quote
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.integration.conftest import KEY, KEY_HEADERS, SECRET
from tests.waiting import until
from tui_trader.sim.runner import RunningEmulator

FAST = {"speed": 60.0}  # one simulated minute per wall second
SUBSCRIPTION_KEYS = [
    "T",
    "trades",
    "quotes",
    "bars",
    "updatedBars",
    "dailyBars",
    "statuses",
    "lulds",
    "corrections",
    "cancelErrors",
]


def ws_url(sim: RunningEmulator, feed: str) -> str:
    return sim.url.replace("http://", "ws://") + f"/v2/{feed}"


def open_ws(sim: RunningEmulator, feed: str = "iex", **kw: Any) -> Any:
    return connect(ws_url(sim, feed), proxy=None, open_timeout=5, **kw)


async def recv(ws: ClientConnection, seconds: float = 5.0) -> list[dict[str, Any]]:
    raw = await asyncio.wait_for(ws.recv(), seconds)
    assert isinstance(raw, str), "JSON is sent as text frames"
    msgs = json.loads(raw)
    assert isinstance(msgs, list)
    return msgs


async def send(ws: ClientConnection, msg: dict[str, Any]) -> None:
    await ws.send(json.dumps(msg))


async def login(ws: ClientConnection, key: str = KEY, secret: str = SECRET) -> list[Any]:
    assert await recv(ws) == [{"T": "success", "msg": "connected"}]
    await send(ws, {"action": "auth", "key": key, "secret": secret})
    return await recv(ws)


async def collect(ws: ClientConnection, want: Any, seconds: float = 6.0) -> list[dict[str, Any]]:
    """Messages until ``want(all so far)`` holds; fails after ``seconds``."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while not want(got):
        left = deadline - time.monotonic()
        if left <= 0:
            kinds = sorted({m.get("T") for m in got})
            raise AssertionError(f"not within {seconds} s; got {len(got)} messages {kinds}")
        got += await recv(ws, left)
    return got


async def closed(ws: ClientConnection, seconds: float = 5.0) -> None:
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), seconds)


def has(kind: str, n: int = 1) -> Any:
    return lambda got: sum(m["T"] == kind for m in got) >= n


@pytest.fixture
def fast(sim_with: Any) -> RunningEmulator:
    return sim_with(**FAST)  # type: ignore[no-any-return]


# ------------------------------------------------------------------ an independent client
async def test_alpaca_py_stock_data_stream_gets_quotes_and_minute_bars(
    fast: RunningEmulator,
) -> None:
    got: list[Any] = []

    async def handler(item: Any) -> None:
        got.append(item)

    stream = StockDataStream(KEY, SECRET, url_override=ws_url(fast, "iex"))
    stream.subscribe_quotes(handler, "AAPL")
    stream.subscribe_bars(handler, "AAPL")
    task = asyncio.create_task(stream._run_forever())
    try:
        await until(lambda: any(isinstance(x, Bar) for x in got), 8, "a minute bar")
        await until(lambda: any(isinstance(x, Quote) for x in got), 2, "a quote")
    finally:
        await stream.stop_ws()
        await asyncio.wait_for(task, 10)
    quote = next(x for x in got if isinstance(x, Quote))
    bar = next(x for x in got if isinstance(x, Bar))
    assert quote.symbol == bar.symbol == "AAPL"
    assert 0 < quote.bid_price < quote.ask_price
    assert quote.timestamp.tzinfo is not None  # msgpack Timestamp -> aware datetime
    assert bar.timestamp.second == 0 and bar.low <= bar.open <= bar.high and bar.volume > 0
    assert all(x.symbol == "AAPL" for x in got)


# ------------------------------------------------------------------------- handshake
async def test_message_auth_and_the_whole_subscription_in_the_reply(sim: RunningEmulator) -> None:
    async with open_ws(sim) as ws:
        assert await login(ws) == [{"T": "success", "msg": "authenticated"}]
        await send(ws, {"action": "subscribe", "trades": ["AAPL"], "quotes": ["MSFT", "SPY"]})
        await send(ws, {"action": "subscribe", "bars": ["*"], "statuses": ["*"]})
        replies = await collect(ws, has("subscription", 2))
        last = [m for m in replies if m["T"] == "subscription"][-1]
        assert list(last) == SUBSCRIPTION_KEYS
        assert last == {
            "T": "subscription",
            "trades": ["AAPL"],
            "quotes": ["MSFT", "SPY"],
            "bars": ["*"],
            "updatedBars": [],
            "dailyBars": [],
            "statuses": ["*"],
            "lulds": [],
            "corrections": ["AAPL"],
            "cancelErrors": ["AAPL"],
        }


async def test_header_auth_needs_no_message_and_a_second_auth_is_403(
    sim: RunningEmulator,
) -> None:
    async with open_ws(sim, additional_headers=KEY_HEADERS) as ws:
        assert await recv(ws) == [{"T": "success", "msg": "connected"}]
        assert await recv(ws) == [{"T": "success", "msg": "authenticated"}]
        await send(ws, {"action": "auth", "key": KEY, "secret": SECRET})
        assert await recv(ws) == [{"T": "error", "code": 403, "msg": "already authenticated"}]
        await send(ws, {"action": "subscribe", "quotes": ["AAPL"]})
        assert (await recv(ws))[0]["T"] == "subscription"  # still open


async def test_bad_keys_are_402_and_the_connection_ends(sim: RunningEmulator) -> None:
    async with open_ws(sim) as ws:
        assert await login(ws, secret="wrong") == [
            {"T": "error", "code": 402, "msg": "auth failed"}
        ]
        await closed(ws)
    bad = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": "wrong"}
    async with open_ws(sim, additional_headers=bad) as ws:
        assert await recv(ws) == [{"T": "success", "msg": "connected"}]
        assert await recv(ws) == [{"T": "error", "code": 402, "msg": "auth failed"}]
        await closed(ws)


async def test_subscribe_before_auth_is_401_and_auth_still_works(sim: RunningEmulator) -> None:
    async with open_ws(sim) as ws:
        assert await recv(ws) == [{"T": "success", "msg": "connected"}]
        await send(ws, {"action": "subscribe", "quotes": ["AAPL"]})
        assert await recv(ws) == [{"T": "error", "code": 401, "msg": "not authenticated"}]
        await send(ws, {"action": "auth", "key": KEY, "secret": SECRET})
        assert await recv(ws) == [{"T": "success", "msg": "authenticated"}]


async def test_no_auth_within_the_window_is_404_auth_timeout(sim_with: Any) -> None:
    sim = sim_with(data_auth_timeout=0.3)
    async with open_ws(sim) as ws:
        assert await recv(ws) == [{"T": "success", "msg": "connected"}]
        started = time.monotonic()
        assert await recv(ws) == [{"T": "error", "code": 404, "msg": "auth timeout"}]
        assert 0.2 < time.monotonic() - started < 3
        await closed(ws)


async def test_one_connection_per_endpoint_per_key(sim: RunningEmulator) -> None:
    async with open_ws(sim, "iex") as first:
        assert (await login(first))[0]["msg"] == "authenticated"
        async with open_ws(sim, "iex") as second:
            assert await login(second) == [
                {"T": "error", "code": 406, "msg": "connection limit exceeded"}
            ]
            await closed(second)
        async with open_ws(sim, "sip") as other_endpoint:
            assert (await login(other_endpoint))[0]["msg"] == "authenticated"

    # the slot is free again once the first connection has gone
    async def fresh_login() -> list[Any]:
        async with open_ws(sim, "iex") as again:
            return await login(again)

    deadline = time.monotonic() + 5
    while (reply := await fresh_login())[0]["T"] != "success":
        assert time.monotonic() < deadline, reply
        await asyncio.sleep(0.05)


async def test_free_plan_refuses_sip_with_409_but_serves_iex_and_delayed_sip(
    sim_with: Any,
) -> None:
    sim = sim_with(plan="free")
    async with open_ws(sim, "sip") as ws:
        assert await login(ws) == [{"T": "error", "code": 409, "msg": "insufficient subscription"}]
        await closed(ws)
    for feed in ("iex", "delayed_sip", "test"):
        async with open_ws(sim, feed) as ws:
            assert await login(ws) == [{"T": "success", "msg": "authenticated"}], feed


async def test_bad_messages_are_400_other_feeds_channels_410_and_the_socket_stays(
    sim: RunningEmulator,
) -> None:
    async with open_ws(sim) as ws:
        await login(ws)
        for bad in ("not json", json.dumps([1, 2]), json.dumps({"action": "listen"})):
            await ws.send(bad)
            assert await recv(ws) == [{"T": "error", "code": 400, "msg": "invalid syntax"}]
        await send(ws, {"action": "subscribe", "quotes": ["aapl!"]})
        assert (await recv(ws))[0]["code"] == 400
        await send(ws, {"action": "subscribe", "orderbooks": ["AAPL"]})
        assert await recv(ws) == [
            {"T": "error", "code": 410, "msg": "invalid subscribe action for this feed"}
        ]
        await send(ws, {"action": "subscribe", "quotes": ["AAPL"]})
        assert (await recv(ws))[0]["quotes"] == ["AAPL"]


async def test_free_plan_symbol_limit_is_405_and_leaves_the_subscription(sim_with: Any) -> None:
    sim = sim_with(plan="free")
    async with open_ws(sim) as ws:
        await login(ws)
        many = [f"S{i:03d}" for i in range(31)]
        await send(ws, {"action": "subscribe", "quotes": many})
        assert await recv(ws) == [{"T": "error", "code": 405, "msg": "symbol limit exceeded"}]
        await send(ws, {"action": "subscribe", "bars": many})  # bars are not limited
        assert len((await recv(ws))[0]["bars"]) == 31


# ------------------------------------------------------------------------------ data
async def test_data_message_shapes_and_json_number_types(fast: RunningEmulator) -> None:
    async with open_ws(fast) as ws:
        await login(ws)
        await send(
            ws,
            {
                "action": "subscribe",
                "quotes": ["AAPL"],
                "trades": ["AAPL"],
                "bars": ["AAPL"],
                "dailyBars": ["AAPL"],
            },
        )
        got = await collect(ws, lambda g: all(has(k)(g) for k in "qtbd"))
    got = [m for m in got if m["T"] != "subscription"]
    quote = next(m for m in got if m["T"] == "q")
    assert set(quote) == {"T", "S", "bx", "bp", "bs", "ax", "ap", "as", "c", "z", "t"}
    assert isinstance(quote["bp"], float) and isinstance(quote["ap"], float)
    assert isinstance(quote["bs"], int) and isinstance(quote["as"], int)
    assert quote["S"] == "AAPL" and 0 < quote["bp"] < quote["ap"] < quote["bp"] * 1.01
    trade = next(m for m in got if m["T"] == "t")
    assert set(trade) == {"T", "S", "i", "x", "p", "s", "c", "z", "t"}
    assert isinstance(trade["p"], float) and isinstance(trade["s"], int)
    assert isinstance(trade["i"], int)
    for kind in "bd":
        bar = next(m for m in got if m["T"] == kind)
        assert set(bar) == {"T", "S", "o", "h", "l", "c", "v", "t", "n", "vw"}
        assert all(isinstance(bar[k], float | int) for k in "ohlc")
        assert isinstance(bar["v"], int) and isinstance(bar["n"], int)
        assert bar["l"] <= min(bar["o"], bar["c"]) <= max(bar["o"], bar["c"]) <= bar["h"]
    for m in got:  # RFC-3339, UTC
        assert m["t"].endswith("Z")
        assert datetime.fromisoformat(m["t"]).utcoffset() is not None
    minute = datetime.fromisoformat(next(m for m in got if m["T"] == "b")["t"])
    assert minute.second == 0 and minute.microsecond == 0
    assert {m["S"] for m in got} == {"AAPL"}


async def test_quotes_move_between_minute_bars(fast: RunningEmulator) -> None:
    async with open_ws(fast) as ws:
        await login(ws)
        await send(ws, {"action": "subscribe", "quotes": ["NVDA"], "bars": ["NVDA"]})
        got = await collect(ws, has("b", 2))
    bars = [i for i, m in enumerate(got) if m["T"] == "b"]
    between = [m for m in got[bars[0] : bars[1]] if m["T"] == "q"]
    assert len(between) >= 10  # about one a simulated second
    assert len({(q["bp"], q["ap"]) for q in between}) > 1


async def test_unsubscribe_stops_that_channel_only(fast: RunningEmulator) -> None:
    async with open_ws(fast) as ws:
        await login(ws)
        await send(ws, {"action": "subscribe", "quotes": ["AAPL"], "bars": ["AAPL"]})
        await collect(ws, has("q"))
        await send(ws, {"action": "unsubscribe", "quotes": ["AAPL"]})
        got = await collect(ws, has("subscription"))
        assert [m for m in got if m["T"] == "subscription"][-1]["quotes"] == []
        after = await collect(ws, has("b", 2))
        assert not [m for m in after if m["T"] == "q"]


async def test_star_subscribes_every_symbol(fast: RunningEmulator) -> None:
    async with open_ws(fast) as ws:
        await login(ws)
        await send(ws, {"action": "subscribe", "bars": ["*"]})
        symbols = set(fast.emulator.exchange.market.symbols)
        got = await collect(ws, lambda g: {m["S"] for m in g if m["T"] == "b"} == symbols)
        assert {m["S"] for m in got if m["T"] == "b"} == symbols


async def test_updated_bars_correct_a_sent_bar_and_rest_agrees(
    sim_with: Any,
) -> None:
    sim = sim_with(late_bar_probability=1.0, **FAST)
    async with open_ws(sim) as ws:
        await login(ws)
        await send(ws, {"action": "subscribe", "bars": ["AAPL"], "updatedBars": ["AAPL"]})
        got = await collect(ws, has("u"))
    update = next(m for m in got if m["T"] == "u")
    original = next(m for m in got if m["T"] == "b" and m["t"] == update["t"])
    assert update["S"] == "AAPL"
    assert update["v"] > original["v"] and update["n"] == original["n"] + 1
    assert update["o"] == original["o"] and update["c"] == original["c"]
    async with httpx.AsyncClient(base_url=sim.url, headers=KEY_HEADERS) as client:
        params = {"timeframe": "1Min", "start": update["t"]}
        reply = (await client.get("/v2/stocks/AAPL/bars", params=params)).json()
    assert reply["bars"][0]["t"] == update["t"]
    assert reply["bars"][0]["v"] >= update["v"]  # REST serves the corrected bar


async def test_statuses_report_a_halt_and_its_resumption(sim: RunningEmulator) -> None:
    async with open_ws(sim) as ws, httpx.AsyncClient(base_url=sim.url) as admin:
        await login(ws)
        await send(ws, {"action": "subscribe", "statuses": ["*"]})
        await recv(ws)
        await admin.post("/_emulator/halt", json={"symbols": ["TSLA"]})
        halt = (await collect(ws, has("s")))[-1]
        assert halt["S"] == "TSLA" and halt["sc"] == "H"
        assert set(halt) == {"T", "S", "sc", "sm", "rc", "rm", "t", "z"}
        await admin.delete("/_emulator/halt")
        resumed = (await collect(ws, has("s")))[-1]
        assert resumed["S"] == "TSLA" and resumed["sc"] == "T"


async def test_test_stream_serves_fakepaca(fast: RunningEmulator) -> None:
    async with open_ws(fast, "test") as ws:
        await login(ws)
        await send(ws, {"action": "subscribe", "bars": ["FAKEPACA"], "quotes": ["FAKEPACA"]})
        got = await collect(ws, lambda g: has("b")(g) and has("q")(g))
    assert {m["S"] for m in got if m["T"] in "qb"} == {"FAKEPACA"}


async def test_delayed_sip_runs_fifteen_simulated_minutes_behind(fast: RunningEmulator) -> None:
    async with open_ws(fast, "iex") as live, open_ws(fast, "delayed_sip") as late:
        for ws in (live, late):
            await login(ws)
            await send(ws, {"action": "subscribe", "bars": ["AAPL"]})
            await recv(ws)
        first = (await collect(live, has("b")))[-1]
        with pytest.raises(TimeoutError):  # nothing yet: 15 simulated minutes is 15 s here
            await recv(late, 0.5)
        fast.call(fast.emulator.advance, 16 * 60)
        got = await collect(late, lambda g: any(m["t"] == first["t"] for m in g))
    assert next(m for m in got if m["t"] == first["t"])["c"] == first["c"]


async def test_quote_hz_drives_thousands_of_quotes_a_second(sim_with: Any) -> None:
    sim = sim_with(quote_hz=2000.0, symbols=("AAPL", "MSFT"), **FAST)
    async with open_ws(sim) as ws:
        await login(ws)
        await send(ws, {"action": "subscribe", "quotes": ["*"]})
        await recv(ws)
        await collect(ws, has("q"))
        started = time.monotonic()
        got = await collect(ws, has("q", 2000))
        rate = len(got) / (time.monotonic() - started)
    # 4000 a second offered; a loaded 2-core test machine must still see well over 1000
    assert rate > 1000, rate


async def test_msgpack_when_the_upgrade_asks_for_it(sim: RunningEmulator) -> None:
    import msgpack

    headers = {"Content-Type": "application/msgpack"}
    async with open_ws(sim, additional_headers=headers) as ws:
        raw = await ws.recv()
        assert isinstance(raw, bytes)
        assert msgpack.unpackb(raw) == [{"T": "success", "msg": "connected"}]
        await ws.send(msgpack.packb({"action": "auth", "key": KEY, "secret": SECRET}))
        assert msgpack.unpackb(await ws.recv()) == [{"T": "success", "msg": "authenticated"}]
        await ws.send(msgpack.packb({"action": "subscribe", "quotes": ["AAPL"]}))
        assert msgpack.unpackb(await ws.recv())[0]["quotes"] == ["AAPL"]
        while True:
            msgs = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 5))
            if msgs[0]["T"] == "q":
                break
    assert isinstance(msgs[0]["t"], msgpack.Timestamp)
    assert msgs[0]["t"].to_datetime().tzinfo is not None


async def test_emulator_disconnect_cuts_data_sockets_and_frees_the_slot(
    sim: RunningEmulator,
) -> None:
    async with open_ws(sim) as ws, httpx.AsyncClient(base_url=sim.url) as admin:
        await login(ws)
        cut = (await admin.post("/_emulator/disconnect")).json()["cut"]
        assert cut >= 1
        with pytest.raises(ConnectionClosed) as closed_by:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed_by.value.rcvd is None  # no close frame: the TCP connection was cut
    async with open_ws(sim) as again:
        reply = await login(again)
        assert reply == [{"T": "success", "msg": "authenticated"}]
