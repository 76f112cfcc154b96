"""Order intent: the body of Alpaca's ``POST /v2/orders``, checked before it leaves.

One model serves both ends of the wire. The desk builds orders with :class:`OrderBuilder` and
sends :meth:`Order.to_request`; the emulator reads any client's body with
:meth:`Order.from_request`. Both run :func:`validate_order`, so a body the desk would refuse is
one the emulator answers with 422, and the error names the field as Alpaca spells it.

The rules depend on the asset class, told from the symbol (:func:`asset_class_of`): US equities
get the full set; crypto pairs (``BTC/USD``, or the legacy ``BTCUSD``) get Alpaca's crypto rules;
options contracts (OCC symbols) are refused, because the desk's ledger and risk gate count one
unit as one share and a contract is 100 of them.

The package holds one job per module: :mod:`~tui_trader.core.orders.enums` (the body's vocabulary),
:mod:`~tui_trader.core.orders.assets` (asset classes, told from the symbol),
:mod:`~tui_trader.core.orders.errors` (:class:`OrderValidationError`),
:mod:`~tui_trader.core.orders.fields` (the fields the rules read),
:mod:`~tui_trader.core.orders.order` (:class:`Order` and its wire form),
:mod:`~tui_trader.core.orders.prices` (tick and decimal-place rules),
:mod:`~tui_trader.core.orders.rules` (:func:`validate_order`) and
:mod:`~tui_trader.core.orders.builder` (:class:`OrderBuilder` and :data:`Number`, what it takes
for a price or size).
"""

from __future__ import annotations

from tui_trader.core.orders.assets import AssetClass, asset_class_of, market_time_in_force
from tui_trader.core.orders.builder import Number, OrderBuilder
from tui_trader.core.orders.enums import OrderClass, OrderType, PositionIntent, Side, TimeInForce
from tui_trader.core.orders.errors import OrderValidationError
from tui_trader.core.orders.fields import StopLoss, TakeProfit
from tui_trader.core.orders.order import Order
from tui_trader.core.orders.rules import validate_order

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
