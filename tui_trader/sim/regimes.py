"""The synthetic market's drift regimes: realistic by default, the strong planted one on request.

The market model (:mod:`.market`) drifts each symbol at ``regime x drift`` a year, ``regime``
a three-state Markov chain (-1, 0, +1) switching on average every ``minutes`` trading minutes.

* :data:`REALISTIC`, the default: +-5 % a year per regime, switching about once a week (five
  sessions of 390 minutes). That is what a market's drift looks like from minute bars:
  0.0006-0.001 of one bar's standard deviation, invisible over anything the desk or a test can
  run, so a policy on it should earn nothing but noise and lose its costs.
* :data:`PLANTED`, for demos and for tests that need an edge to find (``--planted``,
  ``[sim] planted``, ``EmulatorConfig(planted=True)``): +-800 % a year per regime, switching
  every two trading hours. It sounds large but is weak where it counts: about 0.1 of one bar's
  standard deviation per minute bar, so a regime moves a price about 1 % over its two hours
  against ~2.5 % of noise. Measured (``tests/unit/test_policy.py``): at 0.6 even an oracle's
  Sharpe over a few thousand bars is inside the noise; from about 6 the online policy finds it
  reliably. Nothing measured on it is evidence of an edge anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

SESSION_MINUTES = 390


@dataclass(frozen=True)
class DriftRegime:
    """The annualised drift of each of the -1/0/+1 states, and the mean number of trading
    minutes between switches."""

    drift: float
    minutes: float
    name: str

    def describe(self) -> str:
        every = (
            f"{self.minutes / SESSION_MINUTES:g} sessions"
            if self.minutes >= SESSION_MINUTES
            else f"{self.minutes / 60:g} trading hours"
        )
        return f"{self.name} drift regimes of +-{self.drift * 100:g}%/yr switching every ~{every}"


REALISTIC = DriftRegime(drift=0.05, minutes=5.0 * SESSION_MINUTES, name="realistic")
PLANTED = DriftRegime(drift=8.0, minutes=120.0, name="planted")
DEFAULT_REGIME_DRIFT = REALISTIC.drift
DEFAULT_REGIME_MINUTES = REALISTIC.minutes


def drift_regime(planted: bool) -> DriftRegime:
    """The strong planted regime when asked for (demos, tests of learning), else realistic."""
    return PLANTED if planted else REALISTIC
