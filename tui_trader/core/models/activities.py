"""Account activities: fills and every non-trade entry, in one lenient model."""

from __future__ import annotations

from pydantic import Field

from tui_trader.core.models.base import NullStr, OptSymbol, WireModel
from tui_trader.core.types import OptDate, OptDec, OptStr, OptUtcDatetime


class Activity(WireModel):
    """One account activity (§5.11): a ``FILL`` or any non-trade entry (``CSD``, ``FEE``...).

    One lenient model for both kinds, since the endpoint mixes them in one page and the
    ``activity_type`` set is open. ``id`` is opaque (``"2022...500::092cd749-..."``) and is
    the page token.
    """

    id: str = Field(min_length=1)
    account_id: OptStr = None
    activity_type: NullStr = ""
    transaction_time: OptUtcDatetime = None
    type: OptStr = None
    price: OptDec = None
    qty: OptDec = None
    side: OptStr = None
    symbol: OptSymbol = None
    leaves_qty: OptDec = None
    cum_qty: OptDec = None
    order_id: OptStr = None
    order_status: OptStr = None
    date: OptDate = None
    net_amount: OptDec = None
    per_share_amount: OptDec = None
    description: OptStr = None
    status: OptStr = None

    @property
    def is_fill(self) -> bool:
        """True for a trade activity (``FILL``, with ``type`` fill or partial_fill)."""
        return self.activity_type.upper() == "FILL"
