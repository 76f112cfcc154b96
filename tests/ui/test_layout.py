"""The screen gives each pane room at every size (issue 15): tables lose their least useful
column first, the signals pane keeps the sizing's inputs at 100 columns, a cut event says so,
and the first-run hint goes at the first key and stays gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ui.frozen import FrozenDesk
from tui_trader.config import load_settings
from tui_trader.ui.app import build_app
from tui_trader.ui.hints import HintMemory
from tui_trader.ui.panes.events import EventsPane
from tui_trader.ui.panes.hint import HintLine
from tui_trader.ui.panes.signals import SignalsPane
from tui_trader.ui.panes.table import Column, KeyedTable
from tui_trader.ui.themes import ThemeMemory


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "cfg.toml").write_text("")
    monkeypatch.setenv("TUI_TRADER_CONFIG", str(tmp_path / "cfg.toml"))


def app_for(tmp_path: Path, hints: HintMemory | None = None) -> Any:
    return build_app(
        load_settings(),
        FrozenDesk(),
        user_themes=tmp_path / "themes",
        memory=ThemeMemory(tmp_path / "theme.json"),
        start_desk=False,
        hints=hints,
    )


def test_columns_leave_one_at_a_time_in_their_drop_order() -> None:
    table = KeyedTable(
        [
            Column("a", "A", 4),
            Column("b", "B", 4, essential=False, drop=1),
            Column("c", "C", 4, essential=False, drop=2),
            Column("d", "D", 4, essential=False),  # no rank: after the ranked ones
            Column("e", "E", 4),
        ]
    )
    assert table.fitting(30) == (0, 1, 2, 3, 4)  # 5 x 6 cells fit
    assert table.fitting(29) == (0, 1, 3, 4)  # the highest rank goes first
    assert table.fitting(18) == (0, 3, 4)
    assert table.fitting(12) == (0, 4)  # essential columns stay, even when they overflow
    assert table.fitting(5) == (0, 4)


async def test_at_100_columns_signals_show_forecast_uncertainty_target_and_weight(
    tmp_path: Path,
) -> None:
    async with app_for(tmp_path).run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        pane = pilot.app.screen.query_one(SignalsPane)
        shown = [pane._spec[i].key for i in pane._shown]
        assert {"mu", "sigma", "target", "current", "gate"} <= set(shown), shown


async def test_a_cut_event_line_ends_in_an_ellipsis(tmp_path: Path) -> None:
    async with app_for(tmp_path).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pane = pilot.app.screen.query_one(EventsPane)
        width = pane.scrollable_content_region.width
        lines = [pane.render_line(y).text for y in range(pane.size.height)]
        full = [t for t in pane.texts() if len(t) > width]
        assert full, "the frozen desk has events longer than an 80-column pane"
        cut = [line for line in lines if line.rstrip().endswith("…")]
        assert cut and all(len(line) == width for line in cut)
        assert not any("accou " in line for line in lines)  # a stream label, whole


async def test_the_first_run_hint_goes_at_the_first_key_and_stays_gone(tmp_path: Path) -> None:
    hints = HintMemory(tmp_path / "hints.json")
    async with app_for(tmp_path, hints).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        line = pilot.app.screen.query_one(HintLine)
        assert line.display and "p pause" in str(line.render())
        await pilot.press("1")
        await pilot.pause()
        assert not line.display
    assert hints.seen()
    async with app_for(tmp_path, hints).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not pilot.app.screen.query_one(HintLine).display


async def test_pause_hides_the_hint_too(tmp_path: Path) -> None:
    """p is a priority binding: it never reaches the screen's key handler."""
    hints = HintMemory(tmp_path / "hints.json")
    async with app_for(tmp_path, hints).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        assert not pilot.app.screen.query_one(HintLine).display
    assert hints.seen()


def test_a_damaged_hint_file_counts_as_not_seen(tmp_path: Path) -> None:
    path = tmp_path / "hints.json"
    path.write_text("{not json")
    assert not HintMemory(path).seen()
    assert HintMemory(path).mark_seen() and HintMemory(path).seen()


async def test_at_140_columns_signals_keep_the_decision(tmp_path: Path) -> None:
    """The wide layout (140x42, the size a trader opens) shows every signals column: the
    decision's words were the first to go when the pane was a few cells short."""
    async with app_for(tmp_path).run_test(size=(140, 42)) as pilot:
        await pilot.pause()
        pane = pilot.app.screen.query_one(SignalsPane)
        assert len(pane._shown) == len(pane._spec), [pane._spec[i].key for i in pane._shown]
