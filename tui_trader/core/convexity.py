"""Convexity detector: per-symbol asymmetry of recent returns, and whether volatility is compressed.

A *convex setup* is one where the upside is larger than the downside while volatility is
quiet compared with its own history: a cheap option-like bet. Per symbol we keep the last
``long_window`` log returns ``r_t = ln(p_t / p_{t-1})`` in a fixed ring buffer and look at the
most recent ``window`` of them, ``x_1 .. x_n``, with mean ``m`` and deviations ``d_i = x_i - m``.

Everything is measured on deviations from the mean, so the score describes the *shape* of the
distribution: a steady trend is drift, not convexity, and it must not masquerade as one.

``semi_ratio = sqrt(mean(max(d, 0)^2)) / sqrt(mean(min(d, 0)^2))``
    Upside over downside semi-deviation: are the moves above the mean bigger than those below?
``tail_ratio = mean(top k of d) / |mean(bottom k of d)|``,  ``k = max(1, ceil(0.1 * n))``
    The average best decile against the average worst one: the size of the extremes.
``skew = mean(d^3) / mean(d^2)^(3/2)``
    Sample (Fisher-Pearson, biased) skewness; bounded by ``(n - 2) / sqrt(n - 1)``.
``vol_ratio = std(last window returns) / std(all buffered returns, up to long_window)``
    Below 1 when the recent window is calmer than the longer history.

The ratios are clamped to ``[1/100, 100]`` and combined on a log scale, which makes the
asymmetry odd under mirroring (returns ``r -> -r``, i.e. prices ``p -> 1/p``, negate it)::

    a     = (ln semi_ratio + ln tail_ratio + asinh skew) / 3
    boost = 1 + max(0, 1 - vol_ratio)                      # in [1, 2]
    score = tanh(a * boost)                                # in (-1, 1)

Each term is 0 for a symmetric distribution, positive for a right-skewed one (rare large up
moves) and negative for a left-skewed one; ``asinh`` puts skewness on the same logarithmic
footing as the ratios, and equal weights keep any single noisy estimate from dominating.
Compression only amplifies the asymmetry that is there (convexity is cheapest when volatility
is quiet), it never creates a sign of its own. ``convex`` is ``score >= threshold`` *and*
``vol_ratio <= compression``.

Guarantees: returns are price ratios, so multiplying every price by a constant leaves every
reading unchanged (up to float rounding); nothing is computed before ``min_obs`` returns are in
the window (``warming_up``, score 0); degenerate windows (constant prices: a dispersion below
1e-10 in log-return units) give the neutral ``semi_ratio = tail_ratio = 1``, ``skew = 0``, a
flat long history ``vol_ratio = 1``, and a one-sided window a clamped ratio, never NaN or
inf; and non-positive or non-finite prices are ignored without touching the state. Memory is
O(long_window) per symbol.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from numbers import Real

import numpy as np
import numpy.typing as npt

__all__ = ["ConvexityDetector", "ConvexityReading"]

_EPS = 1e-10
"""Dispersion (in log-return units, hence scale-free) below which a window counts as flat."""
_RATIO_CAP = 100.0
"""Ratios are clamped to ``[1/_RATIO_CAP, _RATIO_CAP]`` so that a one-sided window stays finite."""
_TAIL_FRACTION = 0.1
"""Share of the window averaged at each end for ``tail_ratio``."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ConvexityReading:
    """One symbol's convexity at its latest price; every float is finite.

    ``score`` is in (-1, 1): positive when the upside dominates, 0 while warming up or for a
    symmetric window. ``n`` counts the returns in the short window (at most ``window``).
    """

    symbol: str
    n: int
    min_obs: int
    warming_up: bool
    score: float
    convex: bool
    semi_ratio: float
    tail_ratio: float
    skew: float
    vol_ratio: float

    def describe(self) -> str:
        """A short cell for the UI: ``warming up 23/60``, ``convex +0.42`` or ``+0.10``."""
        if self.warming_up:
            return f"warming up {self.n}/{self.min_obs}"
        shown = round(self.score, 2) + 0.0  # + 0.0 turns -0.0 into 0.0: no "-0.00"
        text = f"{shown:+.2f}"
        return f"convex {text}" if self.convex else text


