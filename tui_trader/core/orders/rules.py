"""Alpaca's rules for an order, checked before it leaves (or, in the emulator, as it arrives).

One fixed sequence, :func:`validate_order`: identity (and the refusal of options contracts),
crypto's own limits, size, the price fields each type needs, their values, fractional and
notional sizes, time in force, extended hours, position intent, and the order class with its
exit legs. Equities get the full set; crypto pairs get Alpaca's crypto rules.
"""

from __future__ import annotations

import re
from decimal import Decimal

from tui_trader.core.orders.assets import AssetClass
from tui_trader.core.orders.enums import OrderClass, OrderType, Side, TimeInForce
from tui_trader.core.orders.errors import fail
from tui_trader.core.orders.fields import OrderFields, price_fields
from tui_trader.core.orders.prices import check_price, decimal_places
from tui_trader.core.types import format_decimal

_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9./-]*")
_MAX_CLIENT_ORDER_ID = 128
_MAX_QTY_DECIMALS = 9
_MAX_NOTIONAL_DECIMALS = 2

_REQUIRED_PRICES: dict[OrderType, tuple[str, ...]] = {
    OrderType.MARKET: (),
    OrderType.LIMIT: ("limit_price",),
    OrderType.STOP: ("stop_price",),
    OrderType.STOP_LIMIT: ("stop_price", "limit_price"),
    OrderType.TRAILING_STOP: (),
}
_DAY_OR_GTC = (TimeInForce.DAY, TimeInForce.GTC)
_MARKET_OR_LIMIT = (OrderType.MARKET, OrderType.LIMIT)

# Crypto (docs.alpaca.markets/docs/crypto-orders): "market, limit and stop_limit"; time in force
# "gtc, and ioc"; "fractional orders ... with either notional or qty". alpaca-py's TimeInForce
# docstring lists the same per class (equity: all six; options: day; crypto: gtc, ioc).
_CRYPTO_TYPES = (OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT)
_CRYPTO_TIFS = (TimeInForce.GTC, TimeInForce.IOC)
# Alpaca: "Both notional and qty fields can take up to 9 decimal point values". A crypto
# notional is in the quote currency, which may be BTC (ETH/BTC), so cents cannot be the limit.
_MAX_CRYPTO_NOTIONAL_DECIMALS = 9


def validate_order(order: OrderFields) -> None:
    """Raise :class:`OrderValidationError` for the first of Alpaca's rules the order breaks.

    The checks run in a fixed sequence (identity, the asset class's own rules, size, price
    fields for the type, their values, size against type, time in force, session, intent,
    order class and legs), so a given mistake always names the same field, whatever else the
    order carries.
    """
    _check_identity(order)
    _check_asset_class(order)
    _check_size(order)
    _check_price_fields(order)
    _check_price_values(order)
    _check_size_for_type(order)
    _check_time_in_force(order)
    _check_extended_hours(order)
    _check_position_intent(order)
    _check_order_class(order)


def _check_identity(order: OrderFields) -> None:
    if not order.symbol.strip():
        fail("symbol", "required")
    if not _SYMBOL.fullmatch(order.symbol):
        fail("symbol", f"{order.symbol!r}: use letters, digits, '.', '/' or '-'")
    if not 1 <= len(order.client_order_id) <= _MAX_CLIENT_ORDER_ID:
        fail("client_order_id", f"must be 1 to {_MAX_CLIENT_ORDER_ID} characters")
    if order.asset_class is AssetClass.US_OPTION:
        # Refused rather than half-supported: the ledger, the risk gate's notional limits and
        # the emulator count one unit as one share, and a contract is 100 of them.
        fail(
            "symbol",
            f"{order.symbol} is an options contract; options orders are not supported"
            " (tui-trader trades US equities and crypto)",
        )


