"""What the policy is configured with: :class:`PolicyConfig`, validated on construction.

Its own module because every other part of the policy (features, model, sizing, the decision
rule) reads it; the config layer builds it from the ``[policy]`` settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from tui_trader.core.policy.numeric import finite

__all__ = ["BARS_PER_YEAR", "TRADING_DAYS_PER_YEAR", "UTILITIES", "PolicyConfig", "Utility"]

Utility = Literal["log", "crra", "target"]
UTILITIES: tuple[str, ...] = get_args(Utility)

BARS_PER_YEAR = 252 * 390  # regular-session minute bars
TRADING_DAYS_PER_YEAR = 252


@dataclass(frozen=True)
class PolicyConfig:
    """Everything the policy needs; the config's ``PolicySettings.config()`` maps ``[policy]``.

    Beyond the settings: ``cost_bps`` (assumed cost per unit of notional traded, in basis
    points), ``bars_per_year`` (annualising and the target horizon), ``ridge`` (prior strength
    in pseudo-observations), ``min_t`` (predictions with a smaller t-statistic shrink to zero),
    ``holding_bars`` (bars a position is expected to earn its edge: the gain weighed against the
    cost, and the age after which an unconfirmed position is closed), and the feature shapes.
    """

    utility: Utility = "crra"
    risk_aversion: float = 2.0
    aggressiveness: float = 1.0
    target_equity: float | None = None
    horizon_days: int = 20
    no_trade_band: float = 0.02
    max_weight: float = 0.25
    forgetting: float = 0.995
    warmup_bars: int = 60
    cost_bps: float = 2.0
    bars_per_year: float = BARS_PER_YEAR
    ridge: float = 50.0
    min_t: float = 2.0
    holding_bars: float = 30.0
    horizons: tuple[int, ...] = (1, 5, 15, 60)
    vol_halflife: float = 60.0
    slow_vol_halflife: float = 390.0
    mean_halflife: float = 30.0
    clip_z: float = 4.0

    def __post_init__(self) -> None:
        if self.utility not in UTILITIES:
            raise ValueError(f"utility must be one of {', '.join(UTILITIES)}")
        positive = (
            "risk_aversion",
            "aggressiveness",
            "max_weight",
            "bars_per_year",
            "ridge",
            "holding_bars",
            "vol_halflife",
            "slow_vol_halflife",
            "mean_halflife",
            "clip_z",
        )
        for name in positive:
            value = getattr(self, name)
            if not finite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0")
        for name in ("no_trade_band", "cost_bps", "min_t"):
            value = getattr(self, name)
            if not finite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0")
        if not 0 < self.forgetting <= 1:
            raise ValueError("forgetting must be in (0, 1]")
        if self.horizon_days <= 0 or self.warmup_bars < 1:
            raise ValueError("horizon_days and warmup_bars must be positive")
        if not self.horizons or any(h < 1 for h in self.horizons):
            raise ValueError("horizons must be positive bar counts")
        if len(set(self.horizons)) != len(self.horizons):
            raise ValueError("horizons must not repeat")
        if self.target_equity is not None and not (
            finite(self.target_equity) and self.target_equity > 0
        ):
            raise ValueError("target_equity must be a finite number > 0")
        if self.utility == "target" and self.target_equity is None:
            raise ValueError('target_equity is required when utility = "target"')

    @property
    def cost(self) -> float:
        """Cost as a fraction of the notional traded."""
        return self.cost_bps / 1e4

    @property
    def horizon_bars(self) -> float:
        return self.horizon_days * self.bars_per_year / TRADING_DAYS_PER_YEAR

    @property
    def feature_names(self) -> tuple[str, ...]:
        return (
            *(f"ret_{h}" for h in self.horizons),
            "vol",
            "meanrev",
            "convexity",
            "bias",
        )
