"""The charts view driven by Pilot over a real desk on the real emulator: a fill at the
broker becomes a marker on the symbol's chart, ``]`` moves to the next watched symbol, and the
hidden view is never drawn."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ui import test_pilot
from tests.ui.test_pilot import holding, place
from tests.waiting import until
from tui_trader.ui.panes.charts import ChartPlot, ChartsPane

pytestmark = pytest.mark.integration

# the desk on the emulator, as the desk screen's Pilot tests build it
sim, broker, desk_app = test_pilot.sim, test_pilot.broker, test_pilot.desk_app


def _title(pane: ChartsPane) -> str:
    return str(pane.query_one("#price-chart", ChartPlot).border_title)


async def test_a_fill_is_marked_on_its_symbols_chart(
    desk_app: Any, broker: httpx.AsyncClient
) -> None:
    async with desk_app() as (app, pilot, desk):
        pane = app.desk_screen.query_one(ChartsPane)
        await until(lambda: desk.snapshot().charts.series["AAPL"].bars, 15, "AAPL's bars")
        assert pane.draws == 0  # hidden: never drawn, whatever the desk did

        await pilot.press("4")
        await until(lambda: pane.price is not None and pane.price.closes, 10, "drawn")
        assert pane.price is not None and pane.price.symbol == "AAPL"
        assert "AAPL" in _title(pane)
        assert pane.price.buys == ()

        await holding(desk, broker, "AAPL", 5)
        await until(lambda: pane.price is not None and pane.price.buys, 10, "a buy marker")
        fill = desk.snapshot().charts.series["AAPL"].fills[-1]
        assert (fill.side, fill.qty) == ("buy", 5)
        marker = pane.price.buys[-1]
        assert marker.qty == 5 and marker.price == float(fill.price)
        await until(lambda: "1 buy" in _title(pane), 10, "the title with its figure")
        # a live update is built in a thread (not on the loop a key waits on), then shown
        plot = pane.query_one("#price-chart", ChartPlot)
        await until(lambda: plot.threaded >= 1, 10, "a plot built in a thread")
        await until(lambda: "▲" in str(plot.render()), 10, "the marker drawn")
        assert desk.snapshot().charts.equity.points, "the equity curve is sampled"
        assert pane.equity is not None and pane.equity.equity

        await place(broker, symbol="AAPL", qty="5", side="sell")
        await until(lambda: pane.price is not None and pane.price.sells, 10, "a sell marker")

        await pilot.press("right_square_bracket")
        assert pane.price is not None and pane.price.symbol == "MSFT"
        assert "MSFT" in _title(pane) and pane.price.buys == ()
        await pilot.press("left_square_bracket")
        assert pane.price is not None and pane.price.symbol == "AAPL"
