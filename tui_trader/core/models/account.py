"""The trading account as Alpaca reports it: status, flags, cash, equity and buying power."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tui_trader.core.models.base import NullStr, WireModel
from tui_trader.core.types import OptDate, OptDec, OptStr, OptUtcDatetime


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
