r"""An online learning policy: per-symbol features, a forgetting ridge regression, and sizing
by expected utility with a no-trade band and caps.

Everything is per symbol and incremental: one :meth:`OnlinePolicy.observe` per bar close, one
:meth:`OnlinePolicy.decide` whenever a target is wanted. Pure (numpy only), deterministic.

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
* ``vol = clip(log(s_f / s_s))``: the volatility regime;
* ``meanrev = d_t / sqrt(k^2 / (1 - k^2))`` with ``d_t = k (d_{t-1} + z_t)``,
  ``k = 1 - alpha``, ``alpha = 1 - 2^(-1/mean_halflife)``: the distance of the vol-adjusted
  price from its EWMA, in units of its random-walk standard deviation;
* ``convexity``: the detector's score (0 when there is no detector or it is warming up);
* ``bias = 1``.

**Model.** The target is the next standardised return ``y_{t+1} = clip(r_{t+1}/sigma_t)``.
Exponentially weighted least squares with forgetting ``lambda`` and ridge ``delta``::

    A_t = lambda A_{t-1} + x_t x_t'      b_t = lambda b_{t-1} + x_t y_{t+1}
    theta_t = (A_t + delta I)^-1 b_t     P_t = (A_t + delta I)^-1

This is the estimator recursive least squares computes, kept in information form: the
textbook RLS recursion (Sherman-Morrison on ``P``) lets the initial ridge decay as
``lambda^t``, after which the estimate is unregularised; here the prior never fades, and with
eight features the 8x8 solve per bar is cheap. The residual variance ``s^2`` is the
``lambda``-weighted mean of the a-priori errors ``(y - theta_{t-1}' x)^2``.

**Prediction.** ``y_hat = theta' x`` and ``q = x' P x``; the predictive variance (standardised)
is ``s^2 (1 + q)``: noise plus parameter uncertainty. The prediction's own t-statistic is
``t = y_hat / (s sqrt(q))``; it is shrunk positive-part James-Stein style,
``y_hat <- y_hat max(0, 1 - t_0^2 / t^2)`` (``t_0 = min_t``), so an insignificant prediction is
exactly zero edge. (With ``lambda < 1``, ``s^2 P`` overstates the estimate's variance by up to
``(1 + lambda)``-fold, which only makes this gate more conservative.) In return units
``mu = sigma_t y_hat`` and ``var = sigma_t^2 s^2 (1 + q)`` per bar.

**Sizing** (:func:`optimal_weight`, weight = signed notional / equity, ``kappa`` =
aggressiveness):

* ``log`` (Kelly): ``E log(1 + w r) ~ w mu - w^2 var / 2`` peaks at ``mu/var``; fractional Kelly
  ``w = kappa mu / var``;
* ``crra``: ``(W^(1-g) - 1)/(1 - g)`` with lognormal returns has certainty-equivalent rate
  ``w mu - g w^2 var / 2``, so ``w = mu / (g var)`` (Merton) with ``g = risk_aversion/kappa``;
* ``target``: maximise ``P(W_T >= K)`` over constant weights, horizon ``T`` bars, required log
  growth ``G = log(K/W_0)``. With ``log W_T ~ N(log W_0 + T(w mu - w^2 var/2), T w^2 var)``,
  ``P = Phi((T(w mu - w^2 var/2) - G) / (sqrt(T) |w| sqrt(var)))``, which for ``G > 0`` is
  maximised at ``|w| = sqrt(2 G / (T var))`` on the side of ``sign(mu)``. That optimum does not
  depend on ``|mu|`` and can exceed Kelly when the target is ambitious (betting a model's
  uncertain edge as if it were known), so we take ``kappa * min(sqrt(2G/(T var)), |mu|/var)``:
  what the target needs, never beyond (``kappa`` x) Kelly. Already at the target (``G <= 0``):
  ``w = 0`` (cash reaches it with certainty).

Zero ``mu`` gives exactly 0; ``var <= 0`` or any non-finite input gives 0; the result is
clipped to ``[-max_weight, max_weight]``.

**Utility gain** (:func:`utility_gain`). Each mode is scored by the certainty-equivalent per
bar ``U(w) = w mu - gamma w^2 var / 2`` with ``gamma = 1/kappa`` (log), ``risk_aversion/kappa``
(crra), or, for target mode, the ``gamma`` whose unconstrained optimum ``mu/(gamma var)`` is the
target-mode weight. Moving from ``w_0`` to ``w_1`` and holding ``H = holding_bars`` bars gains
``H (U(w_1) - U(w_0)) - c |w_1 - w_0|`` with ``c = cost_bps / 10^4``.

**Decision.** ``mu`` and ``var`` are predicted once per bar, in :meth:`OnlinePolicy.observe`;
:meth:`OnlinePolicy.decide` sizes them: ``w* = optimal_weight(...)`` against the current weight
``w_0 = q p / E``, in this order:

1. ``|w* - w_0| < no_trade_band``: keep ``w_0`` (the no-trade band);
2. the position's edge has expired: the last bar whose ``mu`` had the position's sign is more
   than ``H`` bars old (the horizon its entry was priced over) and moving to ``w*`` does not
   pay: go flat. Without this a position would never be closed, because on minute bars the
   risk term ``gamma w^2 var / 2`` is far below any trading cost;
3. gain ``<= 0``: keep ``w_0``;
4. otherwise trade to ``w*``.

The target is the chosen weight clipped to ``+-max_weight``, so ``|target_weight| <= max_weight``
always and a position grown past the cap is trimmed. The proposed order is
``trunc(target E / p - q)`` whole shares, ``None`` when that is zero or when
``|target - w_0| < no_trade_band`` (the band applies to trims too, so a position riding a trend
at the cap is not trimmed every bar); none during warm-up (fewer than ``warmup_bars``
observations).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from types import MappingProxyType
from typing import Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

__all__ = [
    "BARS_PER_YEAR",
    "ConvexityLike",
    "ConvexityReadingLike",
    "Decision",
    "ForgettingRidge",
    "OnlinePolicy",
    "PolicyConfig",
    "Utility",
    "optimal_weight",
    "utility_gain",
]

Utility = Literal["log", "crra", "target"]
_UTILITIES: tuple[str, ...] = get_args(Utility)
_Vector = npt.NDArray[np.float64]

BARS_PER_YEAR = 252 * 390  # regular-session minute bars
TRADING_DAYS_PER_YEAR = 252


class ConvexityReadingLike(Protocol):
    """What the policy reads from a convexity detector's reading."""

    @property
    def score(self) -> float: ...

    @property
    def warming_up(self) -> bool: ...


