"""The first-run hint line (see :mod:`tui_trader.ui.hints`): as long as the width allows."""

from __future__ import annotations

from textual.widget import Widget

from tui_trader.ui.hints import hint_for


class HintLine(Widget):
    def render(self) -> str:
        return hint_for(self.content_region.width)
