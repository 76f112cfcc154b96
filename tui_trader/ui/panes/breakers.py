"""The trading state and every circuit breaker: value against limit, state, when and why."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from tui_trader.core.risk import Breaker, BreakerState, TradingState
from tui_trader.desk.snapshot import DeskSnapshot
from tui_trader.ui import format as fmt
from tui_trader.ui.colours import Colours
from tui_trader.ui.panes.table import Cell, Column, KeyedTable
from tui_trader.ui.panes.titles import retitle

COLUMNS = (
    Column("name", "Breaker", 16),
    Column("value", "Value", 10, essential=False, drop=6),
    Column("limit", "Limit", 10, essential=False, drop=7),
    Column("state", "State", 8),
    Column("at", "Tripped", 8, essential=False, drop=8),
    Column("reason", "Reason", 34, essential=False, drop=9),
)


def _num(value: Decimal | None) -> str:
    if value is None:
        return "-"
    if value == value.to_integral() and abs(value) < 10_000:
        return str(value.quantize(Decimal(1)))
    return f"{float(value):,.2f}"


def state_style(state: TradingState, c: Colours) -> str:
    return {
        TradingState.ACTIVE: c.profit,
        TradingState.REDUCING: c.warning,
        TradingState.HALTED: f"bold {c.tripped}",
    }[state]


class BreakersPane(KeyedTable):
    def __init__(self) -> None:
        super().__init__(COLUMNS, id="breakers")
        self.border_title = "Breakers"

    def _row(self, b: Breaker, c: Colours) -> list[Cell]:
        style = {
            BreakerState.OK: c.profit,
            BreakerState.WARNING: c.warning,
            BreakerState.TRIPPED: f"bold {c.tripped}",
        }[b.state]
        return [
            Text(str(b.name) + (" •" if b.latching else ""), style="bold"),
            Text(_num(b.value)),
            Text(_num(b.limit), style=c.muted),
            Text(str(b.state).upper(), style=style),
            Text(b.tripped_at.strftime("%H:%M:%S") if b.tripped_at else "-"),
            Text(fmt.shorten(b.reason or "", 34)),
        ]

    def render_snapshot(self, snap: DeskSnapshot, c: Colours) -> None:
        risk = snap.risk
        self.sync({str(b.name): self._row(b, c) for b in risk.breakers})
        tripped = sum(b.state is BreakerState.TRIPPED for b in risk.breakers)
        warn = sum(b.state is BreakerState.WARNING for b in risk.breakers)
        state = f"{risk.state}" + (" · PAUSED" if risk.paused else "")
        title = Text.assemble("Breakers · ", (state, state_style(risk.state, c)))
        retitle(self, title, f"{tripped} tripped · {warn} warning")
