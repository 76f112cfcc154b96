"""Order intent: the body of Alpaca's ``POST /v2/orders``, checked before it leaves.

One model serves both ends of the wire. The desk builds orders with :class:`OrderBuilder` and
sends :meth:`Order.to_request`; the emulator reads any client's body with
:meth:`Order.from_request`. Both run :func:`validate_order`, so a body the desk would refuse is
one the emulator answers with 422, and the error names the field as Alpaca spells it.

The rules depend on the asset class, told from the symbol (:func:`asset_class_of`): US equities
get the full set; crypto pairs (``BTC/USD``, or the legacy ``BTCUSD``) get Alpaca's crypto rules;
options contracts (OCC symbols) are refused, because the desk's ledger and risk gate count one
unit as one share and a contract is 100 of them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final, NoReturn, Self, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tui_trader.core.types import Dec, OptDec, format_decimal, to_decimal

__all__ = [
    "AssetClass",
    "Number",
    "Order",
    "OrderBuilder",
    "OrderClass",
    "OrderType",
    "OrderValidationError",
    "PositionIntent",
    "Side",
    "StopLoss",
    "TakeProfit",
    "TimeInForce",
    "asset_class_of",
    "market_time_in_force",
    "validate_order",
]

Number: TypeAlias = Decimal | int | str | float
"""What callers may pass for a price or size; floats go through ``repr`` so 0.1 stays 0.1."""


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    OPG = "opg"
    CLS = "cls"
    IOC = "ioc"
    FOK = "fok"


class OrderClass(StrEnum):
    SIMPLE = "simple"
    BRACKET = "bracket"
    OCO = "oco"
    OTO = "oto"


class AssetClass(StrEnum):
    """Alpaca's ``asset_class`` values for the classes it trades."""

    US_EQUITY = "us_equity"
    US_OPTION = "us_option"
    CRYPTO = "crypto"


CRYPTO_QUOTES: Final = ("USDT", "USDC", "USD", "BTC")
"""Quote currencies of Alpaca's crypto pairs (docs.alpaca.markets/docs/crypto-trading)."""

# An OCC option symbol: root (1-6, digits allowed in adjusted roots), YYMMDD, C or P, and the
# strike in thousandths over 8 digits: AAPL250117C00150000.
_OCC_OPTION = re.compile(r"[A-Z][A-Z0-9]{0,5}[0-9]{6}[CP][0-9]{8}")
# Alpaca still accepts a pair without its slash (BTCUSD for BTC/USD). US equity roots are at
# most five characters, so six or more ending in a quote currency is a pair (USD, an ETF, stays
# an equity; so does anything with a dot, like BRK.B).
_LEGACY_PAIR = re.compile(r"[A-Z0-9]{3,}(?:" + "|".join(CRYPTO_QUOTES) + ")")


@lru_cache(maxsize=4096)  # the emulator asks once per order it serialises
def asset_class_of(symbol: str) -> AssetClass:
    """The asset class a symbol names, from its spelling alone (no asset lookup).

    An asset id (a UUID) in ``symbol`` is read as an equity: telling it apart needs the broker.
    """
    text = symbol.strip().upper()
    if _OCC_OPTION.fullmatch(text):
        return AssetClass.US_OPTION
    if "/" in text or _LEGACY_PAIR.fullmatch(text):
        return AssetClass.CRYPTO
    return AssetClass.US_EQUITY


class PositionIntent(StrEnum):
    BUY_TO_OPEN = "buy_to_open"
    BUY_TO_CLOSE = "buy_to_close"
    SELL_TO_OPEN = "sell_to_open"
    SELL_TO_CLOSE = "sell_to_close"


