"""The orders view's keys on the desk screen: cancel the selected order (``d``), replace its
qty or prices (``e``, through the order form and the risk gate) and close the selected
position (``x`` on the positions pane). Each confirms first, naming what it acts on; the
desk does the work (:class:`tui_trader.ui.port.DeskPort`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.screen import Screen

from tui_trader.desk.snapshot import WorkingOrderLine
from tui_trader.ui.panes.orders import WorkingOrdersTable
from tui_trader.ui.screens.confirm import ConfirmScreen
from tui_trader.ui.screens.order_entry import OrderEntryScreen, describe

if TYPE_CHECKING:
    from tui_trader.core.orders import Order
    from tui_trader.ui.port import DeskPort


class OrderKeys(Screen[None]):
    """A mixin of :class:`~tui_trader.ui.screens.main.DeskScreen`."""

    if TYPE_CHECKING:
        desk: DeskPort

        def paint(self, events: bool = True) -> None: ...

        def _selected_position(self) -> str | None: ...

    @work(group="cancel_order", exclusive=True, exit_on_error=False)
    async def action_cancel_order(self) -> None:
        line = self.query_one(WorkingOrdersTable).selected_order
        if line is None or line.order_id is None:
            self.notify("no working order selected", timeout=3)
            return
        order_id = line.order_id
        ok = await self.app.push_screen_wait(
            ConfirmScreen(
                f"Cancel this {line.symbol} order?",
                [
                    describe_line(line),
                    f"order {order_id}",
                    "Only this order is canceled; the others stay working.",
                ],
                "Cancel order",
            )
        )
        if not ok:
            self.notify("order kept: nothing was sent", timeout=3)
            return
        self.notify(await self.desk.cancel_order(order_id), timeout=4)
        self.paint()

    @work(group="replace_order", exclusive=True, exit_on_error=False)
    async def action_replace_order(self) -> None:
        line = self.query_one(WorkingOrdersTable).selected_order
        if line is None or not line.replaceable:
            self.notify("select a working limit or stop order to replace", timeout=3)
            return
        snap = self.desk.snapshot()
        cid = line.client_order_id
        order: Order | None = await self.app.push_screen_wait(
            OrderEntryScreen(
                lambda o: self.desk.check_replace(cid, o), dict(snap.prices), replacing=line
            )
        )
        if order is None:
            return
        ok = await self.app.push_screen_wait(
            ConfirmScreen(
                "Replace this order?",
                [f"was: {describe_line(line)}", f"now: {describe(order)}"],
                "Replace",
                danger=False,
            )
        )
        if not ok:
            self.notify("order not replaced", timeout=3)
            return
        verdict = await self.desk.replace(cid, order)
        if verdict.allowed:
            self.notify(f"replace sent: {describe(order)}", timeout=4)
        else:
            self.notify(f"replace denied: {verdict}", severity="error")
        self.paint()

    @work(group="close_position", exclusive=True, exit_on_error=False)
    async def action_close_position(self) -> None:
        symbol = self._selected_position()
        snap = self.desk.snapshot()
        position = snap.book.positions.get(symbol) if symbol is not None else None
        if symbol is None or position is None:
            self.notify("no position selected", timeout=3)
            return
        lines: list[str | Text] = [
            f"Close {symbol} {position.qty:+} at the market (the broker closes what it holds)."
        ]
        resting = [o for o in snap.working_orders if o.symbol == symbol]
        if resting:
            lines.append(f"Its {len(resting)} open orders are canceled first:")
            lines += [f"  {describe_line(o)}" for o in resting[:12]]
        lines.append("Allowed while paused: it reduces exposure.")
        ok = await self.app.push_screen_wait(
            ConfirmScreen(f"Close {symbol}?", lines, "Close position")
        )
        if not ok:
            self.notify(f"{symbol} kept: nothing was sent", timeout=3)
            return
        self.notify(await self.desk.close_position(symbol), timeout=4)
        self.paint()


def describe_line(o: WorkingOrderLine) -> str:
    """One working order in words, for a confirm dialog."""
    size = f"{o.remaining}" if o.qty is not None else f"${o.notional}"
    text = f"{o.side} {size} {o.symbol} {o.order_type.replace('_', ' ')}"
    if o.stop_price is not None:
        text += f" stop {o.stop_price}"
    if o.limit_price is not None:
        text += f" @ {o.limit_price}"  # the type already says limit
    if o.filled:
        text += f" ({o.filled} filled)"
    return f"{text} {o.time_in_force} · {o.status}".replace("  ", " ")
