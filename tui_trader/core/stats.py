"""Honest statistics for an equity curve: a Sharpe with its uncertainty, and a permutation test.

**Sharpe and its standard error.** ``SR = mean / sd`` of per-bar returns, times
``sqrt(periods per year)``. Its standard error follows Lo (2002), "The Statistics of Sharpe
Ratios", in the form that allows for serial correlation and fat tails: by the delta method the
estimate's error is the mean of the influence series

    psi_t = (r_t - mu) / sigma - SR/2 * ((r_t - mu)^2 - sigma^2) / sigma^2

(per-bar SR), so ``Var(SR_hat) = LRV(psi) / T`` with ``LRV`` its long-run variance. That is
estimated with Newey-West's Bartlett kernel and their automatic bandwidth (Newey & West 1994,
"Automatic lag selection in covariance matrix estimation": pre-lags ``4 (T/100)^(2/9)``,
bandwidth ``1.1447 (s1/s0)^(2/3) T^(1/3)``). For iid normal returns this is the textbook
``sqrt((1 + SR^2/2) / T)``; positive autocorrelation (a position held for many bars, trends)
widens it, skew and kurtosis enter through ``psi``. Chosen over a block bootstrap because it is
deterministic, needs no block length, and costs one pass over the series.

**Permutation test.** Is the policy's Sharpe more than what its exposure would earn anyway?
The policy's book is cut, per symbol, into *runs*: the bars between one fill and the next, each
holding one position (its realised weight, bar by bar). Two nulls keep everything the policy
did not earn by skill and destroy one thing:

* ``timing``: each symbol's runs are permuted in time over that symbol's bars. Exposure, the
  mix of long and short and every holding time are kept; *when* they were held is not.
* ``direction``: each run's sign is flipped with probability 1/2. Timing, holding times and
  gross exposure are kept; *which way* is not.

Each permuted book is priced on the same market returns, vectorised (no policy re-run):
``r_t = sum_j w_{t-1,j} R_{t,j} - cost * sum_j |w_{t,j} - w_{t-1,j}|`` at run starts. The
policy's own statistic is computed the same way (the identity permutation), so it is one
member of the null distribution and the p-value ``(k + 1) / (n + 1)`` (``k`` of ``n``
permutations at least as good) is exact for ``n`` random draws. Seeded; the draws do not
depend on how the work is chunked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "Drawdown",
    "Null",
    "PermutationTest",
    "annual_return",
    "drawdown",
    "permutation_test",
    "sharpe",
    "sharpe_standard_error",
    "sortino",
]

Null = Literal["timing", "direction"]
_Vector = npt.NDArray[np.float64]
_Matrix = npt.NDArray[np.float64]
_Mask = npt.NDArray[np.bool_]
_TINY = 1e-15
_CELLS_PER_CHUNK = 1_000_000  # permutations x bars held at once (a few arrays of 8 MB)

NULLS: dict[str, str] = {
    "timing": "each symbol's position runs permuted in time (exposure, direction mix and "
    "holding times kept)",
    "direction": "each position run's sign flipped at random (timing, holding times and "
    "gross exposure kept)",
}


def annual_return(total: float, steps: int, periods_per_year: float) -> float:
    """The compound annual return of ``total`` earned over ``steps`` periods, through logs so
    a big move over a few bars gives ``inf`` rather than an overflow; -1 for a total loss."""
    if steps <= 0:
        return 0.0
    if total <= -1.0:
        return -1.0
    growth = math.log1p(total) * periods_per_year / steps
    return math.expm1(growth) if growth < 709 else math.inf


def sharpe(returns: _Vector, periods_per_year: float) -> float:
    """Annualised Sharpe of per-bar ``returns`` (population sd; 0 for a flat series)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return 0.0
    sd = float(r.std())
    return float(r.mean()) / sd * math.sqrt(periods_per_year) if sd > _TINY else 0.0


