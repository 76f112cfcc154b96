"""Reconcile: make the book equal the broker's positions and cash, and say what differed.

The difference is recorded at its place in the symbol's line (an adjustment), so a later
bust or correction of an earlier execution still replays the symbol correctly. Differences
that are rounding (average entry, half a cent of cash) are not reported as discrepancies.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Final

from tui_trader.core.models import Position
from tui_trader.core.portfolio.state import LedgerState
from tui_trader.core.portfolio.symbols import symbol_key
from tui_trader.core.types import format_decimal

_ZERO: Final = Decimal(0)
_SHOW_QUANTUM: Final = Decimal("1e-6")
_AVG_TOLERANCE: Final = Decimal("1e-6")
"""Relative difference of average entry that is rounding, not a discrepancy: reconcile leaves
the book's exact figure (adopting the broker's rounding would turn it into an adjustment
that a later bust or correction carries along)."""
_CASH_TOLERANCE: Final = Decimal("0.005")
"""Cash differences under half a cent are rounding, not a missed fee."""


class Reconciling(LedgerState):
    """:meth:`reconcile` against the broker's account."""

    def reconcile(self, positions: Iterable[Position], cash: Decimal | None = None) -> list[str]:
        """Make the book equal the broker's positions (and cash, if given).

        Returns one readable line per real discrepancy it corrected. An average entry that
        differs by rounding only is left as the book has it; cash is always taken, silently
        when the difference is rounding. Marks are taken from ``current_price``. Realized
        P&L is kept: the broker does not report it. Positions and cash should come from one
        moment of the broker's account (see the engine), or equity is off by what moved.
        """
        messages: list[str] = []
        broker: dict[str, Position] = {}
        for position in positions:
            broker[symbol_key(position.symbol)] = position
        for key, line in self._lines.items():
            if line.qty and key not in broker:
                messages.append(
                    f"{line.symbol}: book had {_show(line.qty)} @ {_show(line.avg)}, broker is flat"
                )
                line.reconcile(_ZERO, _ZERO)
        for position in broker.values():
            line = self._line(position.symbol)
            if position.current_price is not None:
                line.mark = position.current_price
            qty = position.signed_qty
            avg = position.avg_entry_price
            if avg is None:
                same_side = line.qty and (line.qty > 0) == (qty > 0)
                avg = line.avg if same_side else (position.current_price or _ZERO)
            cost = qty * avg
            if line.qty == qty and line.cost == cost:
                continue
            rounding = _AVG_TOLERANCE * max(Decimal(1), abs(avg))
            if line.qty == qty and qty and abs(line.avg - avg) <= rounding:
                continue  # the same position: keep the book's exact basis
            if not qty:
                messages.append(
                    f"{line.symbol}: book had {_show(line.qty)} @ {_show(line.avg)}, broker is flat"
                )
            elif not line.qty:
                messages.append(
                    f"{line.symbol}: broker has {_show(qty)} @ {_show(avg)}, book had none"
                )
            else:
                changes = []
                if line.qty != qty:
                    changes.append(f"qty {_show(line.qty)} -> {_show(qty)}")
                if abs(line.avg - avg) > rounding:
                    changes.append(f"avg entry {_show(line.avg)} -> {_show(avg)}")
                if changes:
                    messages.append(f"{line.symbol}: " + ", ".join(changes))
            line.reconcile(qty, cost)
        if cash is not None:
            if cash != self._cash and abs(cash - self._cash) >= _CASH_TOLERANCE:
                messages.append(f"cash {_show(self._cash)} -> {_show(cash)}")
            self._cash = cash
            if not self._cash_known:  # a peak from before the cash was known means nothing
                self._cash_known = True
                self._peak = self._equity()
        self._touched(None)
        return messages


def _show(value: Decimal) -> str:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        value = value.quantize(_SHOW_QUANTUM)
    return format_decimal(value)
