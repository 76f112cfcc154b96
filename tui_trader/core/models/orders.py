"""The order as Alpaca sends it back (REST replies and the trade stream), and when it is done."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from pydantic import Field

from tui_trader.core.models.base import NullBool, NullStr, Symbol, WireModel, ZeroDec
from tui_trader.core.types import OptDec, OptStr, OptUtcDatetime

TERMINAL_ORDER_STATUSES: Final = frozenset(
    {"filled", "canceled", "expired", "rejected", "replaced"}
)
"""Statuses after which an order never changes again (APCA's list, API.md §4.3)."""


class WireOrder(WireModel):
    """An Order as the REST API and the trade stream send it (§4.2). Only ``id`` is required.

    Statuses, classes, types and sides stay plain strings because Alpaca adds values without
    notice; ``""`` stands for absent. ``commission`` may be a string or a number.
    """

    id: str = Field(min_length=1)
    client_order_id: OptStr = None
    created_at: OptUtcDatetime = None
    updated_at: OptUtcDatetime = None
    submitted_at: OptUtcDatetime = None
    filled_at: OptUtcDatetime = None
    expired_at: OptUtcDatetime = None
    canceled_at: OptUtcDatetime = None
    failed_at: OptUtcDatetime = None
    replaced_at: OptUtcDatetime = None
    expires_at: OptUtcDatetime = None
    cancel_requested_at: OptUtcDatetime = None
    replaced_by: OptStr = None
    replaces: OptStr = None
    asset_id: OptStr = None
    symbol: Symbol = ""
    asset_class: NullStr = ""
    qty: OptDec = None
    notional: OptDec = None
    filled_qty: ZeroDec = Decimal(0)
    filled_avg_price: OptDec = None
    order_class: NullStr = ""
    order_type: NullStr = ""
    type: NullStr = ""
    side: NullStr = ""
    position_intent: OptStr = None
    time_in_force: NullStr = ""
    limit_price: OptDec = None
    stop_price: OptDec = None
    trail_price: OptDec = None
    trail_percent: OptDec = None
    hwm: OptDec = None
    status: NullStr = ""
    extended_hours: NullBool = False
    legs: list[WireOrder] | None = None
    ratio_qty: OptDec = None
    source: OptStr = None
    subtag: OptStr = None
    commission: OptDec = None
    commission_type: OptStr = None
    commission_bps: OptDec = None
    swap_rate: OptDec = None
    swap_fee_bps: OptDec = None
    usd: Any = None

    @property
    def is_open(self) -> bool:
        """True until the order reaches a terminal status; unknown statuses count as open."""
        return self.status.lower() not in TERMINAL_ORDER_STATUSES

    @property
    def is_simple(self) -> bool:
        """True for a plain single order; Alpaca writes ``""`` or ``"simple"`` for it."""
        return self.order_class.lower() in ("", "simple")