def _check_asset_class(order: OrderFields) -> None:
    """Crypto's own limits; equities are judged by the checks that follow."""
    if order.asset_class is not AssetClass.CRYPTO:
        return
    if order.type not in _CRYPTO_TYPES:
        fail("type", f"crypto orders are market, limit or stop_limit, not {order.type.value}")
    if order.time_in_force not in _CRYPTO_TIFS:
        fail(
            "time_in_force",
            f"crypto orders take gtc or ioc, not {order.time_in_force.value}",
        )
    if order.extended_hours:
        fail("extended_hours", "crypto trades around the clock; extended_hours is for equities")
    if order.order_class is not OrderClass.SIMPLE:
        fail(
            "order_class",
            f"{order.order_class.value} orders are for equities; crypto orders are simple",
        )


def _check_size(order: OrderFields) -> None:
    qty, notional = order.qty, order.notional
    if qty is None and notional is None:
        fail("qty", "give qty or notional")
    if qty is not None and notional is not None:
        fail("notional", "give qty or notional, not both")
    if qty is not None:
        if qty <= 0:
            fail("qty", f"must be greater than 0, got {format_decimal(qty)}")
        if decimal_places(qty) > _MAX_QTY_DECIMALS:
            fail("qty", f"at most {_MAX_QTY_DECIMALS} decimal places")
    if notional is not None:
        if notional <= 0:
            fail("notional", f"must be greater than 0, got {format_decimal(notional)}")
        places = _MAX_NOTIONAL_DECIMALS
        if order.asset_class is AssetClass.CRYPTO:
            places = _MAX_CRYPTO_NOTIONAL_DECIMALS
        if decimal_places(notional) > places:
            fail("notional", f"at most {places} decimal places")


def _check_price_fields(order: OrderFields) -> None:
    prices = price_fields(order)
    kind = order.type.value
    required = _REQUIRED_PRICES[order.type]
    for name in required:
        # An OCO's limit leg is take_profit.limit_price; alpaca-py omits the top-level one.
        if name == "limit_price" and order.order_class is OrderClass.OCO:
            continue
        if prices[name] is None:
            fail(name, f"required for a {kind} order")
    allowed = set(required)
    if order.type is OrderType.TRAILING_STOP:
        if order.trail_price is None and order.trail_percent is None:
            fail("trail_price", "a trailing_stop order needs trail_price or trail_percent")
        if order.trail_price is not None and order.trail_percent is not None:
            fail("trail_percent", "give trail_price or trail_percent, not both")
        allowed = {"trail_price", "trail_percent"}
    for name, value in prices.items():
        if value is not None and name not in allowed:
            fail(name, f"not allowed on a {kind} order")


def _check_price_values(order: OrderFields) -> None:
    for name, value in price_fields(order).items():
        if value is None:
            continue
        if name == "trail_percent":
            if not 0 < value < 100:
                fail(name, f"must be between 0 and 100, got {format_decimal(value)}")
        else:
            check_price(value, name, order.asset_class)


def _check_size_for_type(order: OrderFields) -> None:
    if order.asset_class is AssetClass.CRYPTO:
        return  # every crypto order may be fractional or notional (_check_asset_class)
    market_day = order.type is OrderType.MARKET and order.time_in_force is TimeInForce.DAY
    simple = order.order_class is OrderClass.SIMPLE
    if order.qty is not None and decimal_places(order.qty) > 0:
        if not market_day:
            fail("qty", "fractional qty only on market orders with time_in_force day")
        if not simple:
            fail("qty", f"fractional qty not allowed on {order.order_class.value} orders")
    if order.notional is not None:
        if not market_day:
            fail("notional", "notional only on market orders with time_in_force day")
        if not simple:
            fail("notional", f"notional not allowed on {order.order_class.value} orders")


def _check_time_in_force(order: OrderFields) -> None:
    tif, kind = order.time_in_force, order.type
    if kind is OrderType.TRAILING_STOP and tif not in _DAY_OR_GTC:
        fail("time_in_force", "trailing_stop orders take day or gtc")
    if tif not in _DAY_OR_GTC and kind not in _MARKET_OR_LIMIT:
        fail("time_in_force", f"{tif.value} only for market or limit orders")
    if tif in (TimeInForce.OPG, TimeInForce.CLS) and order.order_class is not OrderClass.SIMPLE:
        fail("time_in_force", f"{tif.value} only on simple orders")


