"""The record of one sizing decision: what the desk acts on and the screen and backtest show.

Its own module because its readers (the desk, the backtest, the signals pane) need the record,
not the policy that made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

__all__ = ["Decision"]


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
