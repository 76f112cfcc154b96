"""The frozen desk (:mod:`tests.ui.frozen`) with a watchlist's quote state: seeded sides,
last prints and day volumes, quote ages with one symbol stale past the STALE_DATA limit, and
the header's demo pace; ``+``/``-`` change its list as the real desk would."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from tests.ui.frozen import FrozenDesk
from tui_trader.desk.snapshot import DeskSnapshot, WatchLine

AGES = {"AAPL": 0.3, "MSFT": 1.2, "NVDA": 0.1, "TSLA": 47.0, "SPY": 0.6}  # TSLA is stale
VOLUMES = {"AAPL": 3_412_800, "MSFT": 1_204_300, "NVDA": 18_950_100, "TSLA": 7_300, "SPY": 912}


class WatchDesk(FrozenDesk):
    def __init__(self) -> None:
        super().__init__()
        self.watched: list[str] = ["AAPL", "MSFT", "NVDA", "TSLA", "SPY"]

    def watch_lines(self) -> dict[str, WatchLine]:
        out = {}
        for symbol in self.watched:
            mid = self.prices[symbol]
            half = max(Decimal("0.01"), (mid * Decimal("0.0001")).quantize(Decimal("0.01")))
            out[symbol] = WatchLine(mid - half, mid + half, mid, VOLUMES.get(symbol))
        return out

    def snapshot(self) -> DeskSnapshot:
        return replace(
            super().snapshot(),
            symbols=tuple(self.watched),
            quote_ages=dict(AGES),
            watch=self.watch_lines(),
            demo_speed=60.0,
        )

    async def add_symbol(self, text: str) -> str:
        symbol = text.strip().upper()
        if symbol != "AMZN":
            raise ValueError(f"{symbol}: not an asset the broker lists")
        self.watched.append(symbol)
        return f"watching {symbol}"

    def remove_symbol(self, symbol: str) -> str:
        self.watched.remove(symbol)
        return f"removed {symbol}"
