"""The fields of an order and of its exit legs, as Alpaca's create-order body names them.

:class:`OrderFields` is what the rules read; :class:`~tui_trader.core.orders.order.Order` adds
the wire form on top. The split lets the rules (which the wire form runs) type their argument
without importing the module that calls them.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tui_trader.core.orders.assets import AssetClass, asset_class_of
from tui_trader.core.orders.enums import OrderClass, OrderType, PositionIntent, Side, TimeInForce
from tui_trader.core.types import Dec, OptDec


def new_client_order_id() -> str:
    """A fresh id, as Alpaca generates one for an order sent without it."""
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


class OrderFields(BaseModel):
    """An order's fields and their types: what the rules read (no wire form here)."""

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
    client_order_id: str = Field(default_factory=new_client_order_id)
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


def price_fields(order: OrderFields) -> dict[str, Decimal | None]:
    """The four price fields by their request names, set or not (written and checked alike)."""
    return {
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "trail_price": order.trail_price,
        "trail_percent": order.trail_percent,
    }
