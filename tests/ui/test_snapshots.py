"""How the screen looks, frozen: a desk built from the real core objects and seeded prices,
a fixed clock, a fixed terminal size, no animation, no toasts. Each SVG was opened and looked
at (rendered to PNG) before it was accepted; `pytest --snapshot-update` rewrites them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from tests.ui.frozen import FrozenDesk, backoff, halted, polling
from tui_trader.config import load_settings
from tui_trader.ui.app import TraderApp, build_app
from tui_trader.ui.hints import HintMemory
from tui_trader.ui.screens.confirm import ConfirmScreen
from tui_trader.ui.screens.help import HelpScreen
from tui_trader.ui.screens.order_entry import OrderEntryScreen
from tui_trader.ui.themes import ThemeMemory, load_themes

WIDE = (160, 50)
NARROW = (80, 24)
MEDIUM = (100, 30)
SHIPPED = sorted(load_themes(None).themes)

Snap = Callable[..., bool]


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., TraderApp]:
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TUI_TRADER_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")

    def make(
        desk: FrozenDesk | None = None, theme: str = "desk-dark", first_run: bool = False
    ) -> TraderApp:
        memory = ThemeMemory(tmp_path / "theme.json")
        memory.set(theme)
        app = build_app(
            load_settings(),
            desk or FrozenDesk(),
            user_themes=tmp_path / "no-user-themes",
            memory=memory,
            start_desk=False,
            hints=HintMemory(tmp_path / "hints.json") if first_run else None,
        )
        app.animation_level = "none"
        return app

    return make


async def until_screen(pilot: Pilot[Any], kind: type[Screen[Any]]) -> None:
    for _ in range(200):  # bounded: the modal comes after one worker step
        if isinstance(pilot.app.screen, kind):
            break
        await pilot.pause(0.01)
    assert isinstance(pilot.app.screen, kind)
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


def settle() -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.pause()
        await pilot.pause()

    return run


def test_streaming_wide(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=settle())


def test_streaming_80x24(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    assert snap_compare(make_app(), terminal_size=NARROW, run_before=settle())


def test_streaming_100_columns(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    """At 100 columns the signals pane spans the screen: forecast, uncertainty, target and
    current weight side by side, not two columns."""
    assert snap_compare(make_app(), terminal_size=MEDIUM, run_before=settle())


def test_first_run_hint_80x24(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    assert snap_compare(make_app(first_run=True), terminal_size=NARROW, run_before=settle())


def test_backoff_with_countdown(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    assert snap_compare(make_app(backoff()), terminal_size=WIDE, run_before=settle())


def test_polling_fallback(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    assert snap_compare(make_app(polling()), terminal_size=WIDE, run_before=settle())


def test_tripped_breaker_halted(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    assert snap_compare(make_app(halted()), terminal_size=WIDE, run_before=settle())


def test_paused(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    assert snap_compare(make_app(FrozenDesk(paused=True)), terminal_size=WIDE, run_before=settle())


def test_live_mode_header(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    assert snap_compare(
        make_app(FrozenDesk(mode="live")), terminal_size=NARROW, run_before=settle()
    )


def test_flatten_confirm_modal(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.press("f")
        await until_screen(pilot, ConfirmScreen)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


def test_order_entry_validation_error(
    snap_compare: Snap, make_app: Callable[..., TraderApp]
) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.press("o")
        await until_screen(pilot, OrderEntryScreen)
        await pilot.press(*"aapl")
        pilot.app.screen.query_one("#qty", Input).focus()
        await pilot.press("minus", "5")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


def test_help(snap_compare: Snap, make_app: Callable[..., TraderApp]) -> None:
    async def run(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")
        await until_screen(pilot, HelpScreen)

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run)


@pytest.mark.parametrize("theme", SHIPPED)
def test_every_shipped_theme(
    snap_compare: Snap, make_app: Callable[..., TraderApp], theme: str
) -> None:
    app = make_app(halted(), theme=theme)
    assert snap_compare(app, terminal_size=(120, 36), run_before=settle())
