"""A real session, recorded and replayed: a desk runs on the real emulator, trades through
its gate and stops; its journal then plays through the app, read-only. The replay ends with
the positions and the events the live desk had, its trading keys are greyed out and say why,
and it builds no client of any kind: nothing can reach a broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import BASE_CONFIG, KEY, SECRET
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.broker.rest import AlpacaREST
from tui_trader.broker.status import State
from tui_trader.config import Settings, load_settings
from tui_trader.core.orders import OrderBuilder
from tui_trader.core.risk import TradingState
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.replay import READ_ONLY, ReplayDesk
from tui_trader.desk.replay_source import Recording
from tui_trader.desk.snapshot import DeskSnapshot
from tui_trader.desk.target import Target
from tui_trader.sim.runner import RunningEmulator, start_in_thread
from tui_trader.ui.app import build_app
from tui_trader.ui.panes.positions import PositionsPane
from tui_trader.ui.screens.replay import TRADING_ACTIONS, ReplayScreen

pytestmark = pytest.mark.integration

SYMBOLS = ("AAPL", "MSFT")


@pytest.fixture
def sim() -> Iterator[RunningEmulator]:
    running = start_in_thread(replace(BASE_CONFIG, heartbeat_seconds=1.0))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim: RunningEmulator) -> Settings:
    for name in list(os.environ):
        if name.upper().startswith(("APCA_", "TUI_TRADER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    return load_settings(base_url=sim.url, ui={"refresh_hz": 4})


async def live_session(settings: Settings, sim: RunningEmulator, path: Path) -> DeskSnapshot:
    """A desk on the emulator: two orders through its gate, filled; then it stops."""
    assert settings.key_id is not None and settings.secret_key is not None
    target = Target(sim.url, sim.url, settings.api, settings.key_id, settings.secret_key)
    with Journal.open(path) as journal:
        desk = Desk(
            settings, target, journal, DeskOptions(trade=False, poll_interval=0.5, symbols=SYMBOLS)
        )
        task = asyncio.create_task(desk.run())
        try:
            await until(lambda: desk.snapshot().connection.state is State.STREAMING, 20)
            await until(lambda: set(desk.snapshot().prices) == set(SYMBOLS), 20)
            await until(lambda: desk.snapshot().risk.state is TradingState.ACTIVE, 20, "ACTIVE")
            buy = OrderBuilder().symbol("AAPL").buy(5).market().day().build()
            short = OrderBuilder().symbol("MSFT").sell(3).market().day().build()
            for order in (buy, short):
                assert (await desk.submit(order)).allowed
            await until(
                lambda: (
                    {s: p.qty for s, p in desk.snapshot().book.positions.items() if p.qty}
                    == {"AAPL": Decimal(5), "MSFT": Decimal(-3)}
                ),
                20,
                lambda: str(desk.snapshot().book.positions),
            )
            await until(lambda: len(desk.snapshot().events) >= 4, 10)  # new + fill, each
            return desk.snapshot()
        finally:
            desk.stop()
            await asyncio.wait_for(task, 10)
            await desk.aclose()


def held(snap: DeskSnapshot) -> dict[str, tuple[Decimal, Decimal]]:
    return {s: (p.qty, p.avg_entry) for s, p in snap.book.positions.items() if p.qty}


async def test_a_recorded_session_replays_to_the_same_book(
    settings: Settings,
    sim: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "journal.sqlite3"
    live = await live_session(settings, sim, path)

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a replay built a network client")

    monkeypatch.setattr(httpx.AsyncClient, "__init__", refuse)
    monkeypatch.setattr(AlpacaREST, "__init__", refuse)
    sim.stop()  # nothing to reach, either way

    recording = Recording(path)
    desk = ReplayDesk(settings, recording, speed=None)
    app = build_app(settings, desk, user_themes=tmp_path / "themes", replay=desk)
    async with app.run_test(size=(160, 50)) as pilot:
        await until(lambda: desk.player.ended, 20, "the end of the recording")
        screen = app.desk_screen
        assert isinstance(screen, ReplayScreen)
        await until(lambda: screen.snap is not None and screen.snap.replay is not None, 5)
        await pilot.pause()
        screen.paint()
        snap = desk.snapshot()
        assert held(snap) == held(live)
        assert [(e.stream, e.kind, e.symbol, e.text) for e in snap.events] == [
            (e.stream, e.kind, e.symbol, e.text) for e in live.events
        ]
        table = screen.query_one(PositionsPane)
        for symbol, (qty, _avg) in held(live).items():  # the pane shows them, as live
            assert table.cell_text(symbol, "qty").replace(",", "") == f"{qty:,}".replace(",", "")
        assert snap.signals.keys() <= set(SYMBOLS)
        header = str(screen.query_one("#desk-header").render())
        assert "REPLAY" in header and "end" in header

        for action in TRADING_ACTIONS:  # the orders view's cancel/replace/close too
            assert screen.check_action(action, ()) is None  # greyed out
        assert {"cancel_order", "replace_order", "close_position"} <= TRADING_ACTIONS
        before = len(app._notifications)
        for key in ("p", "f", "o", "c"):
            await pilot.press(key)
        await pilot.pause()
        told = [n.message for n in list(app._notifications)[before:]]
        assert told.count(READ_ONLY) == 4, told
        assert app.screen is screen  # no dialog opened
        with contextlib.suppress(Exception):
            await app.shutdown()
    recording.close()
