"""Positions and P&L: one row per open position, a totals row, a sparkline of recent closes.
The selected row (while the pane has the focus) is the position ``x`` closes."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from tui_trader.desk.snapshot import DeskSnapshot
from tui_trader.ui import format as fmt
from tui_trader.ui.colours import Colours
from tui_trader.ui.panes.selection import SelectableTable
from tui_trader.ui.panes.table import Cell, Column
from tui_trader.ui.panes.titles import retitle

COLUMNS = (
    Column("symbol", "Symbol", 6),
    Column("qty", "Qty", 7),
    Column("avg", "Avg", 8, essential=False),
    Column("last", "Last", 9, essential=False),
    Column("value", "Value", 10, essential=False),
    Column("upnl", "Unr P&L", 10),
    Column("upct", "%", 7),
    Column("day", "Day", 7, essential=False),
    Column("trend", "Trend", 10, essential=False),
)
TOTAL = "__total__"


class PositionsPane(SelectableTable):
    def __init__(self) -> None:
        super().__init__(COLUMNS, id="positions", unselectable=frozenset({TOTAL}))
        self.border_title = "Positions"

    @property
    def selected_symbol(self) -> str | None:
        return self.selected

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        rows: dict[str, list[Cell]] = {}
        book = snap.book
        for symbol in sorted(book.positions):
            p = book.positions[symbol]
            last = snap.prices.get(symbol, p.mark)
            basis = abs(p.cost_basis)
            upct = (p.unrealized / basis * 100) if basis else None
            prev = snap.prev_close.get(symbol)
            day = (last - prev) / prev * 100 if last is not None and prev else None
            rows[symbol] = [
                Text(symbol, style="bold"),
                c.signed(fmt.qty(p.qty), p.qty),
                Text(fmt.price(p.avg_entry)),
                Text(fmt.price(last)),
                Text(fmt.money(p.market_value)),
                c.signed(fmt.money(p.unrealized, signed=True), p.unrealized),
                c.signed(fmt.pct(upct), upct),
                c.signed(fmt.pct(day), day),
                Text(fmt.sparkline(snap.history.get(symbol, ()), 10), style=c.accent),
            ]
        value = sum((p.market_value for p in book.positions.values()), Decimal(0))
        rows[TOTAL] = [
            Text("Total", style="bold"),
            Text(""),
            Text(""),
            Text(""),
            Text(fmt.money(value), style="bold"),
            c.signed(fmt.money(book.unrealized_pnl, signed=True), book.unrealized_pnl),
            Text(""),
            Text(""),
            Text(f"real {fmt.money(book.realized_pnl, signed=True)}"),
        ]
        self.sync(rows)
        n = len(book.positions)
        retitle(self, subtitle=f"{n} open · equity {fmt.money(book.equity)}")
