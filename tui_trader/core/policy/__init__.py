r"""An online learning policy: per-symbol features, a forgetting ridge regression, and sizing
by expected utility with a no-trade band and caps.

Everything is per symbol and incremental: one :meth:`OnlinePolicy.observe` per bar close, one
:meth:`OnlinePolicy.decide` whenever a target is wanted. Pure (numpy only), deterministic.

Split by job, one module each, so that each piece can be read, tested and replaced on its own
(the maths of each piece is in its module's docstring):

* :mod:`.config`: :class:`PolicyConfig`, everything the policy needs, validated;
* :mod:`.features`: returns standardised by their volatility, and the incremental features;
* :mod:`.ridge`: the forecaster, a forgetting ridge regression of the next standardised return;
* :mod:`.utility`: sizing by expected utility (Kelly, CRRA, target) and what a move gains;
* :mod:`.decision`: :class:`Decision`, the record of one sizing decision;
* :mod:`.online`: :class:`OnlinePolicy`, which ties them together: the prediction and its
  shrinkage, and the decision rule (no-trade band, expired edge, cap, whole shares);
* :mod:`.numeric`: the vector type and the finiteness check they share.

Import from here: this package's names are its public interface.
"""

from __future__ import annotations

from tui_trader.core.policy.config import (
    BARS_PER_YEAR,
    TRADING_DAYS_PER_YEAR,
    PolicyConfig,
    Utility,
)
from tui_trader.core.policy.decision import Decision
from tui_trader.core.policy.features import ConvexityLike, ConvexityReadingLike
from tui_trader.core.policy.online import OnlinePolicy
from tui_trader.core.policy.ridge import ForgettingRidge
from tui_trader.core.policy.utility import optimal_weight, utility_gain

__all__ = [
    "BARS_PER_YEAR",
    "TRADING_DAYS_PER_YEAR",
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