def _neutral(symbol: str, n: int, min_obs: int, *, warming_up: bool) -> ConvexityReading:
    return ConvexityReading(
        symbol=symbol,
        n=n,
        min_obs=min_obs,
        warming_up=warming_up,
        score=0.0,
        convex=False,
        semi_ratio=1.0,
        tail_ratio=1.0,
        skew=0.0,
        vol_ratio=1.0,
    )


def _safe_ratio(num: float, den: float) -> float:
    """``num / den`` for non-negative inputs, clamped; 1 when both are negligible."""
    if den <= _EPS:
        return _RATIO_CAP if num > _EPS else 1.0
    return min(max(num / den, 1.0 / _RATIO_CAP), _RATIO_CAP)


def _log_return(price: float, last: float) -> float:
    """``ln(price / last)``: the ratio is the accurate form, the log difference the safe one.

    The ratio keeps full relative precision (and exact invariance under power-of-two scaling),
    but it can overflow or underflow for absurd jumps, where the difference of logs is finite.
    """
    ratio = price / last
    if 0.0 < ratio < math.inf:
        return math.log(ratio)
    return math.log(price) - math.log(last)


class _Series:
    """A symbol's last price and a ring buffer of its last ``capacity`` log returns."""

    __slots__ = ("cached", "count", "head", "last_price", "returns")

    def __init__(self, capacity: int) -> None:
        self.returns: FloatArray = np.zeros(capacity, dtype=np.float64)
        self.head = 0  # where the next return goes
        self.count = 0  # returns stored, at most capacity
        self.last_price: float | None = None
        self.cached: ConvexityReading | None = None

    def push(self, price: float) -> None:
        last, self.last_price = self.last_price, price
        self.cached = None
        if last is None:
            return
        capacity = self.returns.size
        self.returns[self.head] = _log_return(price, last)
        self.head = (self.head + 1) % capacity
        self.count = min(self.count + 1, capacity)

    def history(self) -> FloatArray:
        """Every stored return, oldest first."""
        capacity = self.returns.size
        if self.count < capacity:
            return self.returns[: self.count]
        return np.roll(self.returns, -self.head)


def _positive_price(price: float) -> float | None:
    """The price as a float if it is usable (finite and > 0), else None; non-numbers raise."""
    if isinstance(price, bool) or not isinstance(price, Real):
        raise TypeError(f"price must be a real number, not {type(price).__name__}")
    value = float(price)
    return value if math.isfinite(value) and value > 0.0 else None


def _check_int(name: str, value: int, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}")


