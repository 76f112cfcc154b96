"""Market data (bars, quotes, trades, snapshots) under readable names.

Alpaca's market-data replies use one-letter keys and JSON numbers for prices (§7); these models
fill readable names from those keys and still read every price as Decimal.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import ConfigDict, Field

from tui_trader.core.models.base import WireModel, ZeroDec
from tui_trader.core.types import Dec, OptDec, OptStr, UtcDatetime


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
