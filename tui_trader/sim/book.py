"""The emulator's books: accounts, positions and orders, and their exact wire shapes.

Every serialiser here emits the full key set of API.md §4.2, §5.7 and §5.10 (nullable keys
as ``null``, decimals as strings) because strict clients (the Rust ``apca`` crate, alpaca-py)
fail on a missing key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from tui_trader.core.orders import asset_class_of
from tui_trader.core.types import format_decimal

ZERO = Decimal(0)
TERMINAL = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
CENT = Decimal("0.01")


def dec(value: float | int | str | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def price_tick(value: Decimal) -> Decimal:
    tick = CENT if value >= 1 else Decimal("0.0001")
    return value.quantize(tick, ROUND_HALF_UP)


def qty_round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.000000001"), ROUND_DOWN)


def s(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def ts(value: datetime | None, nanos: int = 0) -> str | None:
    """RFC3339 with nine fractional digits, as Alpaca stamps orders."""
    if value is None:
        return None
    return _stamp(value, nanos % 1000)


def ts6(value: datetime) -> str:
    return _stamp(value, None)


@lru_cache(maxsize=4096)
def _stamp(value: datetime, nanos: int | None) -> str:
    """An order's times recur in every event written about it, and strftime was a quarter of
    the emulator's time under a benchmark's load (py-spy): each distinct time is formatted once."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = value.replace(tzinfo=None).isoformat(timespec="microseconds")
    return f"{text}Z" if nanos is None else f"{text}{nanos:03d}Z"


@dataclass
class SimOrder:
    id: str
    client_order_id: str
    account_id: str
    symbol: str
    asset_id: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    stop_price: Decimal | None
    trail_price: Decimal | None
    trail_percent: Decimal | None
    extended_hours: bool
    order_class: str  # "" for simple, as Alpaca sends it
    position_intent: str | None
    created_at: datetime
    nanos: int = 0
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    filled_at: datetime | None = None
    expired_at: datetime | None = None
    canceled_at: datetime | None = None
    failed_at: datetime | None = None
    replaced_at: datetime | None = None
    expires_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    status: str = "accepted"
    filled_qty: Decimal = ZERO
    filled_avg_price: Decimal | None = None
    hwm: Decimal | None = None
    legs: list[SimOrder] = field(default_factory=list)
    parent: SimOrder | None = None
    triggered: bool = False
    routed: bool = False
    withheld_new: bool = False  # fault mode: `new` sent only after the cancel
    replace_with: SimOrder | None = None
    source: str | None = None
    subtag: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status not in TERMINAL

    @property
    def is_working(self) -> bool:
        """Eligible for matching now."""
        return self.routed and self.status in ("new", "partially_filled")

    @property
    def remaining(self) -> Decimal:
        if self.qty is None:
            return ZERO if self.filled_qty > 0 else Decimal(1)  # notional: one fill
        return self.qty - self.filled_qty

    def touch(self, at: datetime) -> None:
        self.updated_at = at

    def wire(self, nested_legs: bool = True) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": ts(self.created_at, self.nanos),
            "updated_at": ts(self.updated_at or self.created_at, self.nanos),
            "submitted_at": ts(self.submitted_at or self.created_at, self.nanos),
            "filled_at": ts(self.filled_at),
            "expired_at": ts(self.expired_at),
            "canceled_at": ts(self.canceled_at),
            "failed_at": ts(self.failed_at),
            "replaced_at": ts(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "asset_class": asset_class_of(self.symbol).value,
            "notional": s(self.notional),
            "qty": s(self.qty),
            "filled_qty": s(self.filled_qty),
            "filled_avg_price": s(self.filled_avg_price),
            "order_class": self.order_class,
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": self.position_intent,
            "time_in_force": self.time_in_force,
            "limit_price": s(self.limit_price),
            "stop_price": s(self.stop_price),
            "status": self.status,
            "extended_hours": self.extended_hours,
            "legs": [leg.wire() for leg in self.legs] if (self.legs and nested_legs) else None,
            "trail_percent": s(self.trail_percent),
            "trail_price": s(self.trail_price),
            "hwm": s(self.hwm),
            "expires_at": ts(self.expires_at),
            "cancel_requested_at": ts(self.cancel_requested_at),
            "commission": "0",
            "source": self.source,
            "subtag": self.subtag,
        }


@dataclass
class SimPosition:
    symbol: str
    asset_id: str
    qty: Decimal = ZERO  # signed: negative is short
    avg_entry_price: Decimal = ZERO

    def wire(
        self, price: Decimal, lastday: Decimal, held: Decimal, intraday_base: Decimal
    ) -> dict[str, Any]:
        qty = self.qty
        market_value = money(qty * price)
        cost_basis = money(qty * self.avg_entry_price)
        unrealized = market_value - cost_basis
        plpc = (unrealized / abs(cost_basis)) if cost_basis else ZERO
        intraday_cost = money(qty * intraday_base)
        intraday = market_value - intraday_cost
        intraday_pc = (intraday / abs(intraday_cost)) if intraday_cost else ZERO
        change = ((price - lastday) / lastday) if lastday else ZERO
        return {
            "asset_id": self.asset_id,
            "symbol": self.symbol,
            "exchange": "NASDAQ",
            "asset_class": asset_class_of(self.symbol).value,
            "asset_marginable": True,
            "avg_entry_price": s(self.avg_entry_price),
            "qty": s(qty),
            "qty_available": s(qty - held if qty > 0 else qty + held),
            "side": "long" if qty > 0 else "short",
            "market_value": s(market_value),
            "cost_basis": s(cost_basis),
            "unrealized_pl": s(unrealized),
            "unrealized_plpc": s(plpc.quantize(Decimal("0.0000000001"))),
            "unrealized_intraday_pl": s(intraday),
            "unrealized_intraday_plpc": s(intraday_pc.quantize(Decimal("0.0000000001"))),
            "current_price": s(price),
            "lastday_price": s(lastday),
            "change_today": s(change.quantize(Decimal("0.0000000001"))),
        }


@dataclass
class SimAccount:
    id: str
    number: str
    cash: Decimal
    created_at: datetime
    positions: dict[str, SimPosition] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)  # by id, in creation order
    client_ids: dict[str, SimOrder] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)
    last_equity: Decimal = ZERO
    status: str = "ACTIVE"
    trading_blocked: bool = False
    account_blocked: bool = False
    shorting_enabled: bool = True
    fees_today: Decimal = ZERO
    day_cost: dict[str, Decimal] = field(default_factory=dict)  # intraday basis per symbol
