"""What the ledger books: trade events (fills, multi-leg fills, and the busts and corrections
it hands to :mod:`.corrections`), plain executions, non-trade cash and marks.

Every input is idempotent (streams replay with an overlap after a reconnect): fills per
execution id, NTA entries per event key. Past ``max_execs`` remembered executions the older
half is folded into their lines' bases, so a long session's memory stays flat.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from tui_trader.core.events import NtaEvent, TradeEvent
from tui_trader.core.fastparse import FILL_KINDS
from tui_trader.core.models import WireOrder
from tui_trader.core.portfolio.corrections import Corrections
from tui_trader.core.portfolio.lines import Exec, Line
from tui_trader.core.portfolio.symbols import symbol_key
from tui_trader.core.types import format_decimal, parse_timestamp, to_decimal


class Booking(Corrections):
    """The ledger's inputs: :meth:`apply`, :meth:`book_execution`, :meth:`apply_nta`,
    :meth:`mark`."""

    def apply(self, event: TradeEvent) -> bool:
        """Book a trade event; True if the book changed. Replays and non-trade kinds are no-ops."""
        kind = event.event
        if kind in FILL_KINDS:
            changed = self._fill(event)
        elif kind == "trade_bust":
            changed = self._bust(event)
        elif kind == "trade_correct":
            changed = self._correct(event)
        else:
            return False
        if changed:
            self._touched(event.timestamp or event.at)
        return changed

    def book_execution(
        self, key: str, symbol: str, side: str, qty: Decimal, price: Decimal, at: datetime | None
    ) -> bool:
        """Book one plain execution exactly as :meth:`apply` books a single-leg fill with
        these values (``key``: its execution id, or ``order:<id>:<filled qty>``), for fills
        read natively (:func:`tui_trader.core.fastparse.brief_fill`)."""
        changed = self._book(key, symbol, side, qty, price, at)
        if changed:
            self._touched(at)
        return changed

    def apply_nta(self, event: NtaEvent) -> bool:
        """Add a non-trade activity's ``net_amount`` to cash (fees negative, dividends
        positive), once per event key. ``pending`` entries are not booked yet: the executed
        one arrives as its own event.
        """
        amount = event.net_amount
        if amount is None or amount == 0 or (event.status or "").lower() == "pending":
            return False
        key = f"nta:{event.key}"
        if key in self._seen:
            return False
        self._seen.add(key)
        self._cash += amount
        self._touched(event.at)
        return True

    def mark(self, symbol: str, price: Decimal, at: datetime | None = None) -> None:
        """Set the price that values ``symbol`` (last trade or mid, the caller's choice)."""
        if not price.is_finite():
            raise ValueError(f"mark for {symbol} is not a finite price: {price}")
        at = parse_timestamp(at)  # a naive time is read as UTC, like every wire time
        line = self._line(symbol)
        if line.mark == price and (at is None or (self._as_of is not None and at <= self._as_of)):
            return
        line.mark = price
        self._touched(at)

    def _fill(self, event: TradeEvent) -> bool:
        order = event.order
        if event.legs:
            return self._fill_legs(event, order)
        if order is None or event.qty is None or event.price is None:
            return False
        # A fill without execution id is keyed by how much of its order it completes.
        key = event.execution_id or f"order:{order.id}:{format_decimal(order.filled_qty)}"
        return self._book(
            key, order.symbol, order.side, event.qty, event.price, event.timestamp or event.at
        )

    def _fill_legs(self, event: TradeEvent, order: WireOrder | None) -> bool:
        """Multi-leg fills: one execution per leg; the side comes from the parent order's
        child of that leg (the leg entry itself carries none).
        """
        children = (order.legs or []) if order is not None else []
        changed = False
        for index, leg in enumerate(event.legs or []):
            try:
                qty = to_decimal(leg.get("qty"))
                price = to_decimal(leg.get("price"))
                at = parse_timestamp(leg.get("timestamp")) or event.timestamp or event.at
            except ValueError:
                continue
            symbol = _text(leg.get("symbol"))
            order_id = _text(leg.get("order_id"))
            child = next((c for c in children if order_id and c.id == order_id), None)
            if child is None and symbol:
                child = next(
                    (c for c in children if symbol_key(c.symbol) == symbol_key(symbol)), None
                )
            side = _text(leg.get("side")) or (child.side if child is not None else "")
            symbol = symbol or (child.symbol if child is not None else "")
            key = _text(leg.get("execution_id")) or f"leg:{event.key}:{index}"
            if qty is not None and price is not None:
                changed |= self._book(key, symbol, side, qty, price, at)
        return changed

    def _book(
        self, key: str, symbol: str, side: str, qty: Decimal, price: Decimal, at: datetime | None
    ) -> bool:
        sign = _direction(side)
        if not sign or not symbol.strip() or not qty or key in self._execs or key in self._voided:
            return False
        fix = self._pending.pop(key, None)
        if fix is not None:  # a correction that arrived before its fill
            qty = qty if fix[0] is None else fix[0]
            price = price if fix[1] is None else fix[1]
        line = self._line(symbol)
        ex = Exec(key, line, sign, sign * abs(qty), price, at)
        self._execs[key] = ex
        if fix is not None and fix[2] is not None:
            self._execs.setdefault(fix[2], ex)
        line.execs.append(ex)
        line.traded = True
        line.book(ex)
        self._cash -= ex.qty * ex.price
        self._fills += 1
        if len(self._execs) > self._max_execs:
            self._forget_oldest()
        return True

    def _forget_oldest(self) -> None:
        """Forget the older half of the executions, folding each symbol's list up to its
        last forgotten one into the symbol's base.

        The book does not change. What is lost: a bust or correction naming a forgotten
        execution is not booked (the next reconcile with the broker repairs that), and a
        replay of one is no longer recognised here (the journal's de-duplication still is).
        Later executions of the same symbol stay live.
        """
        old = list(self._execs)[: len(self._execs) // 2]
        last: dict[Line, Exec] = {}
        for key in old:
            ex = self._execs[key]
            last[ex.line] = ex
        for line, ex in last.items():
            if ex.forgotten:
                continue
            upto = next((i for i, item in enumerate(line.execs) if item is ex), None)
            if upto is not None:
                line.fold(upto + 1)
        for key in old:
            del self._execs[key]


def _direction(side: str) -> int:
    """+1 for buys, -1 for sells (Broker's ``buy_minus``, ``sell_short``... included); 0 for
    sides whose direction cannot be told (``cross``, ``undisclosed``): those are not booked
    and a reconcile corrects the book.
    """
    text = side.strip().lower()
    if text.startswith("buy"):
        return 1
    if text.startswith("sell"):
        return -1
    return 0


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
