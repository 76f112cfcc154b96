"""Order intake: a request becomes a checked, booked order, with the legs of a bracket, OTO or
OCO order built beside it.

An order answers ``accepted`` here; it is routed (``pending_new``, ``new``) by the lifecycle
on the next tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from tui_trader.core.orders import Order, OrderValidationError
from tui_trader.sim import errors
from tui_trader.sim.book import SimAccount, SimOrder
from tui_trader.sim.exchange.checks import PreTradeChecks
from tui_trader.sim.ids import seeded_uuid


class OrderIntake(PreTradeChecks):
    """Validates, checks and books new orders and their legs."""

    def submit(self, acct: SimAccount, body: Mapping[str, Any]) -> SimOrder:
        try:
            intent = Order.from_request(body)
        except OrderValidationError as exc:
            raise errors.validation(str(exc)) from None
        return self.place(acct, intent)

    def place(self, acct: SimAccount, intent: Order, replaces: SimOrder | None = None) -> SimOrder:
        if acct.account_blocked or acct.trading_blocked:
            raise errors.forbidden("trading is blocked for this account")
        if not self.market.has(intent.symbol):
            raise errors.validation(f'asset "{intent.symbol}" not found')
        if intent.symbol in self.halted:
            raise errors.forbidden(f"asset {intent.symbol} is not tradable (trading halt)")
        if intent.client_order_id in acct.client_ids:
            raise errors.validation("client_order_id must be unique")
        side = str(intent.side)
        self._check_funds(acct, intent, replaces)
        self._check_wash(acct, intent, replaces)
        now = self.now()
        order = self._new_order(acct, intent, now)
        if replaces is not None:
            order.replaces = replaces.id
        cls = str(intent.order_class)
        if cls in ("bracket", "oto", "oco"):
            exit_side = "sell" if side == "buy" else "buy"
            tp, sl = intent.take_profit, intent.stop_loss
            if cls == "oco":
                # the parent is the take-profit limit; the stop-loss is its one leg. An OCO
                # is exit-only, so both trade on its own side (Alpaca's example: a sell OCO).
                # alpaca-py sends the limit only as take_profit.limit_price (the rules allow it).
                if order.limit_price is None and tp is not None:
                    order.limit_price = tp.limit_price
                if sl is not None:
                    order.legs.append(
                        self._leg(order, side, sl.stop_price, sl.limit_price, status="new")
                    )
            else:
                if tp is not None:
                    order.legs.append(self._leg(order, exit_side, None, tp.limit_price))
                if sl is not None:
                    order.legs.append(self._leg(order, exit_side, sl.stop_price, sl.limit_price))
        acct.orders[order.id] = order
        acct.client_ids[order.client_order_id] = order
        self._open.append(order)
        for leg in order.legs:
            acct.orders[leg.id] = leg
            acct.client_ids[leg.client_order_id] = leg
            self._open.append(leg)
        return order

    def _new_order(self, acct: SimAccount, intent: Order, now: datetime) -> SimOrder:
        self._nanos += 1
        order = SimOrder(
            id=seeded_uuid(self._rng),
            client_order_id=intent.client_order_id,
            account_id=acct.id,
            symbol=intent.symbol,
            asset_id=self._asset_ids[intent.symbol],
            side=str(intent.side),
            type=str(intent.type),
            time_in_force=str(intent.time_in_force),
            qty=intent.qty,
            notional=intent.notional,
            limit_price=intent.limit_price,
            stop_price=intent.stop_price,
            trail_price=intent.trail_price,
            trail_percent=intent.trail_percent,
            extended_hours=intent.extended_hours,
            order_class="" if str(intent.order_class) == "simple" else str(intent.order_class),
            position_intent=str(intent.position_intent) if intent.position_intent else None,
            created_at=now,
            nanos=self._nanos,
        )
        if order.time_in_force == "day":
            order.expires_at = self._session_close(now)
        return order

    def _leg(
        self,
        parent: SimOrder,
        side: str,
        stop: Decimal | None,
        limit: Decimal | None,
        status: str = "held",
    ) -> SimOrder:
        self._nanos += 1
        kind = (
            "stop_limit"
            if (stop is not None and limit is not None)
            else ("stop" if stop is not None else "limit")
        )
        leg = SimOrder(
            id=seeded_uuid(self._rng),
            client_order_id=seeded_uuid(self._rng),
            account_id=parent.account_id,
            symbol=parent.symbol,
            asset_id=parent.asset_id,
            side=side,
            type=kind,
            time_in_force=parent.time_in_force,
            qty=parent.qty,
            notional=None,
            limit_price=limit,
            stop_price=stop,
            trail_price=None,
            trail_percent=None,
            extended_hours=False,
            order_class=parent.order_class,
            position_intent=("sell_to_close" if side == "sell" else "buy_to_close"),
            created_at=parent.created_at,
            nanos=self._nanos,
            expires_at=parent.expires_at,
            parent=parent,
            status=status,
        )
        return leg
