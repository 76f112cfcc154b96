"""Replay mode, frozen: a journal built here, stepped to its end while paused, on the desk's
screen. The header says REPLAY, the replayed time, the speed and paused; the trading keys are
greyed in the footer. Opened as a PNG and looked at before it was accepted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.unit.test_replay import Clock, record
from tui_trader.config import load_settings
from tui_trader.desk.replay import ReplayDesk
from tui_trader.desk.replay_source import Recording
from tui_trader.ui.app import build_app
from tui_trader.ui.themes import ThemeMemory

Snap = Callable[..., bool]


def settle() -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.pause()

    return run


def test_replay_paused_wide(
    snap_compare: Snap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TUI_TRADER_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    path = tmp_path / "journal-sim.sqlite3"
    record(path)
    settings = load_settings()
    recording = Recording(path)
    desk = ReplayDesk(settings, recording, speed=10.0, monotonic=Clock(0.0))
    desk.toggle()  # paused
    for _ in range(7):  # up to the halt, before the pause
        desk.step()
    memory = ThemeMemory(tmp_path / "theme.json")
    memory.set("desk-dark")
    app = build_app(
        settings,
        desk,
        user_themes=tmp_path / "no-user-themes",
        memory=memory,
        start_desk=False,
        replay=desk,
    )
    app.animation_level = "none"
    try:
        assert snap_compare(app, terminal_size=(160, 50), run_before=settle())
    finally:
        recording.close()
