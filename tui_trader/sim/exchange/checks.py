"""Pre-trade checks: an order is refused before it rests if the account lacks the shares or the
buying power for it, or if it could trade against the account's own resting order.
"""

from __future__ import annotations

from tui_trader.core.orders import AssetClass, Order, asset_class_of
from tui_trader.core.types import format_decimal
from tui_trader.sim import errors
from tui_trader.sim.book import ZERO, SimAccount, SimOrder, dec, money, s
from tui_trader.sim.exchange.accounts import AccountBooks


class PreTradeChecks(AccountBooks):
    """Funds, held-quantity and wash-trade checks, with Alpaca's 403/422 bodies."""

    def _check_funds(self, acct: SimAccount, intent: Order, replaces: SimOrder | None) -> None:
        sym = intent.symbol
        pos = acct.positions.get(sym)
        pos_qty = pos.qty if pos else ZERO
        side = str(intent.side)
        quote = self.market.quote(sym)
        est = (
            intent.limit_price
            or intent.stop_price
            or dec(quote.ask if side == "buy" else quote.bid)
        )
        qty = intent.qty if intent.qty is not None else (intent.notional or ZERO) / est
        freed = replaces.remaining if replaces is not None and replaces.qty is not None else ZERO
        reducing = (side == "sell" and pos_qty > 0) or (side == "buy" and pos_qty < 0)
        if reducing:
            held = self._held(acct, sym, side) - freed
            available = abs(pos_qty) - held
            if qty > available:
                raise errors.forbidden(
                    f"insufficient qty available for order (requested: {format_decimal(qty)}, "
                    f"available: {format_decimal(available)})",
                    available=s(available),
                    existing_qty=s(abs(pos_qty)),
                    held_for_orders=s(held),
                    symbol=sym,
                )
            return
        if side == "sell":
            if asset_class_of(sym) is AssetClass.CRYPTO:
                # Alpaca does not short crypto: a sell is bounded by the coins held.
                raise errors.forbidden(
                    f"insufficient balance for {sym} (requested: {format_decimal(qty)}, "
                    "available: 0)",
                    available="0",
                    symbol=sym,
                )
            if not acct.shorting_enabled:
                raise errors.forbidden("account is not allowed to short")
            if intent.notional is not None or qty != qty.to_integral_value():
                raise errors.forbidden("fractional orders cannot be sold short")
        cost = qty * est if intent.notional is None else intent.notional
        if replaces is not None:
            cost -= freed * (replaces.limit_price or replaces.stop_price or est)
        buying_power = self.figures(acct)["buying_power"]
        if cost > buying_power:
            raise errors.forbidden(
                "insufficient buying power",
                buying_power=s(buying_power),
                cost_basis=s(money(cost)),
            )

    def _check_wash(self, acct: SimAccount, intent: Order, replaces: SimOrder | None) -> None:
        """Refuse an order that could trade against the account's own resting order."""
        side = str(intent.side)
        for o in self._open:
            if (
                o.account_id != acct.id
                or o.symbol != intent.symbol
                or o.side == side
                or o.status == "held"
                or o.parent is not None
                or o is replaces
                or o.type not in ("limit",)
            ):
                continue
            mine = intent.limit_price if str(intent.type) in ("limit", "stop_limit") else None
            assert o.limit_price is not None
            crosses = mine is None or (
                mine >= o.limit_price if side == "buy" else mine <= o.limit_price
            )
            if crosses and str(intent.order_class) == "simple":
                raise errors.unprocessable("potential wash trade detected. use complex orders")
