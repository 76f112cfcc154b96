"""The desk's STREAM breaker against what the supervisor really delivers, over real HTTP: a
trade stream the host does not offer, polled instead (review finding #2)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import KEY, SECRET
from tests.integration.harness import admin
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.broker.status import State
from tui_trader.config import load_settings
from tui_trader.core.orders import OrderBuilder
from tui_trader.core.risk import BreakerName, TradingState
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target
from tui_trader.sim.runner import RunningEmulator


@pytest.fixture
async def desk_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Any]]:
    made: list[tuple[Desk, asyncio.Task[None], Journal]] = []

    async def make(sim: RunningEmulator, **stream: Any) -> Desk:
        for name in ("APCA_API_BASE_URL", "APCA_API_DATA_URL", "TUI_TRADER_CONFIG"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("APCA_API_KEY_ID", KEY)
        monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
        settings = load_settings(base_url=sim.url, stream=stream)
        target = Target(sim.url, sim.url, settings.api, settings.key_id, settings.secret_key)
        store = Journal.open(tmp_path / f"journal-{len(made)}.sqlite3")
        desk = Desk(settings, target, store, DeskOptions(poll_interval=0.3, symbols=("AAPL",)))
        made.append((desk, asyncio.create_task(desk.run()), store))
        return desk

    yield make
    for desk, task, store in made:
        if not task.done():
            desk.stop()
            await asyncio.wait_for(task, 15)
        await desk.aclose()
        store.close()


async def test_review_02_a_desk_whose_trade_stream_is_not_offered_trades_on_polling(
    sim_with: Any, desk_for: Any
) -> None:
    sim: RunningEmulator = sim_with(rate_limit_per_minute=100_000)
    await admin(sim, "/_emulator/faults", {"kind": "not_offered", "stream": "trades"})
    # the SSE transport, whose /v2/events/trades a Trading host may not offer
    desk: Desk = await desk_for(sim, poll_interval_seconds=0.2, transport="sse")

    def trades_state() -> State:
        return next(s.state for s in desk.snapshot().connection.streams if s.name == "trades")

    await until(lambda: trades_state() is State.POLLING, 10)
    # polling delivers: the STREAM breaker lets exposure through (it held REDUCING for good)
    await until(lambda: desk.snapshot().risk.state is TradingState.ACTIVE, 10)
    verdict = await desk.submit(OrderBuilder().symbol("AAPL").buy(1).market().day().build())
    assert verdict.allowed, str(verdict)
    await until(
        lambda: (p := desk.snapshot().book.positions.get("AAPL")) is not None and p.qty == 1, 10
    )
    assert trades_state() is State.POLLING
    stream = next(b for b in desk.snapshot().risk.breakers if b.name is BreakerName.STREAM)
    assert not stream.tripped
