"""The order worker, the one way out for the desk's orders: what the gate let through waits
in a queue and is sent once (the sender journals the intent before the request); an order
whose answer was lost keeps counting as working until the broker has been asked about it.
A replacement (``PATCH``) goes out the same way: journalled first under the new order's own
``client_order_id``, looked up by it when the answer is lost, never sent twice.
"""

from __future__ import annotations

import time
from typing import Any

from tui_trader.broker.ordering import UNCERTAIN, OrderResult, Outcome
from tui_trader.broker.rest import AlpacaError, NotFoundError
from tui_trader.core.orders import Order
from tui_trader.core.working import Working, WorkState, news_from_wire
from tui_trader.desk.base import DeskBase
from tui_trader.desk.snapshot import OrderLine, WorkingOrderLine


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

    async def _send_replace(self, old: Working, new: Order) -> OrderResult:
        """PATCH ``old`` into ``new`` (only the fields that differ), the intent journalled
        first under ``new``'s id with ``replaces`` naming the old order. The new order counts
        as working from now; the old one until the broker reports it ``replaced``."""
        assert old.order_id is not None
        cid = new.client_order_id
        changes = replace_fields(old, new)
        intent = {**new.to_request(), "replaces": old.order_id, "replaces_cid": old.client_order_id}
        self.risk.record_order(self._clock())
        self.journal.record_intent(cid, new.symbol, intent, "replace")
        self.working.add(new)
        self._orders.append(
            OrderLine(cid, new.symbol, str(new.side), str(new.qty), "replace", "pending")
        )
        self._changed()
        placed = None
        detail = ""
        try:
            placed = await self.rest.replace_order(old.order_id, client_order_id=cid, **changes)
        except UNCERTAIN as exc:  # it may have happened: ask by the new id, never PATCH again
            detail = str(exc)
            try:
                placed = await self.rest.get_order_by_client_id(cid)
            except NotFoundError:
                outcome = Outcome.ABANDONED
            except AlpacaError:
                outcome = Outcome.UNKNOWN
        except AlpacaError as exc:
            detail = str(exc)
            outcome = Outcome.REJECTED
        if placed is not None:
            outcome = Outcome.SUBMITTED
            self.working.sent(cid, placed)
        elif outcome is Outcome.UNKNOWN:
            self.working.lost(cid)
            self._unknown_at = time.monotonic() + self.options.lookup_every
        else:
            self.working.drop(cid)
        self.journal.update_intent(
            cid, outcome, order_id=placed.id if placed else None, detail=detail[:500] or None
        )
        result = OrderResult(cid, new.symbol, outcome, placed, detail)
        self._audit(
            "replace", {**result_data(result), "replaces": old.order_id, **changes}, new.symbol
        )
        self._orders.append(
            OrderLine(
                cid, new.symbol, str(new.side), str(new.qty), "replace", str(outcome), detail[:200]
            )
        )
        self._changed()
        return result

    def working_lines(self) -> tuple[WorkingOrderLine, ...]:
        """The book of working orders as the orders pane shows it, oldest first."""
        return tuple(working_line(w) for w in self.working.orders())

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


def replace_fields(old: Working, new: Order) -> dict[str, str]:
    """What a PATCH must carry to turn ``old`` into ``new``: the qty, limit and stop that
    differ (as wire text). Empty when nothing changes. A replacement's qty is the new
    order's own, so it is compared with what remains of the old one (Alpaca's default)."""
    out: dict[str, str] = {}
    if new.qty is not None and new.qty != old.qty:
        out["qty"] = str(new.qty)
    if new.limit_price is not None and new.limit_price != old.limit_price:
        out["limit_price"] = str(new.limit_price)
    if new.stop_price is not None and new.stop_price != old.stop_price:
        out["stop_price"] = str(new.stop_price)
    return out


def working_line(w: Working) -> WorkingOrderLine:
    status = w.status or str(w.state)
    if w.state is not WorkState.OPEN:
        status = str(w.state)
    return WorkingOrderLine(
        w.client_order_id,
        w.order_id,
        w.symbol,
        str(w.side),
        w.order_type,
        None if w.qty is None else w.qty + w.filled_qty,
        w.filled_qty,
        w.limit_price,
        w.stop_price,
        status,
        w.created_at,
        w.notional,
        w.time_in_force,
    )
