"""What the desk tells the engine: the book and market changed, time passed, an order went
out or came back, the user paused, resumed or reset a breaker.

Each input re-evaluates what it touches. A reset clears a trip by hand only when its value is
back within the limit (the reject streak and the per-order notional check always clear), and
otherwise says why in ``RESET_REFUSED: key=value`` words.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from tui_trader.core.risk.book import Book
from tui_trader.core.risk.evaluation import Evaluation
from tui_trader.core.risk.states import PER_ORDER, BreakerName, TradingState
from tui_trader.core.risk.text import money, num
from tui_trader.core.risk.verdict import ALLOWED, Verdict

_ZERO = Decimal(0)


class RiskInputs(Evaluation):
    """The engine's inputs and the user's commands (pause, resume, reset)."""

    def update(
        self,
        book: Book,
        *,
        now: datetime,
        market_data_age: float | None,
        stream_up: bool,
        reconciling: bool,
    ) -> None:
        """Re-evaluate the state breakers. A book that cannot be read does not raise: it halts
        new orders (fail closed) until a later update or check reads it again."""
        try:
            self._eval_book(book, now)
        except Exception as exc:
            self._fault = type(exc).__name__
        self._eval_market(market_data_age, stream_up=stream_up, reconciling=reconciling, now=now)
        self._tick(now)

    def tick(self, now: datetime) -> None:
        """Let time-based breakers move (the rate window slides, cooldowns end)."""
        self._tick(now)

    def record_order(self, now: datetime) -> None:
        """An order went out: ORDER_RATE trips when the last minute holds the limit."""
        self._orders.append(now)
        self._tick(now)

    def record_reject(self, now: datetime) -> None:
        """The broker refused an order: REJECT_STREAK trips after the limit in a row."""
        self._tick(now)
        self._rejects += 1
        self._tick(now)

    def record_accept(self, now: datetime) -> None:
        """The broker took an order: the streak ends, and a tripped REJECT_STREAK clears,
        since the broker demonstrably accepts orders again."""
        self._rejects = 0
        self._tick(now)

    def pause(self) -> None:
        """The user's pause: REDUCING until :meth:`resume`."""
        self._paused = True

    def resume(self) -> TradingState:
        """Lift the user's pause. A latched breaker still halts: it needs :meth:`reset`."""
        self._paused = False
        return self.state

    def reset(self, name: BreakerName | str, now: datetime) -> Verdict:
        """Clear a tripped breaker by hand, only if its value (as of the last update or check)
        is back within the limit; ORDER_RATE may be cleared this way before its cooldown ends.

        REJECT_STREAK always clears (the streak starts again from zero); SYMBOL_NOTIONAL only
        records the last check, so it clears too. A refusal says why in ``CODE: key=value``.
        """
        try:
            key = BreakerName(name)
        except ValueError:
            return Verdict.deny("RESET_REFUSED", breaker=name, reason="unknown")
        self._tick(now)
        breaker = self._breakers[key]
        if not breaker.tripped:
            return ALLOWED
        if key is BreakerName.REJECT_STREAK:
            self._rejects = 0
            breaker = replace(breaker, value=_ZERO)
        elif key not in PER_ORDER and self._over(breaker):
            return Verdict.deny(
                "RESET_REFUSED",
                breaker=key,
                value=money(breaker.value),
                limit=num(breaker.limit),
            )
        self._breakers[key] = replace(
            breaker, state=self._level(breaker), tripped_at=None, reason=None
        )
        return ALLOWED
