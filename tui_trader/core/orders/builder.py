"""Fluent order entry: :class:`OrderBuilder`, immutable, validated when built.

What the order form and scripts use to write an order in code; it refuses at :meth:`build`
what the rules refuse, and guesses no field a trader did not give.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import TypeAlias, TypeVar

from tui_trader.core.orders.enums import OrderClass, OrderType, PositionIntent, Side, TimeInForce
from tui_trader.core.orders.errors import OrderValidationError, fail
from tui_trader.core.orders.fields import StopLoss, TakeProfit, new_client_order_id
from tui_trader.core.orders.order import Order, parse_enum, require
from tui_trader.core.orders.rules import validate_order
from tui_trader.core.types import to_decimal

_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")

Number: TypeAlias = Decimal | int | str | float
"""What callers may pass for a price or size; floats go through ``repr`` so 0.1 stays 0.1."""


def _number(value: Number, field: str) -> Decimal:
    try:
        result = to_decimal(value)
    except ValueError as exc:
        raise OrderValidationError(field, str(exc)) from None
    if result is None:
        fail(field, "a number is required")
    return result


def _optional_number(value: Number | None, field: str) -> Decimal | None:
    return None if value is None else _number(value, field)


def _require_set(value: _T | None, field: str, how: str) -> _T:
    if value is None:
        fail(field, f"not set; call {how}")
    return value


def _enum_arg(enum: type[_E], value: _E | str, field: str) -> _E:
    return require(parse_enum(enum, value, field), field)


@dataclass(frozen=True, slots=True)
class OrderBuilder:
    """Fluent, immutable order entry: each call returns a new builder.

    Because nothing mutates, a partial builder is a template
    (``aapl = OrderBuilder().symbol("AAPL")``) that any number of orders can start from.
    Methods raise only for values they cannot parse; :meth:`build` checks everything else.
    """

    _symbol: str | None = None
    _side: Side | None = None
    _type: OrderType | None = None
    _time_in_force: TimeInForce | None = None
    _qty: Decimal | None = None
    _notional: Decimal | None = None
    _limit_price: Decimal | None = None
    _stop_price: Decimal | None = None
    _trail_price: Decimal | None = None
    _trail_percent: Decimal | None = None
    _extended_hours: bool = False
    _client_order_id: str | None = None
    _order_class: OrderClass = OrderClass.SIMPLE
    _take_profit: TakeProfit | None = None
    _stop_loss: StopLoss | None = None
    _position_intent: PositionIntent | None = None

    # symbol, side and size

    def symbol(self, symbol: str) -> OrderBuilder:
        return replace(self, _symbol=symbol.strip().upper())

    def buy(self, qty: Number | None = None, *, notional: Number | None = None) -> OrderBuilder:
        return self._sided(Side.BUY, qty, notional)

    def sell(self, qty: Number | None = None, *, notional: Number | None = None) -> OrderBuilder:
        return self._sided(Side.SELL, qty, notional)

    def _sided(self, side: Side, qty: Number | None, notional: Number | None) -> OrderBuilder:
        if qty is None and notional is None:
            return replace(self, _side=side)
        return replace(
            self,
            _side=side,
            _qty=_optional_number(qty, "qty"),
            _notional=_optional_number(notional, "notional"),
        )

    def qty(self, qty: Number) -> OrderBuilder:
        return replace(self, _qty=_number(qty, "qty"), _notional=None)

    def notional(self, notional: Number) -> OrderBuilder:
        return replace(self, _notional=_number(notional, "notional"), _qty=None)

    # order type: the last call wins and drops the price fields of the previous type

    def _typed(
        self,
        kind: OrderType,
        *,
        limit: Decimal | None = None,
        stop: Decimal | None = None,
        trail_price: Decimal | None = None,
        trail_percent: Decimal | None = None,
    ) -> OrderBuilder:
        return replace(
            self,
            _type=kind,
            _limit_price=limit,
            _stop_price=stop,
            _trail_price=trail_price,
            _trail_percent=trail_percent,
        )

    def market(self) -> OrderBuilder:
        return self._typed(OrderType.MARKET)

    def limit(self, price: Number) -> OrderBuilder:
        return self._typed(OrderType.LIMIT, limit=_number(price, "limit_price"))

    def stop(self, price: Number) -> OrderBuilder:
        return self._typed(OrderType.STOP, stop=_number(price, "stop_price"))

    def stop_limit(self, stop: Number, limit: Number) -> OrderBuilder:
        return self._typed(
            OrderType.STOP_LIMIT,
            stop=_number(stop, "stop_price"),
            limit=_number(limit, "limit_price"),
        )

    def trailing_stop(
        self, *, price: Number | None = None, percent: Number | None = None
    ) -> OrderBuilder:
        return self._typed(
            OrderType.TRAILING_STOP,
            trail_price=_optional_number(price, "trail_price"),
            trail_percent=_optional_number(percent, "trail_percent"),
        )

    # time in force and session

    def time_in_force(self, tif: TimeInForce | str) -> OrderBuilder:
        return replace(self, _time_in_force=_enum_arg(TimeInForce, tif, "time_in_force"))

    def day(self) -> OrderBuilder:
        return self.time_in_force(TimeInForce.DAY)

    def gtc(self) -> OrderBuilder:
        return self.time_in_force(TimeInForce.GTC)

    def ioc(self) -> OrderBuilder:
        return self.time_in_force(TimeInForce.IOC)

    def fok(self) -> OrderBuilder:
        return self.time_in_force(TimeInForce.FOK)

    def opg(self) -> OrderBuilder:
        return self.time_in_force(TimeInForce.OPG)

    def cls(self) -> OrderBuilder:
        return self.time_in_force(TimeInForce.CLS)

    def extended_hours(self, on: bool = True) -> OrderBuilder:
        return replace(self, _extended_hours=on)

    # order class and exit legs

    def _legs(
        self,
        klass: OrderClass,
        take_profit: Number | None,
        stop_loss: Number | None,
        stop_limit: Number | None,
    ) -> OrderBuilder:
        if stop_loss is None and stop_limit is not None:
            fail("stop_loss.stop_price", "stop_limit needs a stop_loss price")
        tp = None
        if take_profit is not None:
            tp = TakeProfit(limit_price=_number(take_profit, "take_profit.limit_price"))
        sl = None
        if stop_loss is not None:
            sl = StopLoss(
                stop_price=_number(stop_loss, "stop_loss.stop_price"),
                limit_price=_optional_number(stop_limit, "stop_loss.limit_price"),
            )
        return replace(self, _order_class=klass, _take_profit=tp, _stop_loss=sl)

    def bracket(
        self, *, take_profit: Number, stop_loss: Number, stop_limit: Number | None = None
    ) -> OrderBuilder:
        return self._legs(OrderClass.BRACKET, take_profit, stop_loss, stop_limit)

    def oco(
        self, *, take_profit: Number, stop_loss: Number, stop_limit: Number | None = None
    ) -> OrderBuilder:
        """An OCO is always type limit, so this sets it (keeping any limit_price already set)."""
        typed = self._typed(OrderType.LIMIT, limit=self._limit_price)
        return typed._legs(OrderClass.OCO, take_profit, stop_loss, stop_limit)

    def oto(
        self,
        *,
        take_profit: Number | None = None,
        stop_loss: Number | None = None,
        stop_limit: Number | None = None,
    ) -> OrderBuilder:
        return self._legs(OrderClass.OTO, take_profit, stop_loss, stop_limit)

    # identity and intent

    def client_order_id(self, cid: str | None = None) -> OrderBuilder:
        """Pin the id (``None`` pins a fresh one) so a retried submit stays idempotent."""
        return replace(self, _client_order_id=new_client_order_id() if cid is None else cid)

    def position_intent(self, intent: PositionIntent | str | None) -> OrderBuilder:
        value = None if intent is None else _enum_arg(PositionIntent, intent, "position_intent")
        return replace(self, _position_intent=value)

    def build(self) -> Order:
        """Validate and freeze the order; an unpinned client id is fresh on every build.

        Symbol, side, type and time in force have no defaults: a trading tool that guessed
        "market, day" for a forgotten field would send an order nobody asked for.
        """
        symbol = _require_set(self._symbol, "symbol", ".symbol(...)")
        side = _require_set(self._side, "side", ".buy(...) or .sell(...)")
        kind = _require_set(self._type, "type", ".market(), .limit(...), .stop(...), ...")
        tif = _require_set(self._time_in_force, "time_in_force", ".day(), .gtc(), ...")
        order = Order(
            symbol=symbol,
            side=side,
            type=kind,
            time_in_force=tif,
            qty=self._qty,
            notional=self._notional,
            limit_price=self._limit_price,
            stop_price=self._stop_price,
            trail_price=self._trail_price,
            trail_percent=self._trail_percent,
            extended_hours=self._extended_hours,
            client_order_id=(
                new_client_order_id() if self._client_order_id is None else self._client_order_id
            ),
            order_class=self._order_class,
            take_profit=self._take_profit,
            stop_loss=self._stop_loss,
            position_intent=self._position_intent,
        )
        validate_order(order)
        return order
