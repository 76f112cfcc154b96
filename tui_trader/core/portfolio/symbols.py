"""One key per symbol, whatever its spelling: the ledger's lines, its snapshot, the working
orders and the risk gate all look symbols up by it."""

from __future__ import annotations


def symbol_key(symbol: str) -> str:
    """One key for every spelling of a symbol: orders say ``BTC/USD``, positions ``BTCUSD``
    (API.md §8), and a ledger that kept both would show a phantom position.
    """
    return symbol.strip().upper().replace("/", "")
