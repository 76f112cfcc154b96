"""The screen's half of ``tui-trader`` with no command: the Textual app over the desk that
:func:`tui_trader.desk.launch.screen.run_desk`'s start builds behind the first frame (consent
given before), run until the trader quits. It lives here, not beside the desk's launcher,
because the desk never imports the screen; ``cli`` hands it to that launcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_trader.heap_trim import limit_arenas, trimmer
from tui_trader.ui.app import build_app
from tui_trader.ui.hints import HintMemory
from tui_trader.ui.themes import ThemeMemory

if TYPE_CHECKING:
    from tui_trader.config import Settings
    from tui_trader.ui.port import ReplayPort, StartPort


def show_desk(settings: Settings | None, start: StartPort) -> None:
    """The first frame at once; the desk's start runs behind it (``start.open``), and with
    ``settings`` None it reads them first (``start.prepare``)."""
    limit_arenas()  # before the app's threads: see tui_trader.heap_trim
    app = build_app(
        settings, None, memory=ThemeMemory(), freeze_gc=True, hints=HintMemory(), start=start
    )
    trim = trimmer()  # a day of events must not creep the RSS up (tui_trader.heap_trim)
    if trim is not None:
        trim.start()
    try:
        app.run()
    finally:
        if trim is not None:
            trim.stop()


def show_replay(settings: Settings, desk: ReplayPort) -> None:
    """A recorded session on the same screen, read-only (``tui-trader replay``)."""
    app = build_app(settings, desk, memory=ThemeMemory(), replay=desk)
    app.run()
