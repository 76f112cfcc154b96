"""The order worker, the one way out for the desk's orders: what the gate let through waits
in a queue and is sent once (the sender journals the intent before the request); an order
whose answer was lost keeps counting as working until the broker has been asked about it.
"""

from __future__ import annotations

import time
from typing import Any

from tui_trader.broker.ordering import OrderResult, Outcome
from tui_trader.broker.rest import AlpacaError, NotFoundError
from tui_trader.core.orders import Order
from tui_trader.core.working import news_from_wire
from tui_trader.desk.base import DeskBase
from tui_trader.desk.snapshot import OrderLine


class OrderWorker(DeskBase):
    """Sends the queued orders one at a time; looks up the ones whose answer was lost."""

    async def _order_loop(self) -> None:
        while not self._stop.is_set():
            order, source = await self._queue.get()
            result = await self._send(order, source)
            self._audit("order", result_data(result), order.symbol)

    async def _send(self, order: Order, source: str) -> OrderResult:
        now = self._clock()
        self.risk.record_order(now)
        line = OrderLine(
            order.client_order_id,
            order.symbol,
            str(order.side),
            str(order.qty or order.notional),
            source,
            "pending",
        )
        self._orders.append(line)
        self._changed()
        result = await self.sender.send(order, source)
        cid = order.client_order_id
        if result.outcome is Outcome.SUBMITTED:
            self.working.sent(cid, result.order)
        elif result.outcome is Outcome.UNKNOWN:
            self.working.lost(cid)  # it may exist: it keeps counting until the broker says
            self._unknown_at = time.monotonic() + self.options.lookup_every
            self._notice(f"{order.symbol} {order.side}: answer lost; counted as working")
        else:
            self.working.drop(cid)
        if result.outcome is Outcome.REJECTED:
            self.risk.record_reject(self._clock())
            self._notice(f"{order.symbol} {order.side} rejected: {result.detail[:120]}")
        self._orders.append(
            OrderLine(
                line.client_order_id,
                line.symbol,
                line.side,
                line.qty,
                source,
                str(result.outcome),
                result.detail[:200],
            )
        )
        self._changed()
        return result

    async def _resolve_unknown(self) -> None:
        """Orders whose send answer was lost keep counting until the broker is asked."""
        for working in self.working.unknown():
            cid = working.client_order_id
            try:
                found = await self.rest.get_order_by_client_id(cid)
            except NotFoundError:
                self.working.drop(cid)
                self.journal.update_intent(cid, Outcome.ABANDONED, detail="not at the broker")
                self._audit(
                    "order", {"client_order_id": cid, "outcome": "abandoned"}, working.symbol
                )
                self._notice(f"{working.symbol}: the order whose answer was lost never arrived")
            except AlpacaError:
                continue
            else:
                self.working.observe(news_from_wire("rest", found), cid)
                self.journal.update_intent(
                    cid, Outcome.SUBMITTED, order_id=found.id, detail="found after a lost answer"
                )
                self._audit(
                    "order",
                    {"client_order_id": cid, "outcome": "submitted", "order_id": found.id},
                    working.symbol,
                )


def result_data(r: OrderResult) -> dict[str, Any]:
    return {
        "client_order_id": r.client_order_id,
        "outcome": str(r.outcome),
        "order_id": r.order.id if r.order is not None else None,
        "detail": r.detail[:300],
        "attempts": r.attempts,
    }
