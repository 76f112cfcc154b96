"""Policy vs an oracle that knows the synthetic market's hidden drift regime, on one path.

Adapted copy of ../shared/review/oracle.py (review finding #8). What changed and why:
``core.backtest._to_weight_orders`` is gone (the reference books now trade through
``_Market.hold``), so this copy defines the same order function itself; ``_stats`` takes the
timestamps (for the drawdown's length); and ``run_backtest`` is told the synthetic market's own
clock (252 x 390 one-minute bars), since this path's bars run on without session breaks and
would otherwise be read as a 24-hour market; the settings build the policy's config and the
risk limits (``settings.policy.config()``, ``settings.risk.limits()``: issue 12 took
``from_settings`` out of the core). What it checks is unchanged: the oracle's Sharpe
against the policy's on the same path, and the per-bar Sharpe and its naive standard error.
"""
import math, sys
from datetime import UTC, datetime, timedelta
import numpy as np
from tui_trader.sim.market import MarketModel
from tui_trader.sim.regimes import PLANTED  # the regime the review measured
from tui_trader.core.backtest import _Market, _stats, run_backtest
from tui_trader.core.policy import BARS_PER_YEAR, OnlinePolicy, PolicyConfig
from tui_trader.core.convexity import ConvexityDetector
from tui_trader.core.risk import RiskEngine, RiskLimits
from tui_trader.desk.launch.backtest import GatedPolicy, synthetic_clock
from tui_trader.config import Settings


def _to_weight_orders(signal, changes):
    """Orders that move to ``signal[t, j]`` of equity wherever ``changes[t, j]`` (as before)."""
    def order(t, j, price, equity, qty):
        if not changes[t, j]:
            return 0.0
        return float(math.trunc(signal[t, j] * equity / price - qty))
    return order


seed, nbars = int(sys.argv[1]), int(sys.argv[2])
syms = ["AAPL", "MSFT", "NVDA", "TSLA", "SPY"]
start = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
m = MarketModel(
    syms, seed, start, regime_drift=PLANTED.drift, regime_minutes=PLANTED.minutes, history_days=0
)
regimes = {s: [] for s in syms}
for k in range(nbars + 1):
    m.step(60, start + timedelta(seconds=60 * (k + 1)))
    for s in syms:
        regimes[s].append(m.regime(s))
bars = {s: [(b.t, float(b.c)) for b in m.minute_bars(s)[:nbars]] for s in syms}
market = _Market(bars)
n = len(market.timestamps)
# regime in force at the end of minute t ~ the drift of minute t+1 (what the fill at t+1 earns)
sig = np.zeros((n, len(syms)))
for j, s in enumerate(syms):
    for t, (ts, _) in enumerate(bars[s]):
        k = int((ts - start).total_seconds() // 60)
        if k < len(regimes[s]):
            sig[market.timestamps.index(ts), j] = 0.25 * regimes[s][k]
changes = np.vstack([sig[:1] != 0, sig[1:] != sig[:-1]])
run = market.simulate(_to_weight_orders(sig, changes), cost=2e-4, equity0=100_000.0)
o = _stats(run, 100_000.0, BARS_PER_YEAR, market.timestamps)
print(f"oracle (knows the regime, |w|=0.25/symbol): return {o.total_return*100:.2f}% sharpe {o.sharpe:.2f} trades {o.trades}")
settings = Settings()
cfg, lim = settings.policy.config(), settings.risk.limits()
res = run_backtest(bars, lambda: GatedPolicy(OnlinePolicy(cfg, ConvexityDetector()), RiskEngine(lim), 100_000.0), seed=seed, annualisation=synthetic_clock())
p = res.policy
print(f"policy on the same path: return {p.total_return*100:.2f}% sharpe {p.sharpe:.2f} +- {p.sharpe_se:.2f} trades {p.trades}; shuffled mean {res.shuffled.mean:.2f} (p = {res.shuffled.p_value:.3f}, percentile {res.shuffled.percentile:.1f}); b&h {res.buy_and_hold.sharpe:.2f}")
r = np.diff(res.equity) / res.equity[:-1]
print(f"per-bar mean {r.mean():.3e} sd {r.std():.3e} per-bar SR {r.mean()/r.std():.4f}; x sqrt({BARS_PER_YEAR})={math.sqrt(BARS_PER_YEAR):.1f}")
print(f"naive iid SE of annualised SR over {n} bars: {math.sqrt(BARS_PER_YEAR/n):.1f}")
