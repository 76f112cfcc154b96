"""Accounts and cash as the exchange reports them: held quantities, reserved buying power, the
account's figures (equity, margin, buying power) and the wire shapes of accounts and
positions (API.md §4.2, §5.7).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from tui_trader.sim import errors
from tui_trader.sim.book import ZERO, SimAccount, SimPosition, dec, money, price_tick, s, ts6
from tui_trader.sim.exchange.state import ExchangeState

MARGIN_MULTIPLIER = Decimal(2)


class AccountBooks(ExchangeState):
    """What an account holds and may spend, and how the REST API shows it."""

    def _held(self, acct: SimAccount, symbol: str, side: str) -> Decimal:
        """Quantity that open orders on ``side`` already claim. The exit legs of one bracket
        (or OCO) are alternatives selling the same shares, so a group counts once."""
        total = ZERO
        groups: dict[str, Decimal] = {}
        for o in self._open:
            if (
                o.account_id != acct.id
                or o.symbol != symbol
                or o.side != side
                or o.status == "held"
                or o.qty is None
            ):
                continue
            group = o.parent.id if o.parent is not None else (o.id if o.legs else None)
            if group is None:
                total += o.remaining
            else:
                groups[group] = max(groups.get(group, ZERO), o.remaining)
        return total + sum(groups.values(), ZERO)

    def _reserved(self, acct: SimAccount) -> Decimal:
        """Buying power set aside for open orders that would add exposure."""
        total = ZERO
        for o in self._open:
            if o.account_id != acct.id or o.status == "held":
                continue
            pos = acct.positions.get(o.symbol)
            pos_qty = pos.qty if pos else ZERO
            opening = (o.side == "buy" and pos_qty >= 0) or (o.side == "sell" and pos_qty <= 0)
            if not opening:
                continue
            if o.notional is not None:
                total += o.notional
            else:
                total += o.remaining * (o.limit_price or o.stop_price or self.mark(o.symbol))
        return total

    def figures(self, acct: SimAccount) -> dict[str, Decimal]:
        long_mv = ZERO
        short_mv = ZERO
        for p in acct.positions.values():
            mv = p.qty * self.mark(p.symbol)
            if p.qty > 0:
                long_mv += mv
            else:
                short_mv += mv
        equity = acct.cash + long_mv + short_mv
        initial = (long_mv - short_mv) / 2
        maintenance = long_mv * Decimal("0.25") - short_mv * Decimal("0.30")
        reserved = self._reserved(acct)
        buying_power = max(ZERO, MARGIN_MULTIPLIER * (equity - initial) - reserved)
        return {
            "cash": money(acct.cash),
            "long_market_value": money(long_mv),
            "short_market_value": money(short_mv),
            "equity": money(equity),
            "initial_margin": money(initial),
            "maintenance_margin": money(maintenance),
            "buying_power": money(buying_power),
            "non_marginable_buying_power": money(max(ZERO, acct.cash - reserved)),
            "position_market_value": money(long_mv - short_mv),
        }

    def account_wire(self, acct: SimAccount) -> dict[str, Any]:
        f = self.figures(acct)
        return {
            "account_blocked": acct.account_blocked,
            "account_number": acct.number,
            "accrued_fees": s(money(acct.fees_today)),
            "admin_configurations": {},
            "balance_asof": (self.now().date() - timedelta(days=1)).isoformat(),
            "buying_power": s(f["buying_power"]),
            "cash": s(f["cash"]),
            "created_at": ts6(acct.created_at),
            "crypto_status": "INACTIVE",
            "crypto_tier": 0,
            "currency": "USD",
            "daytrade_count": 0,
            "effective_buying_power": s(f["buying_power"]),
            "equity": s(f["equity"]),
            "id": acct.id,
            "initial_margin": s(f["initial_margin"]),
            "intraday_adjustments": "0",
            "last_equity": s(acct.last_equity),
            "last_maintenance_margin": s(f["maintenance_margin"]),
            "long_market_value": s(f["long_market_value"]),
            "maintenance_margin": s(f["maintenance_margin"]),
            "multiplier": s(MARGIN_MULTIPLIER),
            "non_marginable_buying_power": s(f["non_marginable_buying_power"]),
            "options_buying_power": s(f["non_marginable_buying_power"]),
            "options_trading_level": 0,
            "pattern_day_trader": False,
            "pending_reg_taf_fees": s(money(acct.fees_today)),
            "pending_transfer_in": "0",
            "portfolio_value": s(f["equity"]),
            "position_market_value": s(f["position_market_value"]),
            "regt_buying_power": s(f["buying_power"]),
            "short_market_value": s(f["short_market_value"]),
            "shorting_enabled": acct.shorting_enabled,
            "sma": s(f["equity"]),
            "status": acct.status,
            "trade_suspended_by_user": False,
            "trading_blocked": acct.trading_blocked,
            "transfers_blocked": False,
            "user_configurations": None,
        }

    def position_wire(self, acct: SimAccount, pos: SimPosition) -> dict[str, Any]:
        price = self.mark(pos.symbol)
        lastday = price_tick(dec(self.market.prev_close(pos.symbol) or float(price)))
        held = self._held(acct, pos.symbol, "sell" if pos.qty > 0 else "buy")
        base = acct.day_cost.get(pos.symbol, lastday)
        return pos.wire(price, lastday, held, base)

    def positions_wire(self, acct: SimAccount) -> list[dict[str, Any]]:
        return [self.position_wire(acct, p) for p in acct.positions.values() if p.qty != 0]

    def position(self, acct: SimAccount, symbol_or_asset_id: str) -> SimPosition:
        sym = self.resolve_symbol(symbol_or_asset_id)
        pos = acct.positions.get(sym) if sym else None
        if pos is None or pos.qty == 0:
            raise errors.not_found("position does not exist")
        return pos