def sortino(returns: _Vector, periods_per_year: float) -> float:
    """Annualised mean over downside deviation (below 0); 0 when nothing was ever lost."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return 0.0
    down = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    return float(r.mean()) / down * math.sqrt(periods_per_year) if down > _TINY else 0.0


def sharpe_standard_error(returns: _Vector, periods_per_year: float) -> float:
    """Standard error of :func:`sharpe`: Lo (2002) with a Newey-West long-run variance."""
    r = np.asarray(returns, dtype=np.float64)
    n = r.size
    if n < 3:
        return 0.0
    d = r - r.mean()
    var = float(np.mean(d * d))
    if var <= _TINY**2:
        return 0.0
    sd = math.sqrt(var)
    per_bar = float(r.mean()) / sd
    psi = d / sd - per_bar / 2.0 * (d * d - var) / var
    return math.sqrt(max(long_run_variance(psi), 0.0) / n * periods_per_year)


def _autocovariances(x: _Vector, lags: int) -> _Vector:
    n = x.size
    return np.array([float(x[k:] @ x[: n - k]) / n for k in range(lags + 1)])


def newey_west_bandwidth(x: _Vector) -> int:
    """Newey & West (1994) automatic lag for the Bartlett kernel."""
    n = x.size
    pre = max(1, min(n - 1, int(4.0 * (n / 100.0) ** (2.0 / 9.0))))
    g = _autocovariances(x - x.mean(), pre)
    s0 = g[0] + 2.0 * float(g[1:].sum())
    s1 = 2.0 * float(np.arange(1, pre + 1) @ g[1:])
    if s0 <= 0:
        return pre
    gamma = 1.1447 * (abs(s1) / s0) ** (2.0 / 3.0)
    return max(0, min(n - 1, n // 2, int(gamma * n ** (1.0 / 3.0))))


def long_run_variance(x: _Vector) -> float:
    """Bartlett-kernel (Newey-West) long-run variance of ``x``, bandwidth chosen by the data."""
    x = np.asarray(x, dtype=np.float64)
    lags = newey_west_bandwidth(x)
    g = _autocovariances(x - x.mean(), lags)
    weights = 1.0 - np.arange(1, lags + 1) / (lags + 1.0)
    return float(g[0] + 2.0 * (weights @ g[1:]))


@dataclass(frozen=True)
class Drawdown:
    """The deepest fall from a peak: its depth and how long from that peak to recovery
    (or to the end of the curve, ``recovered`` False)."""

    depth: float
    peak: int
    trough: int
    end: int
    recovered: bool

    @property
    def bars(self) -> int:
        return self.end - self.peak


def drawdown(curve: _Vector) -> Drawdown:
    c = np.asarray(curve, dtype=np.float64)
    if c.size == 0:
        return Drawdown(0.0, 0, 0, 0, True)
    top = np.maximum.accumulate(c)
    fall = 1.0 - c / top
    trough = int(np.argmax(fall))
    depth = float(fall[trough])
    if depth <= 0:
        return Drawdown(0.0, 0, 0, 0, True)
    peak = int(np.flatnonzero(c[: trough + 1] >= top[trough])[-1])
    back = np.flatnonzero(c[trough:] >= top[trough])
    if back.size:
        return Drawdown(depth, peak, trough, trough + int(back[0]), True)
    return Drawdown(depth, peak, trough, c.size - 1, False)


@dataclass(frozen=True)
class PermutationTest:
    """Where the policy's Sharpe falls among Sharpes of books that keep its exposure.

    ``observed`` is the policy's Sharpe priced like the permutations (within rounding of the
    engine's); ``exceed`` counts permutations at least as good; ``p_value`` is
    ``(exceed + 1) / (permutations + 1)``; ``percentile`` is the policy's mid-rank in the
    null distribution, in percent (50 where it is indistinguishable from all of it).
    """

    null: str
    description: str
    permutations: int
    seed: int
    observed: float
    mean: float
    sd: float
    p05: float
    p50: float
    p95: float
    exceed: int
    p_value: float
    percentile: float


@dataclass(frozen=True)
class _Symbol:
    rows: npt.NDArray[np.intp]  # the symbol's bars on the merged timeline
    weight: _Vector  # realised weight at those bars
    starts: npt.NDArray[np.intp]  # run starts, positions in ``rows`` (the first is 0)
    lengths: npt.NDArray[np.intp]
    gain: _Vector  # the symbol's return from each of its bars to its next
    into: npt.NDArray[np.intp]  # the merged step each gain lands in (``rows[1:] - 1``)
    dense: bool  # a bar at every merged step: gains add without scattering


def _symbols(
    weights: _Matrix, asset_returns: _Matrix, starts: _Mask, active: _Mask
) -> list[_Symbol]:
    steps = weights.shape[0]
    out = []
    for j in range(weights.shape[1]):
        rows = np.flatnonzero(active[:, j])
        if rows.size == 0:
            continue
        begin = starts[rows, j].copy()
        begin[0] = True
        bounds = np.flatnonzero(begin)
        out.append(
            _Symbol(
                rows=rows,
                weight=weights[rows, j].astype(np.float64),
                starts=bounds,
                lengths=np.diff(np.append(bounds, rows.size)),
                gain=asset_returns[rows[1:], j].astype(np.float64),
                into=rows[1:] - 1,
                dense=rows.size == steps,
            )
        )
    return out


# Drawn books for one symbol, one per row: the weight at each of the symbol's bars, the run
# starts (positions in its bars) and the weight traded at each start.
_Draws = tuple[_Matrix, npt.NDArray[np.intp], _Matrix]


def _traded(w: _Matrix, starts: npt.NDArray[np.intp]) -> _Matrix:
    rows = np.arange(w.shape[0])[:, None]
    before = np.where(starts > 0, w[rows, np.maximum(starts - 1, 0)], 0.0)
    return np.abs(w[rows, starts] - before)


def _identity(s: _Symbol) -> _Draws:
    w = s.weight[None, :]
    starts = s.starts[None, :]
    return w, starts, _traded(w, starts)


def _draw(s: _Symbol, null: Null, books: int, rng: np.random.Generator) -> _Draws:
    runs = s.starts.size
    if null == "direction":
        flips = rng.choice(np.array([-1.0, 1.0]), size=(books, runs))
        w = s.weight * np.repeat(flips, s.lengths, axis=1)
        starts = np.broadcast_to(s.starts, (books, runs))
        return w, starts, _traded(w, starts)
    order = np.argsort(rng.random((books, runs)), axis=1)
    lengths = s.lengths[order]
    starts = np.cumsum(lengths, axis=1) - lengths
    shift = np.repeat((s.starts[order] - starts).ravel(), lengths.ravel())
    w = s.weight[shift.reshape(books, s.rows.size) + np.arange(s.rows.size)]
    return w, starts, _traded(w, starts)


def _book_returns(symbols: list[_Symbol], draws: list[_Draws], steps: int, cost: float) -> _Matrix:
    """Per-step returns (books x steps-1) of the drawn books on the merged timeline."""
    books = draws[0][0].shape[0]
    total = np.zeros((books, steps - 1))
    for s, (w, starts, traded) in zip(symbols, draws, strict=True):
        if s.gain.size:
            if s.dense:
                total += w[:, :-1] * s.gain
            else:
                total[:, s.into] += w[:, :-1] * s.gain
        book = np.broadcast_to(np.arange(books)[:, None], starts.shape)
        # paid in the step that ends at the trade's bar (a trade at the first bar: the first)
        np.subtract.at(total, (book, np.maximum(s.rows[starts] - 1, 0)), cost * traded)
    return total


def _sharpes(returns: _Matrix, periods_per_year: float) -> _Vector:
    sd = returns.std(axis=1)
    mean = returns.mean(axis=1)
    safe = np.where(sd > _TINY, sd, 1.0)
    return np.where(sd > _TINY, mean / safe, 0.0) * math.sqrt(periods_per_year)


def permutation_test(
    weights: _Matrix,
    asset_returns: _Matrix,
    starts: _Mask,
    active: _Mask,
    *,
    null: Null,
    cost: float,
    periods_per_year: float,
    permutations: int,
    seed: int,
) -> PermutationTest:
    """Test the book ``weights`` (bars x symbols: each symbol's weight held after that bar's
    fills) against ``permutations`` books drawn from ``null``.

    ``asset_returns[t, j]`` is symbol ``j``'s return from bar ``t - 1`` to ``t`` (0 where it
    has no bar); ``starts[t, j]`` marks a fill (a new run) and ``active[t, j]`` a bar of that
    symbol. ``cost`` is paid on the weight traded at each run start.
    """
    if null not in NULLS:
        raise ValueError(f"null must be one of {', '.join(NULLS)}")
    if permutations < 1:
        raise ValueError("permutations must be at least 1")
    steps = weights.shape[0]
    symbols = _symbols(weights, asset_returns, starts, active)
    if steps < 3 or not symbols:
        null_sharpes = np.zeros(permutations)
        observed = 0.0
    else:
        observed = float(
            _sharpes(
                _book_returns(symbols, [_identity(s) for s in symbols], steps, cost),
                periods_per_year,
            )[0]
        )
        # each symbol draws from its own stream, so the draws do not depend on the chunking
        code = list(NULLS).index(null)
        rngs = [np.random.default_rng([seed, code, j]) for j in range(len(symbols))]
        chunk = max(1, _CELLS_PER_CHUNK // steps)
        parts = []
        for first in range(0, permutations, chunk):
            books = min(chunk, permutations - first)
            draws = [_draw(s, null, books, rng) for s, rng in zip(symbols, rngs, strict=True)]
            parts.append(_sharpes(_book_returns(symbols, draws, steps, cost), periods_per_year))
        null_sharpes = np.concatenate(parts)
    tie = 1e-9 * max(1.0, abs(observed))
    above = int(np.sum(null_sharpes > observed + tie))
    below = int(np.sum(null_sharpes < observed - tie))
    exceed = permutations - below
    p05, p50, p95 = (float(q) for q in np.quantile(null_sharpes, [0.05, 0.5, 0.95]))
    return PermutationTest(
        null=null,
        description=NULLS[null],
        permutations=permutations,
        seed=seed,
        observed=observed,
        mean=float(null_sharpes.mean()),
        sd=float(null_sharpes.std()),
        p05=p05,
        p50=p50,
        p95=p95,
        exceed=exceed,
        p_value=(exceed + 1) / (permutations + 1),
        percentile=100.0 * (below + 0.5 * (permutations - below - above)) / permutations,
    )
