"""A live update of the charts view costs the event loop little: the new figure is built,
and its lines made, in a thread; the loop only shows them. Its border title changes with it,
in the same repaint, not before (a repaint of its own, and a title that described a figure
not yet shown)."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.ui.test_snapshots_charts import ChartingDesk, seeded_charts
from tests.waiting import until
from tui_trader.config import load_settings
from tui_trader.ui.app import TraderApp, build_app
from tui_trader.ui.panes import charts
from tui_trader.ui.panes.charts import ChartPlot, ChartsPane
from tui_trader.ui.themes import ThemeMemory


def make_app(desk: ChartingDesk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TraderApp:
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TUI_TRADER_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    memory = ThemeMemory(tmp_path / "theme.json")
    memory.set("desk-dark")
    app = build_app(
        load_settings(), desk, user_themes=tmp_path / "none", memory=memory, start_desk=False
    )
    app.animation_level = "none"
    return app


async def test_a_live_update_is_built_in_a_thread_and_its_title_comes_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    desk = ChartingDesk()
    app = make_app(desk, tmp_path, monkeypatch)
    async with app.run_test(size=(140, 42)) as pilot:
        await pilot.press("4")
        await pilot.pause()
        pane = app.screen.query_one(ChartsPane)
        plot = pane.query_one("#equity-chart", ChartPlot)
        assert "95,434.44" in str(plot.border_title)
        pane.monotonic = lambda: 1e12  # no wait for the redraw interval

        # the thread's build is held until the test lets it go
        gate = threading.Event()
        build = charts._build

        def held(*args: Any) -> charts.Built:
            assert gate.wait(10), "the test never let the build go"
            return build(*args)

        monkeypatch.setattr(charts, "_build", held)
        rendered: list[ChartPlot] = []
        render = ChartPlot.render

        def counted(self: ChartPlot) -> Any:
            rendered.append(self)
            return render(self)

        monkeypatch.setattr(ChartPlot, "render", counted)

        book = desk.portfolio.snapshot()
        later = seeded_charts(tuple(desk.prices), book.day_start_equity, book.equity + 250)
        # a recorder's versions never repeat; a second recorder's do, so move them on
        desk.charts = replace(later, equity=replace(later.equity, version=1_000_000))
        app.screen.paint()  # type: ignore[attr-defined]
        await pilot.pause()
        # the figure is being built: the old one is shown, with its own title
        assert pane.equity is not None and pane.equity.equity[-1] == pytest.approx(95_684.44)
        assert "95,434.44" in str(plot.border_title), "the title ran ahead of its figure"
        before = plot.threaded

        gate.set()
        await until(lambda: plot.threaded > before, 10, "the new figure built in its thread")
        await pilot.pause()
        assert "95,684.44" in str(plot.border_title)
        built = plot._built
        assert built is not None and plot.render_line(1) is built.lines[1]
        # nothing turned the figure's text into lines on the loop (Textual's render path)
        assert rendered == []