class ConvexityDetector:
    """Rolling, per-symbol convexity readings from a stream of prices (see module docstring).

    ``window`` returns feed the asymmetry statistics and the short volatility, ``long_window``
    returns (the buffer size) the long volatility; nothing is scored before ``min_obs``.
    """

    def __init__(
        self,
        window: int = 120,
        long_window: int = 600,
        min_obs: int = 60,
        threshold: float = 0.25,
        compression: float = 0.8,
    ) -> None:
        _check_int("window", window, 10)
        _check_int("min_obs", min_obs, 10)
        _check_int("long_window", long_window, window + 1)  # else nothing to compare against
        if min_obs > window:
            raise ValueError("min_obs must not exceed window")
        for name, value in (("threshold", threshold), ("compression", compression)):
            if isinstance(value, bool) or not isinstance(value, Real):
                raise ValueError(f"{name} must be a real number")
        if not 0.0 < threshold < 1.0:  # the score lives in (-1, 1)
            raise ValueError("threshold must be within (0, 1)")
        if not 0.0 < compression <= 1.0:  # a vol ratio above 1 is expansion, not compression
            raise ValueError("compression must be within (0, 1]")
        self.window = window
        self.long_window = long_window
        self.min_obs = min_obs
        self.threshold = float(threshold)
        self.compression = float(compression)
        self._series: dict[str, _Series] = {}

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols that have had at least one usable price, in first-seen order."""
        return tuple(self._series)

    def update(self, symbol: str, price: float) -> ConvexityReading:
        """Take one price; an unusable one (<= 0, NaN, inf) is ignored and changes nothing."""
        self._ingest(symbol, price)
        return self.reading(symbol)

    def update_many(self, symbol: str, prices: Iterable[float]) -> ConvexityReading:
        """Take a batch of prices in order, computing the reading once at the end."""
        for price in prices:
            self._ingest(symbol, price)
        return self.reading(symbol)

    def reading(self, symbol: str) -> ConvexityReading:
        """The latest reading; an unknown symbol is simply warming up with no data."""
        series = self._series.get(symbol)
        if series is None:
            return _neutral(symbol, 0, self.min_obs, warming_up=True)
        if series.cached is None:
            series.cached = self._compute(symbol, series)
        return series.cached

    def forget(self, symbol: str) -> None:
        """Drop a symbol's state, so that a desk cycling through symbols stays bounded."""
        self._series.pop(symbol, None)

    def _ingest(self, symbol: str, price: float) -> None:
        value = _positive_price(price)
        if value is None:
            return
        series = self._series.get(symbol)
        if series is None:
            series = self._series[symbol] = _Series(self.long_window)
        series.push(value)

    def _compute(self, symbol: str, series: _Series) -> ConvexityReading:
        n = min(series.count, self.window)
        if n < self.min_obs:
            return _neutral(symbol, n, self.min_obs, warming_up=True)
        history = series.history()
        x = history[-n:]
        dev = x - x.mean()
        std = math.sqrt(float(np.mean(dev * dev)))
        vol_ratio = self._vol_ratio(std, history, n)
        if std <= _EPS:  # flat window: no shape to speak of
            flat = _neutral(symbol, n, self.min_obs, warming_up=False)
            return replace(flat, vol_ratio=vol_ratio)

        up = math.sqrt(float(np.mean(np.square(np.maximum(dev, 0.0)))))
        down = math.sqrt(float(np.mean(np.square(np.minimum(dev, 0.0)))))
        semi_ratio = _safe_ratio(up, down)

        k = max(1, math.ceil(_TAIL_FRACTION * n))
        ordered = np.sort(dev)
        top = max(float(ordered[-k:].mean()), 0.0)
        bottom = max(-float(ordered[:k].mean()), 0.0)
        tail_ratio = _safe_ratio(top, bottom)

        skew = float(np.mean(dev**3)) / std**3
        if not math.isfinite(skew):  # unreachable for finite returns; belt and braces
            skew = 0.0

        asymmetry = (math.log(semi_ratio) + math.log(tail_ratio) + math.asinh(skew)) / 3.0
        boost = 1.0 + max(0.0, 1.0 - vol_ratio)
        score = math.tanh(asymmetry * boost)
        return ConvexityReading(
            symbol=symbol,
            n=n,
            min_obs=self.min_obs,
            warming_up=False,
            score=score,
            convex=score >= self.threshold and vol_ratio <= self.compression,
            semi_ratio=semi_ratio,
            tail_ratio=tail_ratio,
            skew=skew,
            vol_ratio=vol_ratio,
        )

    def _vol_ratio(self, short_std: float, history: FloatArray, n: int) -> float:
        """Short over long volatility; 1 (no evidence) until the history outgrows the window."""
        if history.size <= n:
            return 1.0
        long_std = float(np.std(history))
        if long_std <= _EPS:
            return 1.0
        if short_std <= _EPS:
            return 0.0
        return min(short_std / long_std, _RATIO_CAP)
