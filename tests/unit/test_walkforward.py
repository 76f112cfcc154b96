"""Walk-forward: judged bars never inform an earlier decision, spans are reported right, the
policy's horizons in days mean the same time at every bar spacing, and the real file's
out-of-sample figures are pinned."""

from __future__ import annotations

import gzip
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from tui_trader.core.backtest import bars_from_closes
from tui_trader.core.policy import Decision, OnlinePolicy, PolicyConfig
from tui_trader.core.walkforward import fold_bounds, run_walk_forward, select

REAL = Path(__file__).parents[1] / "fixtures" / "data" / "indices-daily-1999-2018.csv.gz"


class Recorder:
    """Wraps a policy and records, at each decision, the last close it had been shown."""

    def __init__(self, inner: OnlinePolicy, log: list[tuple[datetime, datetime]]) -> None:
        self.inner, self.log = inner, log
        self.last: datetime | None = None

    def observe(self, symbol: str, close: float, at: datetime) -> None:
        self.last = at
        self.inner.observe(symbol, close, at)

    def decide(
        self, symbol: str, price: Decimal, equity: Decimal, current_qty: Decimal, at: datetime
    ) -> Decision:
        assert self.last is not None
        self.log.append((at, self.last))
        return self.inner.decide(symbol, price, equity, current_qty, at)


def _walk(n: int, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n))))


def test_a_poisoned_future_changes_nothing_before_it() -> None:
    """Poison every close from some bar on: every decision and every return before that bar,
    and every fold choice made on spans before it, are exactly what they were."""
    n, poison = 600, 420
    clean = _walk(n, 1)
    poisoned = clean[:poison] + [c * (3.0 if i % 2 else 0.2) for i, c in enumerate(clean[poison:])]
    step = timedelta(days=1)
    start = datetime(2001, 1, 2, 21, tzinfo=UTC)
    cfg = PolicyConfig(bars_per_year=252, warmup_bars=20, min_t=0.0, max_weight=1.0)
    results, logs = [], []
    for closes in (clean, poisoned):
        log: list[tuple[datetime, datetime]] = []
        bars = bars_from_closes({"X": closes}, start=start, step=step)
        grid = {
            "a": lambda log=log: Recorder(OnlinePolicy(cfg), log),
            "b": lambda: OnlinePolicy(PolicyConfig(bars_per_year=252, warmup_bars=20)),
        }
        results.append(run_walk_forward(bars, grid, folds=4, warmup=50, permutations=20))
        logs.append(log)
    # every decision saw only closes up to its own bar
    assert all(seen <= at for at, seen in logs[1])
    clean_r, dirty_r = results[0].returns, results[1].returns
    first_judged = results[0].folds[0].test_start
    cut = poison - first_judged  # the step of the first poisoned close, in the OOS series
    # a return into step t uses closes up to t: unchanged strictly before the poison
    np.testing.assert_array_equal(clean_r[:cut], dirty_r[:cut])
    assert not np.array_equal(clean_r[cut:], dirty_r[cut:])
    for f0, f1 in zip(results[0].folds, results[1].folds, strict=True):
        if f0.test_start <= poison:  # chosen on spans that end before the poison
            assert f0.chosen == f1.chosen
            assert f0.in_sample_sharpe == f1.in_sample_sharpe


def test_select_reads_nothing_at_or_after_the_span_end() -> None:
    good_later = np.concatenate([np.full(50, -0.001), np.full(50, 0.01)])
    bad_later = np.concatenate([np.full(50, 0.001), np.full(50, -0.01)])
    good_later[1:50] += np.linspace(0, 1e-4, 49)
    bad_later[1:50] += np.linspace(0, 1e-4, 49)
    returns = {"late": good_later, "early": bad_later}
    assert select(returns, 0, 50, 252) == "early"
    assert select(returns, 50, 100, 252) == "late"


def test_spans_are_anchored_contiguous_and_reported() -> None:
    assert fold_bounds(110, 10, 4) == [10, 30, 50, 70, 90, 110]
    with pytest.raises(ValueError, match="too few"):
        fold_bounds(12, 10, 4)
    start = datetime(2001, 1, 2, 21, tzinfo=UTC)
    bars = bars_from_closes({"X": _walk(300, 2)}, start=start, step=timedelta(days=1))
    stamps = [t for t, _ in bars["X"]]
    cfg = PolicyConfig(bars_per_year=252, warmup_bars=20)
    result = run_walk_forward(
        bars, {"only": lambda: OnlinePolicy(cfg)}, folds=3, warmup=40, permutations=20
    )
    b = fold_bounds(300, 40, 3)
    assert result.warmup_end == stamps[40]
    assert result.in_sample_only == (stamps[b[0]], stamps[b[1] - 1])
    for k, f in enumerate(result.folds, start=1):
        assert (f.train_from, f.train_to) == (stamps[b[0]], stamps[b[k] - 1])
        assert (f.test_from, f.test_to) == (stamps[b[k]], stamps[b[k + 1] - 1])
        assert f.chosen == "only"
    assert result.out_of_sample.bars == 300 - b[1] == len(result.timestamps)
    assert result.timestamps[0] == stamps[b[1]]


