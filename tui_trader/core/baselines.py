"""Classic strategies every backtest is compared against, as target weights per bar.

Each rule maps the close matrix (bars x symbols, NaN where a symbol has no bar) to the weight
of equity it wants in each symbol after each bar, and a mask of the bars where it trades to
that weight. The backtest engine holds them like its other references
(:meth:`tui_trader.core.backtest._Market.hold`): decided on bar ``t``'s close, traded at that
same close in fractional shares, paying the run's ``cost_bps`` of the notional traded. Deciding
and trading on one close is no look-ahead: the weight for bar ``t`` reads closes up to ``t``
only and earns from ``t`` to ``t + 1``. (The policy waits one more bar, because it is driven
bar by bar through the desk's gate; the references do not need to.)

Conventions, shared by every rule:

* **Sleeves.** Each of the ``n`` symbols gets a sleeve of ``1/n`` of equity, and a rule scales
  its sleeve by an exposure in ``[0, cap]``; exposures are computed on each symbol's own bars
  (a symbol missing a bar is not a zero return).
* **Rebalanced every bar** (``weights reset daily`` on daily bars): where the rule is invested,
  the book trades back to its target at each bar of the symbol, which costs the drift of the
  weights. ``buy_and_hold`` alone buys once and never trades again.
* **Warm-up.** A rule that needs ``L`` bars of history is flat until it has them (the 200-day
  average trades from the 200th bar, the 20-bar volatility from the 21st, 12-month momentum
  from the 253rd daily bar).
* **Spans in bars from the spacing.** A span in days or months is a fraction of a year:
  ``bars = round(span_in_years * periods_per_year)``, where ``periods_per_year`` is what
  :mod:`tui_trader.core.annualise` read from the timestamps. 200 trading days is
  ``200/252`` of a year (200 daily bars, 78,000 one-minute bars of regular sessions), 12 months
  one year. The volatility window is a count of *observations* (20 bars at any spacing).
* **No financing.** Leverage above 1 (the volatility target's cap is 1.5) borrows cash at 0%.

The rules (``sigma_t`` is the annualised realised volatility of the symbol's last ``k`` simple
returns, population standard deviation, times ``sqrt(periods_per_year)``):

* ``buy_and_hold_daily``: exposure 1 at every bar (``1/n`` each, reset each bar).
* ``buy_and_hold``: ``1/n`` bought at each symbol's first close, never rebalanced.
* ``sma_timing``: exposure 1 when ``close_t > mean(close_{t-L+1..t})``, ``L`` = 200 days, else 0.
* ``vol_target``: exposure ``min(cap, target / sigma_t)``, target 15%, ``k`` = 20, cap 1.5.
* ``sma_vol_target``: the two multiplied.
* ``momentum_vol_target``: exposure ``min(cap, target / sigma_t)`` when
  ``close_t / close_{t-M} > 1`` (``M`` = 12 months), else 0: long or flat, never short.
* ``random_control``: a null, not a rule. Each symbol's long and flat runs of ``sma_timing``
  (their lengths, in its own bars) are put in a random order (seeded), the first run's state
  drawn at random: the same exposure and as many switches as the timing rule, at random times.
  It is built from the whole sample's run lengths (that is what makes it a control of the
  timing rule's *timing*), so unlike the others it is not decided on information up to its
  bar; one seed is one draw (the permutation tests give the distribution).

Pure numpy, no I/O, deterministic per seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tui_trader.core.annualise import TRADING_DAYS_PER_YEAR

__all__ = [
    "BASELINES",
    "Baseline",
    "Weights",
    "bars_for",
    "baselines",
    "buy_and_hold",
    "buy_and_hold_daily",
    "momentum_vol_target",
    "random_control",
    "realised_volatility",
    "sma_timing",
    "sma_vol_target",
    "vol_target",
]

_Matrix = npt.NDArray[np.float64]
_Mask = npt.NDArray[np.bool_]

SMA_DAYS = 200
VOL_TARGET = 0.15
VOL_WINDOW = 20
VOL_CAP = 1.5
MOMENTUM_MONTHS = 12


@dataclass(frozen=True)
class Weights:
    """A rule's target ``weights[t, j]`` (fraction of equity) and where it trades to them."""

    weights: _Matrix
    rebalance: _Mask


@dataclass(frozen=True)
class Baseline:
    """One named rule and, in words, what it does (quoted in the report)."""

    name: str
    description: str
    rule: Callable[[_Matrix, float, int], Weights]


def bars_for(years: float, periods_per_year: float) -> int:
    """A span of ``years`` in bars of a series with ``periods_per_year`` (at least 1)."""
    return max(1, round(years * periods_per_year))


def _per_symbol(close: _Matrix, exposure: Callable[[_Matrix], _Matrix]) -> _Matrix:
    """Apply ``exposure`` (a symbol's own closes -> exposure per bar) to each column's bars."""
    out = np.full(close.shape, np.nan)
    for j in range(close.shape[1]):
        rows = np.flatnonzero(np.isfinite(close[:, j]))
        if rows.size:
            out[rows, j] = exposure(close[rows, j])
    return out


def _sleeves(close: _Matrix, exposure: _Matrix) -> Weights:
    """``1/n`` of equity per symbol scaled by its exposure, traded at each of its bars."""
    n = close.shape[1]
    active = np.isfinite(close)
    return Weights(np.where(active, np.nan_to_num(exposure) / n, 0.0), active)


def _sma_above(c: npt.NDArray[np.float64], window: int) -> _Matrix:
    above = np.zeros(c.size)
    if c.size >= window:
        sums = np.cumsum(np.concatenate([[0.0], c]))
        mean = (sums[window:] - sums[:-window]) / window  # mean of c[t-window+1..t]
        above[window - 1 :] = c[window - 1 :] > mean
    return above


