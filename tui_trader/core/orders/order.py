"""The :class:`Order` value and its wire form: read any client's create-order body, write
the one Alpaca expects.

Reading is lenient about spelling (string or number decimals, nulls, case, unknown keys) and
strict about meaning: every body read is then run through the rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self, TypeVar

from pydantic import ValidationError

from tui_trader.core.orders.enums import OrderClass, OrderType, PositionIntent, Side, TimeInForce
from tui_trader.core.orders.errors import OrderValidationError, fail
from tui_trader.core.orders.fields import (
    OrderFields,
    StopLoss,
    TakeProfit,
    new_client_order_id,
    price_fields,
)
from tui_trader.core.orders.rules import validate_order
from tui_trader.core.types import format_decimal, to_decimal


class Order(OrderFields):
    """What the user asked for, before Alpaca assigns an id or a status.

    Constructing one checks types only; :meth:`from_request` and :meth:`OrderBuilder.build`
    also run :func:`validate_order`, so orders that come from either are known to be valid.
    """

    @classmethod
    def from_request(cls, body: Mapping[str, Any]) -> Self:
        """Read a create-order body as any client writes it, then validate it.

        APCA sends string decimals and explicit nulls with ``"order_class": "simple"``;
        alpaca-py sends JSON numbers and leaves unset keys out. Both, and unknown keys such
        as ``advanced_instructions``, must pass, because the emulator answers real clients.
        """
        if not isinstance(body, Mapping):
            fail("body", f"expected a JSON object, got {type(body).__name__}")
        order_type = body.get("type")
        if order_type is None or order_type == "":
            order_type = body.get("order_type")  # deprecated duplicate echoed in responses
        values: dict[str, Any] = {
            "symbol": _parse_symbol(body.get("symbol")),
            "qty": _parse_decimal(body.get("qty"), "qty"),
            "notional": _parse_decimal(body.get("notional"), "notional"),
            "side": require(parse_enum(Side, body.get("side"), "side"), "side"),
            "type": require(parse_enum(OrderType, order_type, "type"), "type"),
            "time_in_force": require(
                parse_enum(TimeInForce, body.get("time_in_force"), "time_in_force"),
                "time_in_force",
            ),
            "limit_price": _parse_decimal(body.get("limit_price"), "limit_price"),
            "stop_price": _parse_decimal(body.get("stop_price"), "stop_price"),
            "trail_price": _parse_decimal(body.get("trail_price"), "trail_price"),
            "trail_percent": _parse_decimal(body.get("trail_percent"), "trail_percent"),
            "extended_hours": _parse_bool(body.get("extended_hours"), "extended_hours"),
            "client_order_id": _parse_client_order_id(body.get("client_order_id")),
            "order_class": _parse_order_class(body.get("order_class")),
            "take_profit": _parse_take_profit(body.get("take_profit")),
            "stop_loss": _parse_stop_loss(body.get("stop_loss")),
            "position_intent": parse_enum(
                PositionIntent, body.get("position_intent"), "position_intent"
            ),
        }
        try:
            order = cls(**values)
        except ValidationError as exc:  # pragma: no cover - the parsers above pre-empt it
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "body"
            raise OrderValidationError(field, first["msg"]) from None
        validate_order(order)
        return order

    def to_request(self) -> dict[str, Any]:
        """The JSON body Alpaca expects: decimals as plain strings, unset options left out."""
        body: dict[str, Any] = {"symbol": self.symbol}
        if self.qty is not None:
            body["qty"] = format_decimal(self.qty)
        if self.notional is not None:
            body["notional"] = format_decimal(self.notional)
        body["side"] = self.side.value
        body["type"] = self.type.value
        body["time_in_force"] = self.time_in_force.value
        for key, value in price_fields(self).items():
            if value is not None:
                body[key] = format_decimal(value)
        if self.extended_hours:
            body["extended_hours"] = True
        body["client_order_id"] = self.client_order_id
        if self.order_class is not OrderClass.SIMPLE:
            body["order_class"] = self.order_class.value
        if self.take_profit is not None:
            body["take_profit"] = {"limit_price": format_decimal(self.take_profit.limit_price)}
        if self.stop_loss is not None:
            leg = {"stop_price": format_decimal(self.stop_loss.stop_price)}
            if self.stop_loss.limit_price is not None:
                leg["limit_price"] = format_decimal(self.stop_loss.limit_price)
            body["stop_loss"] = leg
        if self.position_intent is not None:
            body["position_intent"] = self.position_intent.value
        return body


# --- lenient parsing of request bodies -------------------------------------------------------

_E = TypeVar("_E", bound=StrEnum)
_T = TypeVar("_T")


def require(value: _T | None, field: str) -> _T:
    """``value``, or the field's "required" error when it is unset."""
    if value is None:
        fail(field, "required")
    return value


def _parse_decimal(value: Any, field: str) -> Decimal | None:
    try:
        return to_decimal(value)
    except ValueError as exc:
        raise OrderValidationError(field, str(exc)) from None


def parse_enum(enum: type[_E], value: Any, field: str) -> _E | None:
    """``None`` and ``""`` mean unset; case and surrounding blanks are forgiven."""
    if value is None:
        return None
    if isinstance(value, str):
        # str() of a (str, Enum) member from another SDK is "Cls.MEMBER"; strip() is not.
        text = value.strip().lower()
        if not text:
            return None
        try:
            return enum(text)
        except ValueError:
            pass
    allowed = ", ".join(member.value for member in enum)
    fail(field, f"{value!r} is not one of {allowed}")


def _parse_symbol(value: Any) -> str:
    if value is None:
        fail("symbol", "required")
    if not isinstance(value, str):
        fail("symbol", f"expected a string, got {type(value).__name__}")
    return value.strip().upper()


def _parse_bool(value: Any, field: str) -> bool:
    """JSON booleans, or the strings some clients send (``"True"``, ``"false"``)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "true":
            return True
        if text in ("false", ""):
            return False
    fail(field, f"{value!r} is not a boolean")


def _parse_client_order_id(value: Any) -> str:
    # Alpaca generates an id when none is sent; doing it here keeps Order total.
    if value is None or value == "":
        return new_client_order_id()
    if not isinstance(value, str):
        fail("client_order_id", f"expected a string, got {type(value).__name__}")
    return value


def _parse_order_class(value: Any) -> OrderClass:
    if isinstance(value, str) and value.strip().lower() == "mleg":
        fail("order_class", "mleg (multi-leg options) orders are not supported")
    return parse_enum(OrderClass, value, "order_class") or OrderClass.SIMPLE


def _leg_mapping(value: Any, field: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        fail(field, f"expected an object, got {type(value).__name__}")
    return value


def _parse_take_profit(value: Any) -> TakeProfit | None:
    leg = _leg_mapping(value, "take_profit")
    if leg is None:
        return None
    field = "take_profit.limit_price"
    return TakeProfit(limit_price=require(_parse_decimal(leg.get("limit_price"), field), field))


def _parse_stop_loss(value: Any) -> StopLoss | None:
    leg = _leg_mapping(value, "stop_loss")
    if leg is None:
        return None
    field = "stop_loss.stop_price"
    stop = require(_parse_decimal(leg.get("stop_price"), field), field)
    limit = _parse_decimal(leg.get("limit_price"), "stop_loss.limit_price")
    return StopLoss(stop_price=stop, limit_price=limit)
