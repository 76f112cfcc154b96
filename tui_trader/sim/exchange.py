"""The paper exchange: validates orders, matches them against the simulated market, keeps the
books and emits every trade, account and non-trade event on its streams.

It is plain synchronous code driven by :meth:`Exchange.tick`; the HTTP server calls into it
from one event loop, so no locking is needed. REST-facing methods raise
:class:`~tui_trader.sim.errors.ApiFailure` with Alpaca's status codes and bodies.

Lifecycles (API.md §4.1): a new order answers ``accepted`` over REST; on the next tick it
emits ``pending_new`` and ``new``, then ``partial_fill``/``fill`` as liquidity allows. A cancel
answers 204 and ``canceled`` follows on the next tick; a replace emits ``replaced`` for the old
order and ``new`` for its successor. Day orders still open at the close get ``expired``;
``opg`` orders fill at the next open, ``cls`` orders at the close.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tui_trader.core.orders import (
    AssetClass,
    Order,
    OrderValidationError,
    asset_class_of,
    market_time_in_force,
)
from tui_trader.core.types import format_decimal, parse_timestamp
from tui_trader.sim import errors
from tui_trader.sim.book import (
    ZERO,
    SimAccount,
    SimOrder,
    SimPosition,
    dec,
    money,
    price_tick,
    qty_round,
    s,
    ts,
    ts6,
)
from tui_trader.sim.clock import SESSION_SECONDS, SimClock, next_trading_day, session_open
from tui_trader.sim.eventlog import EventLog
from tui_trader.sim.ids import UlidFactory, normalise_uuid, seeded_uuid
from tui_trader.sim.market import MarketModel

TAF_PER_SHARE = Decimal("0.000166")
TAF_MAX = Decimal("8.30")
MARGIN_MULTIPLIER = Decimal(2)
STREAMS = ("trades", "accounts", "nta")


@dataclass
class ExchangeOptions:
    starting_cash: Decimal = Decimal(100_000)
    accounts: int = 1
    slippage_bps: float = 1.0
    emit_pending_new: bool = True
    dividend_probability: float = 0.02  # per symbol held, per session close
    retention: int | None = None
    late_new: bool = False  # fault: hold `new` back until a cancel, then send it after


class Exchange:
    def __init__(
        self,
        market: MarketModel,
        clock: SimClock,
        seed: int,
        options: ExchangeOptions | None = None,
    ) -> None:
        self.market = market
        self.clock = clock
        self.options = options or ExchangeOptions()
        self._rng = random.Random(seed)
        self.ulids = UlidFactory(random.Random(seed + 1))
        self.logs: dict[str, EventLog] = {
            "trades": EventLog("trades", 10_000_001, self.options.retention),
            "accounts": EventLog("accounts", 12_000_001, self.options.retention),
            "nta": EventLog("nta", 14_000_001, self.options.retention),
        }
        self._nanos = 0
        self._asset_ids = {sym: seeded_uuid(self._rng) for sym in market.symbols}
        self._session = clock.session_time(clock.trading_seconds()).session
        self._market_seconds = int(clock.trading_seconds())
        now = clock.now()
        self.accounts: dict[str, SimAccount] = {}
        for i in range(max(1, self.options.accounts)):
            acct = SimAccount(
                id=seeded_uuid(self._rng),
                number=f"PA{self._rng.randrange(10**9, 10**10)}",
                cash=self.options.starting_cash,
                created_at=now - timedelta(days=30 + i),
            )
            acct.last_equity = acct.cash
            self.accounts[acct.id] = acct
        self._open: list[SimOrder] = []  # open orders of every account, oldest first
        self.halted: set[str] = set()  # symbols the venue will not trade (a trading halt)
        self._pending_cancels: list[SimOrder] = []

    # ----------------------------------------------------------------------------- lookups
    @property
    def default_account(self) -> SimAccount:
        return next(iter(self.accounts.values()))

    def account(self, account_id: str) -> SimAccount:
        key = normalise_uuid(account_id) or account_id
        acct = self.accounts.get(key)
        if acct is None:
            raise errors.not_found("account not found")
        return acct

    def now(self) -> datetime:
        return self.clock.now()

    def asset_id(self, symbol: str) -> str:
        return self._asset_ids[symbol]

    def resolve_symbol(self, symbol_or_asset_id: str) -> str | None:
        text = symbol_or_asset_id.strip().upper()
        if self.market.has(text):
            return text
        if asset_class_of(text) is AssetClass.CRYPTO:  # BTCUSD names BTC/USD, as at Alpaca
            flat = text.replace("/", "")
            for sym in self.market.symbols:
                if sym.replace("/", "") == flat:
                    return sym
        asset = normalise_uuid(symbol_or_asset_id)
        for sym, aid in self._asset_ids.items():
            if aid == asset:
                return sym
        return None

    def find_order(self, acct: SimAccount, order_id: str) -> SimOrder:
        key = normalise_uuid(order_id)
        if key is None:
            raise errors.validation("order_id is missing")
        order = acct.orders.get(key)
        if order is None:
            raise errors.not_found("order not found")
        return order

    def find_by_client_id(self, acct: SimAccount, client_order_id: str) -> SimOrder:
        order = acct.client_ids.get(client_order_id)
        if order is None:
            raise errors.not_found("order not found")
        return order

    def mark(self, symbol: str) -> Decimal:
        return price_tick(dec(self.market.last_trade(symbol)[0]))

    # ---------------------------------------------------------------------- account figures
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

    # ------------------------------------------------------------------------------ orders
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

    def list_orders(
        self,
        acct: SimAccount,
        status: str = "open",
        limit: int = 50,
        after: datetime | None = None,
        until: datetime | None = None,
        direction: str = "desc",
        nested: bool = False,
        symbols: Iterable[str] | None = None,
        side: str | None = None,
    ) -> list[dict[str, Any]]:
        wanted = {x.strip().upper() for x in symbols} if symbols else None
        out: list[SimOrder] = []
        for o in acct.orders.values():
            if nested and o.parent is not None:
                continue
            if status == "open" and not o.is_open:
                continue
            if status == "closed" and o.is_open:
                continue
            if after is not None and o.created_at <= after:
                continue
            if until is not None and o.created_at >= until:
                continue
            if wanted is not None and o.symbol not in wanted:
                continue
            if side is not None and o.side != side:
                continue
            out.append(o)
        out.sort(key=lambda o: (o.created_at, o.nanos), reverse=(direction != "asc"))
        return [o.wire(nested_legs=nested) for o in out[:limit]]

    # ----------------------------------------------------------------------------- activity
    def activities(
        self,
        accounts: Iterable[SimAccount],
        types: set[str] | None,
        category: str | None,
        on_date: date | None,
        after: datetime | None,
        until: datetime | None,
        direction: str,
        page_size: int | None,
        page_token: str | None,
        with_account_id: bool,
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for acct in accounts:
            for act in acct.activities:
                kind = act["activity_type"]
                if types is not None and kind not in types:
                    continue
                if category == "trade_activity" and kind != "FILL":
                    continue
                if category == "non_trade_activity" and kind == "FILL":
                    continue
                when: datetime = act["_at"]
                if on_date is not None and when.date() != on_date:
                    continue
                if after is not None and when <= after:
                    continue
                if until is not None and when >= until:
                    continue
                items.append(act)
        items.sort(key=lambda a: a["id"], reverse=(direction != "asc"))
        if page_token:
            if direction == "asc":
                items = [a for a in items if a["id"] > page_token]
            else:
                items = [a for a in items if a["id"] < page_token]
        if on_date is None:
            items = items[: min(page_size or 100, 100)]
        elif page_size:
            items = items[:page_size]
        out = []
        for act in items:
            wire = {k: v for k, v in act.items() if not k.startswith("_")}
            if not with_account_id:
                wire.pop("account_id", None)
            out.append(wire)
        return out

    def _activity_id(self, at: datetime) -> str:
        stamp = at.astimezone(UTC)
        return f"{stamp:%Y%m%d%H%M%S}{stamp.microsecond // 1000:03d}::{seeded_uuid(self._rng)}"

    # ------------------------------------------------------------------------------- events
    def _emit_trade(self, order: SimOrder, event: str, at: datetime, **extra: Any) -> None:
        root = order
        ulid = self.ulids.new(at)
        payload: dict[str, Any] = {
            "account_id": order.account_id,
            "at": ts6(at),
            "event": event,
            "event_id": ulid,
            "execution_id": extra.pop("execution_id", None) or seeded_uuid(self._rng),
            "order": root.wire(),
        }
        payload.update(extra)
        payload["timestamp"] = ts(at, self._nanos)
        self.logs["trades"].append(ulid, at, payload)

    def emit_account_status(self, acct: SimAccount, at: datetime, **changes: Any) -> None:
        log = self.logs["accounts"]
        ulid = self.ulids.new(at)
        payload = {
            "account_id": acct.id,
            "account_number": acct.number,
            "at": ts6(at),
            "event_id": log.next_legacy,
            "event_ulid": ulid,
            **changes,
        }
        log.append(ulid, at, payload)

    def emit_nta(
        self,
        acct: SimAccount,
        at: datetime,
        entry_type: str,
        net_amount: Decimal,
        description: str,
        symbol: str = "",
        qty: Decimal = ZERO,
        per_share: Decimal | None = None,
        sub_type: str | None = None,
    ) -> None:
        log = self.logs["nta"]
        ulid = self.ulids.new(at)
        activity_id = seeded_uuid(self._rng)
        settle = next_trading_day(at.date()).isoformat()
        payload: dict[str, Any] = {
            "account_id": acct.id,
            "at": ts6(at),
            "description": description,
            "entry_type": entry_type,
            "event_id": log.next_legacy,
            "event_ulid": ulid,
            "id": activity_id,
            "net_amount": float(net_amount),
            "per_share_amount": None if per_share is None else float(per_share),
            "price": "0",
            "qty": float(qty),
            "settle_date": settle,
            "status": "executed",
            "symbol": symbol,
            "system_date": at.date().isoformat(),
        }
        if sub_type:
            payload["entry_sub_type"] = sub_type
        log.append(ulid, at, payload)
        act: dict[str, Any] = {
            "id": self._activity_id(at),
            "account_id": acct.id,
            "activity_type": entry_type,
            "date": at.date().isoformat(),
            "net_amount": s(net_amount),
            "description": description,
            "status": "executed",
            "symbol": symbol or None,
            "qty": s(qty) if qty else None,
            "per_share_amount": s(per_share),
            "_at": at,
        }
        acct.activities.append(act)
        acct.cash += net_amount

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

    # --------------------------------------------------------------------------------- time
    def tick(self) -> None:
        """Advance the market to the clock and process everything that is due."""
        target = self.clock.trading_seconds()
        while True:
            session_end = (self._session + 1) * SESSION_SECONDS
            upto = min(int(target), session_end)
            if upto > self._market_seconds:
                at = self.clock.to_datetime(min(upto, session_end - 0.001))
                self.market.step(upto - self._market_seconds, at)
                self._market_seconds = upto
                self._work(at)
            if target < session_end:
                break
            self._close_session(self.clock.to_datetime(session_end - 0.001))
            self._session += 1
            opened = session_open(self.clock.session_day(self._session))
            self.market.session_break(opened)
            self._open_session(opened)
        self._work(self.now())

    def _session_close(self, at: datetime) -> datetime:
        st = self.clock.session_time()
        return session_open(self.clock.session_day(st.session)) + timedelta(seconds=SESSION_SECONDS)

    def _work(self, at: datetime) -> None:
        self._route(at)
        self._process_cancels(at)
        self._process_replaces(at)
        self._match(at, phase="continuous")

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

    def _match(self, at: datetime, phase: str) -> None:
        avail_ask: dict[str, int] = {}
        avail_bid: dict[str, int] = {}
        for o in list(self._open):
            if not o.is_working or o.status == "held":
                continue
            tif = o.time_in_force
            if (tif == "opg" and phase != "open") or (tif == "cls" and phase != "close"):
                continue
            quote = self.market.quote(o.symbol)
            bid, ask = dec(quote.bid), dec(quote.ask)
            avail_ask.setdefault(o.symbol, quote.ask_size)
            avail_bid.setdefault(o.symbol, quote.bid_size)
            buy = o.side == "buy"
            executable = self._executable(o, bid, ask)
            if executable is None:
                if tif in ("ioc", "fok"):
                    self._cancel_now(o, at)
                continue
            book = avail_ask if buy else avail_bid
            liquidity = Decimal(book[o.symbol])
            if phase != "continuous":
                liquidity = Decimal(10**9)  # auctions fill the whole size
            want = o.remaining if o.qty is not None else None
            if want is not None:
                size = min(want, liquidity)
                if tif == "fok" and size < want:
                    self._cancel_now(o, at)
                    continue
                if size <= 0:
                    if tif == "ioc":
                        self._cancel_now(o, at)
                    continue
            else:
                size = None
            price = self._fill_price(o, executable, size, liquidity)
            if size is None:
                assert o.notional is not None
                size = qty_round(o.notional / price)
            book[o.symbol] = max(0, book[o.symbol] - int(size))
            self._fill(o, size, price, at)
            if tif == "ioc" and o.is_open:
                self._cancel_now(o, at)

    def _executable(self, o: SimOrder, bid: Decimal, ask: Decimal) -> Decimal | None:
        """The price this order can trade at now, or None if it cannot trade."""
        buy = o.side == "buy"
        touch = ask if buy else bid
        if o.type == "trailing_stop":
            ref = bid if not buy else ask
            if o.hwm is None:
                o.hwm = ref
            o.hwm = max(o.hwm, ref) if not buy else min(o.hwm, ref)
            if o.trail_price is not None:
                stop = o.hwm - o.trail_price if not buy else o.hwm + o.trail_price
            else:
                pct = (o.trail_percent or ZERO) / 100
                stop = o.hwm * (1 - pct) if not buy else o.hwm * (1 + pct)
            triggered = (ref <= stop) if not buy else (ref >= stop)
            return touch if triggered else None
        if o.type in ("stop", "stop_limit") and not o.triggered:
            assert o.stop_price is not None
            last = dec(self.market.last_trade(o.symbol)[0])
            hit = (max(last, ask) >= o.stop_price) if buy else (min(last, bid) <= o.stop_price)
            if not hit:
                return None
            o.triggered = True
        if o.type in ("limit", "stop_limit"):
            assert o.limit_price is not None
            if buy and ask > o.limit_price:
                return None
            if not buy and bid < o.limit_price:
                return None
        return touch

    def _fill_price(
        self, o: SimOrder, touch: Decimal, size: Decimal | None, liquidity: Decimal
    ) -> Decimal:
        impact = Decimal(str(self.options.slippage_bps)) / Decimal(10_000)
        if size is not None and liquidity > 0:
            impact *= min(Decimal(4), size / liquidity)
        else:
            impact *= Decimal("0.5")
        price = touch * (1 + impact) if o.side == "buy" else touch * (1 - impact)
        if o.limit_price is not None and o.type in ("limit", "stop_limit"):
            price = min(price, o.limit_price) if o.side == "buy" else max(price, o.limit_price)
        return price_tick(price)

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

    # ----------------------------------------------------------------------- session events
    def _close_session(self, at: datetime) -> None:
        self._match(at, phase="close")
        for o in list(self._open):
            if o.time_in_force in ("day", "cls") and o.is_open:
                o.status = "expired"
                o.expired_at = at
                o.touch(at)
                self._drop_open(o)
                self._emit_trade(o, "expired", at)
        for acct in self.accounts.values():
            if acct.fees_today > 0:
                fee = max(Decimal("0.01"), money(acct.fees_today))
                self.emit_nta(
                    acct,
                    at,
                    "FEE",
                    -fee,
                    f"TAF fee for the session of {at.date().isoformat()}",
                    sub_type="TAF",
                )
                acct.fees_today = ZERO
            for pos in list(acct.positions.values()):
                if self._rng.random() < self.options.dividend_probability:
                    per_share = (
                        self.mark(pos.symbol)
                        * Decimal(str(round(self._rng.uniform(0.001, 0.004), 6)))
                    ).quantize(Decimal("0.0001"), ROUND_DOWN)
                    amount = money(per_share * pos.qty)
                    if amount != 0:
                        self.emit_nta(
                            acct,
                            at,
                            "DIV",
                            amount,
                            f"Cash DIV @ {format_decimal(per_share)}, Pos QTY: "
                            f"{format_decimal(pos.qty)}, Rec Date: {at.date().isoformat()}",
                            symbol=pos.symbol,
                            qty=pos.qty,
                            per_share=per_share,
                        )
            acct.last_equity = self.figures(acct)["equity"]
            acct.day_cost.clear()

    def _open_session(self, at: datetime) -> None:
        close = at + timedelta(seconds=SESSION_SECONDS)
        for o in self._open:
            if o.time_in_force == "day":
                o.expires_at = close
        self._match(at, phase="open")


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


def parse_query_time(value: str | None, name: str) -> datetime | None:
    """A date or RFC3339 time from a query string; '+' may arrive decoded as a space."""
    if value is None or value == "":
        return None
    text = value.strip()
    if len(text) > 10 and text[-6] == " " and text[-5:-3].isdigit():
        text = text[:-6] + "+" + text[-5:]
    try:
        parsed = parse_timestamp(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise errors.bad_request(f"invalid {name}: {value!r}")
    return parsed
