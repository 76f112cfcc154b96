"""Tolerant pydantic models for Alpaca's REST replies (API.md §4.2, §5, §6, §7, §8).

Alpaca adds fields, sends ``null`` or leaves a key out for the same meaning, writes ``""`` for
"none", mixes strings and numbers for money, and grows its enums without notice. Every model
here therefore keeps unknown keys (``extra="allow"``), is frozen, defaults whatever is not
essential, types open enums as plain ``str`` and reads money through :mod:`.types` so that a
Decimal never passes through float. Parse JSON with :func:`parse_json` for the same reason.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError

from tui_trader.core.types import (
    Dec,
    OptDate,
    OptDec,
    OptStr,
    OptUtcDatetime,
    UtcDatetime,
    format_decimal,
    to_decimal,
)

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

_MAX_MESSAGE: Final = 200
"""Most characters of a server body that ever reach an :class:`ApiError` message."""


# --- lenient scalars local to the models -------------------------------------------------------


def _null_to_empty(value: Any) -> Any:
    return "" if value is None else value


def _trim_symbol(value: Any) -> Any:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else value


def _trim_opt_symbol(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


def _null_to_false(value: Any) -> Any:
    return False if value is None else value


def _decimal_or_zero(value: Any) -> Decimal:
    result = to_decimal(value)
    return Decimal(0) if result is None else result


NullStr = Annotated[str, BeforeValidator(_null_to_empty)]
"""An open-enum string: ``null`` and a missing key both read as ``""``, never rejected."""

Symbol = Annotated[str, BeforeValidator(_trim_symbol)]
"""A ticker with surrounding whitespace removed (the docs publish ``"AAPL "``)."""

OptSymbol = Annotated[str | None, BeforeValidator(_trim_opt_symbol)]
"""As :data:`Symbol`, but ``""`` (NTA events, activities) means no symbol."""

NullBool = Annotated[bool, BeforeValidator(_null_to_false)]
"""A flag where ``null`` and absence mean ``False``."""

ZeroDec = Annotated[
    Decimal,
    BeforeValidator(_decimal_or_zero),
    PlainSerializer(format_decimal, return_type=str),
]
"""A quantity where ``null``/``""``/absence mean zero (``filled_qty`` before any fill)."""


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` with exact decimals: JSON numbers become Decimal, never float."""
    return json.loads(text, parse_float=Decimal)


def _cut(text: str, limit: int = _MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class WireModel(BaseModel):
    """Base of every wire model: unknown keys kept (visible in ``model_extra``), immutable."""

    model_config = ConfigDict(extra="allow", frozen=True)


# --- orders -------------------------------------------------------------------------------------

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


# --- positions, account, activities ---------------------------------------------------------------


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


class Account(WireModel):
    """The trading account (§5.10). PDT fields are optional: Alpaca stopped sending them."""

    id: str = Field(min_length=1)
    status: NullStr = ""
    account_number: OptStr = None
    currency: OptStr = None
    crypto_status: OptStr = None
    created_at: OptUtcDatetime = None
    balance_asof: OptDate = None
    account_blocked: bool | None = None
    trading_blocked: bool | None = None
    transfers_blocked: bool | None = None
    trade_suspended_by_user: bool | None = None
    shorting_enabled: bool | None = None
    pattern_day_trader: bool | None = None
    daytrade_count: int | None = None
    daytrading_buying_power: OptDec = None
    crypto_tier: int | None = None
    options_trading_level: int | None = None
    multiplier: OptDec = None
    cash: OptDec = None
    equity: OptDec = None
    last_equity: OptDec = None
    portfolio_value: OptDec = None
    buying_power: OptDec = None
    effective_buying_power: OptDec = None
    regt_buying_power: OptDec = None
    non_marginable_buying_power: OptDec = None
    options_buying_power: OptDec = None
    long_market_value: OptDec = None
    short_market_value: OptDec = None
    position_market_value: OptDec = None
    initial_margin: OptDec = None
    maintenance_margin: OptDec = None
    last_maintenance_margin: OptDec = None
    sma: OptDec = None
    accrued_fees: OptDec = None
    intraday_adjustments: OptDec = None
    pending_reg_taf_fees: OptDec = None
    pending_transfer_in: OptDec = None
    pending_transfer_out: OptDec = None
    admin_configurations: dict[str, Any] | None = None
    user_configurations: Any = None


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


# --- errors and multi-status ----------------------------------------------------------------------

_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"\s+")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return None


