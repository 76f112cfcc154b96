"""Order entry over :class:`OrderBuilder`: every keystroke rebuilds the order, so the form
shows the builder's own error (naming the field) and the risk gate's verdict before anything
is sent, and an invalid order has no way out of the form. Given a working order to replace,
the form opens prefilled with it, only its qty and prices open to change, and ``check``
is then the gate's verdict on the replacement."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tui_trader.core.orders import Order, OrderBuilder, OrderValidationError
from tui_trader.core.risk import Verdict
from tui_trader.core.types import format_decimal
from tui_trader.desk.snapshot import WorkingOrderLine
from tui_trader.ui import format as fmt

SIDES = [("buy", "buy"), ("sell", "sell")]
TYPES = [("market", "market"), ("limit", "limit"), ("stop", "stop"), ("stop limit", "stop_limit")]
TIFS = [("day", "day"), ("gtc", "gtc"), ("ioc", "ioc"), ("fok", "fok")]

# builder field -> the form input that holds it
FIELD_INPUT = {
    "symbol": "symbol",
    "side": "side",
    "qty": "qty",
    "notional": "qty",
    "type": "type",
    "limit_price": "limit",
    "stop_price": "stop",
    "time_in_force": "tif",
}


def build_order(values: Mapping[str, str]) -> Order:
    """The order the form describes; raises OrderValidationError naming the field."""
    b = OrderBuilder()
    symbol = values.get("symbol", "").strip()
    if not symbol:
        raise OrderValidationError("symbol", "a symbol is required")
    b = b.symbol(symbol)
    qty = values.get("qty", "").strip()
    if not qty:
        raise OrderValidationError("qty", "a quantity is required")
    side = values.get("side") or "buy"
    b = b.buy(qty) if side == "buy" else b.sell(qty)
    kind = values.get("type") or "market"
    limit, stop = values.get("limit", "").strip(), values.get("stop", "").strip()
    if kind == "market":
        b = b.market()
    elif kind == "limit":
        b = b.limit(limit or _missing("limit_price"))
    elif kind == "stop":
        b = b.stop(stop or _missing("stop_price"))
    else:
        b = b.stop_limit(stop or _missing("stop_price"), limit or _missing("limit_price"))
    b = b.time_in_force(values.get("tif") or "day")
    return b.build()


def _text(value: Decimal | None) -> str:
    return "" if value is None else format_decimal(value)


def _missing(field: str) -> str:
    raise OrderValidationError(field, "a price is required for this order type")


def describe(order: Order) -> str:
    size = f"{order.qty}" if order.qty is not None else f"${order.notional}"
    text = f"{order.side} {size} {order.symbol} {order.type}"
    if order.stop_price is not None:
        text += f" stop {order.stop_price}"
    if order.limit_price is not None:
        text += f" limit {order.limit_price}"
    return f"{text} {order.time_in_force}"


class OrderEntryScreen(ModalScreen[Order | None]):
    """Dismisses with the order to send (already confirmed by its preview), or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "send", "Send"),
    ]

    def __init__(
        self,
        check: Callable[[Order], Verdict],
        prices: Mapping[str, Decimal],
        symbol: str = "",
        *,
        replacing: WorkingOrderLine | None = None,
    ) -> None:
        super().__init__(classes="order-entry")
        self._check = check
        self._prices = prices
        self._symbol = replacing.symbol if replacing is not None else symbol
        self.replacing = replacing
        self.order: Order | None = None
        self.error: OrderValidationError | None = None
        self._touched: set[str] = set()  # errors show for fields the trader has been to
        self._tried = False  # ... or for any field once Send was pressed

    def compose(self) -> ComposeResult:
        r = self.replacing
        fixed = r is not None  # a replacement keeps its symbol, side, type and TIF
        side = r.side if r is not None and r.side in ("buy", "sell") else "buy"
        kind = r.order_type if r is not None and r.order_type in dict(TYPES).values() else None
        tif = r.time_in_force if r is not None and r.time_in_force in dict(TIFS) else "day"
        with Vertical(id="dialog"):
            title = "New order" if r is None else f"Replace {r.side} {r.symbol} {r.order_type}"
            yield Label(title, id="dialog-title")
            with Grid(id="order-form"):
                yield Label("Symbol")
                yield Input(self._symbol, placeholder="AAPL", id="symbol", disabled=fixed)
                yield Label("Side")
                yield Select(SIDES, value=side, allow_blank=False, id="side", disabled=fixed)
                yield Label("Qty")
                yield Input(_text(r.remaining if r else None), placeholder="shares", id="qty")
                yield Label("Type")
                yield Select(
                    TYPES, value=kind or "market", allow_blank=False, id="type", disabled=fixed
                )
                yield Label("Limit")
                limit, stop = (r.limit_price, r.stop_price) if r else (None, None)
                yield Input(_text(limit), placeholder="limit price", id="limit")
                yield Label("Stop")
                yield Input(_text(stop), placeholder="stop price", id="stop")
                yield Label("TIF")
                yield Select(TIFS, value=tif, allow_blank=False, id="tif", disabled=fixed)
            yield Static(id="order-error")
            yield Static(id="order-preview")
            with Horizontal(id="dialog-buttons"):
                yield Button("Cancel (esc)", id="cancel")
                label = "Send (ctrl+s)" if r is None else "Replace (ctrl+s)"
                yield Button(label, id="send", variant="primary", disabled=True)

    def on_mount(self) -> None:
        r = self.replacing
        if r is not None:  # the field a trader most often moves
            first = "#limit" if r.limit_price is not None else "#stop" if r.stop_price else "#qty"
            self.query_one(first, Input).focus()
        else:
            self.query_one("#qty" if self._symbol else "#symbol", Input).focus()
        self.refresh_order()
        # the gate's verdict changes with the market (stale data, a breaker): ask again
        self.set_interval(1.0, self.refresh_order)

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for widget in self.query("#order-form Input"):
            assert isinstance(widget, Input) and widget.id
            out[widget.id] = widget.value
        for widget in self.query("#order-form Select"):
            assert isinstance(widget, Select) and widget.id
            out[widget.id] = str(widget.value)
        return out

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, event: Input.Changed | Select.Changed) -> None:
        if event.control.id and self.is_mounted:
            self._touched.add(event.control.id)
        self.refresh_order()

    def refresh_order(self) -> None:
        values = self.values()
        for widget in self.query("#order-form Input, #order-form Select"):
            widget.remove_class("-invalid")
        error_box = self.query_one("#order-error", Static)
        preview = self.query_one("#order-preview", Static)
        send = self.query_one("#send", Button)
        try:
            order = build_order(values)
        except OrderValidationError as exc:
            self.order, self.error = None, exc
            target = FIELD_INPUT.get(exc.field.split(".")[0])
            if self._tried or target is None or target in self._touched:
                if target:
                    self.query_one(f"#{target}").add_class("-invalid")
                error_box.update(Text(f"✗ {exc.field}: {exc.message}"))
                error_box.add_class("-shown")
            else:
                error_box.update("")
                error_box.remove_class("-shown")
            preview.update("")
            send.disabled = True
            return
        self.order, self.error = order, None
        error_box.update("")
        error_box.remove_class("-shown")
        verdict = self._check(order)
        price = self._prices.get(order.symbol)
        est = ""
        if price is not None and order.qty is not None:
            est = f" · about {fmt.money(order.qty * price)} at {fmt.price(price)}"
        gate = "gate: allowed" if verdict.allowed else f"gate: DENIED {verdict}"
        preview.update(Text(f"{describe(order)}{est}\n{gate}"))
        send.disabled = not verdict.allowed

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "send":
            self.action_send()
        else:
            self.dismiss(None)

    def action_send(self) -> None:
        self._tried = True
        self.refresh_order()
        if self.order is None or self.query_one("#send", Button).disabled:
            self.app.bell()
            return
        self.dismiss(self.order)

    def action_cancel(self) -> None:
        self.dismiss(None)
