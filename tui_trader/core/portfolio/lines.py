"""One symbol's ledger: its executions and reconcile adjustments in booking order, and the
replay that recomputes the symbol from them.

A bust or correction edits an entry and replays the line (:meth:`Line.refold`), which undoes
quantity, cost and realized P&L together; a long session folds its oldest entries into the
line's base (:meth:`Line.fold`). Booking one trade (:func:`_step`) keeps the open cost as an
exact sum, so fills neither create nor destroy money.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Final

from tui_trader.core.portfolio.views import PositionView

_ZERO: Final = Decimal(0)
_COST_QUANTUM: Final = Decimal("1e-12")
"""Pro-rata cost taken off a reduced position is rounded here, so sums stay exact."""


def _round_cost(value: Decimal) -> Decimal:
    try:
        rounded = value.quantize(_COST_QUANTUM)
    except InvalidOperation:  # beyond 16 integer digits: no room to round, keep as is
        return value
    return value if rounded == value else rounded  # exact values keep their digits


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _step(
    qty: Decimal, cost: Decimal, realized: Decimal, trade: Decimal, price: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """Book one signed trade on a position held as (qty, total cost, realized P&L).

    Adding moves the cost by ``trade * price`` (a weighted average entry); reducing takes
    the pro-rata cost off and realizes the difference to the proceeds; crossing zero closes
    the whole position that way and opens the rest at ``price``.
    """
    if trade == 0:
        return qty, cost, realized
    if qty == 0 or (qty > 0) == (trade > 0):
        return qty + trade, cost + trade * price, realized
    closing = trade if abs(trade) <= abs(qty) else -qty  # part of the trade that closes
    removed = cost if closing == -qty else _round_cost(cost * -closing / qty)
    realized += -closing * price - removed
    qty += closing
    cost -= removed
    rest = trade - closing
    if rest:
        qty, cost = rest, rest * price
    return qty, cost, realized


@dataclass(slots=True, eq=False)
class Exec:
    """One execution as booked. ``side`` is kept apart from ``qty`` so a correction to
    zero shares cannot lose the direction.
    """

    key: str
    line: Line
    side: int
    qty: Decimal
    price: Decimal
    at: datetime | None
    live: bool = True
    forgotten: bool = False
    """Folded into its line's base (a long session): a bust or correction naming it is not
    booked any more (the next reconcile repairs the book)."""


@dataclass(slots=True, eq=False)
class Adjust:
    """A reconcile's correction at its place among a line's executions: the broker held
    ``qty`` more shares at ``cost`` more basis than the book had booked until then."""

    qty: Decimal
    cost: Decimal


@dataclass(slots=True, eq=False)
class Line:
    """One symbol's ledger: a base (zero, or what a long session folded away) plus its
    executions and reconcile adjustments, in the order they were booked."""

    symbol: str
    base_qty: Decimal = _ZERO
    base_cost: Decimal = _ZERO
    base_realized: Decimal = _ZERO
    base_at: datetime | None = None
    execs: list[Exec | Adjust] = field(default_factory=list)
    qty: Decimal = _ZERO
    cost: Decimal = _ZERO
    realized: Decimal = _ZERO
    last_fill_at: datetime | None = None
    mark: Decimal | None = None
    traded: bool = False

    def book(self, ex: Exec) -> None:
        self.qty, self.cost, self.realized = _step(
            self.qty, self.cost, self.realized, ex.qty, ex.price
        )
        self.last_fill_at = later(self.last_fill_at, ex.at)

    def adjust(self, item: Adjust) -> None:
        """Apply a reconcile's difference; a line it leaves flat has no basis left."""
        self.qty += item.qty
        self.cost = self.cost + item.cost if self.qty else _ZERO

    def refold(self) -> None:
        self.qty, self.cost, self.realized = self.base_qty, self.base_cost, self.base_realized
        self.last_fill_at = self.base_at
        for item in self.execs:
            if isinstance(item, Adjust):
                self.adjust(item)
            elif item.live:
                self.book(item)

    def fold(self, upto: int) -> None:
        """Fold the first ``upto`` entries into the base (the book does not change): their
        executions are forgotten; the later ones stay live."""
        done, rest = self.execs[:upto], self.execs[upto:]
        self.execs = done
        self.refold()
        self.base_qty, self.base_cost = self.qty, self.cost
        self.base_realized, self.base_at = self.realized, self.last_fill_at
        for item in done:
            if isinstance(item, Exec):
                item.forgotten = True
        self.execs = rest
        self.refold()

    def reconcile(self, qty: Decimal, cost: Decimal) -> None:
        """Take the broker's quantity and basis, recorded as a difference at this point."""
        self.execs.append(Adjust(qty - self.qty, cost - self.cost))
        self.qty, self.cost = qty, cost
        self.traded = True

    @property
    def avg(self) -> Decimal:
        return self.cost / self.qty if self.qty else _ZERO

    @property
    def market_value(self) -> Decimal:
        return self.cost if self.mark is None else self.qty * self.mark

    def view(self) -> PositionView:
        value = self.market_value
        return PositionView(
            symbol=self.symbol,
            qty=self.qty,
            avg_entry=self.avg,
            realized=self.realized,
            mark=self.mark,
            unrealized=value - self.cost,
            market_value=value,
            cost_basis=self.cost,
            last_fill_at=self.last_fill_at,
        )
