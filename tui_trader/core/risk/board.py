"""The engine's state: its breakers, the trading state they add up to, and how one moves.

:class:`BreakerBoard` holds everything the engine's jobs share (the limits, the user's pause,
the order times and reject streak, the data age, the last verdict, a fault) and the rules every
job stores a breaker by: a trip keeps its first time and reason while it holds, a latched one
stays until a reset, a warning starts at ``warning_fraction`` of the limit. The evaluation
(:mod:`.evaluation`), the inputs (:mod:`.inputs`) and the gate (:mod:`.gate`) are mixins over
it, so :class:`~tui_trader.core.risk.RiskEngine` is one object with one state as before.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from tui_trader.core.risk.limits import RiskLimits
from tui_trader.core.risk.states import (
    CAPS,
    LATCHING,
    PER_ORDER,
    Breaker,
    BreakerName,
    BreakerState,
    RiskSnapshot,
    TradingState,
)
from tui_trader.core.risk.text import fixed, num, text
from tui_trader.core.risk.verdict import Verdict
from tui_trader.core.types import to_decimal

_ZERO = Decimal(0)
_ONE = Decimal(1)


class BreakerBoard:
    """The breakers and the trading state; the state every job of the engine reads and writes."""

    def __init__(self, limits: RiskLimits | None = None, *, paused: bool = False) -> None:
        self._limits = limits if limits is not None else RiskLimits()
        self._paused = paused
        self._orders: list[datetime] = []
        self._rejects = 0
        self._data_age: Decimal | None = None
        self._last: Verdict | None = None
        self._fault: str | None = None
        lim = self._limits
        initial = {
            BreakerName.DAILY_LOSS: lim.daily_loss_limit,
            BreakerName.DAILY_LOSS_PCT: lim.daily_loss_pct,
            BreakerName.DRAWDOWN: lim.max_drawdown_pct,
            BreakerName.ORDER_RATE: Decimal(lim.max_orders_per_minute),
            BreakerName.REJECT_STREAK: Decimal(lim.max_reject_streak),
            BreakerName.SYMBOL_NOTIONAL: lim.max_symbol_notional,
            BreakerName.GROSS_EXPOSURE: _ZERO,  # max_gross_exposure x equity, once known
            BreakerName.STALE_DATA: _dec(lim.stale_data_seconds),
            BreakerName.STREAM: _ONE,
        }
        self._breakers = {
            name: Breaker(name, limit, latching=name in LATCHING) for name, limit in initial.items()
        }
        # No market data yet: adding exposure is refused until an age is known.
        self._breakers[BreakerName.STALE_DATA] = replace(
            self._breakers[BreakerName.STALE_DATA],
            value=None,
            state=BreakerState.WARNING,
            reason=self._stale_reason(None),
        )

    # --- reading --------------------------------------------------------------------------

    @property
    def limits(self) -> RiskLimits:
        return self._limits

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def state(self) -> TradingState:
        """HALTED if a loss breaker latched or the book could not be read; REDUCING if paused
        or a self-recovering breaker is tripped; else ACTIVE."""
        breakers = self._breakers.values()
        if self._fault is not None or any(b.tripped and b.latching for b in breakers):
            return TradingState.HALTED
        if self._paused or any(self._blocks_increase(b) for b in breakers):
            return TradingState.REDUCING
        return TradingState.ACTIVE

    def breaker(self, name: BreakerName | str) -> Breaker:
        return self._breakers[BreakerName(name)]

    def snapshot(self) -> RiskSnapshot:
        return RiskSnapshot(
            state=self.state,
            paused=self._paused,
            breakers=tuple(self._breakers[name] for name in BreakerName),
            last_verdict=self._last,
            fault=self._fault,
        )

    def _set(
        self,
        name: BreakerName,
        value: Decimal,
        limit: Decimal,
        *,
        over: bool,
        reason: str,
        now: datetime,
    ) -> None:
        """Store a new value. A latched breaker stays tripped; a trip keeps its first time
        and reason while it holds."""
        prev = self._breakers[name]
        new = replace(prev, value=value, limit=limit)
        if over or (prev.latching and prev.tripped):
            if prev.tripped:
                new = replace(new, state=BreakerState.TRIPPED)
            else:
                new = replace(new, state=BreakerState.TRIPPED, tripped_at=now, reason=reason)
        elif self._level(new) is BreakerState.WARNING:
            new = replace(new, state=BreakerState.WARNING, tripped_at=None, reason=reason)
        else:
            new = replace(new, state=BreakerState.OK, tripped_at=None, reason=None)
        self._breakers[name] = new

    def _level(self, breaker: Breaker) -> BreakerState:
        """OK or WARNING from the value alone (for a breaker that is not, or no longer, tripped)."""
        value, limit = breaker.value, breaker.limit
        if value is None:
            return BreakerState.WARNING
        if limit > 0 and value >= self._limits.warning_fraction * limit:
            return BreakerState.WARNING
        return BreakerState.OK

    @staticmethod
    def _over(breaker: Breaker) -> bool:
        if breaker.value is None:
            return False
        if breaker.name in CAPS:
            return breaker.value > breaker.limit
        return breaker.value >= breaker.limit

    @staticmethod
    def _blocks_increase(breaker: Breaker) -> bool:
        """A passing trip, or a loss breaker that cannot be measured (the account unknown)."""
        if breaker.latching:
            return breaker.value is None and not breaker.tripped
        return breaker.tripped and breaker.name not in PER_ORDER

    def _stale_reason(self, age: Decimal | None) -> str:
        shown = "unknown" if age is None else fixed(age, Decimal("0.1"))
        return text(
            BreakerName.STALE_DATA,
            {"age": shown, "limit": num(_dec(self._limits.stale_data_seconds))},
        )


def _dec(value: float) -> Decimal:
    result = to_decimal(value)
    if result is None:  # pragma: no cover - to_decimal returns None only for None and ""
        raise ValueError("a number is required")
    return result
