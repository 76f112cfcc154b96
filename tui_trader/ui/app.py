"""The Textual app: themes, the desk's lifetime as a worker, help, quit and the palette.

Build it with :func:`build_app`, which takes the desk (the real one or a frozen one in tests),
or the desk's start (``tui-trader``: the first frame is drawn before the desk exists, the
start runs behind it, :mod:`tui_trader.ui.screens.starting`), the settings and where themes
are read from and remembered. The desk screen's modules are heavy (the desk's snapshot pulls
in the core); this module imports them only when the desk screen is built, so the first
frame does not wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker, WorkerState

from tui_trader.ui import textual_patches
from tui_trader.ui.collector import TICK, Collector, take_over
from tui_trader.ui.palette import DeskCommands
from tui_trader.ui.screens.confirm import ConfirmScreen
from tui_trader.ui.screens.help import HelpScreen
from tui_trader.ui.screens.starting import StartScreen
from tui_trader.ui.themes import (
    ThemeMemory,
    ThemeSet,
    load_themes,
    pick_theme,
    theme_variable_defaults,
    user_theme_dir,
)

if TYPE_CHECKING:
    from tui_trader.config import Settings
    from tui_trader.ui.hints import HintMemory
    from tui_trader.ui.port import DeskPort, ReplayPort, StartPort
    from tui_trader.ui.screens.main import DeskScreen

log = logging.getLogger("tui_trader.ui")

CSS = """
DeskScreen { layout: vertical; }
#desk-header { height: 1; background: $panel; padding: 0 1; }
#desk-header.-live { background: $breaker-tripped 40%; }
#views { height: 1fr; }
#panes { height: 1fr; grid-gutter: 0; }
#panes > * { border: round $panel-lighten-2; border-title-color: $primary; border-title-style: bold;
    border-subtitle-color: $foreground-muted; height: 1fr; }
#panes > *:focus, #panes > *:focus-within { border: round $primary; }
#events { background: $surface; overflow-x: hidden; }
#connection-body { height: 10; }
#panes > * { scrollbar-size: 1 1; scrollbar-background: $surface; scrollbar-color: $primary 40%; }
#filter { dock: bottom; margin: 0 0 1 0; }
#hint { dock: bottom; height: 1; margin: 0 0 1 0; padding: 0 1; background: $boost;
    color: $foreground-muted; }

/* children in order: events, positions, signals, connection, breakers */
DeskScreen.-narrow #panes { grid-size: 2 3; grid-columns: 1fr 1fr; grid-rows: 1fr 1fr 1fr; }
DeskScreen.-narrow #breakers { column-span: 2; }
/* 100-119 columns: the signals pane takes the whole width (forecast, uncertainty, target and
   current weight side by side), connection and breakers share the last row */
DeskScreen.-medium #panes { grid-size: 2 3; grid-columns: 1fr 1fr; grid-rows: 1fr 1fr 1fr; }
DeskScreen.-medium #signals { column-span: 2; }
DeskScreen.-wide #panes { grid-size: 2 3; grid-columns: 1fr 2fr; grid-rows: 1fr 1fr 1fr; }
DeskScreen.-wide #events { row-span: 2; }

ModalScreen { align: center middle; background: $background 60%; }
ModalScreen #dialog { width: 72; max-width: 95%; height: auto; max-height: 90%;
    border: thick $primary; background: $surface; padding: 0 1; }
ConfirmScreen #dialog { border: thick $warning; }
#dialog-title { text-style: bold; width: 100%; content-align: center middle; padding: 0 0 1 0; }
#dialog-body { height: auto; max-height: 20; }
#dialog-buttons { height: auto; align: right middle; padding: 1 0 0 0; }
#dialog-buttons Button { margin: 0 0 0 2; }
.hint { color: $foreground-muted; }
#order-form { grid-size: 4; grid-columns: 8 1fr 8 1fr; grid-rows: 3; height: auto; }
#order-form Label { padding: 1 0 0 0; }
#order-form .-invalid { border: tall $loss; }
#order-error { color: $loss; height: auto; display: none; }
#order-error.-shown { display: block; }
#order-preview { height: auto; min-height: 2; padding: 1 0 0 0; }
HelpScreen #dialog { width: 90; }
#choices { height: auto; max-height: 12; }
"""


textual_patches.apply()  # before any strip is made: see tui_trader/ui/textual_patches.py

EXIT_START = 2
"""The app's return code when the desk could not start (the start keeps the line to say)."""
SCREENS = "tui_trader.ui.screens.main"
"""The desk screen's module: imported when the desk screen is built, not before the first
frame (bench/startup.py)."""


def _desk_screen_class() -> type[DeskScreen]:
    return import_module(SCREENS).DeskScreen  # type: ignore[no-any-return]


GC_YOUNG = (5_000, 10)
"""Young collections every 5,000 allocations instead of 700: at thousands of events a
second the default ran a full collection about once a second, each a pause of 100-300 ms
(bench/ui.py). Much higher (10,000, 20) made the collections rare but long. Full ones are
the app's own, off the trader's keys (tui_trader/ui/collector.py)."""


