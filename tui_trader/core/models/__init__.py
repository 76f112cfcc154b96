"""Tolerant pydantic models for Alpaca's REST replies (API.md §4.2, §5, §6, §7, §8).

Alpaca adds fields, sends ``null`` or leaves a key out for the same meaning, writes ``""`` for
"none", mixes strings and numbers for money, and grows its enums without notice. Every model
here therefore keeps unknown keys (``extra="allow"``), is frozen, defaults whatever is not
essential, types open enums as plain ``str`` and reads money through :mod:`.types` so that a
Decimal never passes through float. Parse JSON with :func:`parse_json` for the same reason.

The package holds one module per resource: :mod:`~tui_trader.core.models.base` (the base
model, the lenient scalars, :func:`parse_json`), :mod:`~tui_trader.core.models.orders`,
:mod:`~tui_trader.core.models.positions`, :mod:`~tui_trader.core.models.account`,
:mod:`~tui_trader.core.models.activities`, :mod:`~tui_trader.core.models.errors` (error and
multi-status replies) and :mod:`~tui_trader.core.models.marketdata`.
"""

from __future__ import annotations

from tui_trader.core.models.account import Account
from tui_trader.core.models.activities import Activity
from tui_trader.core.models.base import (
    NullBool,
    NullStr,
    OptSymbol,
    Symbol,
    WireModel,
    ZeroDec,
    parse_json,
)
from tui_trader.core.models.errors import ApiError, MultiStatusItem, parse_multi_status
from tui_trader.core.models.marketdata import Bar, Quote, Snapshot, Trade
from tui_trader.core.models.orders import TERMINAL_ORDER_STATUSES, WireOrder
from tui_trader.core.models.positions import Position

__all__ = [
    "TERMINAL_ORDER_STATUSES",
    "Account",
    "Activity",
    "ApiError",
    "Bar",
    "MultiStatusItem",
    "NullBool",
    "NullStr",
    "OptSymbol",
    "Position",
    "Quote",
    "Snapshot",
    "Symbol",
    "Trade",
    "WireModel",
    "WireOrder",
    "ZeroDec",
    "parse_json",
    "parse_multi_status",
]
