"""The book as read: the cached snapshot, one symbol's line, the day's start and the peak.

A snapshot is built once per change (reading at 20 Hz costs nothing between changes); day
P&L counts from the day's starting equity, drawdown from the peak equity.
"""

from __future__ import annotations

from decimal import Decimal
from types import MappingProxyType
from typing import Final

from tui_trader.core.portfolio.state import LedgerState
from tui_trader.core.portfolio.symbols import symbol_key
from tui_trader.core.portfolio.views import BookSnapshot, PositionView

_ZERO: Final = Decimal(0)


class Snapshots(LedgerState):
    """:meth:`snapshot`, :meth:`position`, and the day's start (:meth:`start_day`)."""

    def start_day(self, equity: Decimal | None = None) -> None:
        """Start a new day's P&L from ``equity`` (the broker's ``last_equity``) or from now."""
        self._day_start = self._equity() if equity is None else equity
        self._day_known = True
        self._snap = None

    def forget_day(self) -> None:
        """A new trading day began and its starting equity is not known yet: until
        :meth:`start_day`, the snapshot says the account is not known."""
        self._day_known = False
        self._snap = None

    def snapshot(self) -> BookSnapshot:
        """The current book; the same object is returned until something changes."""
        if self._snap is None:
            self._snap = self._build()
        return self._snap

    def position(self, symbol: str) -> PositionView | None:
        """``symbol``'s line, flat ones included (for their realized P&L); None if never traded."""
        line = self._lines.get(symbol_key(symbol))
        return line.view() if line is not None and line.traded else None

    def _build(self) -> BookSnapshot:
        views: dict[str, PositionView] = {}
        realized = unrealized = gross = net = _ZERO
        for line in self._lines.values():
            realized += line.realized
            if line.qty:
                view = line.view()
                views[view.symbol] = view
                unrealized += view.unrealized
                gross += abs(view.market_value)
                net += view.market_value
        equity = self._cash + net
        peak = max(self._peak, equity)
        drawdown = (peak - equity) / peak if peak > 0 else _ZERO
        return BookSnapshot(
            cash=self._cash,
            equity=equity,
            positions=MappingProxyType(views),
            realized_pnl=realized,
            unrealized_pnl=unrealized,
            day_pnl=equity - self._day_start,
            day_start_equity=self._day_start,
            peak_equity=peak,
            drawdown=max(drawdown, _ZERO),
            gross_exposure=gross,
            net_exposure=net,
            leverage=gross / equity if equity > 0 else _ZERO,
            fills=self._fills,
            as_of=self._as_of,
            account_known=self._cash_known and self._day_known,
        )
