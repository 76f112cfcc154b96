"""Fills: what one execution does to the order, the position, the cash (and FINRA's TAF on
equity sells), the activity list, and the other orders of its bracket, OTO or OCO group.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from tui_trader.core.orders import AssetClass, asset_class_of
from tui_trader.sim.book import ZERO, SimAccount, SimOrder, SimPosition, price_tick, s, ts
from tui_trader.sim.clock import next_trading_day
from tui_trader.sim.exchange.lifecycle import OrderLifecycle
from tui_trader.sim.ids import seeded_uuid

TAF_PER_SHARE = Decimal("0.000166")
TAF_MAX = Decimal("8.30")


class Fills(OrderLifecycle):
    """Books an execution and releases or cancels the order's legs and siblings."""

    def _fill(self, o: SimOrder, qty: Decimal, price: Decimal, at: datetime) -> None:
        acct = self.accounts[o.account_id]
        if o.withheld_new:  # late_new fault: the held-back `new` still precedes any fill
            o.withheld_new = False
            self._emit_trade(o, "new", at)
        before = o.filled_qty
        o.filled_qty = before + qty
        prev_avg = o.filled_avg_price or ZERO
        avg = (prev_avg * before + price * qty) / o.filled_qty
        o.filled_avg_price = avg.quantize(Decimal("0.0001")).normalize()
        done = o.qty is None or o.filled_qty >= o.qty
        o.status = "filled" if done else "partially_filled"
        if done:
            o.filled_at = at
            self._drop_open(o)
        o.touch(at)
        signed = qty if o.side == "buy" else -qty
        pos = acct.positions.get(o.symbol)
        if pos is None:
            pos = SimPosition(o.symbol, o.asset_id)
            acct.positions[o.symbol] = pos
        self._apply_position(acct, pos, signed, price)
        acct.cash -= signed * price
        if o.side == "sell" and asset_class_of(o.symbol) is AssetClass.US_EQUITY:
            acct.fees_today += min(TAF_MAX, qty * TAF_PER_SHARE)  # FINRA's TAF: equities only
        execution = seeded_uuid(self._rng)
        acct.activities.append(
            {
                "id": self._activity_id(at),
                "account_id": acct.id,
                "activity_type": "FILL",
                "transaction_time": ts(at, self._nanos),
                "type": "fill" if done else "partial_fill",
                "price": s(price),
                "qty": s(qty),
                "side": o.side,
                "symbol": o.symbol,
                "leaves_qty": s((o.qty - o.filled_qty) if o.qty is not None else ZERO),
                "order_id": o.id,
                "cum_qty": s(o.filled_qty),
                "order_status": o.status,
                "_at": at,
            }
        )
        if done and o.parent is None and o.legs and o.order_class != "oco":
            for leg in o.legs:
                if leg.status == "held":
                    leg.qty = o.filled_qty
                    leg.status = "new"
                    leg.routed = True
                    leg.touch(at)
        if done and o.parent is not None:
            for sibling in o.parent.legs:
                if sibling is not o:
                    self._cancel_now(sibling, at)
            if o.parent.order_class == "oco":
                self._cancel_now(o.parent, at)
        if done and o.order_class == "oco" and o.parent is None:
            for leg in o.legs:
                self._cancel_now(leg, at)
        self._emit_trade(
            o,
            "fill" if done else "partial_fill",
            at,
            execution_id=execution,
            price=s(price),
            qty=s(qty),
            position_qty=s(pos.qty),
            settle_date=next_trading_day(at.date()).isoformat(),
        )
        if done and o.parent is None and o.legs and o.order_class != "oco":
            for leg in o.legs:
                if leg.status == "new":
                    self._emit_trade(leg, "new", at)
        if pos.qty == 0:
            del acct.positions[o.symbol]
            acct.day_cost.pop(o.symbol, None)

    def _apply_position(
        self, acct: SimAccount, pos: SimPosition, signed: Decimal, price: Decimal
    ) -> None:
        old = pos.qty
        new = old + signed
        if old == 0 or (old > 0) == (signed > 0):
            total = abs(old) + abs(signed)
            pos.avg_entry_price = (
                price_tick((pos.avg_entry_price * abs(old) + price * abs(signed)) / total)
                if total
                else ZERO
            )
            base = acct.day_cost.get(pos.symbol)
            if base is None or old == 0:
                acct.day_cost[pos.symbol] = price
            else:
                acct.day_cost[pos.symbol] = price_tick(
                    (base * abs(old) + price * abs(signed)) / total
                )
        elif new != 0 and (new > 0) != (old > 0):
            pos.avg_entry_price = price  # crossed through zero: the remainder opened here
            acct.day_cost[pos.symbol] = price
        pos.qty = new
