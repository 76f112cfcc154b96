"""Numeric helpers the policy's parts share: the vector type and the finiteness check.

The policy checks its settings, prices and forecasts with :func:`finite` before any formula
sees them, so a NaN or an infinity gives the documented neutral answer instead of spreading.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["Vector", "finite"]

Vector = npt.NDArray[np.float64]


def finite(*values: float) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)
