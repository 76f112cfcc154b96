"""The breaker limits: what the settings build for the engine (the core takes plain values).

A limit of zero or below, or a warning fraction outside (0, 1), is refused when the limits are
built, not met by the engine during a session.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tui_trader.core.types import to_decimal

_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True)
class RiskLimits:
    """The breaker limits in the engine's units: money and percentages as Decimal."""

    daily_loss_limit: Decimal = Decimal("2000")
    daily_loss_pct: Decimal = Decimal("3")
    max_drawdown_pct: Decimal = Decimal("10")
    max_orders_per_minute: int = 30
    max_reject_streak: int = 5
    max_symbol_notional: Decimal = Decimal("25000")
    max_gross_exposure: Decimal = Decimal("1.5")  # a multiple of equity
    stale_data_seconds: float = 30.0
    warning_fraction: Decimal = Decimal("0.8")
    rate_cooldown_seconds: float = 60.0

    def __post_init__(self) -> None:
        positive: dict[str, Decimal | int | float] = {
            "daily_loss_limit": self.daily_loss_limit,
            "daily_loss_pct": self.daily_loss_pct,
            "max_drawdown_pct": self.max_drawdown_pct,
            "max_orders_per_minute": self.max_orders_per_minute,
            "max_reject_streak": self.max_reject_streak,
            "max_symbol_notional": self.max_symbol_notional,
            "max_gross_exposure": self.max_gross_exposure,
            "stale_data_seconds": self.stale_data_seconds,
            "rate_cooldown_seconds": self.rate_cooldown_seconds,
        }
        for name, value in positive.items():
            number = to_decimal(value)
            if number is None or number <= 0:
                raise ValueError(f"{name} must be > 0")
        if not _ZERO < self.warning_fraction < _ONE:
            raise ValueError("warning_fraction must be between 0 and 1")
