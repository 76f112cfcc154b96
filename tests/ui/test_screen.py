"""The screen's behaviour over a frozen desk (no network): keys reach the right desk command
and only from the main screen, confirmations default to safe, panes stay bounded and only
touch what changed, server text stays text, themes cycle and are remembered."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.strip import Strip

from tests.ui.frozen import FrozenDesk, halted, streams
from tests.waiting import until
from tui_trader.broker.status import State
from tui_trader.config import load_settings
from tui_trader.core.portfolio import Portfolio
from tui_trader.ui.app import TraderApp, build_app
from tui_trader.ui.collector import EVERY, QUIET, YOUNG_PASSES, Collector
from tui_trader.ui.palette import DeskCommands
from tui_trader.ui.panes.events import KEEP, PER_FRAME, EventsPane
from tui_trader.ui.panes.footer import DeskFooter
from tui_trader.ui.panes.positions import PositionsPane
from tui_trader.ui.screens.choice import ChoiceScreen
from tui_trader.ui.screens.confirm import ConfirmScreen
from tui_trader.ui.screens.help import HelpScreen
from tui_trader.ui.screens.main import DeskScreen
from tui_trader.ui.themes import ThemeMemory

Run = Callable[..., Any]


@pytest.fixture
def run_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "cfg.toml").write_text("")
    monkeypatch.setenv("TUI_TRADER_CONFIG", str(tmp_path / "cfg.toml"))

    @asynccontextmanager
    async def run(
        desk: FrozenDesk, size: tuple[int, int] = (160, 50), user_themes: Path | None = None
    ) -> AsyncIterator[tuple[TraderApp, Pilot[Any]]]:
        app = build_app(
            load_settings(),
            desk,
            user_themes=user_themes or tmp_path / "themes",
            memory=ThemeMemory(tmp_path / "theme.json"),
            start_desk=False,
        )
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            yield app, pilot

    return run


async def until_screen(pilot: Pilot[Any], kind: type[Screen[Any]]) -> Screen[Any]:
    for _ in range(200):
        if isinstance(pilot.app.screen, kind):
            return pilot.app.screen
        await pilot.pause(0.01)
    raise AssertionError(f"{kind.__name__} never opened; on {pilot.app.screen!r}")


def log_text(pane: EventsPane) -> list[str]:
    return pane.texts()


async def test_an_unread_account_shows_no_invented_equity_or_day_pnl(run_app: Run) -> None:
    """Until the broker's account is read, the ledger knows no cash and no day start (review
    #6): the header says so instead of a day P&L measured from zero."""
    desk = FrozenDesk()
    async with run_app(desk) as (app, pilot):
        header = app.desk_screen.query_one("#desk-header")
        assert "day +" in str(header.render()) or "day -" in str(header.render())
        desk.portfolio = Portfolio(None)
        desk.portfolio.mark("AAPL", Decimal(200))
        app.desk_screen.paint()
        await pilot.pause()
        text = str(header.render())
        assert "account not read" in text and "equity ?" in text, text
        assert "+0.00" not in text and "0.00 (" not in text, text