def _check_extended_hours(order: OrderFields) -> None:
    if not order.extended_hours:
        return
    if order.type is not OrderType.LIMIT:
        fail("extended_hours", "only for limit orders")
    if order.time_in_force not in _DAY_OR_GTC:
        fail("extended_hours", "only with time_in_force day or gtc")
    if order.order_class is not OrderClass.SIMPLE:
        fail("extended_hours", f"not allowed on {order.order_class.value} orders")


def _check_position_intent(order: OrderFields) -> None:
    intent = order.position_intent
    if intent is not None and not intent.value.startswith(order.side.value + "_"):
        fail("position_intent", f"{intent.value} does not fit a {order.side.value} order")


def _check_order_class(order: OrderFields) -> None:
    tp, sl, klass = order.take_profit, order.stop_loss, order.order_class
    if klass is OrderClass.SIMPLE:
        if tp is not None:
            fail("take_profit", "only on bracket, oco or oto orders")
        if sl is not None:
            fail("stop_loss", "only on bracket, oco or oto orders")
        return
    if klass is OrderClass.BRACKET and order.type not in _MARKET_OR_LIMIT:
        fail("type", "a bracket entry is market or limit")
    if order.time_in_force not in _DAY_OR_GTC:
        # Bracket, OCO and OTO alike: their exit legs rest, which ioc and fok cannot.
        fail("time_in_force", f"{klass.value} orders take day or gtc")
    if klass is OrderClass.OCO and order.type is not OrderType.LIMIT:
        fail("type", "oco orders are type limit")
    if klass in (OrderClass.BRACKET, OrderClass.OCO):
        if tp is None:
            fail("take_profit", f"required for a {klass.value} order")
        if sl is None:
            fail("stop_loss", f"required for a {klass.value} order")
    else:  # OTO
        if tp is None and sl is None:
            fail("take_profit", "an oto order needs take_profit or stop_loss")
        if tp is not None and sl is not None:
            fail("stop_loss", "an oto order takes take_profit or stop_loss, not both")
    _check_legs(order)


def _check_legs(order: OrderFields) -> None:
    """Exit legs must sit on the right side of each other and of a limit entry.

    Bracket and OTO legs trade against the entry's side; an OCO is exit-only, so its own side
    is the legs' side (Alpaca's example: a sell OCO, take profit 325 above stop 250).
    """
    tp, sl = order.take_profit, order.stop_loss
    if tp is not None:
        check_price(tp.limit_price, "take_profit.limit_price")
    if sl is not None:
        check_price(sl.stop_price, "stop_loss.stop_price")
        if sl.limit_price is not None:
            check_price(sl.limit_price, "stop_loss.limit_price")

    exit_side = order.side
    if order.order_class is not OrderClass.OCO:
        exit_side = Side.SELL if order.side is Side.BUY else Side.BUY
    closes_long = exit_side is Side.SELL
    up, down = ("above", "below") if closes_long else ("below", "above")

    def beyond(a: Decimal, b: Decimal) -> bool:
        """``a`` lies further in the profitable direction than ``b``."""
        return a > b if closes_long else a < b

    if sl is not None and sl.limit_price is not None and beyond(sl.limit_price, sl.stop_price):
        fail(
            "stop_loss.limit_price",
            f"{format_decimal(sl.limit_price)} must be at or {down} stop_loss.stop_price"
            f" {format_decimal(sl.stop_price)} for a {exit_side.value} stop-limit",
        )
    if tp is not None and sl is not None and not beyond(tp.limit_price, sl.stop_price):
        fail(
            "take_profit.limit_price",
            f"{format_decimal(tp.limit_price)} must be {up} stop_loss.stop_price"
            f" {format_decimal(sl.stop_price)}",
        )
    entry = order.limit_price if order.order_class is not OrderClass.OCO else None
    if entry is None:
        return
    if tp is not None and not beyond(tp.limit_price, entry):
        fail(
            "take_profit.limit_price",
            f"{format_decimal(tp.limit_price)} must be {up} the entry limit_price"
            f" {format_decimal(entry)}",
        )
    if sl is not None and not beyond(entry, sl.stop_price):
        fail(
            "stop_loss.stop_price",
            f"{format_decimal(sl.stop_price)} must be {down} the entry limit_price"
            f" {format_decimal(entry)}",
        )
