r"""The forecaster: a forgetting ridge regression of the next standardised return on the features.

It knows nothing of prices, features or sizing: vectors in, a prediction with its residual
variance and parameter uncertainty out, so another forecaster can take its place.

Maths
=====

**Model.** The target is the next standardised return ``y_{t+1} = clip(r_{t+1}/sigma_t)``.
Exponentially weighted least squares with forgetting ``lambda`` and ridge ``delta``::

    A_t = lambda A_{t-1} + x_t x_t'      b_t = lambda b_{t-1} + x_t y_{t+1}
    theta_t = (A_t + delta I)^-1 (b_t + delta theta_0)     P_t = (A_t + delta I)^-1

``theta_0`` is the prior mean of the coefficients (zero unless given): the estimate starts
there and moves away only as far as the weighted evidence ``A_t`` outweighs ``delta``, so a
coefficient believed in beforehand (slow trend, say) is shrunk toward that belief, not to 0.

This is the estimator recursive least squares computes, kept in information form: the
textbook RLS recursion (Sherman-Morrison on ``P``) lets the initial ridge decay as
``lambda^t``, after which the estimate is unregularised; here the prior never fades, and with
eight features the 8x8 solve per bar is cheap. The residual variance ``s^2`` is the
``lambda``-weighted mean of the a-priori errors ``(y - theta_{t-1}' x)^2``.
"""

from __future__ import annotations

import numpy as np

from tui_trader.core.policy.numeric import Vector

__all__ = ["ForgettingRidge"]


class ForgettingRidge:
    """Recursive least squares with forgetting ``lambda`` and a ridge ``delta`` that never fades.

    Kept in information form (``A``, ``b``; see the module docstring); ``P = (A + delta I)^-1``.
    """

    def __init__(
        self, dim: int, forgetting: float, ridge: float, prior: Vector | None = None
    ) -> None:
        if dim < 1 or not 0 < forgetting <= 1 or not ridge > 0:
            raise ValueError("need dim >= 1, 0 < forgetting <= 1 and ridge > 0")
        if prior is not None and prior.shape != (dim,):
            raise ValueError("the prior mean needs one value per coefficient")
        self.lam = forgetting
        self.ridge = ridge * np.eye(dim)
        self.pull = np.zeros(dim) if prior is None else ridge * np.asarray(prior, np.float64)
        self.a = np.zeros((dim, dim))
        self.b = np.zeros(dim)
        self.err_sum = 0.0  # lambda-weighted sum of squared a-priori errors
        self.err_weight = 0.0
        self.count = 0
        self._theta: Vector | None = None

    def theta(self) -> Vector:
        """The current coefficients ``(A + delta I)^-1 (b + delta theta_0)``."""
        theta = self._theta
        if theta is None:
            theta = self._theta = np.asarray(
                np.linalg.solve(self.a + self.ridge, self.b + self.pull), dtype=np.float64
            )
        return theta

    def residual_var(self) -> float:
        """``s^2``: the forgetting-weighted mean squared a-priori error (1 before any)."""
        if self.err_weight <= 0:
            return 1.0  # the target is standardised: unit variance before any evidence
        return max(self.err_sum / self.err_weight, 1e-6)

    def update(self, x: Vector, y: float) -> None:
        """Learn one observation ``x -> y``."""
        error = y - float(self.theta() @ x)
        self.err_sum = self.lam * self.err_sum + error * error
        self.err_weight = self.lam * self.err_weight + 1.0
        self.a = self.lam * self.a + np.outer(x, x)
        self.b = self.lam * self.b + x * y
        self.count += 1
        self._theta = None

    def predict(self, x: Vector) -> tuple[float, float, float]:
        """``(y_hat, s^2, q)``: the prediction, residual variance and ``x' P x``."""
        solved = np.linalg.solve(self.a + self.ridge, np.column_stack((self.b + self.pull, x)))
        theta = self._theta = np.asarray(solved[:, 0], dtype=np.float64)
        y_hat = float(theta @ x)
        q = max(float(x @ solved[:, 1]), 0.0)
        return y_hat, self.residual_var(), q