class TraderApp(App[None]):
    CSS = CSS
    TITLE = "tui-trader"
    BINDINGS = [
        Binding("q", "request_quit", "Quit", tooltip="quit (says what happens to resting orders)"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this list"),
        Binding("t", "next_theme", "Theme", show=False, tooltip="next theme (remembered)"),
        Binding("ctrl+q", "request_quit", "Quit", show=False, priority=True),
    ]
    COMMANDS = App.COMMANDS | {DeskCommands}

    def __init__(
        self,
        desk: DeskPort | None,
        *,
        themes: ThemeSet,
        theme: str | None,
        memory: ThemeMemory | None,
        hz: float = 10.0,
        mode: str | None = "sim",
        start_desk: bool = True,
        freeze_gc: bool = False,
        hints: HintMemory | None = None,
        replay: ReplayPort | None = None,
        start: StartPort | None = None,
    ) -> None:
        super().__init__()
        if desk is None and start is None:
            raise ValueError("a desk, or the start that builds one")
        self.start = start  # the desk's start, run behind the first frame (desk None until)
        self.hints = hints  # None: no first-run hint (tests, benches)
        self.replay = replay  # a recorded session, read-only (tui-trader replay)
        self.freeze_gc = freeze_gc
        self.desk: DeskPort | None = desk
        self.themes = themes
        self.memory = memory
        self.configured_theme = theme
        self.mode = mode
        self.hz = hz
        self.start_desk = start_desk
        self.desk_screen: DeskScreen | None = None
        self.collector: Collector | None = None  # once the desk has started (freeze_gc)
        self._desk_worker: Worker[None] | None = None
        for t in themes.themes.values():
            self.register_theme(t)
        self.theme = pick_theme(self.available_themes, memory.get() if memory else None, theme)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """The app's colours ($profit, $loss, ...) for any theme, Textual's own included."""
        return theme_variable_defaults(self.current_theme)

    def on_mount(self) -> None:
        for problem in self.themes.problems:
            self.notify(f"theme skipped: {problem}", severity="warning", timeout=8)
        if self.desk is None:  # the first frame now, the desk behind it
            assert self.start is not None
            self.push_screen(StartScreen(self.start))
            self.call_after_refresh(self._begin)
            return
        self._show_desk(self.desk)

    def _begin(self) -> None:
        self.run_worker(self._open_desk(), name="start", group="start", exit_on_error=False)

    async def _open_desk(self) -> None:
        """The start's steps, then the desk screen over the desk; a start that fails ends the
        app (its line is printed once the terminal is back: ``run_desk``)."""
        assert self.start is not None
        try:
            self._adopt(await self.start.prepare())
            desk = await self.start.open()
            # the desk screen's modules: off the loop, so the start screen keeps turning
            await asyncio.to_thread(import_module, SCREENS)
        except Exception as exc:
            log.exception("start-up failed")
            if self.start.error is None:  # the screen's side failed: said all the same
                self.start.error = f"the screen did not start: {type(exc).__name__}: {exc}"
            self.exit(return_code=EXIT_START)
            return
        self.desk = desk
        await self._show_desk(desk, switch=True)
        if self.start.note:
            self.notify(self.start.note, severity="warning", timeout=15)

    def _adopt(self, settings: Settings) -> None:
        """The settings read behind the first frame (``build_app`` had none): the badge's
        mode, the repaint rate, and the configured theme unless one was chosen with ``t``."""
        self.mode = settings.mode.value
        self.hz = settings.ui.refresh_hz
        if self.configured_theme is None:
            self.configured_theme = settings.ui.theme
            remembered = self.memory.get() if self.memory else None
            theme = pick_theme(self.available_themes, remembered, settings.ui.theme)
            if theme != self.theme:
                self.theme = theme

    def _show_desk(self, desk: DeskPort, *, switch: bool = False) -> Any:
        self.desk_screen = self._desk_screen(desk)
        shown = (
            self.switch_screen(self.desk_screen) if switch else self.push_screen(self.desk_screen)
        )
        if self.freeze_gc:
            self.set_timer(5.0, self._take_over_gc)
        if self.start_desk:
            self._desk_worker = self.run_worker(
                desk.run(), name="desk", group="desk", exclusive=True, exit_on_error=False
            )
        return shown

    def _take_over_gc(self) -> None:
        """Once the desk has started: its start-up objects (history, CSS, widgets) leave the
        collector's scans for good, and full collections wait for a moment without keys."""
        self.collector = Collector()
        take_over(GC_YOUNG)
        self.set_interval(TICK, self._collect_when_quiet)

    def _collect_when_quiet(self) -> None:
        if self.collector is not None:
            self.collector.tick(dialog_open=self.screen is not self.desk_screen)

    async def on_event(self, event: events.Event) -> None:
        if (
            self.collector is not None
            and isinstance(event, events.InputEvent)
            and not isinstance(event, events.MouseMove)
        ):
            self.collector.input_seen()
        await super().on_event(event)

    def _desk_screen(self, desk: DeskPort) -> DeskScreen:
        if self.replay is not None:
            from tui_trader.ui.screens.replay import ReplayScreen

            return ReplayScreen(self.replay, self.hz)
        first_run = self.hints is not None and not self.hints.seen()
        return _desk_screen_class()(desk, self.hz, hint=first_run)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._desk_worker:
            return
        assert self.desk is not None  # the desk worker runs a desk
        if event.state is WorkerState.ERROR:
            log.error("desk stopped", exc_info=event.worker.error)
            self.notify(
                f"the desk stopped: {type(event.worker.error).__name__}; quit and restart",
                severity="error",
                timeout=30,
            )
        elif event.state is WorkerState.SUCCESS:
            state = self.desk.snapshot().connection.state
            if str(state) == "AUTH_FAILED":
                self.notify("the broker rejected the credentials", severity="error", timeout=30)

    # ------------------------------------------------------------------------ actions
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        sections = [("Desk", _desk_screen_class().BINDINGS), ("App", self.BINDINGS)]
        if self.desk_screen is not None and self.replay is not None:
            sections.insert(0, ("Replay (trading keys are off)", type(self.desk_screen).BINDINGS))
        extra = [
            Binding("ctrl+p", "command_palette", "Command palette", tooltip="every command by name")
        ]
        self.push_screen(HelpScreen([*sections[:-1], ("App", [*self.BINDINGS, *extra])]))  # type: ignore[list-item]

    def action_next_theme(self) -> None:
        names = list(self.themes.themes) or [self.theme]
        i = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(i + 1) % len(names)]
        if self.memory is not None:
            self.memory.set(self.theme)
        self.notify(f"theme: {self.theme}", timeout=2)

    @work(group="quit", exclusive=True, exit_on_error=False)
    async def action_request_quit(self) -> None:
        if isinstance(self.screen, StartScreen):  # nothing trades yet: nothing to ask
            self.exit()
            return
        if not isinstance(self.screen, _desk_screen_class()):
            return
        lines = await self._quit_lines()
        ok = await self.push_screen_wait(
            ConfirmScreen("Quit tui-trader?", lines, "Quit", danger=False, extra_keys=("q",))
        )
        if ok:
            await self.shutdown()
            self.exit()

    async def _quit_lines(self) -> list[str | Text]:
        if self.replay is not None:
            return ["Leave the replay? It was read-only: nothing was sent to any broker."]
        assert self.desk is not None  # the desk screen is up
        try:
            preview = await asyncio.wait_for(self.desk.preview_flatten(), 3)
        except TimeoutError:
            preview = None
        if preview is None or preview.error:
            return ["Could not ask the broker what is open.", *self._resting_text(None, None)]
        return self._resting_text(len(preview.open_orders), len(preview.positions))

    def _resting_text(self, orders: int | None, positions: int | None) -> list[str | Text]:
        o = "Any open orders" if orders is None else _count(orders, "open order")
        p = "any positions" if positions is None else _count(positions, "position")
        if self.mode == "sim":
            return [
                f"{o} and {p} are in the embedded emulator's paper",
                "account, kept in the data dir: they are back at the next start.",
            ]
        return [
            f"{o} {'stays' if orders == 1 else 'stay'} resting at Alpaca: "
            "they can fill while tui-trader is closed",
            "(day orders expire at the close, GTC orders stay). "
            f"{p[:1].upper() + p[1:]} {'stays' if positions == 1 else 'stay'} open.",
            "Nothing is canceled. Flatten (f) first to leave nothing behind.",
        ]

    async def shutdown(self) -> None:
        """Stop the desk and wait for it (bounded), so the journal is closed cleanly."""
        if self.desk is None:  # never built: the start's close() releases what it opened
            return
        self.desk.stop()
        worker = self._desk_worker
        if worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.wait(), 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.desk.aclose(), 5)


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def build_app(
    settings: Settings | None,
    desk: DeskPort | None,
    *,
    user_themes: Path | None = None,
    memory: ThemeMemory | None = None,
    start_desk: bool = True,
    freeze_gc: bool = False,
    hints: HintMemory | None = None,
    replay: ReplayPort | None = None,
    start: StartPort | None = None,
) -> TraderApp:
    """The app over ``desk``, or over the desk ``start`` builds behind the first frame (desk
    None); tests pass a frozen desk, a theme memory in a temp dir and ``start_desk=False``
    when the desk must not run. ``settings`` None: the start reads them behind the first
    frame, which is drawn in the remembered theme (or ours) and with no badge until then."""
    themes = load_themes(user_themes if user_themes is not None else user_theme_dir())
    if settings is None and start is None:
        raise ValueError("no settings: only a start can read them")
    return TraderApp(
        desk,
        themes=themes,
        theme=settings.ui.theme if settings is not None else None,
        memory=memory,
        hz=settings.ui.refresh_hz if settings is not None else 10.0,
        mode=settings.mode.value if settings is not None else None,
        start_desk=start_desk,
        freeze_gc=freeze_gc,
        hints=hints,
        replay=replay,
        start=start,
    )
