"""Tick and decimal-place rules for prices and sizes.

Equity prices keep Alpaca's tick (cents at or above $1, hundredths of a cent below); crypto
prices are left to the broker, which alone knows each pair's increment.
"""

from __future__ import annotations

from decimal import Decimal

from tui_trader.core.orders.assets import AssetClass
from tui_trader.core.orders.errors import fail
from tui_trader.core.types import format_decimal


def decimal_places(value: Decimal) -> int:
    """Significant fractional digits: 1.50 has one. Avoids normalize(), which rounds."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= 0 or value == 0:
        return 0
    digits = value.as_tuple().digits
    places = -exponent
    for digit in reversed(digits):
        if digit != 0 or places == 0:
            break
        places -= 1
    return places


def check_price(value: Decimal, field: str, asset: AssetClass = AssetClass.US_EQUITY) -> None:
    """A price is positive and, for an equity, on the tick."""
    if value <= 0:
        fail(field, f"must be greater than 0, got {format_decimal(value)}")
    if asset is AssetClass.CRYPTO:
        # No equity tick here: a crypto pair's increment is its own (the asset's
        # ``price_increment`` in Alpaca's Assets API, docs.alpaca.markets/docs/crypto-trading:
        # "1" for BTC/USD in their sample, far below a cent for SHIB/USD). Only the broker
        # knows it, so the broker judges it.
        return
    places = 2 if value >= 1 else 4
    if decimal_places(value) > places:
        bound = "at or above" if value >= 1 else "below"
        fail(
            field,
            f"{format_decimal(value)} has more than {places} decimal places"
            f" (the tick for prices {bound} $1)",
        )