def realised_volatility(c: npt.NDArray[np.float64], window: int, periods: float) -> _Matrix:
    """Annualised population sd of the last ``window`` simple returns into each bar (NaN
    until there are ``window`` of them)."""
    vol = np.full(c.size, np.nan)
    if c.size > window:
        r = c[1:] / c[:-1] - 1.0
        s1 = np.cumsum(np.concatenate([[0.0], r]))
        s2 = np.cumsum(np.concatenate([[0.0], r * r]))
        mean = (s1[window:] - s1[:-window]) / window
        var = np.maximum((s2[window:] - s2[:-window]) / window - mean * mean, 0.0)
        vol[window:] = np.sqrt(var * periods)
    return vol


def _vol_scale(c: npt.NDArray[np.float64], periods: float) -> _Matrix:
    vol = realised_volatility(c, VOL_WINDOW, periods)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.minimum(VOL_CAP, VOL_TARGET / vol)  # vol 0 -> the cap
    return np.where(np.isnan(vol), 0.0, scale)


def _sma_window(periods: float) -> int:
    return bars_for(SMA_DAYS / TRADING_DAYS_PER_YEAR, periods)


def buy_and_hold_daily(close: _Matrix, periods: float, seed: int = 0) -> Weights:
    return _sleeves(close, np.ones(close.shape))


def buy_and_hold(close: _Matrix, periods: float, seed: int = 0) -> Weights:
    active = np.isfinite(close)
    first = active & (np.cumsum(active, axis=0) == 1)
    return Weights(np.full(close.shape, 1.0 / close.shape[1]), first)


def sma_timing(close: _Matrix, periods: float, seed: int = 0) -> Weights:
    window = _sma_window(periods)
    return _sleeves(close, _per_symbol(close, lambda c: _sma_above(c, window)))


def vol_target(close: _Matrix, periods: float, seed: int = 0) -> Weights:
    return _sleeves(close, _per_symbol(close, lambda c: _vol_scale(c, periods)))


def sma_vol_target(close: _Matrix, periods: float, seed: int = 0) -> Weights:
    window = _sma_window(periods)
    return _sleeves(
        close, _per_symbol(close, lambda c: _sma_above(c, window) * _vol_scale(c, periods))
    )


def _momentum_up(c: npt.NDArray[np.float64], lookback: int) -> _Matrix:
    up = np.zeros(c.size)
    up[lookback:] = c[lookback:] > c[:-lookback]
    return up


def momentum_vol_target(close: _Matrix, periods: float, seed: int = 0) -> Weights:
    lookback = bars_for(MOMENTUM_MONTHS / 12, periods)
    return _sleeves(
        close, _per_symbol(close, lambda c: _momentum_up(c, lookback) * _vol_scale(c, periods))
    )


def _shuffled_runs(state: _Matrix, rng: np.random.Generator) -> _Matrix:
    """``state`` (0/1 per bar) with its runs' lengths kept, their order and phase random."""
    if state.size == 0:
        return state
    starts = np.concatenate([[0], np.flatnonzero(np.diff(state) != 0) + 1])
    lengths = np.diff(np.concatenate([starts, [state.size]])).astype(np.intp)
    long_runs = state[starts] > 0
    on, off = rng.permutation(lengths[long_runs]), rng.permutation(lengths[~long_runs])
    # the kinds alternate; the more numerous goes first (a coin where they are as many)
    on_first = on.size > off.size or (on.size == off.size and bool(rng.integers(2)))
    first, second = (on, off) if on_first else (off, on)
    order = np.empty(lengths.size, dtype=np.intp)
    order[0::2], order[1::2] = first, second
    kind = np.zeros(lengths.size)
    kind[(0 if on_first else 1) :: 2] = 1.0
    return np.repeat(kind, order)


def random_control(close: _Matrix, periods: float, seed: int = 0) -> Weights:
    window = _sma_window(periods)
    rng = np.random.default_rng([seed, 14])
    return _sleeves(close, _per_symbol(close, lambda c: _shuffled_runs(_sma_above(c, window), rng)))


BASELINES: tuple[Baseline, ...] = (
    Baseline(
        "buy_and_hold",
        "equal weights bought at each symbol's first close and never rebalanced",
        buy_and_hold,
    ),
    Baseline("buy_and_hold_daily", "equal weights, reset every bar", buy_and_hold_daily),
    Baseline(
        "sma_timing",
        f"long a symbol's 1/n while its close is above its {SMA_DAYS}-day average, else flat",
        sma_timing,
    ),
    Baseline(
        "vol_target",
        f"1/n x min({VOL_CAP:g}, {VOL_TARGET:.0%} / annualised sd of the last {VOL_WINDOW} "
        "returns), reset every bar",
        vol_target,
    ),
    Baseline("sma_vol_target", "sma_timing x vol_target", sma_vol_target),
    Baseline(
        "momentum_vol_target",
        f"vol_target while the {MOMENTUM_MONTHS}-month return is positive, else flat",
        momentum_vol_target,
    ),
    Baseline(
        "random_control",
        "sma_timing's long and flat runs in a random order (seeded): its exposure and switches, "
        "random timing",
        random_control,
    ),
)


def baselines(close: _Matrix, periods_per_year: float, seed: int = 0) -> dict[str, Weights]:
    """Every rule of :data:`BASELINES` over ``close`` (bars x symbols, NaN where no bar)."""
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise ValueError("periods_per_year must be a finite number > 0")
    return {b.name: b.rule(close, periods_per_year, seed) for b in BASELINES}
