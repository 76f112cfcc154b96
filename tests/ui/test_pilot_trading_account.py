"""The screen on an ordinary Trading API account, against the emulator as the real Trading
host (no ``/v2/events/trades`` for Trading keys, 404 on the Broker-only streams): it opens
the trade stream over the trading websocket and nothing else, the connection pane says so,
and market data comes over the IEX data stream of a free plan."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from textual.widgets import Static

from tests.integration.conftest import BASE_CONFIG, KEY, SECRET
from tests.ui.test_pilot import rendered
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.broker.status import State
from tui_trader.config import load_settings
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.target import Target
from tui_trader.sim.runner import RunningEmulator, start_in_thread
from tui_trader.ui.app import build_app

pytestmark = pytest.mark.integration


@pytest.fixture
def trading_host() -> Iterator[RunningEmulator]:
    running = start_in_thread(
        replace(
            BASE_CONFIG,
            trading_sse=False,
            broker_streams_for_trading_keys=False,
            plan="free",
            heartbeat_seconds=1.0,
        )
    )
    try:
        yield running
    finally:
        running.stop()


async def test_the_screen_on_a_trading_account_opens_the_websocket_and_no_broker_stream(
    trading_host: RunningEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("APCA_", "TUI_TRADER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    sim = trading_host
    settings = load_settings(base_url=sim.url, ui={"refresh_hz": 4})
    assert settings.key_id is not None and settings.secret_key is not None
    target = Target(sim.url, sim.url, settings.api, settings.key_id, settings.secret_key)
    journal = Journal.open(tmp_path / "j.sqlite3")
    desk = Desk(settings, target, journal, DeskOptions(trade=False, symbols=("AAPL",)))
    app = build_app(settings, desk, user_themes=tmp_path / "themes")
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await until(lambda: desk.snapshot().connection.state is State.STREAMING, 15)
            await until(
                lambda: (
                    (m := desk.snapshot().market_data) is not None and str(m.state) == "STREAMING"
                ),
                15,
                lambda: f"market data {desk.snapshot().market_data}",
            )
            await pilot.pause(0.3)
            market = desk.snapshot().market_data
            assert market is not None and market.feed == "iex"
            streams = desk.snapshot().connection.streams
            assert [(s.name, s.transport) for s in streams] == [("trades", "websocket")]
            assert app.desk_screen is not None
            pane = rendered(app.desk_screen.query_one("#connection-body", Static))
            assert "via ws" in pane, pane
            assert "data iex STREAMING" in pane, pane
            await app.shutdown()
    finally:
        journal.close()
    async with httpx.AsyncClient(base_url=sim.url, timeout=10) as admin:
        stats = (await admin.get("/_emulator/state")).json()["stats"]
    assert not [k for k in stats if "/events/" in k], stats  # no SSE at all
    assert stats.get("connect_trade_updates", 0) >= 1, stats
    assert stats.get("data_ws_connect_iex", 0) >= 1 and "data_ws_connect_sip" not in stats, stats
