"""A small bar-by-bar backtest for the online policy, with baselines and significance tests.

Mechanics: bars of all symbols (one per timestamp each) are merged on their timestamps. At
each bar close the policy observes the close and decides; its proposed order fills at that
symbol's *next* bar close (no look-ahead), paying ``cost_bps`` of the notional traded. Equity
is cash plus positions marked at each symbol's latest close, sampled on the merged timeline.
The one-bar fill delay is conservative: a position earns from the bar *after* the one its
prediction was for, so only edges that persist for more than a bar can show up here.

Beside the policy, the same engine runs two reference books, which trade at the close of the
bar they are decided on (they use no information, so this is no look-ahead) in fractional
shares (a reference should not be distorted by lot sizes), paying the same costs:

* ``buy_and_hold``: equal weights summing to 1, bought at each symbol's first close and never
  rebalanced;
* ``flat``: never trades (the zero line).

And the classic strategies of :mod:`tui_trader.core.baselines` (``baselines``: buy and hold
kept daily, moving-average timing, volatility targeting, both, momentum x volatility target,
a random control), each held the same way with the same costs.

And two permutation tests of the policy's own book (:mod:`tui_trader.core.stats`): ``shuffled``
(its position runs permuted in time: is its *timing* better than chance, given what it held?)
and ``signs`` (each run's direction flipped at random: is its *direction* better than a coin?),
each over ``permutations`` seeded draws, with a p-value and the policy's percentile.

Stats per run: total and annual return, annual volatility, Sharpe with its standard error
(Lo 2002, Newey-West), Sortino, the deepest drawdown and how long it lasted, exposure (share of
steps holding a position), turnover (notional traded / starting equity), hit rate (share of
exposed steps with a positive return), trade count and costs paid. Annualisation uses the
periods per year read from the bars' timestamps (:mod:`tui_trader.core.annualise`) unless the
caller states it. Pure numpy, deterministic per seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tui_trader.core import annualise, baselines
from tui_trader.core.annualise import Annualisation
from tui_trader.core.policy import Decision
from tui_trader.core.stats import (
    Null,
    PermutationTest,
    annual_return,
    drawdown,
    permutation_test,
    sharpe,
    sharpe_standard_error,
    sortino,
)

__all__ = [
    "BacktestResult",
    "BacktestStats",
    "PolicyLike",
    "bars_from_closes",
    "run_backtest",
]

_Matrix = npt.NDArray[np.float64]
_Mask = npt.NDArray[np.bool_]
Bars = Mapping[str, Sequence[tuple[datetime, float]]]
DEFAULT_PERMUTATIONS = 1000


class PolicyLike(Protocol):
    """What the backtest drives: :class:`~tui_trader.core.policy.OnlinePolicy` fits."""

    def observe(self, symbol: str, close: float, at: datetime) -> None: ...

    def decide(
        self, symbol: str, price: Decimal, equity: Decimal, current_qty: Decimal, at: datetime
    ) -> Decision: ...


@dataclass(frozen=True)
class BacktestStats:
    """Summary of one equity curve; ratios annualised with the run's periods per year.

    ``max_drawdown_bars`` / ``_days`` run from the drawdown's peak to its recovery, or to the
    end of the curve where it never recovered (``max_drawdown_recovered`` False).
    """

    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float
    sharpe_se: float
    sortino: float
    max_drawdown: float
    max_drawdown_bars: int
    max_drawdown_days: float
    max_drawdown_recovered: bool
    exposure: float
    turnover: float
    hit_rate: float
    trades: int
    costs: float


@dataclass(frozen=True)
class BacktestResult:
    """The policy's run, its baselines and tests, and the policy's equity curve.

    ``equity[i]`` is the policy's equity at ``timestamps[i]``; ``decisions`` counts
    :meth:`decide` calls and ``orders`` the decisions that proposed an order. ``baselines``
    holds every rule of :data:`tui_trader.core.baselines.BASELINES` by name (its
    ``buy_and_hold`` is ``buy_and_hold`` here) and ``baseline_equity`` their curves.
    ``curves`` holds the equity of every run the engine made, the policy's first, by the name
    its stats are reported under (what a report draws: each one sampled at ``timestamps``).
    """

    policy: BacktestStats
    buy_and_hold: BacktestStats
    flat: BacktestStats
    baselines: Mapping[str, BacktestStats]
    baseline_equity: Mapping[str, _Matrix]
    shuffled: PermutationTest
    signs: PermutationTest
    annualisation: Annualisation
    timestamps: tuple[datetime, ...]
    equity: _Matrix
    decisions: int
    orders: int
    curves: Mapping[str, _Matrix] = field(default_factory=dict)


def bars_from_closes(
    closes: Mapping[str, Sequence[float]],
    *,
    start: datetime = datetime(2024, 1, 2, 14, 30, tzinfo=UTC),
    step: timedelta = timedelta(minutes=1),
) -> dict[str, list[tuple[datetime, float]]]:
    """Timestamp plain closes one ``step`` apart from ``start`` (the same clock for all)."""
    return {
        symbol: [(start + i * step, float(c)) for i, c in enumerate(values)]
        for symbol, values in closes.items()
    }


@dataclass
class _Run:
    equity: _Matrix
    exposed: _Mask
    traded: float
    trades: int
    costs: float
    positions: _Matrix  # shares held after each bar's fills (bars x symbols)
    fills: _Mask  # where a symbol's position changed


# order_fn(step, column, price, equity, qty) -> share delta to fill at the column's next bar
_OrderFn = Callable[[int, int, float, float, float], float]
FillFn = Callable[[str, float, float, float, datetime], None]
"""``(symbol, signed qty, price, fee, at)`` for each of the policy's fills."""


