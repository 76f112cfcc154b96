"""An open position as Alpaca reports it, with the short sign it sometimes drops."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from tui_trader.core.models.base import NullStr, Symbol, WireModel
from tui_trader.core.types import Dec, OptDec, OptStr


class Position(WireModel):
    """One open position (§5.7). ``qty`` is negative for a short; see :attr:`signed_qty`."""

    symbol: Symbol = Field(min_length=1)
    qty: Dec
    asset_id: OptStr = None
    exchange: NullStr = ""
    asset_class: NullStr = ""
    side: NullStr = ""
    avg_entry_price: OptDec = None
    qty_available: OptDec = None
    market_value: OptDec = None
    cost_basis: OptDec = None
    unrealized_pl: OptDec = None
    unrealized_plpc: OptDec = None
    unrealized_intraday_pl: OptDec = None
    unrealized_intraday_plpc: OptDec = None
    current_price: OptDec = None
    lastday_price: OptDec = None
    change_today: OptDec = None
    asset_marginable: bool | None = None
    swap_rate: OptDec = None
    avg_entry_swap_rate: OptDec = None
    prev_swap_rate: OptDec = None
    usd: Any = None

    @property
    def signed_qty(self) -> Decimal:
        """Quantity with the short sign applied even when a server (or APCA) drops it."""
        return -abs(self.qty) if self.side.lower() == "short" else self.qty