def _body_excerpt(text: str) -> str:
    """A short readable excerpt of a non-JSON body: the HTML title if any, else the text."""
    match = _HTML_TITLE.search(text[:4096])
    if match is not None and match.group(1).strip():
        text = match.group(1)
    return _cut(_SPACES.sub(" ", text).strip(), 160)


class ApiError(WireModel):
    """An error reply (§6). ``code`` is often absent; context keys (``buying_power``,
    ``available``...) stay in ``model_extra``. Build it with :meth:`from_body`, which never
    raises, so an HTML page from a proxy cannot crash the caller's error path.
    """

    code: int | None = None
    message: str = ""
    http_status: int | None = None

    @classmethod
    def from_body(cls, status: int, body: bytes | str | None) -> ApiError:
        """Read any error body: JSON with or without ``code``, HTML, text, empty, garbage."""
        try:
            if body is None:
                text = ""
            elif isinstance(body, bytes | bytearray):
                text = bytes(body).decode("utf-8", errors="replace")
            else:
                text = str(body)
            if not text.strip():
                return cls(http_status=status, message=f"HTTP {status} (empty body)")
            try:
                data = parse_json(text)
            except (ValueError, RecursionError):
                return cls(
                    http_status=status,
                    message=f"HTTP {status} (non-JSON body): {_body_excerpt(text)}",
                )
            return cls.from_payload(status, data)
        except Exception:
            return cls._fallback(status)

    @classmethod
    def from_payload(cls, status: int | None, data: Any) -> ApiError:
        """Build from already-parsed JSON (e.g. the ``body`` of a 207 item). Never raises."""
        try:
            if isinstance(data, dict):
                message = data.get("message")
                if message is None or message == "":
                    message = f"HTTP {status}" if status is not None else "error"
                context = {
                    k: v
                    for k, v in data.items()
                    if k not in ("code", "message", "http_status") and not k.startswith("_")
                }
                return cls.model_validate(
                    {
                        **context,
                        "code": _int_or_none(data.get("code")),
                        "message": _cut(str(message)),
                        "http_status": status,
                    }
                )
            if isinstance(data, str) and data.strip():
                return cls(http_status=status, message=_cut(data.strip()))
            kind = "null" if data is None else type(data).__name__
            return cls(http_status=status, message=f"HTTP {status} (non-JSON body: {kind})")
        except Exception:
            return cls._fallback(status)

    @classmethod
    def _fallback(cls, status: int | None) -> ApiError:
        message = f"HTTP {status} (unreadable body)"
        return cls.model_construct(code=None, message=message, http_status=status)

    def __str__(self) -> str:
        """``HTTP 403 40310000: insufficient buying power``: what a status line shows."""
        if self.message.startswith("HTTP "):
            return self.message
        parts = [f"HTTP {self.http_status}"] if self.http_status is not None else []
        if self.code is not None:
            parts.append(str(self.code))
        prefix = " ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


