"""The watchlist's and the charts' keys on the desk screen: watch a symbol (``+``, checked by
the desk with the broker), stop watching the selected one (``-``), and step the charts through
the watched symbols (``[`` / ``]``). None of them sends an order."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.screen import Screen

from tui_trader.ui.panes.charts import ChartsPane
from tui_trader.ui.panes.watchlist import WatchlistPane
from tui_trader.ui.screens.add_symbol import AddSymbolScreen

if TYPE_CHECKING:
    from tui_trader.ui.port import DeskPort


class MarketKeys(Screen[None]):
    """A mixin of :class:`~tui_trader.ui.screens.main.DeskScreen`."""

    if TYPE_CHECKING:
        desk: DeskPort

        def paint(self, events: bool = True) -> None: ...

        def action_view(self, name: str) -> None: ...

    @work(group="watch", exclusive=True, exit_on_error=False)
    async def action_watch_add(self) -> None:
        """``+``: a symbol to watch, checked by the desk with the broker (shown at once)."""
        self.action_view("watch")
        said = await self.app.push_screen_wait(AddSymbolScreen(self.desk.add_symbol))
        if said is not None:
            self.notify(said, timeout=3)
        self.paint()

    def action_watch_remove(self) -> None:
        """``-``: stop watching the selected symbol, without a confirm: it sends nothing,
        loses nothing (a held symbol or one with working orders is refused) and ``+``
        brings it back."""
        symbol = self.query_one(WatchlistPane).selected
        if symbol is None:
            return
        try:
            said = self.desk.remove_symbol(symbol)
        except ValueError as exc:  # held, working orders, the last symbol
            self.notify(str(exc), severity="warning", timeout=5)
            return
        self.notify(said, timeout=3)
        self.paint()

    def action_chart_symbol(self, step: int) -> None:
        """The charts' symbol: the previous (-1) or next (1) watched one."""
        self.query_one(ChartsPane).cycle(step)
