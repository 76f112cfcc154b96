"""The STREAM breaker's ``reconciling`` input, over real HTTP (review finding #15): the
supervisor says when a reconciliation is pending or running (from the start, and from a
reconnect, until it completes or fails, never longer than its timeout) and the desk's risk
engine reads it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import KEY, SECRET
from tests.integration.harness import Harness, admin, harnesses
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.broker.status import State
from tui_trader.config import load_settings
from tui_trader.core.models import Position
from tui_trader.core.orders import OrderBuilder
from tui_trader.core.risk import BreakerName
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target
from tui_trader.sim.runner import RunningEmulator


@pytest.fixture
async def harness_for(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    async with harnesses(tmp_path) as make:
        yield make


class Gate:
    """Holds every ``list_positions`` of a REST client until the test opens it (or makes
    it fail): the moment a reconciliation is in flight, made observable."""

    def __init__(self, rest: Any) -> None:
        self.real = rest.list_positions
        self.open = asyncio.Event()
        self.fail: Exception | None = None
        self.calls = 0
        rest.list_positions = self.list_positions

    async def list_positions(self) -> list[Position]:
        self.calls += 1
        await self.open.wait()
        if self.fail is not None:
            raise self.fail
        positions: list[Position] = await self.real()
        return positions


@pytest.mark.parametrize("first_connect", ["at_once", "refused_once"])
async def test_review_15_reconciling_from_start_and_reconnect_until_done_or_failed(
    sim: RunningEmulator, harness_for: Any, first_connect: str
) -> None:
    if first_connect == "refused_once":  # the stream connects well after the reconcile began
        await admin(
            sim, "/_emulator/faults", {"kind": "connect", "stream": "trades", "retry_after": 0.5}
        )
    h: Harness = await harness_for(sim, streams=("trades",), poll=False)
    gate = Gate(h.rest)  # before the supervisor's first step: the start's reconcile waits
    sup = h.supervisor
    await h.until(lambda: gate.calls == 1)
    assert sup.reconciling and sup.status().reconciling
    # the start's reconcile runs beside the stream's first connection: wait for that
    # connection, so that "reconciled" is the last word (on a loaded machine the stream
    # could otherwise connect after the reconcile ended, and "connected" come last)
    await h.until(lambda: any(t.reason == "connected" for t in h.transitions))
    assert sup.reconciling  # a connected stream does not end a reconcile still in flight
    gate.open.set()
    await h.until(lambda: not sup.reconciling)
    assert h.transitions[-1].reason == "reconciled"
    # a reconnect asks for one again; this one fails, and it ends there (not "for ever")
    gate.open.clear()
    gate.fail = RuntimeError("positions unavailable")
    await admin(sim, "/_emulator/disconnect")
    await h.until(lambda: gate.calls == 2)
    assert sup.reconciling
    gate.open.set()
    await h.until(lambda: not sup.reconciling)
    rec = sup.status().reconciliation
    assert rec is not None and rec.error == "positions unavailable"
    assert h.transitions[-1].reason == "reconcile failed: positions unavailable"


async def test_review_15_a_reconcile_that_never_answers_stops_counting_at_its_timeout(
    sim: RunningEmulator, harness_for: Any
) -> None:
    h: Harness = await harness_for(sim, streams=("trades",), poll=False, reconcile_timeout=0.3)
    gate = Gate(h.rest)  # never opened: the REST answer never comes
    await h.until(lambda: gate.calls == 1)
    assert h.supervisor.reconciling
    await h.until(lambda: not h.supervisor.reconciling, 2)
    rec = h.supervisor.status().reconciliation
    assert rec is not None and rec.error == "no answer within 0.3 s"
    assert h.supervisor.status().streams[0].state is State.STREAMING


async def test_review_15_the_desk_stops_new_exposure_while_reconciling(
    sim: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("APCA_API_BASE_URL", "APCA_API_DATA_URL", "TUI_TRADER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    settings = load_settings(base_url=sim.url, stream={"streams": "trades"})
    target = Target(sim.url, sim.url, settings.api, settings.key_id, settings.secret_key)
    journal = Journal.open(tmp_path / "journal.sqlite3")
    desk = Desk(settings, target, journal, DeskOptions(poll_interval=0.3, symbols=("AAPL",)))
    task = asyncio.create_task(desk.run())

    def stream_breaker() -> Any:
        return next(b for b in desk.snapshot().risk.breakers if b.name is BreakerName.STREAM)

    try:
        await until(lambda: desk.snapshot().connection.state is State.STREAMING, 15)
        await until(lambda: not stream_breaker().tripped, 10)
        gate = Gate(desk.supervisor.rest)
        await admin(sim, "/_emulator/disconnect")  # the reconnect reconciles: held open here
        # every positions read waits at the gate (the desk's own account reads too), so
        # once the reconnect's reconcile has begun it stays in flight until the gate opens
        await until(lambda: gate.calls >= 1 and desk.supervisor.reconciling, 10)
        # the stream is back and delivering, yet the breaker holds: the reconcile is what
        # stops new exposure now (its first reason may be the drop itself, "up=false": a
        # tripped breaker keeps the reason it tripped with)
        await until(lambda: desk.supervisor.trades_delivering(), 10)
        await until(lambda: stream_breaker().tripped, 5)
        assert desk.supervisor.reconciling and desk.supervisor.trades_delivering()
        assert stream_breaker().tripped
        denied = desk.check(OrderBuilder().symbol("AAPL").buy(1).market().day().build())
        assert not denied.allowed and "STREAM" in str(denied), denied
        gate.open.set()
        await until(lambda: not stream_breaker().tripped, 5)
    finally:
        desk.stop()
        await asyncio.wait_for(task, 15)
        await desk.aclose()
        journal.close()
