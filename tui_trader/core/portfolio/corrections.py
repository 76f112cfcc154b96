"""Busts and corrections: an execution taken out or changed after it was booked.

Each recomputes its symbol's line by replay (:meth:`~tui_trader.core.portfolio.lines.Line.refold`)
and moves cash by its own amount. One that arrives before its fill is remembered: a bust voids
the fill to come, a correction is applied to it when it is booked.
"""

from __future__ import annotations

from tui_trader.core.events import TradeEvent
from tui_trader.core.portfolio.lines import Exec
from tui_trader.core.portfolio.state import LedgerState


class Corrections(LedgerState):
    """``trade_bust`` and ``trade_correct``, by the execution id they name."""

    def _bust(self, event: TradeEvent) -> bool:
        target = event.previous_execution_id
        if target is None:
            return False
        ex = self._execs.get(target)
        if ex is None:
            self._voided.add(target)  # its fill, if it ever comes, must not be booked
            return False
        if not ex.live or ex.forgotten:
            return False
        self._void(ex)
        return True

    def _correct(self, event: TradeEvent) -> bool:
        target = event.previous_execution_id
        if target is None or (event.qty is None and event.price is None):
            return False
        own = f"correct:{event.execution_id or event.key}"
        if own in self._seen:
            return False
        self._seen.add(own)
        ex = self._execs.get(target)
        if ex is None:
            if target not in self._voided:
                self._pending[target] = (event.qty, event.price, event.execution_id)
            return False
        if event.execution_id is not None:  # a later bust or correct may name the correction
            self._execs.setdefault(event.execution_id, ex)
        if not ex.live or ex.forgotten:
            return False
        qty = ex.qty if event.qty is None else ex.side * abs(event.qty)
        price = ex.price if event.price is None else event.price
        if qty == ex.qty and price == ex.price:
            return False
        self._cash += ex.qty * ex.price - qty * price
        ex.qty, ex.price = qty, price
        ex.line.refold()
        return True

    def _void(self, ex: Exec) -> None:
        """Take an execution out: recompute its symbol as if it had never been (reconcile
        adjustments after it stay in place)."""
        self._cash += ex.qty * ex.price
        ex.live = False
        ex.line.refold()
