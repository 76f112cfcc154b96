"""The trading states and the named breakers, as the engine holds them and the UI shows them.

The names are stable codes (denials, the journal's breaker log and ``reset`` use them); which
breakers latch, which are judged per order and which are caps is said here once, for the
engine's evaluation, its gate and its reset alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from tui_trader.core.risk.verdict import Verdict

_ZERO = Decimal(0)


class TradingState(StrEnum):
    """What the desk may send: everything, only exposure-reducing orders, or nothing new."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class BreakerState(StrEnum):
    OK = "ok"
    WARNING = "warning"
    TRIPPED = "tripped"


class BreakerName(StrEnum):
    """Stable codes: they appear in denials, the journal's breaker log and ``reset``."""

    DAILY_LOSS = "DAILY_LOSS"
    DAILY_LOSS_PCT = "DAILY_LOSS_PCT"
    DRAWDOWN = "DRAWDOWN"
    ORDER_RATE = "ORDER_RATE"
    REJECT_STREAK = "REJECT_STREAK"
    SYMBOL_NOTIONAL = "SYMBOL_NOTIONAL"
    GROSS_EXPOSURE = "GROSS_EXPOSURE"
    STALE_DATA = "STALE_DATA"
    STREAM = "STREAM"


LATCHING = frozenset({BreakerName.DAILY_LOSS, BreakerName.DAILY_LOSS_PCT, BreakerName.DRAWDOWN})
"""Breakers that hold HALTED until a manual reset: a loss is not undone by waiting."""

# Judged per order: the breaker shows the last check and never changes the trading state.
PER_ORDER = frozenset({BreakerName.SYMBOL_NOTIONAL})
# Caps allow the value itself; the rest trip when the value reaches the limit.
CAPS = frozenset({BreakerName.SYMBOL_NOTIONAL, BreakerName.GROSS_EXPOSURE, BreakerName.STALE_DATA})


@dataclass(frozen=True)
class Breaker:
    """One named breaker as the UI shows it.

    ``value`` is None when it is not known (no market data yet). ``tripped_at`` and
    ``reason`` (``CODE: key=value``) describe the moment it tripped and stay while it holds;
    a warning carries the current reason and no time.
    """

    name: BreakerName
    limit: Decimal
    value: Decimal | None = _ZERO
    state: BreakerState = BreakerState.OK
    tripped_at: datetime | None = None
    reason: str | None = None
    latching: bool = False

    @property
    def tripped(self) -> bool:
        return self.state is BreakerState.TRIPPED

    @property
    def utilisation(self) -> Decimal | None:
        """value / limit (1 = at the limit); infinite for a positive value under a zero limit."""
        if self.value is None:
            return None
        if self.limit <= 0:
            return Decimal("Infinity") if self.value > 0 else _ZERO
        return self.value / self.limit


@dataclass(frozen=True)
class RiskSnapshot:
    """Immutable view for the UI and the journal; breakers in :class:`BreakerName` order."""

    state: TradingState
    paused: bool
    breakers: tuple[Breaker, ...]
    last_verdict: Verdict | None
    fault: str | None = None

    def breaker(self, name: BreakerName | str) -> Breaker:
        wanted = BreakerName(name)
        return next(b for b in self.breakers if b.name is wanted)
