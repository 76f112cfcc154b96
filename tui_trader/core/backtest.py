"""A small bar-by-bar backtest for the online policy, with baselines and a timing control.

Mechanics: bars of all symbols (one per timestamp each) are merged on their timestamps. At
each bar close the policy observes the close and decides; its proposed order fills at that
symbol's *next* bar close (no look-ahead), paying ``cost_bps`` of the notional traded. Equity
is cash plus positions marked at each symbol's latest close, sampled on the merged timeline.
The one-bar fill delay is conservative: a position earns from the bar *after* the one its
prediction was for, so only edges that persist for more than a bar can show up here.

Besides the policy, the same engine runs:

* ``buy_and_hold``: equal weights summing to 1, bought at each symbol's first bar;
* ``flat``: never trades (the zero line);
* ``shuffled``: a timing control. Per symbol, the policy's position signal (the target weight
  of its last order, held until the next one) is cut into runs of constant value and the runs
  are permuted with a seeded RNG, then traded like the policy's orders; the stats are the mean
  over ``shuffles`` permutations. Exposure and holding times are preserved, turnover roughly
  (neighbouring runs change); only the alignment with the market is destroyed, so a policy
  that beats it has timing skill.

Stats per run: total return, annualised Sharpe (mean / std of per-step returns times
``sqrt(bars_per_year)``), maximum drawdown, turnover (notional traded / starting equity),
hit rate (share of exposed steps with a positive return), trade count and costs paid.
Pure numpy, deterministic per seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tui_trader.core.policy import BARS_PER_YEAR, Decision

__all__ = [
    "BacktestResult",
    "BacktestStats",
    "PolicyLike",
    "bars_from_closes",
    "run_backtest",
]

_Matrix = npt.NDArray[np.float64]
Bars = Mapping[str, Sequence[tuple[datetime, float]]]


class PolicyLike(Protocol):
    """What the backtest drives: :class:`~tui_trader.core.policy.OnlinePolicy` fits."""

    def observe(self, symbol: str, close: float, at: datetime) -> None: ...

    def decide(
        self, symbol: str, price: Decimal, equity: Decimal, current_qty: Decimal, at: datetime
    ) -> Decision: ...


@dataclass(frozen=True)
class BacktestStats:
    """Summary of one equity curve."""

    total_return: float
    sharpe: float
    max_drawdown: float
    turnover: float
    hit_rate: float
    trades: int
    costs: float


@dataclass(frozen=True)
class BacktestResult:
    """The policy's run, its baselines and control, and the policy's equity curve.

    ``equity[i]`` is the policy's equity at ``timestamps[i]``; ``decisions`` counts
    :meth:`decide` calls and ``orders`` the decisions that proposed an order.
    """

    policy: BacktestStats
    buy_and_hold: BacktestStats
    flat: BacktestStats
    shuffled: BacktestStats
    timestamps: tuple[datetime, ...]
    equity: _Matrix
    decisions: int
    orders: int


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
    exposed: npt.NDArray[np.bool_]
    traded: float
    trades: int
    costs: float


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

    def simulate(
        self, order_fn: _OrderFn, *, cost: float, equity0: float, on_fill: FillFn | None = None
    ) -> _Run:
        n_steps, n_symbols = self.close.shape
        qty = np.zeros(n_symbols)
        pending = np.zeros(n_symbols)
        cash = equity0
        equity = np.empty(n_steps)
        exposed = np.zeros(n_steps, dtype=bool)
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
            exposed[t] = bool(np.any(qty != 0))
            for j in active:
                pending[j] = order_fn(t, int(j), float(self.close[t, j]), value, float(qty[j]))
        return _Run(equity, exposed, traded, trades, costs)


def _stats(run: _Run, equity0: float, bars_per_year: float) -> BacktestStats:
    curve = run.equity
    if len(curve) < 2:
        return BacktestStats(0.0, 0.0, 0.0, 0.0, 0.0, run.trades, run.costs)
    returns = np.diff(curve) / curve[:-1]
    sd = float(returns.std())
    sharpe = float(returns.mean()) / sd * math.sqrt(bars_per_year) if sd > 1e-15 else 0.0
    peak = np.maximum.accumulate(curve)
    drawdown = float(np.max(1.0 - curve / peak))
    held = run.exposed[:-1]
    hit = float(np.mean(returns[held] > 0)) if held.any() else 0.0
    return BacktestStats(
        total_return=float(curve[-1] / equity0 - 1.0),
        sharpe=sharpe,
        max_drawdown=drawdown,
        turnover=run.traded / equity0,
        hit_rate=hit,
        trades=run.trades,
        costs=run.costs,
    )


def _dec(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def _to_weight_orders(signal: _Matrix, changes: npt.NDArray[np.bool_]) -> _OrderFn:
    """Orders that move to ``signal[t, j]`` of equity wherever ``changes[t, j]``."""

    def order(t: int, j: int, price: float, equity: float, qty: float) -> float:
        if not changes[t, j]:
            return 0.0
        return float(math.trunc(signal[t, j] * equity / price - qty))

    return order


def _shuffle_runs(
    signal: _Matrix, active: npt.NDArray[np.bool_], rng: np.random.Generator
) -> tuple[_Matrix, npt.NDArray[np.bool_]]:
    """Permute each column's runs of constant value over its active steps.

    Returns the shuffled signal and where it changes (the steps that need an order).
    """
    out = np.zeros_like(signal)
    changes = np.zeros(signal.shape, dtype=bool)
    for j in range(signal.shape[1]):
        rows = np.flatnonzero(active[:, j])
        if rows.size == 0:
            continue
        values = signal[rows, j]
        runs = np.split(values, np.flatnonzero(np.diff(values) != 0) + 1)
        shuffled = np.concatenate([runs[k] for k in rng.permutation(len(runs))])
        out[rows, j] = shuffled
        changes[rows, j] = shuffled != np.concatenate(([0.0], shuffled[:-1]))
    return out, changes


def _mean_stats(runs: Sequence[BacktestStats]) -> BacktestStats:
    def mean(name: str) -> float:
        return float(np.mean([getattr(r, name) for r in runs]))

    return BacktestStats(
        total_return=mean("total_return"),
        sharpe=mean("sharpe"),
        max_drawdown=mean("max_drawdown"),
        turnover=mean("turnover"),
        hit_rate=mean("hit_rate"),
        trades=round(mean("trades")),
        costs=mean("costs"),
    )


def run_backtest(
    bars: Bars,
    policy_factory: Callable[[], PolicyLike],
    *,
    cost_bps: float = 2.0,
    starting_equity: float = 100_000.0,
    bars_per_year: float = BARS_PER_YEAR,
    seed: int = 0,
    shuffles: int = 8,
    on_fill: FillFn | None = None,
) -> BacktestResult:
    """Run a fresh policy over ``bars`` (per symbol ``(timestamp, close)``, oldest first).

    ``seed`` drives the shuffled control, whose stats are the mean over ``shuffles``
    permutations. ``on_fill`` sees each of the policy's fills (not the baselines'), so a
    caller can keep a ledger beside the vectorised accounting.
    """
    if not bars or not any(bars.values()):
        raise ValueError("the backtest needs at least one bar")
    if not (math.isfinite(cost_bps) and cost_bps >= 0):
        raise ValueError("cost_bps must be a finite number >= 0")
    if not (math.isfinite(starting_equity) and starting_equity > 0):
        raise ValueError("starting_equity must be a finite number > 0")
    if shuffles < 1:
        raise ValueError("shuffles must be at least 1")
    market = _Market(bars)
    cost = cost_bps / 1e4
    policy = policy_factory()
    signal = np.zeros_like(market.close)
    last_signal = np.zeros(len(market.symbols))
    counts = [0, 0]  # decisions, orders

    def policy_orders(t: int, j: int, price: float, equity: float, qty: float) -> float:
        symbol, at = market.symbols[j], market.timestamps[t]
        policy.observe(symbol, price, at)
        decision = policy.decide(symbol, _dec(price), _dec(equity), _dec(qty), at)
        counts[0] += 1
        if decision.proposed_qty is not None:
            counts[1] += 1
            last_signal[j] = decision.target_weight
        signal[t, j] = last_signal[j]
        return float(decision.proposed_qty or 0)

    def stats(orders: _OrderFn) -> BacktestStats:
        run = market.simulate(orders, cost=cost, equity0=starting_equity)
        return _stats(run, starting_equity, bars_per_year)

    run = market.simulate(policy_orders, cost=cost, equity0=starting_equity, on_fill=on_fill)
    n = len(market.symbols)
    first = market.active & (np.cumsum(market.active, axis=0) == 1)
    rng = np.random.default_rng(seed)
    controls = [
        stats(_to_weight_orders(*_shuffle_runs(signal, market.active, rng)))
        for _ in range(shuffles)
    ]
    return BacktestResult(
        policy=_stats(run, starting_equity, bars_per_year),
        buy_and_hold=stats(_to_weight_orders(np.full_like(signal, 1.0 / n), first)),
        flat=stats(_to_weight_orders(signal, np.zeros_like(market.active))),
        shuffled=_mean_stats(controls),
        timestamps=market.timestamps,
        equity=run.equity,
        decisions=counts[0],
        orders=counts[1],
    )
