"""The screen's half of ``tui-trader`` with no command: the Textual app over a desk that
:func:`tui_trader.desk.launch.screen.run_desk` has wired (consent given, target and journal
open), run until the trader quits. It lives here, not beside the desk's launcher, because the
desk never imports the screen; ``cli.py`` hands it to that launcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tui_trader.ui.app import build_app
from tui_trader.ui.hints import HintMemory
from tui_trader.ui.themes import ThemeMemory

if TYPE_CHECKING:
    from tui_trader.config import Settings
    from tui_trader.ui.port import DeskPort, ReplayPort


def show_desk(settings: Settings, desk: DeskPort) -> None:
    app = build_app(settings, desk, memory=ThemeMemory(), freeze_gc=True, hints=HintMemory())
    app.run()


def show_replay(settings: Settings, desk: ReplayPort) -> None:
    """A recorded session on the same screen, read-only (``tui-trader replay``)."""
    app = build_app(settings, desk, memory=ThemeMemory(), replay=desk)
    app.run()
