"""Alpaca's asset classes, which one a symbol names (from its spelling alone), and what follows.

Alpaca judges an order by its asset class (US equity, crypto pair, options contract); the
rules, the emulator and the desk all need to tell them apart before any asset lookup, and the
desk's own market orders need a time in force that the class accepts.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache
from typing import Final

from tui_trader.core.orders.enums import TimeInForce


class AssetClass(StrEnum):
    """Alpaca's ``asset_class`` values for the classes it trades."""

    US_EQUITY = "us_equity"
    US_OPTION = "us_option"
    CRYPTO = "crypto"


CRYPTO_QUOTES: Final = ("USDT", "USDC", "USD", "BTC")
"""Quote currencies of Alpaca's crypto pairs (docs.alpaca.markets/docs/crypto-trading)."""

# An OCC option symbol: root (1-6, digits allowed in adjusted roots), YYMMDD, C or P, and the
# strike in thousandths over 8 digits: AAPL250117C00150000.
_OCC_OPTION = re.compile(r"[A-Z][A-Z0-9]{0,5}[0-9]{6}[CP][0-9]{8}")
# Alpaca still accepts a pair without its slash (BTCUSD for BTC/USD). US equity roots are at
# most five characters, so six or more ending in a quote currency is a pair (USD, an ETF, stays
# an equity; so does anything with a dot, like BRK.B).
_LEGACY_PAIR = re.compile(r"[A-Z0-9]{3,}(?:" + "|".join(CRYPTO_QUOTES) + ")")


@lru_cache(maxsize=4096)  # the emulator asks once per order it serialises
def asset_class_of(symbol: str) -> AssetClass:
    """The asset class a symbol names, from its spelling alone (no asset lookup).

    An asset id (a UUID) in ``symbol`` is read as an equity: telling it apart needs the broker.
    """
    text = symbol.strip().upper()
    if _OCC_OPTION.fullmatch(text):
        return AssetClass.US_OPTION
    if "/" in text or _LEGACY_PAIR.fullmatch(text):
        return AssetClass.CRYPTO
    return AssetClass.US_EQUITY


def market_time_in_force(symbol: str) -> TimeInForce:
    """The time in force for the desk's own market orders: ``day`` for equities, so nothing
    outlives the session; crypto has no ``day``, and Alpaca's own crypto market example uses
    ``gtc`` (a market order fills or is canceled long before that matters).
    """
    return TimeInForce.GTC if asset_class_of(symbol) is AssetClass.CRYPTO else TimeInForce.DAY
