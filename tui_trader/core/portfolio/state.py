"""The ledger's state, declared once, and the lookups every job of the ledger uses.

:class:`~tui_trader.core.portfolio.Portfolio` is one object whose jobs are mixins over
:class:`LedgerState` (booking, corrections, reconcile, snapshots), so each reads and changes
the same lines, cash and execution index as when the ledger was one class.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from tui_trader.core.portfolio.lines import Exec, Line, later
from tui_trader.core.portfolio.symbols import symbol_key
from tui_trader.core.portfolio.views import BookSnapshot

_ZERO: Final = Decimal(0)
MAX_EXECS: Final = 20_000
"""Executions remembered for busts, corrections and replay checks; older ones are folded
into their symbol's base so that a long session's memory stays flat."""


class LedgerState:
    """Lines per symbol, cash, the execution index and the peak: what every job shares."""

    def __init__(
        self,
        cash: Decimal | None = _ZERO,
        *,
        day_start_equity: Decimal | None = None,
        max_execs: int = MAX_EXECS,
    ) -> None:
        self._cash_known = cash is not None
        self._day_known = cash is not None or day_start_equity is not None
        cash = _ZERO if cash is None else cash
        self._cash = cash
        self._max_execs = max(2, max_execs)
        self._lines: dict[str, Line] = {}
        self._execs: dict[str, Exec] = {}  # execution key (and correction ids) -> execution
        self._voided: set[str] = set()  # busted before their fill arrived
        self._pending: dict[str, tuple[Decimal | None, Decimal | None, str | None]] = {}
        self._seen: set[str] = set()  # corrections and NTA entries already booked
        self._fills = 0
        self._as_of: datetime | None = None
        self._day_start = cash if day_start_equity is None else day_start_equity
        self._peak = cash
        self._snap: BookSnapshot | None = None

    @property
    def remembered_execs(self) -> int:
        """Executions remembered by key (corrections' ids included): at most ``max_execs``
        before the older half is folded away, so memory grows with it only until then."""
        return len(self._execs)

    def _line(self, symbol: str) -> Line:
        key = symbol_key(symbol)
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = Line(symbol.strip())
        elif "/" in symbol and "/" not in line.symbol:
            line.symbol = symbol.strip()  # BTC/USD reads better than BTCUSD
        return line

    def _touched(self, at: datetime | None) -> None:
        self._as_of = later(self._as_of, at)
        self._peak = max(self._peak, self._equity())
        self._snap = None

    def _equity(self) -> Decimal:
        return self._cash + sum((line.market_value for line in self._lines.values()), _ZERO)
