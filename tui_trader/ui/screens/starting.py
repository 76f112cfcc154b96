"""The first frame: the screen as it is before the emulator, the journal or the desk exist.

It is drawn at once and imports nothing of the desk (the desk's modules load behind it), and
says what the start is doing, step by step, in the header where the desk's own start-up (the
account, the policy's warm-up) carries on once the desk screen replaces it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from tui_trader.ui.colours import Colours

if TYPE_CHECKING:
    from tui_trader.ui.port import StartPort

REFRESH = 0.1  # seconds between looks at the start's progress


class StartScreen(Screen[None]):
    DEFAULT_CSS = """
    StartScreen #start-body { height: 1fr; content-align: center middle; color: $foreground-muted; }
    """

    def __init__(self, start: StartPort) -> None:
        super().__init__(id="starting")
        self.start = start
        self._shown: tuple[str, int, str | None] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="desk-header")  # the desk header's place and look
        yield Static(id="start-body")

    def on_mount(self) -> None:
        self.paint()
        self.set_interval(REFRESH, self.paint)

    def paint(self) -> None:
        start = self.start
        state = (start.progress, len(start.done), start.mode)
        if state == self._shown:
            return
        self._shown = state
        c = Colours.of(self.app)
        header = Text()
        if start.mode is not None:  # None: the settings are still being read
            header.append_text(Text.assemble(c.mode_badge(start.mode), " "))
        if start.demo_speed is not None:
            header.append(f" DEMO {start.demo_speed:g}x ", style=f"bold reverse {c.warning}")
            header.append(" ")
        header.append(f"⟳ {start.progress}", style=f"bold {c.warning}")
        self.query_one("#desk-header", Static).update(header)
        body = Text()
        for line in start.done:
            body.append(f"✓ {line}\n", style=c.muted)
        body.append(f"⟳ {start.progress}", style="bold")
        self.query_one("#start-body", Static).update(body)
