"""Closing positions (``DELETE /v2/positions``): a market order for all or part of one position,
or for every position after canceling the account's open orders.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tui_trader.core.orders import Order, OrderValidationError, market_time_in_force
from tui_trader.core.types import format_decimal
from tui_trader.sim import errors
from tui_trader.sim.book import SimAccount, SimOrder, qty_round
from tui_trader.sim.exchange.lifecycle import OrderLifecycle


class PositionClosing(OrderLifecycle):
    """Turns close-position requests into ordinary orders."""

    def close_position(
        self,
        acct: SimAccount,
        symbol_or_asset_id: str,
        qty: Decimal | None = None,
        percentage: Decimal | None = None,
    ) -> SimOrder:
        if qty is not None and percentage is not None:
            raise errors.validation("only one of qty or percentage may be given")
        pos = self.position(acct, symbol_or_asset_id)
        size = abs(pos.qty)
        if qty is not None:
            if qty <= 0 or qty > size:
                raise errors.validation("qty must be > 0 and at most the position's size")
            size = qty
        elif percentage is not None:
            if not 0 < percentage <= 100:
                raise errors.validation("percentage must be in (0, 100]")
            size = qty_round(size * percentage / 100)
        body = {
            "symbol": pos.symbol,
            "qty": format_decimal(size),
            "side": "sell" if pos.qty > 0 else "buy",
            "type": "market",
            "time_in_force": market_time_in_force(pos.symbol).value,
        }
        try:
            intent = Order.from_request(body)
        except OrderValidationError as exc:
            raise errors.validation(str(exc)) from None
        return self.place(acct, intent)

    def close_all(
        self, acct: SimAccount, cancel_orders: bool
    ) -> list[tuple[str, int, dict[str, Any]]]:
        if cancel_orders:
            # every open order, legs of filled brackets included: they hold the shares
            for o in [o for o in self._open if o.account_id == acct.id]:
                self._cancel_now(o, self.now())
        results: list[tuple[str, int, dict[str, Any]]] = []
        for pos in list(acct.positions.values()):
            if pos.qty == 0:
                continue
            try:
                order = self.close_position(acct, pos.symbol)
                results.append((pos.symbol, 200, order.wire()))
            except errors.ApiFailure as exc:
                results.append((pos.symbol, exc.status, exc.body()))
        return results
