r"""Sizing by expected utility: the weight each utility wants, and what a move to it gains.

Pure functions of a forecast (per-bar mean ``mu`` and variance ``var``) and the settings, so
the sizing can be replaced or reused without the features or the model that made the forecast.

Maths
=====

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
"""

from __future__ import annotations

import math

from tui_trader.core.policy.config import UTILITIES
from tui_trader.core.policy.numeric import finite

__all__ = ["optimal_weight", "utility_gain"]


def _ratio(a: float, b: float) -> float:
    """``a / b`` for ``b >= 0``, saturating to a signed infinity where ``b`` underflowed."""
    if b == 0:
        return math.copysign(math.inf, a) if a else 0.0
    return a / b


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
    raise ValueError(f"utility must be one of {', '.join(UTILITIES)}")


def _target_weight(
    mu: float, var: float, *, aggressiveness: float, target: tuple[float, float] | None
) -> float:
    """Unclipped target-mode weight; see the module docstring."""
    if target is None:
        raise ValueError('utility "target" needs target=(target / equity, horizon in bars)')
    ratio, horizon = target
    if not finite(ratio, horizon) or ratio <= 0 or horizon <= 0:
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
    if utility not in UTILITIES:
        raise ValueError(f"utility must be one of {', '.join(UTILITIES)}")
    if not finite(mu, var, risk_aversion, aggressiveness, max_weight):
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
    if utility not in UTILITIES:
        raise ValueError(f"utility must be one of {', '.join(UTILITIES)}")
    if not finite(w_new, w_old, cost):
        return 0.0
    paid = abs(cost) * abs(w_new - w_old)
    ok = finite(mu, var, risk_aversion, aggressiveness, holding_bars)
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
