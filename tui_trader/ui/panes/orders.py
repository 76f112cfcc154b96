"""The orders view: the working orders (the desk's book of orders that may still fill, the
gate's own count) above the latest fills. Rows are keyed by ``client_order_id``, so an
order keeps its row from ``queued`` to ``new`` to ``partially_filled`` and the selection
(the order ``d`` cancels and ``e`` replaces) stays on it while others come and go.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from tui_trader.desk.snapshot import DeskSnapshot, FillLine, WorkingOrderLine
from tui_trader.ui import format as fmt
from tui_trader.ui.colours import Colours
from tui_trader.ui.panes.selection import SelectableTable
from tui_trader.ui.panes.table import Cell, Column, KeyedTable
from tui_trader.ui.panes.titles import retitle

ORDER_COLUMNS = (
    Column("symbol", "Symbol", 6),
    Column("side", "Side", 4),
    Column("type", "Type", 10, essential=False),
    Column("qty", "Qty", 7),
    Column("filled", "Filled", 7),
    Column("limit", "Limit", 9),
    Column("stop", "Stop", 9, essential=False),
    Column("tif", "TIF", 4, essential=False),
    Column("status", "Status", 16),
    Column("age", "Age", 6),
)
FILL_COLUMNS = (
    Column("time", "Time", 8),
    Column("symbol", "Symbol", 6),
    Column("side", "Side", 4),
    Column("qty", "Qty", 7),
    Column("price", "Price", 9),
    Column("kind", "Kind", 12, essential=False),
)
WAITING = frozenset({"queued", "unknown", "pending_new", "accepted", "pending_replace"})


class WorkingOrdersTable(SelectableTable):
    """One row per working order, oldest first; the selected one is what d and e act on."""

    def __init__(self) -> None:
        super().__init__(ORDER_COLUMNS, id="orders-table")
        self.border_title = "Working orders"
        self.lines: dict[str, WorkingOrderLine] = {}

    @property
    def selected_order(self) -> WorkingOrderLine | None:
        return self.lines.get(self.selected) if self.selected is not None else None

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        self.lines = {o.client_order_id: o for o in snap.working_orders}
        self.sync({o.client_order_id: order_row(o, snap.at, c) for o in snap.working_orders})
        n = len(snap.working_orders)
        retitle(
            self,
            subtitle=f"{n} working · d cancel · e replace" if n else "none working",
        )


class FillsTable(KeyedTable):
    """The latest executions, newest first."""

    def __init__(self) -> None:
        super().__init__(FILL_COLUMNS, id="fills")
        self.border_title = "Latest fills"

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        rows = {str(f.seq): fill_row(f, c) for f in reversed(snap.fills)}
        self.sync(rows)
        retitle(self, subtitle=f"{len(snap.fills)} shown" if snap.fills else "none yet")


class OrdersView(Vertical):
    """The view beside the desk's grid (key 3)."""

    DEFAULT_CSS = """
    OrdersView > * {
        border: round $panel-lighten-2; border-title-color: $primary; border-title-style: bold;
        border-subtitle-color: $foreground-muted;
        scrollbar-size: 1 1; scrollbar-background: $surface; scrollbar-color: $primary 40%;
    }
    OrdersView > *:focus { border: round $primary; }
    OrdersView > #orders-table { height: 3fr; }
    OrdersView > #fills { height: 2fr; }
    """

    def __init__(self) -> None:
        super().__init__(id="orders")

    def compose(self) -> ComposeResult:
        yield WorkingOrdersTable()
        yield FillsTable()

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        self.query_one(WorkingOrdersTable).render_snapshot(snap, c)
        self.query_one(FillsTable).render_snapshot(snap, c)

    def forget(self) -> None:
        self.query_one(WorkingOrdersTable).forget()
        self.query_one(FillsTable).forget()


def order_row(o: WorkingOrderLine, now: datetime, c: Colours) -> list[Cell]:
    side = Text(o.side, style=c.profit if o.side == "buy" else c.loss)
    size = fmt.qty(o.qty) if o.qty is not None else f"${fmt.money(o.notional)}"
    filled = Text(fmt.qty(o.filled)) if o.filled else Text("0", style=c.muted)
    age = (now - o.created_at).total_seconds() if o.created_at is not None else None
    status = Text(o.status, style=c.warning if o.status in WAITING else "")
    return [
        Text(o.symbol, style="bold"),
        side,
        Text(o.order_type.replace("_", " ")),
        Text(size),
        filled,
        Text(fmt.price(o.limit_price)),
        Text(fmt.price(o.stop_price)),
        Text(o.time_in_force),
        status,
        Text(fmt.seconds(max(0.0, age)) if age is not None else "-"),
    ]


def fill_row(f: FillLine, c: Colours) -> list[Cell]:
    return [
        Text(f.at.strftime("%H:%M:%S") if f.at is not None else "-"),
        Text(f.symbol, style="bold"),
        Text(f.side, style=c.profit if f.side == "buy" else c.loss),
        Text(fmt.qty(f.qty)),
        Text(fmt.price(f.price)),
        Text(f.kind.replace("_", " ")),
    ]
