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
    points), ``bars_per_year`` (the bars' own spacing: 98,280 for regular-session minute bars,
    252 for daily bars; every horizon given in days, ``horizon_days`` and ``trend_days``, is
    turned into bars with it, so the same setting means the same span of time at any
    spacing; the backtest sets it from the timestamps), ``ridge`` (prior strength
    in pseudo-observations), ``min_t`` (predictions with a smaller t-statistic shrink to zero),
    ``holding_bars`` (bars a position is expected to earn its edge: the gain weighed against the
    cost, and the age after which an unconfirmed position is closed), and the feature shapes:
    ``horizons`` in bars (the fast momentum the desk learns on minute bars) and ``trend_days``
    in days (slow, vol-scaled trend, see :mod:`.features`).

    Risk caps on top of ``max_weight`` (None: off): ``vol_target``, an annual volatility no
    single symbol's position may exceed (``|w| <= vol_target / (sigma_bar sqrt(bars_per_year))``,
    with ``sigma_bar`` the clustering EWMA volatility); ``drawdown_limit``, a drawdown of the
    policy's own equity (from its peak) at which its caps have shrunk to a quarter:
    ``cap *= max(drawdown_floor, 1 - dd / drawdown_limit)``.

    The long prior (None: off): ``premium_prior``, the annual excess return a symbol is
    believed to earn before any evidence (the equity premium, a few % a year), and
    ``premium_years``, how many years of bars that belief weighs against the symbol's own
    expanding-window mean return (see :mod:`.online`). ``trend_prior``: the prior mean of
    each ``trend_Dd`` feature's coefficient (next standardised return per unit of trend, see
    :mod:`.ridge`), the belief that slow trends persist a little, which the data then revise.

    The risk-proportional premium (None: off; excludes ``premium_prior``): ``sharpe_prior``,
    the annual Sharpe ratio a symbol is believed to earn, learned slowly (``premium_years``)
    from its standardised returns, so the expected return is proportional to the risk
    (:mod:`.online`). The slow trend evidence as sign features (None: off):
    ``tsmom_days`` (+1 when the close is above the close that many days ago, else -1) and
    ``sma_days`` (+1 above its moving average of that many days, else -1); their
    coefficients start at ``trend_prior`` too. ``long_only``: never a short target.
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
    trend_days: tuple[float, ...] = ()
    vol_target: float | None = None
    drawdown_limit: float | None = None
    drawdown_floor: float = 0.25
    premium_prior: float | None = None
    premium_years: float = 10.0
    trend_prior: float = 0.0
    sharpe_prior: float | None = None
    tsmom_days: float | None = None
    sma_days: float | None = None
    long_only: bool = False

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
            "premium_years",
        )
        for name in positive:
            value = getattr(self, name)
            if not finite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0")
        if not (finite(self.trend_prior) and abs(self.trend_prior) < 1):
            raise ValueError("trend_prior must be a finite number in (-1, 1)")
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
        if any(not finite(d) or d <= 0 for d in self.trend_days):
            raise ValueError("trend_days must be positive numbers of days")
        if len(set(self.trend_days)) != len(self.trend_days):
            raise ValueError("trend_days must not repeat")
        for name in ("vol_target", "drawdown_limit"):
            value = getattr(self, name)
            if value is not None and not (finite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0 (or None: off)")
        if not (finite(self.drawdown_floor) and 0 <= self.drawdown_floor <= 1):
            raise ValueError("drawdown_floor must be in [0, 1]")
        if self.premium_prior is not None and not (
            finite(self.premium_prior) and -1 < self.premium_prior < 1
        ):
            raise ValueError("premium_prior must be an annual return in (-1, 1) (or None: off)")
        if self.sharpe_prior is not None and not (
            finite(self.sharpe_prior) and abs(self.sharpe_prior) < 3
        ):
            raise ValueError("sharpe_prior must be an annual Sharpe ratio in (-3, 3) (or None)")
        if self.sharpe_prior is not None and self.premium_prior is not None:
            raise ValueError("set premium_prior or sharpe_prior, not both")
        for name in ("tsmom_days", "sma_days"):
            value = getattr(self, name)
            if value is not None and not (finite(value) and value >= 2):
                raise ValueError(f"{name} must be at least 2 days (or None: off)")
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
    def bars_per_day(self) -> float:
        """Bars in one trading day at this spacing (390 for minute bars, 1 for daily bars)."""
        return self.bars_per_year / TRADING_DAYS_PER_YEAR

    def bars(self, days: float) -> int:
        """``days`` trading days in bars at this spacing, at least one bar."""
        return max(1, round(days * self.bars_per_day))

    @property
    def horizon_bars(self) -> float:
        """``horizon_days`` in bars: 20 days is 20 daily bars or 7,800 minute bars."""
        return self.horizon_days * self.bars_per_day

    @property
    def trend_bars(self) -> tuple[int, ...]:
        return tuple(self.bars(d) for d in self.trend_days)

    @property
    def signal_bars(self) -> tuple[int, ...]:
        """The sign features' windows in bars: TSMOM's lookback, then the moving average's."""
        return tuple(self.bars(d) for d in (self.tsmom_days, self.sma_days) if d is not None)

    @property
    def signal_names(self) -> tuple[str, ...]:
        pairs = (("tsmom", self.tsmom_days), ("sma", self.sma_days))
        return tuple(f"{kind}_{d:g}d" for kind, d in pairs if d is not None)

    @property
    def lookback_bars(self) -> int:
        """The longest window any feature reads, in bars."""
        return max((*self.horizons, *self.trend_bars, *self.signal_bars))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return (
            *(f"ret_{h}" for h in self.horizons),
            *(f"trend_{d:g}d" for d in self.trend_days),
            *self.signal_names,
            "vol",
            "meanrev",
            "convexity",
            "bias",
        )