async def test_p_pauses_and_resumes(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (app, pilot):
        await pilot.press("p")
        assert desk.calls == ["pause"] and desk.risk.paused
        assert "PAUSED" in str(app.desk_screen.query_one("#desk-header").render())
        await pilot.press("p")
        assert desk.calls == ["pause", "resume"] and not desk.risk.paused


async def test_trading_keys_do_not_fire_under_a_modal(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (app, pilot):
        await pilot.press("question_mark")
        await until_screen(pilot, HelpScreen)
        await pilot.press("p", "f", "c")
        await pilot.pause()
        assert desk.calls == []
        assert isinstance(app.screen, HelpScreen)


async def test_flatten_confirm_focuses_cancel_and_escape_sends_nothing(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (app, pilot):
        await pilot.press("f")
        modal = await until_screen(pilot, ConfirmScreen)
        assert app.focused is not None and app.focused.id == "cancel"
        text = " ".join(str(w.render()) for w in modal.query("Static"))
        assert "buy 10 TSLA limit @ 240.00" in text and "NVDA -60" in text
        await pilot.press("enter")  # Enter on the focused Cancel
        await until_screen(pilot, DeskScreen)
        assert "flatten" not in desk.calls
        await pilot.press("f")
        await until_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await until(lambda: "flatten" in desk.calls, 2, "flatten called")
        assert desk.calls.count("flatten") == 1


async def test_a_confirm_empties_the_young_generations_before_it_is_answered(
    run_app: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dialog's own objects must not make the collector's next middle-generation pass
    (35-80 ms under load) land on the trader's answer: it runs as the dialog opens."""
    collected: list[int] = []
    real = gc.collect

    def collect(generation: int = 2) -> int:
        collected.append(generation)
        return real(generation)

    desk = FrozenDesk()
    async with run_app(desk) as (_app, pilot):
        monkeypatch.setattr(gc, "collect", collect)
        await pilot.press("f")
        await until_screen(pilot, ConfirmScreen)
        assert collected == [1]
        await pilot.press("y")
        await until(lambda: "flatten" in desk.calls, 2, "flatten called")
        assert collected == [1]  # nothing more at the answer


async def test_the_apps_full_collections_wait_for_quiet_keys_and_no_dialog(run_app: Run) -> None:
    """Automatic full collections are off (``ui/collector.py``); the app runs them when the
    trader has not pressed a key for a moment and no dialog is open, never on a key."""
    now = [0.0]
    collected: list[int] = []
    collector = Collector(
        clock=lambda: now[0], collect=collected.append, count=lambda: (0, 0, YOUNG_PASSES)
    )
    desk = FrozenDesk()
    async with run_app(desk) as (app, pilot):
        app.collector = collector
        now[0] = EVERY
        await pilot.press("p")  # the key is seen by the app's collector
        assert desk.calls == ["pause"]
        app._collect_when_quiet()
        assert collected == []  # a key a moment ago
        now[0] += QUIET
        await pilot.press("f")  # a dialog: the trader is about to answer it
        await until_screen(pilot, ConfirmScreen)
        now[0] += 10 * QUIET
        app._collect_when_quiet()
        assert collected == []
        await pilot.press("escape")
        await until_screen(pilot, DeskScreen)
        now[0] += 10 * QUIET
        app._collect_when_quiet()
        assert collected == [2]


async def test_reset_asks_then_resets_the_tripped_breaker(run_app: Run) -> None:
    desk = halted()
    async with run_app(desk) as (_app, pilot):
        await pilot.press("r")
        await until_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await until_screen(pilot, DeskScreen)
        await pilot.pause()
        assert desk.calls == ["reset DAILY_LOSS"]


async def test_reset_is_greyed_out_with_nothing_tripped(run_app: Run) -> None:
    desk = FrozenDesk()
    desk.risk.reset("SYMBOL_NOTIONAL", desk.snapshot().at)  # the seeded denial tripped it
    async with run_app(desk) as (app, pilot):
        app.desk_screen.paint()  # type: ignore[union-attr]
        tripped = [b for b in desk.snapshot().risk.breakers if str(b.state) == "tripped"]
        if tripped:
            pytest.skip("the seeded book trips a breaker by itself")
        assert app.desk_screen.check_action("reset", ()) is None  # type: ignore[union-attr]
        await pilot.press("r")
        assert desk.calls == []


async def test_fault_menu_only_on_the_emulator(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (_app, pilot):
        await pilot.press("x")
        menu = await until_screen(pilot, ChoiceScreen)
        assert [k for k, _ in menu.choices] == [
            "drop",
            "stall",
            "429",
            "503",
            "malformed",
            "dropped",
        ]  # type: ignore[attr-defined]
        await pilot.press("enter")  # the first: drop
        await until_screen(pilot, DeskScreen)
        await until(lambda: desk.calls, 2, "a desk command")
        assert desk.calls == ["fault drop"]
    live = FrozenDesk(mode="live")
    async with run_app(live) as (app, pilot):
        assert app.desk_screen.check_action("faults", ()) is False  # type: ignore[union-attr]
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, DeskScreen) and live.calls == []


async def test_filter_shows_only_matching_events_and_clears(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (app, pilot):
        pane = app.desk_screen.query_one(EventsPane)
        assert len(log_text(pane)) == 12
        await pilot.press("slash", *"fill", "enter")
        shown = log_text(pane)
        assert shown and all("fill" in line for line in shown)
        assert len(shown) == 4  # three fills and one partial fill
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"nvda", "enter")
        assert all("NVDA" in line for line in log_text(pane)) and len(log_text(pane)) == 4
        await pilot.press("escape")
        assert len(log_text(pane)) == 12
        # p is the brake and acts at the press, but not while typing in the filter box
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"spy partial_fill", "enter")
        assert pane.filter_text == "spy partial_fill"
        assert desk.calls == [] and not desk.risk.paused
        await pilot.press("p")
        assert desk.calls == ["pause"]


async def test_events_are_bounded_and_a_burst_says_what_it_skipped(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk, size=(160, 50)) as (app, _pilot):
        pane = app.desk_screen.query_one(EventsPane)
        screen = app.desk_screen
        assert screen is not None
        for _ in range(12):
            desk.emit("fill", "AAPL", "fill 1 @ 187.00", n=250)  # more than a frame holds
            screen.paint()
        lines = log_text(pane)
        assert len(lines) <= KEEP
        # per repaint: 50 the desk no longer held, and the rest of its 200 beyond one frame's
        skipped = 50 + (200 - PER_FRAME)
        assert any(f" {skipped} more events (in the journal)" in line for line in lines)


async def test_scrolling_back_keeps_new_events_and_counts_them(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk, size=(80, 24)) as (app, pilot):
        pane = app.desk_screen.query_one(EventsPane)
        screen = app.desk_screen
        assert screen is not None
        desk.emit("new", "SPY", "new buy 1 SPY market", n=40)
        screen.paint()
        await pilot.pause()
        pane.scroll_home(animate=False)
        await pilot.pause()
        desk.emit("fill", "SPY", "fill 1 @ 589.00", n=3)
        screen.paint()
        assert "3 new below" in str(pane.border_subtitle)
        assert pane.scroll_y == 0  # the trader's place is kept
        assert log_text(pane)[-1].endswith("fill 1 @ 589.00")
        pane.focus()
        await pilot.press("end")  # back to the tail: nothing is unread any more
        await pilot.pause()
        assert pane.is_vertical_scroll_end and "new below" not in str(pane.border_subtitle)


async def test_scrolled_back_the_place_is_kept_while_old_rows_fall_off(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk, size=(80, 24)) as (app, pilot):
        pane = app.desk_screen.query_one(EventsPane)
        screen = app.desk_screen
        assert screen is not None
        for i in range(KEEP // 40):  # a full pane: every row an event of its own
            desk.emit("new", "SPY", f"new buy {i} SPY market", n=40)
            screen.paint()
        await pilot.pause()
        assert len(pane.texts()) == KEEP
        pane.scroll_to(y=1000, animate=False, immediate=True)
        await pilot.pause()
        top = pane.texts()[1000]
        desk.emit("fill", "SPY", "fill 1 @ 589.00", n=30)
        screen.paint()
        await pilot.pause()
        assert len(pane.texts()) == KEEP
        assert pane.scroll_y == 1000 - 30  # 30 rows fell off above: the view moved with them
        assert pane.texts()[round(pane.scroll_y)] == top
        assert "30 new below" in str(pane.border_subtitle)


async def test_server_control_characters_stay_on_one_row(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (app, _pilot):
        desk.emit("rejected", "AAPL", "rejected:\nline two\x1b[2Jcleared")
        app.desk_screen.paint()  # type: ignore[union-attr]
        pane = app.desk_screen.query_one(EventsPane)
        last = pane.texts()[-1]
        assert last.endswith("rejected: line two?[2Jcleared")
        assert "\x1b" not in last and "\n" not in last


async def test_held_rows_are_data_not_rendered_strips(run_app: Run) -> None:
    """2,000 held rows cost no strips: only the rows on screen are rendered (a RichLog keeps a
    strip, its seven caches and its segments per row, all walked by every full collection)."""

    def strips() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is Strip)

    desk = FrozenDesk()
    async with run_app(desk, size=(80, 24)) as (app, pilot):
        pane = app.desk_screen.query_one(EventsPane)
        screen = app.desk_screen
        assert screen is not None
        await pilot.pause()
        before = strips()
        for i in range(KEEP // 40):
            desk.emit("new", "SPY", f"new buy {i} SPY market", n=40)
            screen.paint()
            await pilot.pause()
        assert len(pane.texts()) == KEEP
        assert strips() - before < 100


async def test_a_repaint_draws_its_two_halves_on_consecutive_ticks(run_app: Run) -> None:
    """The header and tables on one tick, the events pane on the next: each compositor pass
    draws about half the screen, so a key waits for half a repaint at most."""
    desk = FrozenDesk()
    async with run_app(desk) as (app, _pilot):
        screen = app.desk_screen
        assert screen is not None and screen.tick_hz == 2 * screen.hz
        pane = screen.query_one(EventsPane)
        header = screen.query_one("#desk-header")
        screen.paint()
        desk.pause()  # news for the header, and an event for the pane
        desk.emit("fill", "SPY", "fill 3 @ 589.00")
        screen._tick()
        assert "PAUSED" in str(header.render())
        assert not pane.texts()[-1].endswith("fill 3 @ 589.00")  # the next tick's half
        screen._tick()
        assert pane.texts()[-1].endswith("fill 3 @ 589.00")
        frames = screen.frames
        screen._tick()  # nothing new: nothing drawn
        assert screen.frames == frames


async def test_in_an_event_storm_the_desk_repaints_five_times_a_second(run_app: Run) -> None:
    """Past 1,000 broker events a second a repaint waits 0.2 s after the last one (10 Hz at
    5,000 events/s: compositions were the longest thing a key waited behind); below, every
    tick with news repaints as before."""
    desk = FrozenDesk()
    async with run_app(desk) as (app, _pilot):
        screen = app.desk_screen
        assert screen is not None and screen.hz == 10
        now = [1_000.0]
        screen.monotonic = lambda: now[0]

        def ticks(n: int) -> int:
            """Frames drawn over ``n`` ticks of 0.05 s (20 Hz), news on every one."""
            frames = screen.frames
            for _ in range(n):
                desk.emit("fill", "SPY", "fill 1 @ 589.00")
                now[0] += 0.05
                screen._tick()
            return screen.frames - frames

        screen.paint()
        assert ticks(40) == 20  # 2 s at 4.6 events/s: 10 repaints a second (two ticks each)
        desk.connection = streams(State.STREAMING, events_per_sec=5_000.0)
        screen.paint()
        assert ticks(40) == 10  # 2 s in a storm: one repaint every 0.2 s
        assert log_text(screen.query_one(EventsPane))[-1].endswith("fill 1 @ 589.00")
        desk.connection = streams(State.STREAMING)
        screen.paint()
        assert ticks(40) == 20


async def test_the_footer_shows_the_keys_greys_what_does_not_apply_and_takes_clicks(
    run_app: Run,
) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (app, pilot):
        screen = app.desk_screen
        assert screen is not None
        footer = screen.query_one(DeskFooter)
        keys = {k.key: k for k in footer.keys}
        assert list(keys) == ["p", "f", "o", "c", "r", "x", "q", "?"]
        assert keys["r"].enabled  # a breaker is tripped in the frozen desk
        text = footer.render().plain
        assert text.startswith(" p Pause  f Flatten ") and "? Help" in text
        await pilot.click(DeskFooter, offset=(text.index("Pause"), 0))
        assert desk.calls == ["pause"]
        for b in desk.risk.snapshot().breakers:
            if str(b.state) == "tripped":
                desk.reset_breaker(str(b.name))
        screen.paint()
        reset = next(k for k in footer.keys if k.key == "r")
        assert not reset.enabled  # greyed out: nothing is tripped
        calls = len(desk.calls)
        await pilot.click(DeskFooter, offset=(footer.render().plain.index("Reset"), 0))
        assert len(desk.calls) == calls and isinstance(app.screen, DeskScreen)
        shown = footer.keys
        await pilot.press("f")  # a modal opens and closes: the footer is not rebuilt
        await until_screen(pilot, ConfirmScreen)
        await pilot.press("n")
        await until_screen(pilot, DeskScreen)
        assert footer.keys is shown


async def test_under_a_modal_the_desk_repaints_once_a_second_and_at_once_uncovered(
    run_app: Run,
) -> None:
    """A repaint under the dimmed modal composes the whole screen: at 10 Hz it held the
    flatten confirm's keys up (bench/ui.py), so a covered desk repaints once a second."""
    desk = FrozenDesk()
    async with run_app(desk) as (app, pilot):
        screen = app.desk_screen
        assert screen is not None
        now = [1_000.0]
        screen.monotonic = lambda: now[0]
        screen.paint()
        await pilot.press("question_mark")
        await until_screen(pilot, HelpScreen)
        frames = screen.frames
        for _ in range(9):  # nine ticks of 0.1 s, every one with news
            desk.emit("fill", "SPY", "fill 1 @ 589.00")
            now[0] += 0.1
            screen._tick()
        assert screen.frames == frames
        now[0] += 0.1  # a second since the last repaint
        screen._tick()
        assert screen.frames == frames + 1
        desk.emit("fill", "SPY", "fill 2 @ 589.00")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and screen.frames == frames + 2
        assert log_text(screen.query_one(EventsPane))[-1].endswith("fill 2 @ 589.00")


async def test_server_text_is_shown_as_text(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (app, _pilot):
        desk.emit("rejected", "AAPL", "rejected: [bold red]insufficient[/] buying power")
        app.desk_screen.paint()  # type: ignore[union-attr]
        last = log_text(app.desk_screen.query_one(EventsPane))[-1]
        assert "[bold red]insufficient[/]" in last


async def test_a_new_price_touches_only_its_cells(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (app, _pilot):
        table = app.desk_screen.query_one(PositionsPane)
        screen = app.desk_screen
        assert screen is not None
        snap = desk.snapshot()
        assert table.sync(_rows(table, snap)) == 0  # same snapshot: nothing written
        desk.prices["AAPL"] += Decimal("1.00")
        desk.portfolio.mark("AAPL", desk.prices["AAPL"])
        written = _count_written(table, desk)
        # AAPL's last, value, unrealised, %, day + the total's value and unrealised
        assert 0 < written <= 8
        assert table.row_count == 4


async def test_a_new_price_re_renders_only_the_rows_it_changed(run_app: Run) -> None:
    """A DataTable re-rendered every cell of the table after any update; the pane's table
    re-renders the rows whose cells changed (AAPL and the total) and keeps the others."""
    desk = FrozenDesk()
    async with run_app(desk) as (app, _pilot):
        table = app.desk_screen.query_one(PositionsPane)
        lines = table.size.height
        assert lines > table.row_count  # every row on screen
        _ = [table.render_line(y) for y in range(lines)]  # what the compositor asks for
        before = table.rendered_rows
        _ = [table.render_line(y) for y in range(lines)]
        assert table.rendered_rows == before  # nothing changed: nothing re-rendered
        for _ in range(5):
            desk.prices["AAPL"] += Decimal("0.01")
            desk.portfolio.mark("AAPL", desk.prices["AAPL"])
            assert _count_written(table, desk) > 0
            strips = [table.render_line(y) for y in range(lines)]
        assert table.rendered_rows - before == 5 * 2
        aapl = next(s.text for s in strips if s.text.lstrip().startswith("AAPL"))
        assert table.cell_text("AAPL", "last") in aapl
        assert table.cell_text("AAPL", "last") == f"{desk.prices['AAPL']:,.2f}"


async def test_rows_coming_and_going_do_not_lay_out_the_screen(
    run_app: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A position opened or closed changes the table's height; unless a scrollbar must come
    or go, the screen is not laid out again (a layout composes every widget)."""
    layouts: list[int] = []
    inner = Screen._refresh_layout

    def counted(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
        layouts.append(1)
        inner(self, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    desk = FrozenDesk()
    async with run_app(desk) as (app, _pilot):
        table = app.desk_screen.query_one(PositionsPane)
        rows = _rows(table, desk.snapshot())
        room = table.size.height
        assert len(rows) + 1 < room  # header + rows fit: no scrollbar
        drawn: list[int] = []
        draw = table.render_line
        monkeypatch.setattr(table, "render_line", lambda y: drawn.append(y) or draw(y))
        layouts.clear()
        for n in (len(rows) - 1, len(rows), len(rows) - 2):  # a row goes, comes, two go
            drawn.clear()
            table.sync(dict(list(rows.items())[-n:]))
            await until(lambda: len(drawn) >= room, 5, "the table repainted")
            assert table.row_count == n
        assert layouts == []
        assert not table.show_vertical_scrollbar
        many = {f"S{i}": next(iter(rows.values())) for i in range(room + 3)}
        table.sync(many)  # more rows than lines: a scrollbar is needed, so a layout
        await until(lambda: table.show_vertical_scrollbar, 5, "a scrollbar")
        assert layouts
        table.scroll_end(animate=False, immediate=True)
        last = table.render_line(table.size.height - 1).text
        assert last.lstrip().startswith(next(iter(rows.values()))[0].plain)
        assert table.render_line(0).text.lstrip().startswith("Symbol")  # header stays on top


def _rows(table: PositionsPane, snap: Any) -> Any:
    captured: dict[str, Any] = {}
    original = table.sync
    table.sync = lambda rows: captured.update(rows) or 0  # type: ignore[method-assign, func-returns-value]
    try:
        table.render_snapshot(snap, table.app.desk_screen._colours)  # type: ignore[union-attr]
    finally:
        table.sync = original  # type: ignore[method-assign]
    return captured


def _count_written(table: PositionsPane, desk: FrozenDesk) -> int:
    return table.sync(_rows(table, desk.snapshot()))


async def test_theme_key_cycles_and_is_remembered(run_app: Run, tmp_path: Path) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (app, pilot):
        first = app.theme
        await pilot.press("t")
        assert app.theme != first
        assert ThemeMemory(tmp_path / "theme.json").get() == app.theme
        chosen = app.theme
    async with run_app(FrozenDesk()) as (app, _pilot):
        assert app.theme == chosen


async def test_an_invalid_user_theme_is_reported_and_skipped(run_app: Run, tmp_path: Path) -> None:
    themes = tmp_path / "user-themes"
    themes.mkdir()
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "#zzz"\n')
    async with run_app(FrozenDesk(), user_themes=themes) as (app, _pilot):
        assert "broken" not in app.available_themes
        assert any("broken.toml" in p for p in app.themes.problems)
        assert app.theme == "desk-dark"


async def test_every_screen_command_is_in_the_palette(run_app: Run) -> None:
    async with run_app(FrozenDesk()) as (app, _pilot):
        provider = DeskCommands(app.screen, None)  # type: ignore[arg-type]
        names = [hit.text for hit in [h async for h in provider.discover()]]  # type: ignore[attr-defined]
        for word in ("Pause (p)", "Flatten (f)", "Order (o)", "Cancel (c)", "Faults (x)"):
            assert any(str(n).startswith(word) for n in names), (word, names)
        assert any("Help" in str(n) for n in names) and any("Quit" in str(n) for n in names)


async def test_cancel_all_lists_the_orders_and_asks_first(run_app: Run) -> None:
    desk = FrozenDesk()
    async with run_app(desk) as (app, pilot):
        await pilot.press("c")
        modal = await until_screen(pilot, ConfirmScreen)
        text = " ".join(str(w.render()) for w in modal.query("Static"))
        assert "Cancel 2 open orders" in text and "Positions stay open" in text
        await pilot.press("n")
        await until_screen(pilot, DeskScreen)
        assert desk.calls == []
        await pilot.press("c")
        await until_screen(pilot, ConfirmScreen)
        await pilot.press("y")
        await until(lambda: desk.calls, 2, "a desk command")
        assert desk.calls == ["cancel_all"]
        assert app.screen is app.desk_screen