class _Market:
    """Closes on the merged timeline: ``close[t, j]`` is NaN where symbol ``j`` has no bar."""

    def __init__(self, bars: Bars) -> None:
        self.symbols = list(bars)
        stamps = sorted({t for series in bars.values() for t, _ in series})
        index = {t: i for i, t in enumerate(stamps)}
        self.timestamps = tuple(stamps)
        self.close = np.full((len(stamps), len(self.symbols)), np.nan)
        for j, symbol in enumerate(self.symbols):
            for t, c in bars[symbol]:
                if math.isfinite(c) and c > 0:
                    self.close[index[t], j] = c
        self.active = ~np.isnan(self.close)
        self.mark = self.close.copy()  # forward-filled; 0 before a symbol's first bar
        for i in range(1, len(stamps)):
            gap = np.isnan(self.mark[i])
            self.mark[i, gap] = self.mark[i - 1, gap]
        self.mark = np.nan_to_num(self.mark, nan=0.0)
        before = np.vstack([np.zeros((1, len(self.symbols))), self.mark[:-1]])
        # each symbol's return into each bar (0 before its first bar and where it has none)
        self.returns = np.where(before > 0, self.mark / np.where(before > 0, before, 1.0) - 1, 0.0)

    def _run(self, n_steps: int, n_symbols: int) -> tuple[_Matrix, _Matrix, _Mask, _Mask]:
        return (
            np.empty(n_steps),
            np.zeros((n_steps, n_symbols)),
            np.zeros((n_steps, n_symbols), dtype=bool),
            np.zeros(n_steps, dtype=bool),
        )

    def simulate(
        self, order_fn: _OrderFn, *, cost: float, equity0: float, on_fill: FillFn | None = None
    ) -> _Run:
        """Orders decided at a bar's close fill at the symbol's next bar close."""
        n_steps, n_symbols = self.close.shape
        equity, positions, fills, exposed = self._run(n_steps, n_symbols)
        qty = np.zeros(n_symbols)
        pending = np.zeros(n_symbols)
        cash = equity0
        traded = costs = 0.0
        trades = 0
        for t in range(n_steps):
            active = np.flatnonzero(self.active[t])
            for j in active:
                if pending[j]:
                    notional = float(pending[j] * self.close[t, j])
                    fee = abs(notional) * cost
                    qty[j] += pending[j]
                    cash -= notional + fee
                    traded += abs(notional)
                    costs += fee
                    trades += 1
                    fills[t, j] = True
                    if on_fill is not None:
                        on_fill(
                            self.symbols[j],
                            float(pending[j]),
                            float(self.close[t, j]),
                            fee,
                            self.timestamps[t],
                        )
                    pending[j] = 0.0
            value = cash + float(qty @ self.mark[t])
            equity[t] = value
            positions[t] = qty
            exposed[t] = bool(np.any(qty != 0))
            for j in active:
                pending[j] = order_fn(t, int(j), float(self.close[t, j]), value, float(qty[j]))
        return _Run(equity, exposed, traded, trades, costs, positions, fills)

    def hold(self, weights: _Matrix, changes: _Mask, *, cost: float, equity0: float) -> _Run:
        """A reference book: where ``changes[t, j]``, trade symbol ``j`` at bar ``t``'s close
        to ``weights[t, j]`` of the equity left after this bar's costs (fractional shares),
        so that a book fully invested stays fully invested and holds no negative cash."""
        n_steps, n_symbols = self.close.shape
        equity, positions, fills, exposed = self._run(n_steps, n_symbols)
        qty = np.zeros(n_symbols)
        cash = equity0
        traded = costs = 0.0
        trades = 0
        for t in range(n_steps):
            todo = np.flatnonzero(changes[t] & self.active[t])
            if todo.size:
                value = cash + float(qty @ self.mark[t])
                price = self.close[t, todo]
                held = qty[todo] * price
                net = value  # the equity after this bar's fees: a fixed point, found in a few
                for _ in range(4):  # steps (each shrinks the error by a factor of the cost)
                    net = value - cost * float(np.abs(weights[t, todo] * net - held).sum())
                for j, p, target, now in zip(
                    todo, price, weights[t, todo] * net, held, strict=True
                ):
                    if target == now:
                        continue
                    notional = float(target - now)
                    fee = abs(notional) * cost
                    qty[j] = target / p
                    cash -= notional + fee
                    traded += abs(notional)
                    costs += fee
                    trades += 1
                    fills[t, j] = True
            equity[t] = cash + float(qty @ self.mark[t])
            positions[t] = qty
            exposed[t] = bool(np.any(qty != 0))
        return _Run(equity, exposed, traded, trades, costs, positions, fills)

    def weights(self, run: _Run) -> _Matrix:
        """The run's weight in each symbol after each bar's fills (value / equity)."""
        equity = np.where(run.equity > 0, run.equity, np.nan)
        weights: _Matrix = np.nan_to_num(run.positions * self.mark / equity[:, None])
        return weights


