"""Start-up: the first frame comes before the emulator, the journal and the desk exist, and
says what the start is doing; the desk screen follows with the desk's own start-up (the
account, the policy's warm-up) in its header, prices on it meanwhile; a start that cannot
happen (the paper account's file held by another tui-trader) ends the screen and says why
once the terminal is back, exit 2. The real ``DeskStart`` over the real embedded emulator."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.waiting import until
from tui_trader.config import ConfigError, Settings, load_settings
from tui_trader.desk.desk import Desk
from tui_trader.desk.launch.screen import DeskStart, run_desk, run_desk_first
from tui_trader.sim.persist import AccountStore, state_path
from tui_trader.ui.app import build_app
from tui_trader.ui.screens.main import DeskScreen
from tui_trader.ui.screens.starting import StartScreen

pytestmark = pytest.mark.integration

SYMBOLS = ["AAPL", "MSFT"]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """No keys: the embedded emulator, its paper account in ``tmp_path``."""
    for name in list(os.environ):
        if name.upper().startswith(("APCA_", "TUI_TRADER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    yield load_settings(
        data_dir=tmp_path / "data",
        # heartbeats every second: the desk shares a process (and a GIL) with the app here
        sim={"symbols": SYMBOLS, "heartbeat_seconds": 1.0},
        ui={"refresh_hz": 4},
    )


class HeldStart(DeskStart):
    """The real start, held at its beginning until the test lets it go."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, trade=False)
        self.gate = asyncio.Event()
        self.opened = False

    async def open(self) -> Desk:
        await self.gate.wait()
        self.opened = True
        return await super().open()


def header(screen: Any) -> str:
    return str(screen.query_one("#desk-header").render())


async def test_the_first_frame_comes_before_the_desk_and_says_what_is_starting(
    settings: Settings, tmp_path: Path
) -> None:
    start = HeldStart(settings)
    app = build_app(settings, None, user_themes=tmp_path / "themes", start=start)
    try:
        async with app.run_test(size=(140, 42)) as pilot:
            try:
                await pilot.pause()
                # the first frame: the start screen, nothing started behind it yet
                assert isinstance(app.screen, StartScreen)
                assert "SIM" in header(app.screen) and "DEMO 60x" in header(app.screen)
                assert "starting the paper emulator" in header(app.screen)
                assert start.target is None and start.desk is None and app.desk is None

                start.gate.set()  # the start goes on behind the screen
                screen = await until(
                    lambda: app.screen if isinstance(app.screen, DeskScreen) else None, 30
                )
                desk = start.desk
                assert desk is not None and app.desk is desk
                assert start.done[:3] and "paper emulator started" in start.done[0]
                # the desk's own start-up is said in the header until it is warm, and every
                # watched symbol is priced meanwhile (the latest quotes come first)
                seen: set[str] = set()

                def warm() -> bool:
                    step = desk.snapshot().starting
                    if step is not None:
                        seen.add(step.split(" ")[0])
                    return desk.started

                await until(warm, 60, lambda: f"steps seen: {seen}")
                assert set(desk.snapshot().prices) == set(SYMBOLS)
                assert seen & {"reading", "warming", "looking"}, seen
                await until(lambda: "⟳" not in header(screen), 5, lambda: header(screen))
            finally:
                await app.shutdown()
    finally:
        start.close()
    assert start.target is None and start.journal is None  # the emulator stopped, journal shut


async def test_quitting_on_the_start_screen_leaves_at_once_and_starts_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    start = HeldStart(settings)
    app = build_app(settings, None, user_themes=tmp_path / "themes", start=start)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StartScreen)
        await pilot.press("q")  # no confirm: nothing trades yet
        await until(lambda: not app.is_running, 5, "the app still runs")
    start.close()
    assert not start.opened and start.target is None


def test_a_paper_account_held_by_another_desk_ends_the_screen_and_says_why(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = AccountStore(state_path(settings.data_dir))
    other.open()  # another tui-trader owns the paper account's file
    shown: list[DeskStart] = []

    def show(settings: Settings, start: DeskStart) -> None:
        shown.append(start)
        app = build_app(settings, None, user_themes=tmp_path / "themes", start=start)
        app.run(headless=True, size=(100, 30))

    try:
        code = run_desk(settings, show)
    finally:
        other.close(clean=True)
    err = capsys.readouterr().err
    assert code == 2, err
    assert shown and shown[0].desk is None and shown[0].target is None
    lines = [line for line in err.splitlines() if line.startswith("tui-trader:")]
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in err, err


# ------------------------------------------------------- the settings behind the first frame
def sim_settings(tmp_path: Path, **ui: Any) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        sim={"symbols": SYMBOLS, "heartbeat_seconds": 1.0},
        ui={"refresh_hz": 4, **ui},
    )


async def test_the_settings_are_read_behind_the_first_frame(
    settings: Settings, tmp_path: Path
) -> None:
    """``tui-trader`` at a terminal, settings that cannot be live: the start screen is drawn
    before the settings exist (no badge yet), then the badge, the configured theme and the
    desk follow."""
    gate = threading.Event()

    def load() -> Settings:
        assert gate.wait(30), "the test never let the settings load"
        return sim_settings(tmp_path, theme="amber")

    start = DeskStart(None, trade=None, load=load)
    app = build_app(None, None, user_themes=tmp_path / "themes", start=start)
    try:
        async with app.run_test(size=(140, 42)) as pilot:
            try:
                await pilot.pause()
                assert isinstance(app.screen, StartScreen)
                first = header(app.screen)
                assert "reading the settings" in first and "SIM" not in first, first
                assert app.theme == "desk-dark" and start.settings is None
                gate.set()
                await until(lambda: "SIM" in header(app.screen), 30, lambda: header(app.screen))
                assert app.theme == "amber"  # the configured theme, none chosen with t
                await until(lambda: isinstance(app.screen, DeskScreen), 60, "no desk screen")
                assert start.trade is True  # the embedded emulator: the policy trades
                assert start.done[0].startswith("settings read")
                assert app.desk is start.desk and app.hz == 4
            finally:
                await app.shutdown()
    finally:
        start.close()


def run_first(
    tmp_path: Path, load: Callable[[], Settings], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, list[DeskStart]]:
    shown: list[DeskStart] = []

    def show(settings: Settings | None, start: DeskStart) -> None:
        assert settings is None
        shown.append(start)
        app = build_app(None, None, user_themes=tmp_path / "themes", start=start)
        app.run(headless=True, size=(100, 30))

    code = run_desk_first(load, show)
    return code, capsys.readouterr().err, shown


def test_a_wrong_setting_found_behind_the_screen_is_said_as_the_command_line_says_it(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TUI_TRADER_SIM__SPEED", "fast")
    with pytest.raises(ConfigError) as wrong:
        load_settings()
    code, err, shown = run_first(tmp_path, load_settings, capsys)
    assert code == 2 and err == f"{wrong.value}\n", err
    assert shown and shown[0].target is None and shown[0].desk is None


def test_live_settings_found_behind_the_screen_start_nothing(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Could not happen through ``could_be_live``; if it did, the start refuses (it cannot
    ask for the account number at the terminal any more) before anything connects."""

    def live() -> Settings:
        return load_settings(
            mode="live",
            base_url="http://127.0.0.1:9",
            key_id="kid",
            secret_key="sec",
            data_dir=tmp_path / "data",
        )

    code, err, shown = run_first(tmp_path, live, capsys)
    assert code == 2 and err.count("\n") == 1, err
    assert "account number typed at a terminal" in err and "nothing was started" in err, err
    assert shown and shown[0].target is None and shown[0].mode is None
