"""``tui-trader sim`` flags for the trading websocket: text frames (as live sends them), no
event ids (as Alpaca's older samples), and a short hold after a vanished connection."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.test_cli import ANY_KEY, http, running

AUTH = {"action": "auth", "key": "whoever", "secret": "whatever"}
LISTEN = {"action": "listen", "data": {"streams": ["trade_updates"]}}


async def _reply(ws: ClientConnection) -> Any:
    raw = await asyncio.wait_for(ws.recv(), 5)
    assert isinstance(raw, str)  # --ws-text-frames
    return json.loads(raw)


def test_websocket_flags_from_the_command_line(env: dict[str, str]) -> None:
    args = ["sim", "--port", "0", "--ws-text-frames", "--ws-no-event-ids", "--ws-hold", "0.3"]
    with running(args, env) as cli:
        base = cli.wait_for_url()
        url = base.replace("http://", "ws://") + "/stream"

        async def session() -> None:
            ws = await connect(url, proxy=None, open_timeout=5)
            await ws.send(json.dumps(AUTH))
            assert (await _reply(ws))["data"]["status"] == "authorized"
            ws.transport.abort()  # vanish: the slot is held for --ws-hold seconds
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, proxy=None, open_timeout=5):
                    pass
            assert refused.value.response.status_code == 429
            deadline = time.monotonic() + 5
            while True:  # bounded: the hold is 0.3 s
                try:
                    ws = await connect(url, proxy=None, open_timeout=5)
                    break
                except InvalidStatus:
                    assert time.monotonic() < deadline, "the hold never ended"
                    await asyncio.sleep(0.05)
            async with ws:
                await ws.send(json.dumps(AUTH))
                await _reply(ws)
                await ws.send(json.dumps(LISTEN))
                assert (await _reply(ws))["stream"] == "listening"
                with http(base) as c:
                    order = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market"}
                    r = c.post("/v2/orders", headers=ANY_KEY, json=order | {"time_in_force": "day"})
                    assert r.status_code == 200
                update = (await _reply(ws))["data"]
                assert update["order"]["id"] == r.json()["id"]
                assert "event_id" not in update and "at" not in update  # --ws-no-event-ids

        asyncio.run(session())
        code, _ = cli.stop()
        assert code == 0
        assert f"trade_updates websocket: {url} (text frames)" in cli.stdout
