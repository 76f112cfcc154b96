"""Acceptance: ``tui-trader headless`` (a real subprocess) with Trading API keys against the
emulator as the real Trading host (no ``/v2/events/trades``, 404 on the Broker-only streams):
it opens no Broker-only stream, prints one contract line per order-state change over the
websocket, and the events recovered over REST after a cut have the same shape (plus
``"source":"rest"``); a fill is printed once whichever way it came. Bad keys: exit 3 fast,
at most 3 upgrades. Timings scaled as in test_desk_trade_socket (pings 0.1 / 0.3 s, hold 1 s).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.integration.conftest import KEY, SECRET
from tests.integration.test_desk_trade_socket import Broker, trading_host
from tests.test_cli import run, running
from tests.waiting import until

CONFIG = """
[stream]
backoff_base_seconds = 0.05
backoff_cap_seconds = 0.4
ping_interval_seconds = 0.1
ping_timeout_seconds = 0.3
"""


def headless_env(env: dict[str, str], tmp_path: Path, secret: str = SECRET) -> dict[str, str]:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    return {
        **env,
        "APCA_API_KEY_ID": KEY,
        "APCA_API_SECRET_KEY": secret,
        "TUI_TRADER_CONFIG": str(config),
    }


def lines_of(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def event_routes(stats: dict[str, int]) -> list[str]:
    return [k for k in stats if "/events/" in k]


async def test_headless_prints_each_order_state_once_over_the_socket_and_after_a_cut(
    sim_with: Any, env: dict[str, str], tmp_path: Path
) -> None:
    sim = trading_host(sim_with)
    broker = Broker(sim)
    try:
        with running(
            ["headless", "--base-url", sim.url, "--no-trade"], headless_env(env, tmp_path)
        ) as cli:

            def events() -> list[dict[str, Any]]:
                return [x for x in lines_of(cli.stdout) if x["kind"] == "event"]

            def streaming(reconnects: int) -> bool:
                return any(
                    x["kind"] == "status"
                    and x["stream_state"] == "STREAMING"
                    and x.get("reconnects", 0) >= reconnects
                    for x in lines_of(cli.stdout)
                )

            await until(lambda: streaming(0), 15, lambda: cli.stderr[-2000:])
            await broker.wave()
            await broker.fault({"kind": "trade_socket", "action": "cut", "after_events": 3})
            await broker.wave()
            await broker.wave()
            await broker.cancel_open()
            await until(lambda: streaming(1), 15, lambda: cli.stderr[-2000:])
            await broker.wave()
            await broker.cancel_open()
            for _ in range(200):
                if await broker.settled():
                    break
                await asyncio.sleep(0.05)
            fills = len(await broker.fill_activities())
            orders = await broker.orders()

            def fill_lines() -> list[dict[str, Any]]:
                return [e for e in events() if e["type"] in ("fill", "partial_fill")]

            def finals() -> bool:
                last = {e["data"]["order"]["id"]: e["data"]["order"]["status"] for e in events()}
                return all(last.get(i) == o["status"] for i, o in orders.items())

            await until(lambda: len(fill_lines()) >= fills, 15, lambda: f"{fill_lines()}")
            await until(finals, 15, "every order's final state printed")
            code, _ = cli.stop(signal.SIGINT)
            assert code == 0, cli.stderr
        printed = events()
        stats = (await broker.state())["stats"]
    finally:
        await broker.aclose()
    assert not event_routes(stats), stats  # no SSE at all: no Broker-only stream, no trades
    ids = [e["id"] for e in printed]
    assert len(ids) == len(set(ids))
    for e in printed:
        assert set(e) <= {"kind", "stream", "id", "type", "at", "data", "source"}, e
        assert e["stream"] == "trades" and isinstance(e["id"], str) and e["id"]
        assert isinstance(e["type"], str) and isinstance(e["at"], str) and e["at"]
        assert e["data"]["event"] == e["type"]
        order = e["data"]["order"]
        assert {"id", "status", "filled_qty"} <= set(order), e
        assert e.get("source", "rest") == "rest"
    fill_keys = Counter(
        (e["data"]["order"]["id"], e["data"]["order"]["filled_qty"])
        for e in printed
        if e["type"] in ("fill", "partial_fill")
    )
    assert all(n == 1 for n in fill_keys.values()), fill_keys
    assert len(fill_keys) == fills
    rest = [e for e in printed if e.get("source") == "rest"]
    assert rest, "nothing recovered over REST after the cut"
    print(f"\nheadless: {len(printed)} lines, {len(rest)} from REST, {fills} fills, once each")


def test_bad_keys_exit_3_within_seconds_after_at_most_3_upgrades(
    sim_with: Any, env: dict[str, str], tmp_path: Path
) -> None:
    sim = trading_host(sim_with)
    started = time.monotonic()
    code, _out, err = run(
        ["headless", "--base-url", sim.url, "--no-trade"],
        headless_env(env, tmp_path, secret="wrong"),
        timeout=30,
    )
    took = time.monotonic() - started
    assert code == 3, (code, err)
    assert took < 10, took
    assert "credentials rejected" in err and "wrong" not in err
    stats = httpx.get(f"{sim.url}/_emulator/state", timeout=10).json()["stats"]
    upgrades = stats.get("connect_trade_socket", 0)
    assert 1 <= upgrades <= 3, stats
    assert not event_routes(stats), stats
    print(f"\nbad keys: exit 3 after {took:.2f} s, {upgrades} upgrades")
