"""The book as its readers see it: one position, and the whole book at one moment.

Immutable, so the UI can hold a snapshot across frames and the risk engine can read one
(:class:`BookSnapshot` has the ``qty``/``price`` of its ``Book``) while the ledger moves on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from tui_trader.core.portfolio.symbols import symbol_key

_ZERO: Final = Decimal(0)


@dataclass(frozen=True)
class PositionView:
    """One symbol as the UI shows it. ``qty`` and money are signed: a short has negative
    ``qty``, ``cost_basis`` and ``market_value``. Without a mark the position is valued at
    its cost, so ``unrealized`` is zero until a price arrives.
    """

    symbol: str
    qty: Decimal
    avg_entry: Decimal
    realized: Decimal
    mark: Decimal | None
    unrealized: Decimal
    market_value: Decimal
    cost_basis: Decimal
    last_fill_at: datetime | None


@dataclass(frozen=True)
class BookSnapshot:
    """The whole book at one moment; immutable, so the UI can hold it across frames.

    ``positions`` holds open positions only (what the broker lists); realized P&L of closed
    symbols is still in ``realized_pnl`` and in :meth:`Portfolio.position`.
    """

    cash: Decimal
    equity: Decimal
    positions: Mapping[str, PositionView]
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    day_pnl: Decimal
    day_start_equity: Decimal
    peak_equity: Decimal
    drawdown: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    leverage: Decimal
    fills: int
    as_of: datetime | None
    account_known: bool = True
    """False until the broker's cash and the day's starting equity have been read: equity,
    day P&L and drawdown are then not the account's."""

    def qty(self, symbol: str) -> Decimal:
        """Signed quantity held (0 when flat): with :meth:`price`, the risk engine's Book."""
        view = self._view(symbol)
        return _ZERO if view is None else view.qty

    def price(self, symbol: str) -> Decimal | None:
        view = self._view(symbol)
        return None if view is None else view.mark

    def _view(self, symbol: str) -> PositionView | None:
        view = self.positions.get(symbol)
        if view is None:
            key = symbol_key(symbol)
            view = next((v for v in self.positions.values() if symbol_key(v.symbol) == key), None)
        return view

    def weight(self, symbol: str) -> Decimal:
        """Market value of ``symbol`` over equity (signed; 0 when flat or equity <= 0)."""
        if self.equity <= 0:
            return _ZERO
        view = self._view(symbol)
        return _ZERO if view is None else view.market_value / self.equity
