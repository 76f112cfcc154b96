"""Made-up history for tests and benchmarks: an event of any type about the newest order (fault
injection), and a large backlog of filled orders written at once through the normal path.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tui_trader.core.orders import Order, market_time_in_force
from tui_trader.sim.book import SimAccount, dec, price_tick
from tui_trader.sim.exchange.fills import Fills


class SyntheticHistory(Fills):
    """Writes events on demand, beyond what the market's ticks produce."""

    def inject_trade_event(self, acct: SimAccount, event: str, at: datetime | None = None) -> None:
        """Emit an event of any type (unknown ones included) about the newest order."""
        at = at or self.now()
        order = next(reversed(acct.orders.values()), None)
        if order is None:
            order = self._new_order(
                acct,
                Order.from_request(
                    {
                        "symbol": self.market.symbols[0],
                        "qty": "1",
                        "side": "buy",
                        "type": "limit",
                        "time_in_force": market_time_in_force(self.market.symbols[0]).value,
                        "limit_price": "1",
                    }
                ),
                at,
            )
        self._emit_trade(order, event, at)

    def backlog(self, acct: SimAccount, orders: int, symbol: str | None = None) -> int:
        """Trade ``orders`` one-share market orders at once (alternating buy and sell) through
        the normal path, for benchmarks and soak tests that need a large event history fast.
        Returns how many trade events were written."""
        sym = symbol or self.market.symbols[0]
        at = self.now()
        before = self.logs["trades"].end
        for i in range(orders):
            side = "buy" if i % 2 == 0 else "sell"
            intent = Order.from_request(
                {
                    "symbol": sym,
                    "qty": "1",
                    "side": side,
                    "type": "market",
                    "time_in_force": market_time_in_force(sym).value,
                }
            )
            order = self.place(acct, intent)
            self._route_one(order, at)
            quote = self.market.quote(sym)
            self._fill(
                order, Decimal(1), price_tick(dec(quote.ask if side == "buy" else quote.bid)), at
            )
        return self.logs["trades"].end - before
