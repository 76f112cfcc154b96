"""The watchlist driven by Pilot against the real emulator over real sockets: prices show for
every watched symbol; ``+`` refuses a malformed or unlisted symbol and adds a listed one, which
then streams quotes (subscribed on the open data socket); ``-`` removes the selected one; and a
desk started again on the same journal watches what the trader left it watching."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static

from tests.integration.conftest import BASE_CONFIG, KEY, SECRET
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.broker.status import State
from tui_trader.config import load_settings
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target
from tui_trader.desk.watchlist import WATCHLIST_KEY
from tui_trader.sim.runner import RunningEmulator, start_in_thread
from tui_trader.ui.app import TraderApp, build_app
from tui_trader.ui.panes.watchlist import WatchlistPane
from tui_trader.ui.screens.add_symbol import AddSymbolScreen

pytestmark = pytest.mark.integration

SYMBOLS = ("AAPL", "MSFT")
SIZE = (140, 42)
Started = tuple[TraderApp, Any, Desk]


@pytest.fixture
def sim() -> Iterator[RunningEmulator]:
    running = start_in_thread(replace(BASE_CONFIG, heartbeat_seconds=1.0))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def desk_app(
    sim: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], contextlib.AbstractAsyncContextManager[Started]]:
    """``async with desk_app() as (app, pilot, desk)``: the app over a real desk, streaming;
    every start uses the same journal, as a restart on the same account does."""
    for name in list(os.environ):
        if name.upper().startswith(("APCA_", "TUI_TRADER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)

    @contextlib.asynccontextmanager
    async def run() -> AsyncIterator[Started]:
        settings = load_settings(base_url=sim.url, ui={"refresh_hz": 4})
        assert settings.key_id is not None and settings.secret_key is not None
        target = Target(sim.url, sim.url, settings.api, settings.key_id, settings.secret_key)
        journal = Journal.open(tmp_path / "journal.sqlite3")
        desk = Desk(
            settings, target, journal, DeskOptions(trade=False, poll_interval=0.5, symbols=SYMBOLS)
        )
        app = build_app(settings, desk, user_themes=tmp_path / "themes")
        try:
            async with app.run_test(size=SIZE) as pilot:
                try:
                    await until(lambda: desk.snapshot().connection.state is State.STREAMING, 15)
                    await pilot.press("2")
                    yield app, pilot, desk
                finally:
                    await app.shutdown()
        finally:
            journal.close()

    return run


def pane(app: TraderApp) -> WatchlistPane:
    assert app.desk_screen is not None
    return app.desk_screen.query_one(WatchlistPane)


def priced(app: TraderApp, symbols: tuple[str, ...]) -> bool:
    """Every symbol's row shows a bid, an ask and a last price."""
    table = pane(app)
    try:
        return all(
            table.cell_text(s, col) not in ("-", "")
            for s in symbols
            for col in ("bid", "ask", "last")
        )
    except (KeyError, StopIteration):
        return False


async def add(app: TraderApp, pilot: Any, text: str) -> Static:
    """``+``, the symbol, Enter; the dialog's error line (empty when it closed)."""
    if not isinstance(app.screen, AddSymbolScreen):
        await pilot.press("plus")
        await until(lambda: isinstance(app.screen, AddSymbolScreen), 10, "the add dialog")
    dialog = app.screen
    box = dialog.query_one("#add-symbol", Input)
    box.value = ""
    error = dialog.query_one("#add-error", Static)
    await pilot.press(*text, "enter")
    await until(
        lambda: app.screen is not dialog or "checking" not in str(error.content), 15, "an answer"
    )
    return error


async def test_watchlist_prices_add_remove_and_remember(
    desk_app: Callable[[], contextlib.AbstractAsyncContextManager[Started]],
) -> None:
    async with desk_app() as (app, pilot, desk):
        await until(lambda: priced(app, SYMBOLS), 15, "prices for every watched symbol")

        # refused, and said why; the dialog stays open for a correction
        error = await add(app, pilot, "ZZZZ")
        assert "not an asset the broker lists" in str(error.content)
        error = await add(app, pilot, "1X")
        assert "not a ticker symbol" in str(error.content)
        assert desk.snapshot().symbols == SYMBOLS

        # a listed symbol: watched, priced, and then quoted by the stream
        await add(app, pilot, "nvda")
        await until(lambda: not isinstance(app.screen, AddSymbolScreen), 10, "dialog closed")
        assert desk.snapshot().symbols == (*SYMBOLS, "NVDA")
        await until(lambda: priced(app, ("NVDA",)), 15, "NVDA priced")
        first = desk.snapshot().watch["NVDA"]
        stream = desk.data_stream
        assert stream is not None and "NVDA" in stream.symbols
        seen = stream.status().messages
        await until(
            lambda: stream.status().messages > seen + 5 and desk.snapshot().watch["NVDA"] != first,
            15,
            "NVDA quotes from the stream",
        )
        assert desk.journal.get_setting(WATCHLIST_KEY) == [*SYMBOLS, "NVDA"]

        # - removes the selected row (MSFT): gone from the desk, the pane and the journal
        await pilot.press("down")
        assert pane(app).selected == "MSFT"
        await pilot.press("minus")
        await until(lambda: "MSFT" not in desk.snapshot().symbols, 10, "MSFT removed")
        await pilot.pause()
        assert "MSFT" not in pane(app)._keys
        assert desk.journal.get_setting(WATCHLIST_KEY) == ["AAPL", "NVDA"]
        assert stream.symbols == ["AAPL", "NVDA"]

    # a restart on the same journal watches what was left: AAPL and NVDA, priced
    async with desk_app() as (app, pilot, desk):
        assert desk.snapshot().symbols == ("AAPL", "NVDA")
        await until(lambda: priced(app, ("AAPL", "NVDA")), 15, "prices after the restart")