def _body_as_dict(value: Any) -> Any:
    """A 207 item's body: a plain-string error body becomes ``{"message": ...}``."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        return {"message": value} if value.strip() else None
    return {"message": _cut(repr(value))}


class MultiStatusItem(WireModel):
    """One element of a 207 reply: cancel-all ``{id, status, body?}`` or close-all
    ``{symbol, status, body}`` (sometimes with ``order_id``). ``status`` is the HTTP status
    of that one operation, so a 207 may mix successes and failures.
    """

    status: int
    id: OptStr = None
    symbol: OptSymbol = None
    order_id: OptStr = None
    body: Annotated[dict[str, Any] | None, BeforeValidator(_body_as_dict)] = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def order(self) -> WireOrder | None:
        """The order in a successful item's body; None when absent or not an order."""
        if not self.ok or not self.body or "id" not in self.body:
            return None
        try:
            return WireOrder.model_validate(self.body)
        except (ValidationError, ArithmeticError):
            return None

    @property
    def error(self) -> ApiError | None:
        """The failure of a non-2xx item, with the body's context keys kept."""
        if self.ok:
            return None
        if self.body is None:
            return ApiError(http_status=self.status, message=f"HTTP {self.status}")
        return ApiError.from_payload(self.status, self.body)


def parse_multi_status(data: list[Any]) -> list[MultiStatusItem]:
    """Parse a 207 array item by item; an unreadable item becomes a failed one (status 0)
    rather than failing the whole reply, because the other items still happened.
    """
    if not isinstance(data, list):
        raise ValueError(f"a multi-status reply must be a JSON array, not {type(data).__name__}")
    items: list[MultiStatusItem] = []
    for raw in data:
        try:
            items.append(MultiStatusItem.model_validate(raw))
        except (ValidationError, ArithmeticError):
            ident = raw if isinstance(raw, dict) else {}
            items.append(
                MultiStatusItem(
                    status=0,
                    id=ident.get("id") if isinstance(ident.get("id"), str) else None,
                    symbol=ident.get("symbol") if isinstance(ident.get("symbol"), str) else None,
                    body={"message": _cut(f"unreadable multi-status item: {raw!r}")},
                )
            )
    return items


# --- market data (§7: prices are JSON numbers here) ----------------------------------------------


class _DataModel(WireModel):
    """Market-data models use readable names, filled from Alpaca's one-letter keys."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class Bar(_DataModel):
    """One OHLCV bar; ``timestamp`` is the bar's start."""

    timestamp: UtcDatetime = Field(alias="t")
    open: Dec = Field(alias="o")
    high: Dec = Field(alias="h")
    low: Dec = Field(alias="l")
    close: Dec = Field(alias="c")
    volume: ZeroDec = Field(default=Decimal(0), alias="v")
    trade_count: int | None = Field(default=None, alias="n")
    vwap: OptDec = Field(default=None, alias="vw")


class Quote(_DataModel):
    """Top of book. Sizes are Decimal because crypto sizes are fractional."""

    timestamp: UtcDatetime = Field(alias="t")
    ask_price: OptDec = Field(default=None, alias="ap")
    ask_size: OptDec = Field(default=None, alias="as")
    ask_exchange: OptStr = Field(default=None, alias="ax")
    bid_price: OptDec = Field(default=None, alias="bp")
    bid_size: OptDec = Field(default=None, alias="bs")
    bid_exchange: OptStr = Field(default=None, alias="bx")
    conditions: list[str] | None = Field(default=None, alias="c")
    tape: OptStr = Field(default=None, alias="z")


class Trade(_DataModel):
    """One print on the tape."""

    timestamp: UtcDatetime = Field(alias="t")
    price: Dec = Field(alias="p")
    size: OptDec = Field(default=None, alias="s")
    id: int | str | None = Field(default=None, alias="i")
    exchange: OptStr = Field(default=None, alias="x")
    conditions: list[str] | None = Field(default=None, alias="c")
    tape: OptStr = Field(default=None, alias="z")
    update: OptStr = Field(default=None, alias="u")


class Snapshot(_DataModel):
    """Latest state of one symbol; any part may be missing (e.g. no trade yet today)."""

    daily_bar: Bar | None = Field(default=None, alias="dailyBar")
    latest_quote: Quote | None = Field(default=None, alias="latestQuote")
    latest_trade: Trade | None = Field(default=None, alias="latestTrade")
    minute_bar: Bar | None = Field(default=None, alias="minuteBar")
    prev_daily_bar: Bar | None = Field(default=None, alias="prevDailyBar")
