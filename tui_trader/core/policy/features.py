r"""The policy's inputs: returns standardised by their volatility, and the incremental features.

Everything here is per symbol, O(1) per bar and dimensionless. The features are kept apart from
the forecaster that learns on them and from the sizing, so a feature set can be replaced on its
own: :class:`FeatureState` is what one symbol's features remember between bars,
:class:`FeatureSet` updates and reads it. The standardisation below runs in
:meth:`~tui_trader.core.policy.online.OnlinePolicy.observe`, because ``z`` is also the
forecaster's target.

Maths
=====

**Returns and volatility.** For closes ``p_t`` the simple return is ``r_t = p_t/p_{t-1} - 1``.
Two bias-corrected EWMAs of ``r^2`` give a fast per-bar variance ``s_f^2`` (half-life
``vol_halflife`` bars; ``sigma_t = s_f``) and a slow one ``s_s^2`` (``slow_vol_halflife``).
Every return is standardised by the *previous* bar's vol and winsorised,
``z_t = clip(r_t / sigma_{t-1}, -c, c)`` (``c = clip_z``), so overnight gaps and jumps cannot
dominate, and the vol EWMAs are fed ``sigma_{t-1} z_t``.

**Features** ``x_t`` (all dimensionless, so price level and volatility do not matter):

* ``ret_h = sum_{i<h} z_{t-i} / sqrt(h)`` for each horizon ``h`` in ``horizons`` (1, 5, 15, 60):
  vol-scaled multi-horizon momentum, N(0, 1) on a random walk (fewer terms while filling);
* ``trend_Dd``: the same sum over ``D`` *days* of bars for each ``D`` in ``trend_days``
  (``D`` days are ``D x bars_per_day`` bars, so the span in time is the same at every bar
  spacing): the slow, vol-scaled time-series momentum (Moskowitz, Ooi & Pedersen 2012);
* ``tsmom_Dd = sign(p_t / p_{t-D} - 1)`` and ``sma_Dd = sign(p_t - mean(p_{t-D+1..t}))``
  (``tsmom_days``, ``sma_days``; 0 until their window is full): the classic slow trend
  rules (12-month time-series momentum, price against its 200-day average) as evidence for
  the learner, whose coefficients start at a positive prior and are revised by the data;
* ``vol = clip(log(s_f / s_s))``: the volatility regime;
* ``meanrev = d_t / sqrt(k^2 / (1 - k^2))`` with ``d_t = k (d_{t-1} + z_t)``,
  ``k = 1 - alpha``, ``alpha = 1 - 2^(-1/mean_halflife)``: the distance of the vol-adjusted
  price from its EWMA, in units of its random-walk standard deviation;
* ``convexity``: the detector's score (0 when there is no detector or it is warming up);
* ``bias = 1``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

import numpy as np

from tui_trader.core.policy.config import PolicyConfig
from tui_trader.core.policy.numeric import Vector

__all__ = [
    "EMPTY",
    "ConvexityLike",
    "ConvexityReadingLike",
    "Ewma",
    "FeatureSet",
    "FeatureState",
]


class ConvexityReadingLike(Protocol):
    """What the policy reads from a convexity detector's reading."""

    @property
    def score(self) -> float: ...

    @property
    def warming_up(self) -> bool: ...


class ConvexityLike(Protocol):
    """A convexity detector: fed every close, its score becomes one feature."""

    def update(self, symbol: str, price: float) -> ConvexityReadingLike: ...


class Ewma:
    """Bias-corrected exponentially weighted mean."""

    __slots__ = ("decay", "total", "weight")

    def __init__(self, halflife: float) -> None:
        self.decay = 0.5 ** (1.0 / halflife)
        self.total = 0.0
        self.weight = 0.0

    def add(self, value: float) -> None:
        self.total = self.decay * self.total + value
        self.weight = self.decay * self.weight + 1.0

    @property
    def value(self) -> float:
        return self.total / self.weight if self.weight > 0 else 0.0


EMPTY: Mapping[str, float] = MappingProxyType({})
"""No features: before a symbol's first feature vector, and for an unseen symbol."""


@dataclass
class FeatureState:
    """What one symbol's features remember between bars (the variance EWMAs also give the
    policy its per-bar volatility)."""

    fast_var: Ewma
    slow_var: Ewma
    window: deque[float]
    sums: dict[int, float]
    closes: deque[float] = field(default_factory=deque)  # for the sign features
    close_sum: float = 0.0  # sum of the last ``sma`` closes
    deviation: float = 0.0  # meanrev recursion d_t
    convexity: float = 0.0
    features: Mapping[str, float] = field(default_factory=lambda: EMPTY)


class FeatureSet:
    """The features of :class:`PolicyConfig`: their names, and how a bar updates and reads them."""

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self._names = config.feature_names
        self._keep = 0.5 ** (1.0 / config.mean_halflife)  # k = 1 - alpha
        self._dev_scale = math.sqrt(self._keep**2 / (1.0 - self._keep**2))

    def push(self, state: FeatureState, z: float) -> None:
        """Add one standardised return ``z`` to the momentum sums and the meanrev recursion."""
        window = state.window
        window.append(z)
        n = len(window)
        for h in state.sums:
            state.sums[h] += z
            if n > h:
                state.sums[h] -= window[-h - 1]
        state.deviation = self._keep * (state.deviation + z)

    def push_close(self, state: FeatureState, close: float) -> None:
        """Keep the closes the sign features read (every close, the first one included)."""
        cfg = self.config
        if not cfg.signal_bars:
            return
        closes = state.closes
        closes.append(close)
        state.close_sum += close
        sma = cfg.bars(cfg.sma_days) if cfg.sma_days is not None else 0
        if sma and len(closes) > sma:
            state.close_sum -= closes[-sma - 1]
        while len(closes) > max(cfg.signal_bars) + 1:
            closes.popleft()

    def _signals(self, state: FeatureState) -> list[float]:
        """``tsmom``: sign of ``p_t / p_{t-D} - 1``; ``sma``: sign of ``p_t - SMA_D``; 0 until
        the window is full."""
        cfg = self.config
        closes, n = state.closes, len(state.closes)
        out: list[float] = []
        if cfg.tsmom_days is not None:
            d = cfg.bars(cfg.tsmom_days)
            out.append(math.copysign(1.0, closes[-1] - closes[-d - 1]) if n > d else 0.0)
        if cfg.sma_days is not None:
            d = cfg.bars(cfg.sma_days)
            out.append(math.copysign(1.0, closes[-1] - state.close_sum / d) if n >= d else 0.0)
        return out

    def vector(self, state: FeatureState) -> Vector:
        """The clipped features, bias last; also kept by name in ``state.features``."""
        cfg = self.config
        n = len(state.window)
        values: list[float] = []
        for h in (*cfg.horizons, *cfg.trend_bars):
            m = min(h, n)
            values.append(state.sums[h] / math.sqrt(m) if m else 0.0)
        values.extend(self._signals(state))
        slow = state.slow_var.value
        vol = 0.5 * math.log(state.fast_var.value / slow) if slow > 0 else 0.0
        values.append(vol)
        values.append(state.deviation / self._dev_scale)
        values.append(state.convexity)
        clipped = [max(-cfg.clip_z, min(cfg.clip_z, v)) for v in values]
        clipped.append(1.0)
        state.features = MappingProxyType(dict(zip(self._names, clipped, strict=True)))
        return np.array(clipped)