def test_horizons_in_days_are_the_same_time_at_every_spacing() -> None:
    daily = PolicyConfig(bars_per_year=252, trend_days=(20.0, 250.0))
    minute = PolicyConfig(bars_per_year=252 * 390, trend_days=(20.0, 250.0))
    hourly = PolicyConfig(bars_per_year=252 * 24, trend_days=(20.0, 250.0))
    for cfg in (daily, minute, hourly):
        assert cfg.horizon_bars / cfg.bars_per_day == cfg.horizon_days == 20
        assert [b / cfg.bars_per_day for b in cfg.trend_bars] == [20.0, 250.0]
    assert daily.horizon_bars == 20 and minute.horizon_bars == 7800
    assert daily.trend_bars == (20, 250) and minute.trend_bars == (7800, 97500)
    assert minute.lookback_bars == 97500
    with pytest.raises(ValueError, match="trend_days"):
        PolicyConfig(trend_days=(0.0,))


def test_vol_target_and_drawdown_caps_bound_the_weight() -> None:
    cfg = PolicyConfig(
        bars_per_year=252,
        warmup_bars=10,
        min_t=0.0,
        max_weight=5.0,
        vol_target=0.1,
        drawdown_limit=0.2,
        utility="log",
        aggressiveness=50.0,
    )
    policy = OnlinePolicy(cfg)
    at = datetime(2001, 1, 2, 21, tzinfo=UTC)
    price = 100.0
    for i in range(80):  # a steady rise with 1% daily noise
        price *= 1.004 + (0.01 if i % 2 else -0.01)
        policy.observe("X", price, at + timedelta(days=i))
    sigma_year = policy._states["X"].sigma * math.sqrt(252)
    d = policy.decide("X", Decimal("100"), Decimal("100000"), Decimal(0), at + timedelta(days=80))
    assert 0 < abs(d.target_weight) <= 0.1 / sigma_year + 1e-9
    d = policy.decide("X", Decimal("100"), Decimal("85000"), Decimal(0), at + timedelta(days=81))
    assert abs(d.target_weight) <= (0.1 / sigma_year) * (1 - 0.15 / 0.2) * 1.0001 + 1e-9


@pytest.mark.skipif(not REAL.exists(), reason="the real data fixture is missing")
def test_walk_forward_on_the_real_file_is_pinned(tmp_path: Path) -> None:
    """The out-of-sample figures on the real indices, as the CLI computes them: pinned to
    +-0.005 in Sharpe and drawdown (they are deterministic; the slack is for float order)."""
    from tui_trader.config import Settings
    from tui_trader.core.annualise import infer
    from tui_trader.desk.launch.backtest import GatedPolicy, csv_bars
    from tui_trader.desk.launch.walkforward import candidates, evaluate

    path = tmp_path / "indices.csv"
    path.write_bytes(gzip.decompress(REAL.read_bytes()))
    series = csv_bars(path)
    year = infer(sorted({t for s in series.values() for t, _ in s}))
    assert year.periods_per_year == 252
    settings = Settings()
    config = settings.policy.config(bars_per_year=year.periods_per_year)
    # half the CLI's grid (the long/short pair) to keep the test's runtime down
    grid = {n: c for n, c in candidates(config).items() if n.startswith("long/short")}
    result = evaluate(
        settings,
        series,
        config,
        year,
        convexity=True,
        cost_bps=2.0,
        seed=7,
        folds=4,
        permutations=200,
        gate=GatedPolicy,
        grid=grid,
    )
    o = result.out_of_sample
    assert [f.chosen for f in result.folds] == PINNED_CHOSEN
    assert o.sharpe == pytest.approx(PINNED_SHARPE, abs=0.005)
    assert o.max_drawdown == pytest.approx(PINNED_DD, abs=0.005)


# computed by this test's own call (the risk-proportional grid of issue 14, its long/short
# half, chosen on 1999-2010 only; the desk's default risk limits with the backtest's review
# rule: a latched breaker is reset at the next session's open, desk/launch/backtest_gate.py)
PINNED_CHOSEN = ["long/short,kelly=0.1"] * 4
PINNED_SHARPE = 0.5442
PINNED_DD = 0.0854


def test_the_baselines_are_judged_on_the_same_out_of_sample_steps() -> None:
    """The walk-forward reads the policy against every classic baseline over exactly its own
    out-of-sample span, held by the same engine with the same costs: their out-of-sample
    return is the full backtest's baseline equity from the bar before the first judged step
    to the last."""
    from tui_trader.core.backtest import run_backtest
    from tui_trader.core.baselines import BASELINES

    start = datetime(2001, 1, 2, 21, tzinfo=UTC)
    bars = bars_from_closes(
        {"X": _walk(600, 3), "Y": _walk(600, 4)}, start=start, step=timedelta(days=1)
    )
    cfg = PolicyConfig(bars_per_year=252, warmup_bars=20)
    result = run_walk_forward(
        bars, {"only": lambda: OnlinePolicy(cfg)}, folds=3, warmup=40, permutations=20, seed=5
    )
    full = run_backtest(bars, lambda: OnlinePolicy(cfg), permutations=10, seed=5)
    first = fold_bounds(600, 40, 3)[1]
    assert list(result.baselines) == [rule.name for rule in BASELINES]
    for name, oos in result.baselines.items():
        curve = full.baseline_equity[name]
        assert oos.bars == result.out_of_sample.bars
        assert oos.total_return == pytest.approx(curve[-1] / curve[first - 1] - 1.0, abs=1e-12)
