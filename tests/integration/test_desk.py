"""The desk against the emulator: the policy trades through the risk gate and the journal
explains every order; a forced loss halts it and flatten still works; pause survives a
restart; manual orders pass the same gate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import KEY, SECRET
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.config import load_settings
from tui_trader.core.orders import OrderBuilder
from tui_trader.core.risk import TradingState
from tui_trader.engine import Desk, DeskOptions
from tui_trader.sim.runner import RunningEmulator
from tui_trader.target import Target


def settings_for(sim: RunningEmulator, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> Any:
    for name in ("APCA_API_BASE_URL", "APCA_API_DATA_URL", "TUI_TRADER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    return load_settings(base_url=sim.url, **overrides)


@pytest.fixture
async def desk_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[..., Any]]:
    made: list[tuple[Desk, asyncio.Task[None], Journal]] = []

    async def make(
        sim: RunningEmulator,
        *,
        trade: bool = False,
        journal: Path | None = None,
        start: bool = True,
        **overrides: Any,
    ) -> Desk:
        settings = settings_for(sim, monkeypatch, **overrides)
        target = Target(sim.url, sim.url, settings.api, settings.key_id, settings.secret_key)
        store = Journal.open(journal or tmp_path / f"journal-{len(made)}.sqlite3")
        desk = Desk(
            settings,
            target,
            store,
            DeskOptions(trade=trade, poll_interval=0.5, symbols=("AAPL", "MSFT", "TSLA")),
        )
        task = asyncio.create_task(desk.run())
        made.append((desk, task, store))
        if start:
            await until(lambda: desk.snapshot().connection.state.value == "STREAMING", 15)
        return desk

    yield make
    for desk, task, store in made:
        await stop(desk, task)
        store.close()


async def stop(desk: Desk, task: asyncio.Task[None]) -> None:
    if not task.done():
        desk.stop()
        await asyncio.wait_for(task, 15)
    await desk.aclose()


async def test_the_policy_trades_and_the_journal_explains_every_order(
    sim_with: Any, desk_for: Any
) -> None:
    # a fast market (20 bars a second) and an eager policy, so that a few seconds are a
    # few hundred decisions: this is about the wiring and the audit trail, not about alpha
    sim: RunningEmulator = sim_with(
        speed=1200,
        history_days=5,
        starting_cash=Decimal(1_000_000),
        rate_limit_per_minute=100_000,
    )
    desk: Desk = await desk_for(
        sim,
        trade=True,
        policy={"no_trade_band": 0.0, "aggressiveness": 3.0, "min_t": 0.5},
        risk={"max_orders_per_minute": 1000},
    )
    await until(lambda: len(desk.journal.intents()) >= 5, 30)
    await asyncio.sleep(1.0)
    snap = desk.snapshot()
    assert snap.signals, "the policy decided nothing"
    intents = desk.journal.intents()
    risk = {e.data["client_order_id"]: e for e in desk.journal.audit_entries(kind="risk")}
    orders = {e.data["client_order_id"]: e for e in desk.journal.audit_entries(kind="order")}
    for intent in intents:
        cid = intent.client_order_id
        assert cid in risk and risk[cid].data["allowed"], f"{cid} sent without a verdict"
        assert intent.state in ("submitted", "pending"), intent
        assert cid in orders or intent.state == "pending"
        assert intent.source == "policy"
    signals = desk.journal.audit_entries(kind="signal")
    assert signals and all("mu" in s.data and "reason" in s.data for s in signals)
    assert not [n for n in snap.notices if "rejected" in n or "failed" in n], snap.notices


async def test_a_forced_loss_halts_the_desk_and_flatten_still_works(
    sim: RunningEmulator, desk_for: Any
) -> None:
    desk: Desk = await desk_for(sim, risk={"daily_loss_limit": 1})
    buy = OrderBuilder().symbol("TSLA").buy(90).market().day().build()
    await until(lambda: desk.snapshot().market_data_age is not None, 10)
    assert (await desk.submit(buy)).allowed
    # the spread alone costs more than $1 at the mid: daily loss trips and latches
    await until(lambda: desk.snapshot().risk.state is TradingState.HALTED, 20)
    snap = desk.snapshot()
    tripped = [b.name for b in snap.risk.breakers if b.tripped]
    assert "DAILY_LOSS" in tripped
    more = OrderBuilder().symbol("AAPL").buy(1).market().day().build()
    verdict = await desk.submit(more)
    assert not verdict.allowed and str(verdict).startswith("HALTED")
    report = await desk.flatten()
    assert report.flat, report.summary()
    async with httpx.AsyncClient(
        base_url=sim.url, headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    ) as c:
        assert (await c.get("/v2/positions")).json() == []
        placed = {
            o["client_order_id"]
            for o in (await c.get("/v2/orders", params={"status": "all"})).json()
        }
    assert more.client_order_id not in placed  # nothing new went out while halted
    assert desk.snapshot().risk.paused  # flatten leaves trading paused


async def test_pause_survives_a_restart_and_resume_needs_nothing_latched(
    sim: RunningEmulator, desk_for: Any, tmp_path: Path
) -> None:
    path = tmp_path / "shared.sqlite3"
    desk: Desk = await desk_for(sim, journal=path)
    desk.pause()
    opening = OrderBuilder().symbol("AAPL").buy(1).market().day().build()
    verdict = await desk.submit(opening)
    assert not verdict.allowed and str(verdict).startswith("REDUCING")
    desk.stop()
    await asyncio.sleep(0.5)
    again: Desk = await desk_for(sim, journal=path)
    assert again.snapshot().risk.paused
    await until(lambda: again.snapshot().market_data_age is not None, 10)  # not stale
    assert again.resume() == "ACTIVE"
    assert (await again.submit(OrderBuilder().symbol("AAPL").buy(1).market().day().build())).allowed
    assert not Journal.open(path).get_setting("paused")


async def test_manual_orders_pass_the_gate_and_reach_the_book(
    sim: RunningEmulator, desk_for: Any
) -> None:
    desk: Desk = await desk_for(sim)
    order = OrderBuilder().symbol("MSFT").buy(3).market().day().build()
    # before the first prices the gate fails closed (STALE_DATA), as it should
    await until(lambda: desk.snapshot().market_data_age is not None, 10)
    assert (await desk.submit(order)).allowed
    await until(
        lambda: (p := desk.snapshot().book.positions.get("MSFT")) is not None and p.qty == 3, 15
    )
    too_big = OrderBuilder().symbol("MSFT").buy(100_000).market().day().build()
    verdict = await desk.submit(too_big)
    assert not verdict.allowed and "SYMBOL_NOTIONAL" in str(verdict)
    events = desk.snapshot().events
    assert any(e.kind == "fill" and e.symbol == "MSFT" for e in events)


async def test_the_warm_up_over_days_of_history_leaves_the_loop_free_between_slices(
    sim_with: Any, desk_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The policy learns from every bar of the history at start (thousands), but in slices:
    a screen on the same loop keeps drawing and taking keys meanwhile."""
    from tui_trader.core.policy import OnlinePolicy

    sim: RunningEmulator = sim_with(history_days=5)
    observed = [0]
    learn = OnlinePolicy.observe

    def counted(self: OnlinePolicy, *args: Any, **kwargs: Any) -> Any:
        observed[0] += 1
        return learn(self, *args, **kwargs)

    monkeypatch.setattr(OnlinePolicy, "observe", counted)
    seen: set[int] = set()
    done = asyncio.Event()

    async def watch() -> None:  # another task on the loop, as the screen is
        while not done.is_set():
            seen.add(observed[0])
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    desk: Desk = await desk_for(sim)
    done.set()
    await watcher
    total = max(seen)
    assert total > 1000, "the history was not replayed"
    assert len({n for n in seen if 0 < n < total}) >= 3, "the warm-up ran as one stretch"
    assert desk.snapshot().convexity  # readings are there once it is done