class ConvexityLike(Protocol):
    """A convexity detector: fed every close, its score becomes one feature."""

    def update(self, symbol: str, price: float) -> ConvexityReadingLike: ...


def _finite(*values: float) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def _ratio(a: float, b: float) -> float:
    """``a / b`` for ``b >= 0``, saturating to a signed infinity where ``b`` underflowed."""
    if b == 0:
        return math.copysign(math.inf, a) if a else 0.0
    return a / b


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
        if self.utility not in _UTILITIES:
            raise ValueError(f"utility must be one of {', '.join(_UTILITIES)}")
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
            if not _finite(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0")
        for name in ("no_trade_band", "cost_bps", "min_t"):
            value = getattr(self, name)
            if not _finite(value) or value < 0:
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
            _finite(self.target_equity) and self.target_equity > 0
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


# -- sizing -------------------------------------------------------------------------------------


def _gamma(
    mu: float,
    var: float,
    *,
    utility: str,
    risk_aversion: float,
    aggressiveness: float,
    target: tuple[float, float] | None,
) -> float:
    """The risk aversion whose mean-variance optimum ``mu/(gamma var)`` is the mode's weight."""
    if utility == "log":
        return 1.0 / aggressiveness
    if utility == "crra":
        return risk_aversion / aggressiveness
    if utility == "target":
        w = _target_weight(mu, var, aggressiveness=aggressiveness, target=target)
        return _ratio(_ratio(abs(mu), abs(w)), var) if w != 0 else 1.0 / aggressiveness
    raise ValueError(f"utility must be one of {', '.join(_UTILITIES)}")


def _target_weight(
    mu: float, var: float, *, aggressiveness: float, target: tuple[float, float] | None
) -> float:
    """Unclipped target-mode weight; see the module docstring."""
    if target is None:
        raise ValueError('utility "target" needs target=(target / equity, horizon in bars)')
    ratio, horizon = target
    if not _finite(ratio, horizon) or ratio <= 0 or horizon <= 0:
        return 0.0
    growth = math.log(ratio)
    if growth <= 0:
        return 0.0
    needed = math.sqrt(_ratio(_ratio(2.0 * growth, horizon), var))
    kelly = _ratio(abs(mu), var)
    return math.copysign(aggressiveness * min(needed, kelly), mu)


def optimal_weight(
    mu: float,
    var: float,
    *,
    utility: str,
    risk_aversion: float,
    aggressiveness: float,
    max_weight: float,
    target: tuple[float, float] | None = None,
) -> float:
    """The utility-maximising weight for per-bar mean ``mu`` and variance ``var``, capped.

    ``target`` is ``(target equity / current equity, horizon in bars)`` for ``utility="target"``.
    Zero ``mu`` gives exactly 0; ``var <= 0``, non-positive parameters or any non-finite input
    give 0. The result always lies in ``[-max_weight, max_weight]``.
    """
    if utility not in _UTILITIES:
        raise ValueError(f"utility must be one of {', '.join(_UTILITIES)}")
    if not _finite(mu, var, risk_aversion, aggressiveness, max_weight):
        return 0.0
    if mu == 0 or var <= 0 or risk_aversion <= 0 or aggressiveness <= 0 or max_weight <= 0:
        return 0.0
    if utility == "target":
        w = _target_weight(mu, var, aggressiveness=aggressiveness, target=target)
    else:
        gamma = _gamma(
            mu,
            var,
            utility=utility,
            risk_aversion=risk_aversion,
            aggressiveness=aggressiveness,
            target=target,
        )
        w = _ratio(_ratio(mu, var), gamma)
    if math.isnan(w):
        return 0.0
    return max(-max_weight, min(max_weight, w))


def utility_gain(
    w_new: float,
    w_old: float,
    mu: float,
    var: float,
    *,
    utility: str,
    risk_aversion: float,
    aggressiveness: float,
    cost: float,
    holding_bars: float = 1.0,
    target: tuple[float, float] | None = None,
) -> float:
    """``H (U(w_new) - U(w_old)) - cost |w_new - w_old|`` with ``U(w) = w mu - gamma w^2 var/2``.

    ``cost`` is a fraction of the notional traded; ``H = holding_bars``. Non-finite or
    degenerate inputs score ``-cost |w_new - w_old|`` (only the cost is certain), or 0.
    """
    if utility not in _UTILITIES:
        raise ValueError(f"utility must be one of {', '.join(_UTILITIES)}")
    if not _finite(w_new, w_old, cost):
        return 0.0
    paid = abs(cost) * abs(w_new - w_old)
    ok = _finite(mu, var, risk_aversion, aggressiveness, holding_bars)
    if not ok or var <= 0 or risk_aversion <= 0 or aggressiveness <= 0 or holding_bars <= 0:
        return -paid
    gamma = _gamma(
        mu,
        var,
        utility=utility,
        risk_aversion=risk_aversion,
        aggressiveness=aggressiveness,
        target=target,
    )

    def ce(w: float) -> float:
        return w * mu - 0.5 * gamma * w * w * var

    gain = holding_bars * (ce(w_new) - ce(w_old)) - paid
    return gain if math.isfinite(gain) else -paid


# -- the model ----------------------------------------------------------------------------------


class ForgettingRidge:
    """Recursive least squares with forgetting ``lambda`` and a ridge ``delta`` that never fades.

    Kept in information form (``A``, ``b``; see the module docstring); ``P = (A + delta I)^-1``.
    """

    def __init__(self, dim: int, forgetting: float, ridge: float) -> None:
        if dim < 1 or not 0 < forgetting <= 1 or not ridge > 0:
            raise ValueError("need dim >= 1, 0 < forgetting <= 1 and ridge > 0")
        self.lam = forgetting
        self.ridge = ridge * np.eye(dim)
        self.a = np.zeros((dim, dim))
        self.b = np.zeros(dim)
        self.err_sum = 0.0  # lambda-weighted sum of squared a-priori errors
        self.err_weight = 0.0
        self.count = 0
        self._theta: _Vector | None = None

    def theta(self) -> _Vector:
        """The current coefficients ``(A + delta I)^-1 b``."""
        theta = self._theta
        if theta is None:
            theta = self._theta = np.asarray(
                np.linalg.solve(self.a + self.ridge, self.b), dtype=np.float64
            )
        return theta

    def residual_var(self) -> float:
        """``s^2``: the forgetting-weighted mean squared a-priori error (1 before any)."""
        if self.err_weight <= 0:
            return 1.0  # the target is standardised: unit variance before any evidence
        return max(self.err_sum / self.err_weight, 1e-6)

    def update(self, x: _Vector, y: float) -> None:
        """Learn one observation ``x -> y``."""
        error = y - float(self.theta() @ x)
        self.err_sum = self.lam * self.err_sum + error * error
        self.err_weight = self.lam * self.err_weight + 1.0
        self.a = self.lam * self.a + np.outer(x, x)
        self.b = self.lam * self.b + x * y
        self.count += 1
        self._theta = None

    def predict(self, x: _Vector) -> tuple[float, float, float]:
        """``(y_hat, s^2, q)``: the prediction, residual variance and ``x' P x``."""
        solved = np.linalg.solve(self.a + self.ridge, np.column_stack((self.b, x)))
        theta = self._theta = np.asarray(solved[:, 0], dtype=np.float64)
        y_hat = float(theta @ x)
        q = max(float(x @ solved[:, 1]), 0.0)
        return y_hat, self.residual_var(), q


class _Ewma:
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


_EMPTY: Mapping[str, float] = MappingProxyType({})


@dataclass
class _SymbolState:
    model: ForgettingRidge
    fast_var: _Ewma
    slow_var: _Ewma
    window: deque[float]
    sums: dict[int, float]
    observations: int = 0
    last_close: float | None = None
    last_at: datetime | None = None
    sigma: float = 0.0  # per-bar vol after the last close
    deviation: float = 0.0  # meanrev recursion d_t
    convexity: float = 0.0
    x: _Vector | None = None
    features: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    mu: float = 0.0  # the prediction for the next bar, made at the last close
    pred_sigma: float = 0.0
    last_long: int = -(10**9)  # observation count at the last mu > 0
    last_short: int = -(10**9)  # ... and at the last mu < 0


# -- decisions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One sizing decision, with everything that went into it. Every float is finite."""

    symbol: str
    at: datetime
    features: Mapping[str, float]
    mu: float  # predicted next-bar return (after shrinkage)
    sigma: float  # predictive standard deviation of that return
    target_weight: float
    current_weight: float
    utility_gain: float
    proposed_qty: Decimal | None  # signed whole-share delta, None when nothing to do
    reason: str


def _whole_shares_toward_zero(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_DOWN)


def _safe(value: float) -> float:
    return value if math.isfinite(value) else 0.0


class OnlinePolicy:
    """Learns each symbol's next-bar return online and sizes positions by expected utility.

    Feed it every bar close with :meth:`observe`; ask :meth:`decide` for a
    :class:`Decision`. A ``convexity`` detector, if given, is updated by :meth:`observe` with
    every close, so give the policy a detector nobody else feeds.
    """

    def __init__(self, config: PolicyConfig, convexity: ConvexityLike | None = None) -> None:
        self.config = config
        self.convexity = convexity
        self._names = config.feature_names
        self._states: dict[str, _SymbolState] = {}
        self._keep = 0.5 ** (1.0 / config.mean_halflife)  # k = 1 - alpha
        self._dev_scale = math.sqrt(self._keep**2 / (1.0 - self._keep**2))

    def _state(self, symbol: str) -> _SymbolState:
        state = self._states.get(symbol)
        if state is None:
            cfg = self.config
            state = _SymbolState(
                model=ForgettingRidge(len(self._names), cfg.forgetting, cfg.ridge),
                fast_var=_Ewma(cfg.vol_halflife),
                slow_var=_Ewma(cfg.slow_vol_halflife),
                window=deque(maxlen=max(cfg.horizons) + 1),
                sums=dict.fromkeys(cfg.horizons, 0.0),
            )
            self._states[symbol] = state
        return state

    def observations(self, symbol: str) -> int:
        """How many closes of ``symbol`` have been observed."""
        state = self._states.get(symbol)
        return 0 if state is None else state.observations

    def observe(self, symbol: str, close: float, at: datetime) -> None:
        """One bar: train on the previous features -> this return, then update the features.

        Non-positive or non-finite closes, and bars not after the last one, are ignored.
        """
        if not _finite(close) or close <= 0:
            return
        state = self._state(symbol)
        if state.last_at is not None and at <= state.last_at:
            return
        cfg = self.config
        score = 0.0
        if self.convexity is not None:
            reading = self.convexity.update(symbol, close)
            if not reading.warming_up and _finite(reading.score):
                score = max(-cfg.clip_z, min(cfg.clip_z, float(reading.score)))
        previous = state.last_close
        state.last_close, state.last_at = close, at
        state.observations += 1
        state.convexity = score
        if previous is None:
            return
        r = close / previous - 1.0
        scaled = state.sigma > 0
        if scaled:
            z = max(-cfg.clip_z, min(cfg.clip_z, r / state.sigma))
            if state.x is not None:
                state.model.update(state.x, z)
            r = z * state.sigma
            self._push(state, z)
        # else: no scale yet, this return only seeds the volatility
        state.fast_var.add(r * r)
        state.slow_var.add(r * r)
        state.sigma = math.sqrt(state.fast_var.value)
        if state.sigma > 0:
            state.x = self._features(state)
            self._predict(state)

    def _push(self, state: _SymbolState, z: float) -> None:
        window = state.window
        window.append(z)
        n = len(window)
        for h in state.sums:
            state.sums[h] += z
            if n > h:
                state.sums[h] -= window[-h - 1]
        state.deviation = self._keep * (state.deviation + z)

    def _features(self, state: _SymbolState) -> _Vector:
        cfg = self.config
        n = len(state.window)
        values: list[float] = []
        for h in cfg.horizons:
            m = min(h, n)
            values.append(state.sums[h] / math.sqrt(m) if m else 0.0)
        slow = state.slow_var.value
        vol = 0.5 * math.log(state.fast_var.value / slow) if slow > 0 else 0.0
        values.append(vol)
        values.append(state.deviation / self._dev_scale)
        values.append(state.convexity)
        clipped = [max(-cfg.clip_z, min(cfg.clip_z, v)) for v in values]
        clipped.append(1.0)
        state.features = MappingProxyType(dict(zip(self._names, clipped, strict=True)))
        return np.array(clipped)

    def _predict(self, state: _SymbolState) -> None:
        assert state.x is not None
        y_hat, s2, q = state.model.predict(state.x)
        noise = s2 * q
        t2 = y_hat * y_hat / noise if noise > 0 else math.inf
        min_t2 = self.config.min_t**2
        shrink = 0.0 if t2 <= min_t2 else 1.0 - min_t2 / t2
        state.mu = _safe(state.sigma * y_hat * shrink)
        state.pred_sigma = _safe(state.sigma * math.sqrt(s2 * (1.0 + q)))
        if state.mu > 0:
            state.last_long = state.observations
        elif state.mu < 0:
            state.last_short = state.observations

    def coefficients(self, symbol: str) -> Mapping[str, float]:
        """The model's current coefficient per feature (empty for an unseen symbol)."""
        state = self._states.get(symbol)
        if state is None:
            return _EMPTY
        theta = state.model.theta()
        return MappingProxyType({n: float(v) for n, v in zip(self._names, theta, strict=True)})

    def predict(self, symbol: str) -> tuple[float, float, Mapping[str, float]]:
        """``(mu, sigma, features)`` for the next bar, as of the last observed close."""
        state = self._states.get(symbol)
        if state is None:
            return 0.0, 0.0, _EMPTY
        return state.mu, state.pred_sigma, state.features

    def decide(
        self,
        symbol: str,
        price: Decimal,
        equity: Decimal,
        current_qty: Decimal,
        at: datetime,
    ) -> Decision:
        """The target weight for ``symbol`` and the whole-share order that gets there."""
        cfg = self.config
        try:
            p, e, q = float(price), float(equity), float(current_qty)
        except (InvalidOperation, ValueError, TypeError):
            p = e = q = math.nan
        if not _finite(p, e, q) or p <= 0 or e <= 0:
            return Decision(symbol, at, _EMPTY, 0.0, 0.0, 0.0, 0.0, 0.0, None, "no valid price")
        current = _safe(q * p / e)
        if self.observations(symbol) < cfg.warmup_bars:
            held = max(-cfg.max_weight, min(cfg.max_weight, current))
            _, sigma, features = self.predict(symbol)
            return Decision(
                symbol, at, features, 0.0, sigma, held, current, 0.0, None, "warming up"
            )
        mu, sigma, features = self.predict(symbol)
        var = sigma * sigma
        goal = (cfg.target_equity / e, cfg.horizon_bars) if cfg.target_equity else None
        wanted = optimal_weight(
            mu,
            var,
            utility=cfg.utility,
            risk_aversion=cfg.risk_aversion,
            aggressiveness=cfg.aggressiveness,
            max_weight=cfg.max_weight,
            target=goal,
        )
        gain = utility_gain(
            wanted,
            current,
            mu,
            var,
            utility=cfg.utility,
            risk_aversion=cfg.risk_aversion,
            aggressiveness=cfg.aggressiveness,
            cost=cfg.cost,
            holding_bars=cfg.holding_bars,
            target=goal,
        )
        state = self._states[symbol]
        support = state.last_long if current > 0 else state.last_short
        stale = current != 0 and state.observations - support > cfg.holding_bars
        if abs(wanted - current) < cfg.no_trade_band:
            chosen, reason = current, "inside the no-trade band"
        elif stale and gain <= 0:
            chosen, reason = 0.0, "edge expired"
        elif gain <= 0:
            chosen, reason = current, "gain does not pay the cost"
        else:
            chosen, reason = wanted, "rebalance"
        target = max(-cfg.max_weight, min(cfg.max_weight, chosen))
        if target != chosen:
            reason = "trim to the cap"
        order: Decimal | None = None
        if target != current:
            if abs(target - current) < cfg.no_trade_band:
                reason = "inside the no-trade band"
            else:
                wanted_qty = Decimal(repr(target)) * equity / price
                delta = _whole_shares_toward_zero(wanted_qty - current_qty)
                order = delta if delta != 0 else None
        return Decision(symbol, at, features, mu, sigma, target, current, gain, order, reason)