class OrderValidationError(ValueError):
    """A rule Alpaca would reject the order for, tied to the request field that breaks it.

    ``field`` uses the request body's spelling (``take_profit.limit_price``) so the order
    form can highlight the input and the emulator can put it in a 422 message unchanged.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[OrderValidationError], tuple[str, str]]:
        # The default pickling replays args (one string) into a two-argument __init__.
        return (type(self), (self.field, self.message))


def _fail(field: str, message: str) -> NoReturn:
    raise OrderValidationError(field, message)


def _new_client_order_id() -> str:
    return str(uuid.uuid4())


_FROZEN = ConfigDict(frozen=True, extra="forbid")


class TakeProfit(BaseModel):
    """Exit leg that books the gain: a limit order beyond the entry."""

    model_config = _FROZEN

    limit_price: Dec


class StopLoss(BaseModel):
    """Exit leg that caps the loss: a stop, or a stop-limit when ``limit_price`` is set."""

    model_config = _FROZEN

    stop_price: Dec
    limit_price: OptDec = None


class Order(BaseModel):
    """What the user asked for, before Alpaca assigns an id or a status.

    Constructing one checks types only; :meth:`from_request` and :meth:`OrderBuilder.build`
    also run :func:`validate_order`, so orders that come from either are known to be valid.
    """

    model_config = _FROZEN

    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce
    qty: OptDec = None
    notional: OptDec = None
    limit_price: OptDec = None
    stop_price: OptDec = None
    trail_price: OptDec = None
    trail_percent: OptDec = None
    extended_hours: bool = False
    client_order_id: str = Field(default_factory=_new_client_order_id)
    order_class: OrderClass = OrderClass.SIMPLE
    take_profit: TakeProfit | None = None
    stop_loss: StopLoss | None = None
    position_intent: PositionIntent | None = None

    @field_validator("symbol", mode="before")
    @classmethod
    def _normalise_symbol(cls, value: Any) -> Any:
        # "AAPL " appears in Alpaca's own samples; tickers are case-insensitive upstream.
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def asset_class(self) -> AssetClass:
        """Which of Alpaca's rule sets the order is judged by (see :func:`asset_class_of`)."""
        return asset_class_of(self.symbol)

    @classmethod
    def from_request(cls, body: Mapping[str, Any]) -> Self:
        """Read a create-order body as any client writes it, then validate it.

        APCA sends string decimals and explicit nulls with ``"order_class": "simple"``;
        alpaca-py sends JSON numbers and leaves unset keys out. Both, and unknown keys such
        as ``advanced_instructions``, must pass, because the emulator answers real clients.
        """
        if not isinstance(body, Mapping):
            _fail("body", f"expected a JSON object, got {type(body).__name__}")
        order_type = body.get("type")
        if order_type is None or order_type == "":
            order_type = body.get("order_type")  # deprecated duplicate echoed in responses
        values: dict[str, Any] = {
            "symbol": _parse_symbol(body.get("symbol")),
            "qty": _parse_decimal(body.get("qty"), "qty"),
            "notional": _parse_decimal(body.get("notional"), "notional"),
            "side": _require(_parse_enum(Side, body.get("side"), "side"), "side"),
            "type": _require(_parse_enum(OrderType, order_type, "type"), "type"),
            "time_in_force": _require(
                _parse_enum(TimeInForce, body.get("time_in_force"), "time_in_force"),
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
            "position_intent": _parse_enum(
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
        for key, value in _price_fields(self).items():
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


def _require(value: _T | None, field: str) -> _T:
    if value is None:
        _fail(field, "required")
    return value


def _parse_decimal(value: Any, field: str) -> Decimal | None:
    try:
        return to_decimal(value)
    except ValueError as exc:
        raise OrderValidationError(field, str(exc)) from None


def _parse_enum(enum: type[_E], value: Any, field: str) -> _E | None:
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
    _fail(field, f"{value!r} is not one of {allowed}")


def _parse_symbol(value: Any) -> str:
    if value is None:
        _fail("symbol", "required")
    if not isinstance(value, str):
        _fail("symbol", f"expected a string, got {type(value).__name__}")
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
    _fail(field, f"{value!r} is not a boolean")


def _parse_client_order_id(value: Any) -> str:
    # Alpaca generates an id when none is sent; doing it here keeps Order total.
    if value is None or value == "":
        return _new_client_order_id()
    if not isinstance(value, str):
        _fail("client_order_id", f"expected a string, got {type(value).__name__}")
    return value


def _parse_order_class(value: Any) -> OrderClass:
    if isinstance(value, str) and value.strip().lower() == "mleg":
        _fail("order_class", "mleg (multi-leg options) orders are not supported")
    return _parse_enum(OrderClass, value, "order_class") or OrderClass.SIMPLE


def _leg_mapping(value: Any, field: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        _fail(field, f"expected an object, got {type(value).__name__}")
    return value


def _parse_take_profit(value: Any) -> TakeProfit | None:
    leg = _leg_mapping(value, "take_profit")
    if leg is None:
        return None
    field = "take_profit.limit_price"
    return TakeProfit(limit_price=_require(_parse_decimal(leg.get("limit_price"), field), field))


def _parse_stop_loss(value: Any) -> StopLoss | None:
    leg = _leg_mapping(value, "stop_loss")
    if leg is None:
        return None
    field = "stop_loss.stop_price"
    stop = _require(_parse_decimal(leg.get("stop_price"), field), field)
    limit = _parse_decimal(leg.get("limit_price"), "stop_loss.limit_price")
    return StopLoss(stop_price=stop, limit_price=limit)


# --- validation --------------------------------------------------------------------------------

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


def _price_fields(order: Order) -> dict[str, Decimal | None]:
    return {
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "trail_price": order.trail_price,
        "trail_percent": order.trail_percent,
    }


def _decimal_places(value: Decimal) -> int:
    """Significant fractional digits: 1.50 has one. Avoids normalize(), which rounds."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= 0 or value == 0:
        return 0
    digits = value.as_tuple().digits
    places = -exponent
    for digit in reversed(digits):
        if digit != 0 or places == 0:
            break
        places -= 1
    return places


def _check_price(value: Decimal, field: str, asset: AssetClass = AssetClass.US_EQUITY) -> None:
    if value <= 0:
        _fail(field, f"must be greater than 0, got {format_decimal(value)}")
    if asset is AssetClass.CRYPTO:
        # No equity tick here: a crypto pair's increment is its own (the asset's
        # ``price_increment`` in Alpaca's Assets API, docs.alpaca.markets/docs/crypto-trading:
        # "1" for BTC/USD in their sample, far below a cent for SHIB/USD). Only the broker
        # knows it, so the broker judges it.
        return
    places = 2 if value >= 1 else 4
    if _decimal_places(value) > places:
        bound = "at or above" if value >= 1 else "below"
        _fail(
            field,
            f"{format_decimal(value)} has more than {places} decimal places"
            f" (the tick for prices {bound} $1)",
        )


def validate_order(order: Order) -> None:
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


def _check_identity(order: Order) -> None:
    if not order.symbol.strip():
        _fail("symbol", "required")
    if not _SYMBOL.fullmatch(order.symbol):
        _fail("symbol", f"{order.symbol!r}: use letters, digits, '.', '/' or '-'")
    if not 1 <= len(order.client_order_id) <= _MAX_CLIENT_ORDER_ID:
        _fail("client_order_id", f"must be 1 to {_MAX_CLIENT_ORDER_ID} characters")
    if order.asset_class is AssetClass.US_OPTION:
        # Refused rather than half-supported: the ledger, the risk gate's notional limits and
        # the emulator count one unit as one share, and a contract is 100 of them.
        _fail(
            "symbol",
            f"{order.symbol} is an options contract; options orders are not supported"
            " (tui-trader trades US equities and crypto)",
        )


def _check_asset_class(order: Order) -> None:
    """Crypto's own limits; equities are judged by the checks that follow."""
    if order.asset_class is not AssetClass.CRYPTO:
        return
    if order.type not in _CRYPTO_TYPES:
        _fail("type", f"crypto orders are market, limit or stop_limit, not {order.type.value}")
    if order.time_in_force not in _CRYPTO_TIFS:
        _fail(
            "time_in_force",
            f"crypto orders take gtc or ioc, not {order.time_in_force.value}",
        )
    if order.extended_hours:
        _fail("extended_hours", "crypto trades around the clock; extended_hours is for equities")
    if order.order_class is not OrderClass.SIMPLE:
        _fail(
            "order_class",
            f"{order.order_class.value} orders are for equities; crypto orders are simple",
        )


def _check_size(order: Order) -> None:
    qty, notional = order.qty, order.notional
    if qty is None and notional is None:
        _fail("qty", "give qty or notional")
    if qty is not None and notional is not None:
        _fail("notional", "give qty or notional, not both")
    if qty is not None:
        if qty <= 0:
            _fail("qty", f"must be greater than 0, got {format_decimal(qty)}")
        if _decimal_places(qty) > _MAX_QTY_DECIMALS:
            _fail("qty", f"at most {_MAX_QTY_DECIMALS} decimal places")
    if notional is not None:
        if notional <= 0:
            _fail("notional", f"must be greater than 0, got {format_decimal(notional)}")
        places = _MAX_NOTIONAL_DECIMALS
        if order.asset_class is AssetClass.CRYPTO:
            places = _MAX_CRYPTO_NOTIONAL_DECIMALS
        if _decimal_places(notional) > places:
            _fail("notional", f"at most {places} decimal places")


def _check_price_fields(order: Order) -> None:
    prices = _price_fields(order)
    kind = order.type.value
    required = _REQUIRED_PRICES[order.type]
    for name in required:
        # An OCO's limit leg is take_profit.limit_price; alpaca-py omits the top-level one.
        if name == "limit_price" and order.order_class is OrderClass.OCO:
            continue
        if prices[name] is None:
            _fail(name, f"required for a {kind} order")
    allowed = set(required)
    if order.type is OrderType.TRAILING_STOP:
        if order.trail_price is None and order.trail_percent is None:
            _fail("trail_price", "a trailing_stop order needs trail_price or trail_percent")
        if order.trail_price is not None and order.trail_percent is not None:
            _fail("trail_percent", "give trail_price or trail_percent, not both")
        allowed = {"trail_price", "trail_percent"}
    for name, value in prices.items():
        if value is not None and name not in allowed:
            _fail(name, f"not allowed on a {kind} order")


def _check_price_values(order: Order) -> None:
    for name, value in _price_fields(order).items():
        if value is None:
            continue
        if name == "trail_percent":
            if not 0 < value < 100:
                _fail(name, f"must be between 0 and 100, got {format_decimal(value)}")
        else:
            _check_price(value, name, order.asset_class)


def _check_size_for_type(order: Order) -> None:
    if order.asset_class is AssetClass.CRYPTO:
        return  # every crypto order may be fractional or notional (_check_asset_class)
    market_day = order.type is OrderType.MARKET and order.time_in_force is TimeInForce.DAY
    simple = order.order_class is OrderClass.SIMPLE
    if order.qty is not None and _decimal_places(order.qty) > 0:
        if not market_day:
            _fail("qty", "fractional qty only on market orders with time_in_force day")
        if not simple:
            _fail("qty", f"fractional qty not allowed on {order.order_class.value} orders")
    if order.notional is not None:
        if not market_day:
            _fail("notional", "notional only on market orders with time_in_force day")
        if not simple:
            _fail("notional", f"notional not allowed on {order.order_class.value} orders")


def _check_time_in_force(order: Order) -> None:
    tif, kind = order.time_in_force, order.type
    if kind is OrderType.TRAILING_STOP and tif not in _DAY_OR_GTC:
        _fail("time_in_force", "trailing_stop orders take day or gtc")
    if tif not in _DAY_OR_GTC and kind not in _MARKET_OR_LIMIT:
        _fail("time_in_force", f"{tif.value} only for market or limit orders")
    if tif in (TimeInForce.OPG, TimeInForce.CLS) and order.order_class is not OrderClass.SIMPLE:
        _fail("time_in_force", f"{tif.value} only on simple orders")


def _check_extended_hours(order: Order) -> None:
    if not order.extended_hours:
        return
    if order.type is not OrderType.LIMIT:
        _fail("extended_hours", "only for limit orders")
    if order.time_in_force not in _DAY_OR_GTC:
        _fail("extended_hours", "only with time_in_force day or gtc")
    if order.order_class is not OrderClass.SIMPLE:
        _fail("extended_hours", f"not allowed on {order.order_class.value} orders")


def _check_position_intent(order: Order) -> None:
    intent = order.position_intent
    if intent is not None and not intent.value.startswith(order.side.value + "_"):
        _fail("position_intent", f"{intent.value} does not fit a {order.side.value} order")


def _check_order_class(order: Order) -> None:
    tp, sl, klass = order.take_profit, order.stop_loss, order.order_class
    if klass is OrderClass.SIMPLE:
        if tp is not None:
            _fail("take_profit", "only on bracket, oco or oto orders")
        if sl is not None:
            _fail("stop_loss", "only on bracket, oco or oto orders")
        return
    if klass is OrderClass.BRACKET and order.type not in _MARKET_OR_LIMIT:
        _fail("type", "a bracket entry is market or limit")
    if order.time_in_force not in _DAY_OR_GTC:
        # Bracket, OCO and OTO alike: their exit legs rest, which ioc and fok cannot.
        _fail("time_in_force", f"{klass.value} orders take day or gtc")
    if klass is OrderClass.OCO and order.type is not OrderType.LIMIT:
        _fail("type", "oco orders are type limit")
    if klass in (OrderClass.BRACKET, OrderClass.OCO):
        if tp is None:
            _fail("take_profit", f"required for a {klass.value} order")
        if sl is None:
            _fail("stop_loss", f"required for a {klass.value} order")
    else:  # OTO
        if tp is None and sl is None:
            _fail("take_profit", "an oto order needs take_profit or stop_loss")
        if tp is not None and sl is not None:
            _fail("stop_loss", "an oto order takes take_profit or stop_loss, not both")
    _check_legs(order)


def _check_legs(order: Order) -> None:
    """Exit legs must sit on the right side of each other and of a limit entry.

    Bracket and OTO legs trade against the entry's side; an OCO is exit-only, so its own side
    is the legs' side (Alpaca's example: a sell OCO, take profit 325 above stop 250).
    """
    tp, sl = order.take_profit, order.stop_loss
    if tp is not None:
        _check_price(tp.limit_price, "take_profit.limit_price")
    if sl is not None:
        _check_price(sl.stop_price, "stop_loss.stop_price")
        if sl.limit_price is not None:
            _check_price(sl.limit_price, "stop_loss.limit_price")

    exit_side = order.side
    if order.order_class is not OrderClass.OCO:
        exit_side = Side.SELL if order.side is Side.BUY else Side.BUY
    closes_long = exit_side is Side.SELL
    up, down = ("above", "below") if closes_long else ("below", "above")

    def beyond(a: Decimal, b: Decimal) -> bool:
        """``a`` lies further in the profitable direction than ``b``."""
        return a > b if closes_long else a < b

    if sl is not None and sl.limit_price is not None and beyond(sl.limit_price, sl.stop_price):
        _fail(
            "stop_loss.limit_price",
            f"{format_decimal(sl.limit_price)} must be at or {down} stop_loss.stop_price"
            f" {format_decimal(sl.stop_price)} for a {exit_side.value} stop-limit",
        )
    if tp is not None and sl is not None and not beyond(tp.limit_price, sl.stop_price):
        _fail(
            "take_profit.limit_price",
            f"{format_decimal(tp.limit_price)} must be {up} stop_loss.stop_price"
            f" {format_decimal(sl.stop_price)}",
        )
    entry = order.limit_price if order.order_class is not OrderClass.OCO else None
    if entry is None:
        return
    if tp is not None and not beyond(tp.limit_price, entry):
        _fail(
            "take_profit.limit_price",
            f"{format_decimal(tp.limit_price)} must be {up} the entry limit_price"
            f" {format_decimal(entry)}",
        )
    if sl is not None and not beyond(entry, sl.stop_price):
        _fail(
            "stop_loss.stop_price",
            f"{format_decimal(sl.stop_price)} must be {down} the entry limit_price"
            f" {format_decimal(entry)}",
        )


def market_time_in_force(symbol: str) -> TimeInForce:
    """The time in force for the desk's own market orders: ``day`` for equities, so nothing
    outlives the session; crypto has no ``day``, and Alpaca's own crypto market example uses
    ``gtc`` (a market order fills or is canceled long before that matters).
    """
    return TimeInForce.GTC if asset_class_of(symbol) is AssetClass.CRYPTO else TimeInForce.DAY


# --- builder -----------------------------------------------------------------------------------


def _number(value: Number, field: str) -> Decimal:
    try:
        result = to_decimal(value)
    except ValueError as exc:
        raise OrderValidationError(field, str(exc)) from None
    if result is None:
        _fail(field, "a number is required")
    return result


def _optional_number(value: Number | None, field: str) -> Decimal | None:
    return None if value is None else _number(value, field)


def _require_set(value: _T | None, field: str, how: str) -> _T:
    if value is None:
        _fail(field, f"not set; call {how}")
    return value


def _enum_arg(enum: type[_E], value: _E | str, field: str) -> _E:
    return _require(_parse_enum(enum, value, field), field)


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
            _fail("stop_loss.stop_price", "stop_limit needs a stop_loss price")
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
        return replace(self, _client_order_id=_new_client_order_id() if cid is None else cid)

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
                _new_client_order_id() if self._client_order_id is None else self._client_order_id
            ),
            order_class=self._order_class,
            take_profit=self._take_profit,
            stop_loss=self._stop_loss,
            position_intent=self._position_intent,
        )
        validate_order(order)
        return order
