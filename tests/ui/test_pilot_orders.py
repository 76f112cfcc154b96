"""The orders view driven by Pilot against the real emulator over real HTTP: with three
resting limit orders, d cancels the selected one only; e replaces a limit price through the
order form (the emulator has the new price on a new order, the old one replaced); x on the
focused positions pane closes one position of two."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from tests.ui.test_pilot import (  # the fixtures and helpers of the desk's pilot tests
    SIZE,
    below,
    broker,
    desk_app,
    holding,
    orders,
    place,
    positions,
    sim,
    text_of,
    type_into,
    until_screen,
)
from tests.waiting import until
from tui_trader.desk.desk import Desk
from tui_trader.ui.app import TraderApp
from tui_trader.ui.panes.orders import WorkingOrdersTable
from tui_trader.ui.panes.positions import PositionsPane
from tui_trader.ui.screens.confirm import ConfirmScreen
from tui_trader.ui.screens.main import DeskScreen
from tui_trader.ui.screens.order_entry import OrderEntryScreen

__all__ = ["SIZE", "broker", "desk_app", "sim"]  # fixtures used by name


async def resting_three(desk: Desk, b: httpx.AsyncClient) -> list[dict[str, Any]]:
    placed = []
    for qty in ("1", "2", "3"):
        limit = below(desk, "AAPL")
        placed.append(await place(b, symbol="AAPL", qty=qty, type="limit", limit_price=limit))
    await until(
        lambda: sum(o.status == "new" for o in desk.snapshot().working_orders) == 3,
        15,
        lambda: f"the desk sees 3 new orders: {desk.snapshot().working_orders}",
    )
    return placed


async def orders_view(app: TraderApp, pilot: Any) -> WorkingOrdersTable:
    await pilot.press("3")
    table = app.desk_screen.query_one(WorkingOrdersTable)
    await until(lambda: table.row_count == 3 and table.has_focus, 10, "the orders view")
    return table


async def test_d_cancels_the_selected_order_only(desk_app: Any, broker: httpx.AsyncClient) -> None:
    async with desk_app() as (app, pilot, desk):
        placed = await resting_three(desk, broker)
        table = await orders_view(app, pilot)
        await pilot.press("down")  # the second order (qty 2)
        chosen = table.selected_order
        assert chosen is not None and chosen.qty == 2

        await pilot.press("d")
        confirm = await until_screen(app, ConfirmScreen)
        text = text_of(confirm)
        assert "buy 2 AAPL limit" in text and chosen.order_id in text
        await pilot.press("y")
        await until_screen(app, DeskScreen)

        async def statuses() -> dict[str, str]:
            return {o["id"]: o["status"] for o in await orders(broker, "all")}

        await until(lambda: len(desk.snapshot().working_orders) == 2, 15, "two left")
        got = await statuses()
        assert got[chosen.order_id] == "canceled"
        others = [p["id"] for p in placed if p["id"] != chosen.order_id]
        assert [got[i] for i in others] == ["new", "new"]


async def test_e_replaces_a_limit_price(desk_app: Any, broker: httpx.AsyncClient) -> None:
    async with desk_app() as (app, pilot, desk):
        placed = await resting_three(desk, broker)
        table = await orders_view(app, pilot)
        old = table.selected_order
        assert old is not None and old.order_id == placed[0]["id"]
        new_price = str(Decimal(placed[0]["limit_price"]) - Decimal("1.5"))

        await pilot.press("e")
        form: OrderEntryScreen = await until_screen(app, OrderEntryScreen)
        assert form.query_one("#symbol").disabled and form.query_one("#qty").value == "1"
        await type_into(app, pilot, "#limit", new_price)
        await until(lambda: "gate: allowed" in str(form.query_one("#order-preview").content), 10)
        await pilot.press("ctrl+s")
        confirm = await until_screen(app, ConfirmScreen)
        assert f"limit {new_price}" in text_of(confirm)
        await pilot.press("y")
        await until_screen(app, DeskScreen)

        async def on_broker() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            everything = await orders(broker, "all")
            was = next(o for o in everything if o["id"] == old.order_id)
            return was, [o for o in everything if o.get("replaces") == old.order_id]

        await until(
            lambda: old.client_order_id not in {o.client_order_id for o in table.lines.values()},
            15,
            "the old order leaves the view",
        )
        was, new = await on_broker()
        assert was["status"] == "replaced"
        assert len(new) == 1 and Decimal(new[0]["limit_price"]) == Decimal(new_price)
        assert new[0]["status"] == "new" and was["replaced_by"] == new[0]["id"]
        assert len(await orders(broker, "open")) == 3
        assert any(o.order_id == new[0]["id"] for o in desk.snapshot().working_orders)


async def test_x_closes_the_selected_position_only(
    desk_app: Any, broker: httpx.AsyncClient
) -> None:
    async with desk_app() as (app, pilot, desk):
        await holding(desk, broker, "AAPL", 4)
        await holding(desk, broker, "MSFT", 2)
        pane = app.desk_screen.query_one(PositionsPane)
        pane.focus()
        await pilot.pause()
        # both rows (and the total) drawn: the desk holding MSFT comes before its next repaint
        await until(lambda: pane.selected == "AAPL" and pane.row_count == 3, 5, "both rows")
        await pilot.press("down")
        assert pane.selected == "MSFT"
        await pilot.press("p")  # closing is allowed while paused: it reduces

        await pilot.press("x")
        confirm = await until_screen(app, ConfirmScreen)
        assert "Close MSFT?" in text_of(confirm)
        await pilot.press("y")
        await until_screen(app, DeskScreen)

        await until(lambda: set(desk.snapshot().book.positions) == {"AAPL"}, 15, "MSFT closed")
        assert [(p["symbol"], p["qty"]) for p in await positions(broker)] == [("AAPL", "4")]
        assert desk.snapshot().risk.paused


async def test_keys_grey_out_and_x_is_the_fault_menu_off_the_positions_pane(
    desk_app: Any,
) -> None:
    async with desk_app() as (app, pilot, _desk):
        screen = app.desk_screen
        assert screen.check_action("cancel_order", ()) is False  # not in the orders view
        assert screen.check_action("close_position", ()) is False  # positions not focused
        await pilot.press("3")
        await until(lambda: screen.query_one(WorkingOrdersTable).has_focus, 5)
        assert screen.check_action("cancel_order", ()) is None  # nothing to select: grey
        assert screen.check_action("replace_order", ()) is None
        await pilot.press("1")
        screen.query_one(PositionsPane).focus()
        await pilot.pause()
        assert screen.check_action("close_position", ()) is None  # no position: grey
        assert screen.check_action("faults", ()) is False  # x means close here
