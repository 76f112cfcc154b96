"""A burst of committed events waits in the broker's stream, not in the desk's memory.

The desk applies committed events a slice per loop turn (desk/events.py); the readers of the
streams used to go on reading, validating and journaling while the slices lagged, so every
event of a burst (a catch-up after a reconnect, a busy open) waited in the desk's backlog at
once: 3,900-5,600 events and 8-10 MB more RSS for a moment under bench/ui.py's 5,000
events/s. Now the readers wait while the backlog is long, as they wait for the journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import KEY, SECRET
from tests.waiting import until
from tui_trader.broker.journal import Journal
from tui_trader.broker.status import State
from tui_trader.broker.supervisor import Delivered
from tui_trader.broker.writer import STAGE_ROWS
from tui_trader.config import load_settings
from tui_trader.desk.desk import Desk, DeskOptions
from tui_trader.desk.events import BACKLOG_HIGH
from tui_trader.desk.target import Target
from tui_trader.sim.runner import RunningEmulator

ORDERS = 4_000  # three trade events each: 12,000 at once


@pytest.fixture(params=["sse", "websocket"])
async def desk(
    request: pytest.FixtureRequest,
    sim: RunningEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Desk]:
    """A desk on the emulator, its trade updates over SSE or the trading websocket (both
    readers wait on the same hold)."""
    for name in ("APCA_API_BASE_URL", "APCA_API_DATA_URL", "TUI_TRADER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    settings = load_settings(base_url=sim.url, stream={"transport": request.param})
    target = Target(sim.url, sim.url, settings.api, settings.key_id, settings.secret_key)
    store = Journal.open(tmp_path / "journal.sqlite3")
    made = Desk(settings, target, store, DeskOptions(poll_interval=0.3, symbols=("AAPL",)))
    task = asyncio.create_task(made.run())
    try:
        yield made
    finally:
        made.stop()
        await asyncio.wait_for(task, 15)
        await made.aclose()
        store.close()


def trades_state(desk: Desk) -> State:
    return next(s.state for s in desk.supervisor.status().streams if s.name == "trades")


def trade_events(desk: Desk) -> int:
    return next(s.events for s in desk.supervisor.status().streams if s.name == "trades")


async def test_a_burst_waits_in_the_stream_not_in_the_desks_backlog(
    sim: RunningEmulator, desk: Desk
) -> None:
    peak = [0]
    ids: list[str] = []

    def after_the_desk(items: list[Delivered]) -> None:
        # registered after the desk's own listener: it sees the backlog a commit left
        peak[0] = max(peak[0], desk.waiting)
        ids.extend(d.id for d in items if d.stream == "trades")

    desk.supervisor.on_events(after_the_desk)
    await until(lambda: trades_state(desk) is State.STREAMING, 15)
    before = trade_events(desk)
    async with httpx.AsyncClient(base_url=sim.url, timeout=30) as c:
        r = await c.post("/_emulator/backlog", json={"orders": ORDERS})
        assert r.status_code == 200, r.text
        written: int = r.json()["trade_events"]
    assert written >= 3 * ORDERS
    await until(
        lambda: trade_events(desk) - before >= written and not desk.waiting,
        60,
        lambda: f"{trade_events(desk) - before} of {written}, backlog {desk.waiting}",
    )
    # nothing lost or doubled on the way, and the desk applied it all
    assert len(ids) == len(set(ids)) and trade_events(desk) - before == written
    # what waited in the desk at once: at most the hold's bound and one commit's worth
    # (before: 3,953 of these 12,000; 4,864 of 36,000)
    assert peak[0] <= BACKLOG_HIGH + STAGE_ROWS, peak[0]
