"""An order's life after intake: routing (``pending_new``, ``new``), cancels and replaces.

REST cancel and replace only record the request; the next tick carries it out (``canceled``
or ``order_cancel_rejected``; ``replaced`` for the old order and ``new`` for its successor),
as Alpaca answers first and streams the outcome after (API.md §4.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tui_trader.core.orders import Order, OrderValidationError
from tui_trader.core.types import format_decimal
from tui_trader.sim import errors
from tui_trader.sim.book import SimAccount, SimOrder, s
from tui_trader.sim.exchange.events import EventWriter
from tui_trader.sim.exchange.intake import OrderIntake


class OrderLifecycle(OrderIntake, EventWriter):
    """Moves orders through their non-fill states and emits each change."""

    def replace(self, acct: SimAccount, order_id: str, body: Mapping[str, Any]) -> SimOrder:
        old = self.find_order(acct, order_id)
        if old.status not in ("new", "partially_filled") or old.replace_with is not None:
            raise errors.unprocessable(f"order is not replaceable (status {old.status})")
        if old.notional is not None:
            raise errors.unprocessable("notional orders cannot be replaced")
        request = old_intent_request(old)
        for key in ("qty", "time_in_force", "limit_price", "stop_price", "client_order_id"):
            if body.get(key) is not None:
                request[key] = body[key]
        if body.get("trail") is not None:
            if old.trail_percent is not None:
                request["trail_percent"] = body["trail"]
            else:
                request["trail_price"] = body["trail"]
        if body.get("qty") is None and old.qty is not None:
            request["qty"] = format_decimal(old.remaining)
        if body.get("client_order_id") is None:
            request.pop("client_order_id", None)
        try:
            intent = Order.from_request(request)
        except OrderValidationError as exc:
            raise errors.validation(str(exc)) from None
        new = self.place(acct, intent, replaces=old)
        new.status = "accepted"
        if old.parent is not None:  # a bracket leg stays a leg of the same parent
            new.parent = old.parent
            new.order_class = old.order_class
            legs = old.parent.legs
            legs[legs.index(old)] = new
        old.replace_with = new
        return new

    def cancel(self, acct: SimAccount, order_id: str) -> SimOrder:
        order = self.find_order(acct, order_id)
        if not order.is_open or order.cancel_requested_at is not None:
            raise errors.unprocessable(f"order is not cancelable (status {order.status})")
        order.cancel_requested_at = self.now()
        self._pending_cancels.append(order)
        return order

    def cancel_all(self, acct: SimAccount) -> list[SimOrder]:
        orders = [
            o
            for o in self._open
            if o.account_id == acct.id
            and (o.parent is None or not o.parent.is_open)  # live legs of a filled bracket
            and o.cancel_requested_at is None
        ]
        for o in orders:
            o.cancel_requested_at = self.now()
            self._pending_cancels.append(o)
        return orders

    def _route(self, at: datetime) -> None:
        for o in list(self._open):
            if o.routed or o.status not in ("accepted", "held", "new"):
                continue
            if o.replaces is not None and o.status == "accepted":
                continue  # routed when its predecessor is replaced
            self._route_one(o, at)

    def _route_one(self, o: SimOrder, at: datetime) -> None:
        o.routed = True
        o.submitted_at = o.submitted_at or at
        if o.status == "held":
            o.touch(at)
            return  # legs wait for their parent; they were announced with it
        if self.options.emit_pending_new:
            o.status = "pending_new"
            o.touch(at)
            self._emit_trade(o, "pending_new", at)
        o.status = "new"
        o.touch(at)
        if self.options.late_new:
            o.withheld_new = True
        else:
            self._emit_trade(o, "new", at)

    def _process_cancels(self, at: datetime) -> None:
        pending, self._pending_cancels = self._pending_cancels, []
        for o in pending:
            if o.is_open:
                self._cancel_now(o, at)
            else:
                self._emit_trade(o, "order_cancel_rejected", at, reason="TOO_LATE_TO_CANCEL")

    def _cancel_now(self, o: SimOrder, at: datetime, reason: str | None = None) -> None:
        if not o.is_open:
            return
        o.status = "canceled"
        o.canceled_at = at
        o.cancel_requested_at = o.cancel_requested_at or at
        o.touch(at)
        self._drop_open(o)
        extra = {"reason": reason} if reason else {}
        self._emit_trade(o, "canceled", at, **extra)
        if o.withheld_new:
            o.withheld_new = False
            self._emit_trade(o, "new", at)  # the late `new` seen on paper (Alpaca-API#74)
        for leg in o.legs:
            self._cancel_now(leg, at)
        if o.replace_with is not None and o.replace_with.status == "accepted":
            self._reject(o.replace_with, at, "replaced order was canceled")

    def _reject(self, o: SimOrder, at: datetime, reason: str) -> None:
        o.status = "rejected"
        o.failed_at = at
        o.touch(at)
        self._drop_open(o)
        self._emit_trade(o, "rejected", at, reason=reason)

    def _process_replaces(self, at: datetime) -> None:
        for old in [o for o in self._open if o.replace_with is not None]:
            new = old.replace_with
            assert new is not None
            old.replace_with = None
            if not old.is_open:
                self._reject(new, at, "order was already filled or closed")
                continue
            old.status = "replaced"
            old.replaced_at = at
            old.replaced_by = new.id
            old.touch(at)
            self._drop_open(old)
            for leg in old.legs:
                self._cancel_now(leg, at)
            self._emit_trade(old, "replaced", at)
            self._route_one(new, at)

    def _drop_open(self, o: SimOrder) -> None:
        if o in self._open:
            self._open.remove(o)


def old_intent_request(o: SimOrder) -> dict[str, Any]:
    """A create-order body that rebuilds ``o``'s intent, for replace."""
    body: dict[str, Any] = {
        "symbol": o.symbol,
        "side": o.side,
        "type": o.type,
        "time_in_force": o.time_in_force,
        "qty": s(o.qty),
        "limit_price": s(o.limit_price),
        "stop_price": s(o.stop_price),
        "trail_price": s(o.trail_price),
        "trail_percent": s(o.trail_percent),
        "extended_hours": o.extended_hours,
    }
    return {k: v for k, v in body.items() if v is not None}