def _stats(
    run: _Run, equity0: float, periods_per_year: float, timestamps: Sequence[datetime]
) -> BacktestStats:
    curve = run.equity
    if len(curve) < 2:
        return BacktestStats(
            0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, True, 0.0, 0.0, 0.0, run.trades, run.costs
        )
    returns = np.diff(curve) / curve[:-1]
    total = float(curve[-1] / equity0 - 1.0)
    annual = annual_return(total, len(curve) - 1, periods_per_year)
    fall = drawdown(curve)
    held = run.exposed[:-1]
    hit = float(np.mean(returns[held] > 0)) if held.any() else 0.0
    return BacktestStats(
        total_return=total,
        annual_return=float(annual),
        annual_volatility=float(returns.std()) * math.sqrt(periods_per_year),
        sharpe=sharpe(returns, periods_per_year),
        sharpe_se=sharpe_standard_error(returns, periods_per_year),
        sortino=sortino(returns, periods_per_year),
        max_drawdown=fall.depth,
        max_drawdown_bars=fall.bars,
        max_drawdown_days=(timestamps[fall.end] - timestamps[fall.peak]).total_seconds() / 86400,
        max_drawdown_recovered=fall.recovered,
        exposure=float(np.mean(held)),
        turnover=run.traded / equity0,
        hit_rate=hit,
        trades=run.trades,
        costs=run.costs,
    )


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def run_backtest(
    bars: Bars,
    policy_factory: Callable[[], PolicyLike],
    *,
    cost_bps: float = 2.0,
    starting_equity: float = 100_000.0,
    annualisation: Annualisation | None = None,
    seed: int = 0,
    permutations: int = DEFAULT_PERMUTATIONS,
    on_fill: FillFn | None = None,
) -> BacktestResult:
    """Run a fresh policy over ``bars`` (per symbol ``(timestamp, close)``, oldest first).

    ``annualisation`` defaults to what the timestamps show (:func:`annualise.infer`).
    ``seed`` drives the permutation tests, each over ``permutations`` draws. ``on_fill`` sees
    each of the policy's fills (not the baselines'), so a caller can keep a ledger beside the
    vectorised accounting.
    """
    if not bars or not any(bars.values()):
        raise ValueError("the backtest needs at least one bar")
    if not (math.isfinite(cost_bps) and cost_bps >= 0):
        raise ValueError("cost_bps must be a finite number >= 0")
    if not (math.isfinite(starting_equity) and starting_equity > 0):
        raise ValueError("starting_equity must be a finite number > 0")
    if permutations < 1:
        raise ValueError("permutations must be at least 1")
    market = _Market(bars)
    year = annualisation or annualise.infer(market.timestamps)
    periods = year.periods_per_year
    cost = cost_bps / 1e4
    policy = policy_factory()
    counts = [0, 0]  # decisions, orders

    def policy_orders(t: int, j: int, price: float, equity: float, qty: float) -> float:
        symbol, at = market.symbols[j], market.timestamps[t]
        policy.observe(symbol, price, at)
        decision = policy.decide(symbol, _dec(price), _dec(equity), _dec(qty), at)
        counts[0] += 1
        if decision.proposed_qty is not None:
            counts[1] += 1
        return float(decision.proposed_qty or 0)

    def stats(run: _Run) -> BacktestStats:
        return _stats(run, starting_equity, periods, market.timestamps)

    run = market.simulate(policy_orders, cost=cost, equity0=starting_equity, on_fill=on_fill)
    held = market.weights(run)

    def test(null: Null) -> PermutationTest:
        return permutation_test(
            held,
            market.returns,
            run.fills,
            market.active,
            null=null,
            cost=cost,
            periods_per_year=periods,
            permutations=permutations,
            seed=seed,
        )

    references = {
        name: market.hold(rule.weights, rule.rebalance, cost=cost, equity0=starting_equity)
        for name, rule in baselines.baselines(market.close, periods, seed).items()
    }
    flat = market.hold(
        np.zeros_like(market.close),
        np.zeros_like(market.active),
        cost=cost,
        equity0=starting_equity,
    )
    return BacktestResult(
        policy=stats(run),
        buy_and_hold=stats(references["buy_and_hold"]),
        flat=stats(flat),
        baselines={name: stats(book) for name, book in references.items()},
        baseline_equity={name: book.equity for name, book in references.items()},
        curves={
            "policy": run.equity,
            **{name: book.equity for name, book in references.items()},
            "flat": flat.equity,
        },
        shuffled=test("timing"),
        signs=test("direction"),
        annualisation=year,
        timestamps=market.timestamps,
        equity=run.equity,
        decisions=counts[0],
        orders=counts[1],
    )


# The engine's pieces, for evaluations built on the same mechanics (core/walkforward.py).
Market = _Market
Run = _Run
