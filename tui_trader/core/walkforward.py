r"""Walk-forward evaluation: judge an online policy only out of sample, after its warm-up.

Every candidate (one policy configuration, or a single policy when nothing is chosen) runs
once over all the bars through the backtest engine (:mod:`tui_trader.core.backtest`): it
learns online, so its decision at a bar's close uses only the closes up to that bar, and its
order fills at the next close. What walk-forward adds is *when a result may be looked at*.

Folds (anchored)
================

The merged timeline has steps ``0 .. n-1``; ``w`` is the first step after the warm-up (the
longest the policy needs before it can decide anything: its warm-up bars, its longest
feature window). ``[w, n)`` is cut into ``K + 1`` spans of equal length with bounds
``w = b_0 < b_1 < ... < b_{K+1} = n``. Fold ``k = 1..K`` is

* in-sample (training) span ``[b_0, b_k)``: the only results the fold may look at;
* out-of-sample (judged) span ``[b_k, b_{k+1})``.

The first span ``[b_0, b_1)`` is in-sample only. For each fold the candidate with the best
in-sample Sharpe is chosen (the first on ties; with one candidate nothing is chosen), and
its returns on the judged span are the fold's out-of-sample returns. So no parameter is
chosen by looking at a span at or after the one it is judged on, and no judged bar informs
any decision before it (the policies are causal; the choice reads only earlier returns).

The out-of-sample book is the concatenation: its per-step return at ``t`` in fold ``k`` is
the chosen candidate's ``r_t = E_t / E_{t-1} - 1`` (its own costs included). Where the choice
changes at a fold's start the book switches positions there and pays ``cost`` on the weight
traded, ``sum_j |w_new - w_old|``, in that step. The statistics of the concatenated returns
are those of :mod:`tui_trader.core.stats` (Sharpe with its Lo/Newey-West standard error,
Sortino, drawdown of the compounded curve), annualised with the run's periods per year, and
the permutation tests are run on the stitched book restricted to the judged steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from tui_trader.core import annualise, baselines
from tui_trader.core.annualise import Annualisation
from tui_trader.core.backtest import Bars, FillFn, Market, PolicyLike, Run
from tui_trader.core.stats import (
    PermutationTest,
    annual_return,
    drawdown,
    permutation_test,
    sharpe,
    sharpe_standard_error,
    sortino,
)

__all__ = [
    "Fold",
    "OutOfSample",
    "WalkForwardResult",
    "fold_bounds",
    "run_walk_forward",
    "select",
]

_Matrix = npt.NDArray[np.float64]
_Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Fold:
    """One fold: its spans as steps (``[start, end)``) and timestamps, and what it chose.

    ``train_end`` is ``test_start``; ``in_sample_sharpe`` is each candidate's Sharpe over the
    training span, the only figures the choice read.
    """

    index: int
    train_start: int
    test_start: int
    test_end: int
    train_from: datetime
    train_to: datetime  # last in-sample bar
    test_from: datetime
    test_to: datetime  # last judged bar
    chosen: str
    in_sample_sharpe: Mapping[str, float]
    out_of_sample_sharpe: float
    out_of_sample_return: float


@dataclass(frozen=True)
class OutOfSample:
    """Statistics of the concatenated out-of-sample returns."""

    bars: int
    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float
    sharpe_se: float
    sortino: float
    max_drawdown: float
    max_drawdown_days: float
    exposure: float
    turnover: float


@dataclass(frozen=True)
class WalkForwardResult:
    folds: tuple[Fold, ...]
    warmup_end: datetime  # the first bar that can be in any span
    in_sample_only: tuple[datetime, datetime]  # [b_0, b_1): never judged
    out_of_sample: OutOfSample
    shuffled: PermutationTest
    signs: PermutationTest
    annualisation: Annualisation
    candidates: tuple[str, ...]
    returns: _Vector  # the out-of-sample book's per-step returns
    timestamps: tuple[datetime, ...]  # the step each return ends at
    # every classic baseline (core/baselines.py) over the same out-of-sample steps, held by
    # the same engine with the same costs: what the policy is read against
    baselines: Mapping[str, OutOfSample] = field(default_factory=dict)


def fold_bounds(steps: int, warmup: int, folds: int) -> list[int]:
    """``[b_0, ..., b_{K+1}]``: ``[warmup, steps)`` cut into ``folds + 1`` equal spans."""
    if folds < 1:
        raise ValueError("folds must be at least 1")
    usable = steps - warmup
    if warmup < 0 or usable < 2 * (folds + 1):
        raise ValueError(f"{steps} bars after a warm-up of {warmup} are too few for {folds} folds")
    return [warmup + (usable * i) // (folds + 1) for i in range(folds + 2)]


def _returns(equity: _Vector) -> _Vector:
    """``r[t] = E_t / E_{t-1} - 1`` with ``r[0] = 0``: the return *into* step ``t``."""
    out = np.zeros_like(equity)
    out[1:] = equity[1:] / equity[:-1] - 1.0
    return out


def select(returns: Mapping[str, _Vector], start: int, end: int, periods: float) -> str:
    """The candidate with the best Sharpe over steps ``[start, end)`` (first on ties).

    Reads nothing at or after ``end``: the fold's judged span starts there.
    """
    best, best_sharpe = "", -math.inf
    for name, r in returns.items():
        value = sharpe(r[start + 1 : end], periods)  # returns earned within the span
        if value > best_sharpe:
            best, best_sharpe = name, value
    return best


def _stats(
    r: _Vector,
    exposed: npt.NDArray[np.bool_],
    traded: float,
    periods: float,
    stamps: Sequence[datetime],
) -> OutOfSample:
    curve = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    total = float(curve[-1] - 1.0)
    annual = annual_return(total, int(r.size), periods)
    fall = drawdown(curve)
    days = stamps[min(fall.end, len(stamps) - 1)] - stamps[max(fall.peak - 1, 0)]
    return OutOfSample(
        bars=int(r.size),
        total_return=total,
        annual_return=float(annual),
        annual_volatility=float(r.std()) * math.sqrt(periods),
        sharpe=sharpe(r, periods),
        sharpe_se=sharpe_standard_error(r, periods),
        sortino=sortino(r, periods),
        max_drawdown=fall.depth,
        max_drawdown_days=days.total_seconds() / 86400 if fall.depth > 0 else 0.0,
        exposure=float(np.mean(exposed)) if exposed.size else 0.0,
        turnover=traded,
    )


def run_walk_forward(
    bars: Bars,
    candidates: Mapping[str, Callable[[], PolicyLike]],
    *,
    folds: int = 4,
    warmup: int = 0,
    cost_bps: float = 2.0,
    starting_equity: float = 100_000.0,
    annualisation: Annualisation | None = None,
    seed: int = 0,
    permutations: int = 1000,
) -> WalkForwardResult:
    """Run every candidate once over ``bars`` and judge the chosen one fold by fold.

    ``warmup`` is the number of merged steps no span may include (the policy's warm-up).
    A candidate's policy with a ``fill(symbol, qty, price, fee, at)`` method (the desk's
    gated policy) is told each of its fills, as :func:`~tui_trader.core.backtest.run_backtest`
    does with ``on_fill``.
    """
    if not candidates:
        raise ValueError("walk-forward needs at least one candidate")
    if not (math.isfinite(cost_bps) and cost_bps >= 0):
        raise ValueError("cost_bps must be a finite number >= 0")
    market = Market(bars)
    steps = len(market.timestamps)
    bounds = fold_bounds(steps, warmup, folds)
    year = annualisation or annualise.infer(market.timestamps)
    periods = year.periods_per_year
    cost = cost_bps / 1e4
    runs: dict[str, Run] = {}
    for name, factory in candidates.items():
        policy = factory()

        def orders(
            t: int, j: int, price: float, equity: float, qty: float, policy: PolicyLike = policy
        ) -> float:
            symbol, at = market.symbols[j], market.timestamps[t]
            policy.observe(symbol, price, at)
            d = policy.decide(symbol, _dec(price), _dec(equity), _dec(qty), at)
            return float(d.proposed_qty or 0)

        fill: FillFn | None = getattr(policy, "fill", None)
        runs[name] = market.simulate(orders, cost=cost, equity0=starting_equity, on_fill=fill)
    returns = {name: _returns(run.equity) for name, run in runs.items()}
    weights = {name: market.weights(run) for name, run in runs.items()}

    first, n_symbols = bounds[1], len(market.symbols)
    book_r = np.zeros(steps)
    book_w = np.zeros((steps, n_symbols))
    book_fills = np.zeros((steps, n_symbols), dtype=bool)
    exposed = np.zeros(steps, dtype=bool)
    traded = 0.0
    made: list[Fold] = []
    previous: str | None = None
    stamps = market.timestamps
    for k in range(1, folds + 1):
        start, end = bounds[k], bounds[k + 1]
        chosen = select(returns, bounds[0], start, periods)
        run = runs[chosen]
        span = slice(start, end)
        r = returns[chosen][span].copy()
        w = weights[chosen]
        held_before = book_w[start - 1] if previous is not None else w[start - 1]
        if previous is not None and previous != chosen:
            switch = float(np.abs(w[start - 1] - held_before).sum())
            r[0] -= cost * switch
            traded += switch
            book_fills[start - 1] |= w[start - 1] != held_before
        book_r[span] = r
        book_w[start - 1 : end] = w[start - 1 : end]
        book_fills[span] = run.fills[span]
        exposed[span] = run.exposed[start - 1 : end - 1]
        traded += _traded(w, start, end)
        previous = chosen
        made.append(
            Fold(
                index=k,
                train_start=bounds[0],
                test_start=start,
                test_end=end,
                train_from=stamps[bounds[0]],
                train_to=stamps[start - 1],
                test_from=stamps[start],
                test_to=stamps[end - 1],
                chosen=chosen,
                in_sample_sharpe={
                    n: sharpe(v[bounds[0] + 1 : start], periods) for n, v in returns.items()
                },
                out_of_sample_sharpe=sharpe(r, periods),
                out_of_sample_return=float(np.prod(1.0 + r) - 1.0),
            )
        )
    oos = slice(first, steps)
    judged = slice(first - 1, steps)  # the book held entering the first judged step

    def test(null: str) -> PermutationTest:
        starts = book_fills[judged].copy()
        starts[0] = True
        return permutation_test(
            book_w[judged],
            np.vstack([np.zeros((1, n_symbols)), market.returns[oos]]),
            starts,
            market.active[judged],
            null=null,  # type: ignore[arg-type]
            cost=cost,
            periods_per_year=periods,
            permutations=permutations,
            seed=seed,
        )

    references = {
        name: market.hold(rule.weights, rule.rebalance, cost=cost, equity0=starting_equity)
        for name, rule in baselines.baselines(market.close, periods, seed).items()
    }
    return WalkForwardResult(
        baselines={
            name: _stats(
                _returns(book.equity)[oos],
                book.exposed[first - 1 : steps - 1],
                _traded(market.weights(book), first, steps),
                periods,
                stamps[first - 1 :],
            )
            for name, book in references.items()
        },
        folds=tuple(made),
        warmup_end=stamps[bounds[0]],
        in_sample_only=(stamps[bounds[0]], stamps[bounds[1] - 1]),
        out_of_sample=_stats(book_r[oos], exposed[oos], traded, periods, stamps[first - 1 :]),
        shuffled=test("timing"),
        signs=test("direction"),
        annualisation=year,
        candidates=tuple(candidates),
        returns=book_r[oos],
        timestamps=stamps[first:],
    )


def _traded(weights: _Matrix, start: int, end: int) -> float:
    """Weight traded within ``[start, end)``: ``sum |w_t - w_{t-1}|`` (turnover / equity)."""
    return float(np.abs(np.diff(weights[start - 1 : end], axis=0)).sum())


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))
